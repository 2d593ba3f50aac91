// The page's AudioContext and the two level meters (mic as sent, agent as played),
// kept in state.levels.

import { startMeter } from './meter.js';
import { AUDIBLE_LEVEL, startOnsets } from './onset.js';

const STEP = 0.005; // smaller level changes are not worth a render

/** `onAgentAudible(at)` is called whenever the agent's audio reaches AUDIBLE_LEVEL (at:
 *  page ms of that sample, from the capture worklet; where the browser has none, of the
 *  meter's reading); `onLevel(kind, level)` with every reading, kind 'mic' or 'agent'. */
export function createAudio({ state, update }, onAgentAudible, onLevel = () => {}) {
  let audioContext = null;
  let micMeter = null;
  let agentMeter = null;
  let agentOnsets = null; // Promise of the worklet's onset reports (null: none)

  /** The shared AudioContext, resumed; call it inside a user gesture the first time. */
  function ensureContext() {
    if (!audioContext) audioContext = new AudioContext();
    if (audioContext.state === 'suspended') audioContext.resume().catch(() => {});
    return audioContext;
  }

  /** Meter the microphone track (null stops). */
  function meterMic(track) {
    micMeter?.stop();
    micMeter = null;
    state.levels.mic = 0;
    if (!track) return;
    // a clone keeps metering while the published track is muted: you see that you are
    // speaking before you press (and the e2e suite finds where the fake mic's loop is)
    const monitor = track.mediaStreamTrack.clone();
    monitor.enabled = true; // a clone copies the muted (disabled) state
    const meter = startMeter(ensureContext(), monitor, (level) => {
      onLevel('mic', level);
      if (Math.abs(level - state.levels.mic) < STEP) return;
      state.levels.mic = level;
      update();
    });
    micMeter = {
      stop() {
        meter.stop();
        monitor.stop();
      },
    };
  }

  /** Meter the agent's audio track (null stops); keeps the peak since the last press. */
  function meterAgent(track) {
    agentMeter?.stop();
    agentMeter = null;
    agentOnsets?.then((onsets) => onsets?.stop());
    agentOnsets = null;
    state.levels.agent = 0;
    update();
    if (!track) return;
    const ctx = ensureContext();
    let precise = false; // the worklet reports onsets: the meter's poll does not
    agentOnsets = startOnsets(ctx, track.mediaStreamTrack, onAgentAudible)
      .then((onsets) => {
        precise = true;
        return onsets;
      })
      .catch(() => null);
    agentMeter = startMeter(ctx, track.mediaStreamTrack, (level) => {
      onLevel('agent', level);
      if (level >= AUDIBLE_LEVEL && !precise) onAgentAudible(performance.now());
      const peak = Math.max(state.levels.agentPeak, level);
      if (Math.abs(level - state.levels.agent) < STEP && peak === state.levels.agentPeak) return;
      state.levels.agent = level;
      state.levels.agentPeak = peak;
      update();
    });
  }

  return { ensureContext, meterMic, meterAgent };
}
