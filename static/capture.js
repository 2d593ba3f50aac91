// A MediaStreamTrack's samples through the capture worklet (capture-worklet.js), in
// batches stamped on the page's clock: performance.now() ms at which each batch's first
// sample reaches the AudioContext's output (sample-accurate, unlike a timer's poll).

const WORKLET_URL = new URL('./capture-worklet.js', import.meta.url);
const loaded = new WeakMap(); // AudioContext -> Promise of its worklet module

/** Start capturing `mediaStreamTrack`; `onBatch(at, samples)` per batch. Resolves to
 *  {sampleRate, stop()}; rejects where the browser has no AudioWorklet. */
export async function startCapture(audioContext, mediaStreamTrack, onBatch) {
  if (!loaded.has(audioContext)) {
    loaded.set(audioContext, audioContext.audioWorklet.addModule(WORKLET_URL));
  }
  await loaded.get(audioContext);
  const rate = audioContext.sampleRate;
  const source = audioContext.createMediaStreamSource(new MediaStream([mediaStreamTrack]));
  const node = new AudioWorkletNode(audioContext, 'ptt-capture', { numberOfOutputs: 0 });
  source.connect(node);
  node.port.onmessage = ({ data }) => {
    const stamp = audioContext.getOutputTimestamp();
    onBatch(stamp.performanceTime + (data.frame / rate - stamp.contextTime) * 1000, data.samples);
  };
  return {
    sampleRate: rate,
    stop() {
      node.port.onmessage = null;
      source.disconnect();
      node.disconnect();
    },
  };
}
