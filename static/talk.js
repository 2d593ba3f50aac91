// Talking: the push-to-talk machine wired to the session, the state and the turn records,
// and the press / cancel intents with the rule that ends a turn nobody can finish.

import { pttBlockReason } from './controls.js';
import { answeredTurn } from './inspector-match.js';
import { createPtt, createRpc } from './ptt.js';

/** app: {state, update, log, setStatus, session, audio, turns, startAudio}. */
export function createTalk(app) {
  const { state, update, log, setStatus, session, turns } = app;

  const call = createRpc(session, (level, message, data) => {
    log(level, message, data, 'rpc');
    if (level === 'error') setStatus('error', message);
  });

  const ptt = createPtt({
    call,
    setMic: (on) => session.setMicrophoneEnabled(on),
    hooks: {
      onChange({ held, turnOpen }) {
        state.held = held;
        state.turnOpen = turnOpen;
        update();
      },
      onPress: turns.begin,
      onStarted(result) {
        turns.patch(
          result.ok
            ? {
                startRtt: result.ms,
                startSentAt: result.sentAt,
                startAckAt: result.sentAt + result.ms,
                agentTurn: answeredTurn(result.response),
                agentInstance: state.agent?.instance ?? null,
              }
            : { outcome: 'failed' },
        );
      },
      onRelease: turns.released,
      onEnded(result) {
        turns.patch(
          result.ok
            ? {
                endRtt: result.ms,
                endSentAt: result.sentAt,
                endAckAt: result.sentAt + result.ms,
                outcome: 'ended',
              }
            : { outcome: 'failed' },
        );
      },
      onCancelled() {
        turns.patch({ outcome: 'cancelled' });
      },
      onError(err) {
        log('error', `push-to-talk: ${err.message}`);
        setStatus('error', `Push-to-talk failed: ${err.message}`);
      },
    },
  });

  function press() {
    if (pttBlockReason(state) || state.held) return;
    app.audio.ensureContext();
    if (!state.canPlaybackAudio) app.startAudio();
    ptt.press();
  }

  function cancel(why) {
    if (!(state.held || state.turnOpen)) return;
    log('info', typeof why === 'string' ? `turn cancelled: ${why}` : 'turn cancelled');
    ptt.cancel();
  }

  /** A held turn cannot continue once the agent, the connection or the mic goes away. */
  function guard() {
    if (!(state.held || state.turnOpen) || !pttBlockReason(state)) return;
    if (!state.agent || state.connection === 'disconnected') {
      log('warn', 'turn dropped: the agent or the connection went away');
      ptt.abort();
      turns.patch({ outcome: 'dropped' });
      session.setMicrophoneEnabled(false).catch(() => {});
    } else {
      cancel(pttBlockReason(state));
    }
  }

  return {
    call,
    press,
    cancel,
    guard,
    release: () => ptt.release(),
    /** Forget the turn without talking to the agent (the connection is going away). */
    abort: () => ptt.abort(),
  };
}
