// The page's own recording of its microphone: the last KEEP_S seconds, on the page's
// clock (performance.now() ms), from which each turn takes its span. It records the
// monitor (an always-enabled clone of the published track), so it holds what the
// microphone captured whether or not the published track was muted at that instant.

const KEEP_S = 30;
const WORKLET_URL = new URL('./capture-worklet.js', import.meta.url);
const loaded = new WeakMap(); // AudioContext -> Promise of its worklet module

/** Start recording `mediaStreamTrack` in `audioContext`; resolves to a recorder. */
export async function startMicRecorder(audioContext, mediaStreamTrack) {
  if (!loaded.has(audioContext)) {
    loaded.set(audioContext, audioContext.audioWorklet.addModule(WORKLET_URL));
  }
  await loaded.get(audioContext);
  const rate = audioContext.sampleRate;
  const source = audioContext.createMediaStreamSource(new MediaStream([mediaStreamTrack]));
  const node = new AudioWorkletNode(audioContext, 'ptt-capture', { numberOfOutputs: 0 });
  source.connect(node);
  const chunks = []; // {at (page ms of the first sample), samples}
  node.port.onmessage = ({ data }) => {
    const stamp = audioContext.getOutputTimestamp();
    const at = stamp.performanceTime + (data.frame / rate - stamp.contextTime) * 1000;
    chunks.push({ at, samples: data.samples });
    const horizon = at - KEEP_S * 1000;
    while (chunks.length && chunks[0].at < horizon) chunks.shift();
  };
  return {
    sampleRate: rate,

    /** The samples recorded between page times `from` and `to` (ms), or null. */
    take(from, to) {
      const parts = chunks.filter((c) => c.at + (c.samples.length / rate) * 1000 > from && c.at < to);
      if (!parts.length) return null;
      const startAt = parts[0].at;
      const total = parts.reduce((n, c) => n + c.samples.length, 0);
      const samples = new Float32Array(total);
      let at = 0;
      for (const c of parts) {
        samples.set(c.samples, at);
        at += c.samples.length;
      }
      const skip = Math.max(0, Math.floor(((from - startAt) / 1000) * rate));
      const end = Math.min(total, Math.ceil(((to - startAt) / 1000) * rate));
      return { samples: samples.slice(skip, end), sampleRate: rate, startAt: startAt + (skip / rate) * 1000 };
    },

    stop() {
      node.port.onmessage = null;
      source.disconnect();
      node.disconnect();
    },
  };
}
