// Decides every control's `disabled` flag and the reasons shown next to them.
// Pure: reads the state object, touches nothing.

export const PAUSE_UNSUPPORTED_REASON =
  'This agent does not implement pause/resume (RPC 1400 UNSUPPORTED_METHOD).';

/** Why the talk button cannot be used right now, or '' when it can. */
export function pttBlockReason(state) {
  if (state.connection === 'disconnected') return 'Connect to a room to talk.';
  if (state.connection !== 'connected') return `Not connected (${state.connection}).`;
  if (!state.agent) return 'No agent in the room yet.';
  if (state.agent.paused) return 'The agent is paused: resume it to talk.';
  if (state.micError) return `Microphone unavailable: ${state.micError}`;
  if (!state.micReady) return 'Microphone is starting…';
  return '';
}

/** Advice that does not block the talk button (another participant holds the turn). */
export function pttHint(state) {
  const owner = state.agent?.turnOwner;
  if (owner && state.joined && owner !== state.joined.identity) {
    return `${owner} holds the turn: the agent will refuse a press until they release.`;
  }
  return '';
}

/** Every control's disabled flag plus the reasons to display. */
export function controls(state) {
  const disconnected = state.connection === 'disconnected';
  const connected = state.connection === 'connected';
  const agent = state.agent;
  const pttReason = pttBlockReason(state);
  const agentControl = connected && agent !== null;

  let controlReason = '';
  if (!state.pauseSupported) controlReason = PAUSE_UNSUPPORTED_REASON;
  else if (state.busy.rebuild) controlReason = 'Rebuilding the agent…';

  return {
    pttReason: pttReason || pttHint(state),
    controlReason,
    disabled: {
      connect: !disconnected || state.busy.connect,
      disconnect: disconnected,
      room: !disconnected,
      identity: !disconnected,
      agent: !disconnected,
      accessKey: !disconnected,
      device: state.busy.device,
      ptt: pttReason !== '',
      cancel: !(state.held || state.turnOpen),
      pause:
        !agentControl || !state.pauseSupported || agent.paused || state.busy.pause || state.held,
      resume: !agentControl || !state.pauseSupported || !agent.paused || state.busy.resume,
      rebuild: !connected || state.busy.rebuild,
      exportLog: state.log.length === 0,
      clearLog: state.log.length === 0,
    },
  };
}
