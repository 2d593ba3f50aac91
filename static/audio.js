// The page's AudioContext and the two level meters (mic as sent, agent as played),
// kept in state.levels.

import { startMeter } from './meter.js';

const AUDIO_THRESHOLD = 0.02; // agent level (peak amplitude) counted as "audio arrived"
const STEP = 0.005; // smaller level changes are not worth a render

/** `onAgentAudible()` is called whenever the agent's level reaches AUDIO_THRESHOLD;
 *  `onLevel(kind, level)` with every reading, kind 'mic' or 'agent'. */
export function createAudio({ state, update }, onAgentAudible, onLevel = () => {}) {
  let audioContext = null;
  let micMeter = null;
  let agentMeter = null;

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
    state.levels.agent = 0;
    update();
    if (!track) return;
    agentMeter = startMeter(ensureContext(), track.mediaStreamTrack, (level) => {
      onLevel('agent', level);
      const peak = Math.max(state.levels.agentPeak, level);
      if (Math.abs(level - state.levels.agent) < STEP && peak === state.levels.agentPeak) return;
      state.levels.agent = level;
      state.levels.agentPeak = peak;
      if (level >= AUDIO_THRESHOLD) onAgentAudible();
      update();
    });
  }

  return { ensureContext, meterMic, meterAgent };
}
