// Audio level of a MediaStreamTrack with Web Audio: peak absolute sample (0..1).

const FFT_SIZE = 2048; // ~43 ms at 48 kHz, about one sampling interval
const INTERVAL_MS = 40; // a timer, not requestAnimationFrame, so it keeps sampling in the background

/** Start metering `mediaStreamTrack`; `onLevel(level)` is called every interval. */
export function startMeter(audioContext, mediaStreamTrack, onLevel) {
  const source = audioContext.createMediaStreamSource(new MediaStream([mediaStreamTrack]));
  const analyser = audioContext.createAnalyser();
  analyser.fftSize = FFT_SIZE;
  // a silent sink keeps the graph pulled in every browser without playing anything twice
  const sink = audioContext.createGain();
  sink.gain.value = 0;
  source.connect(analyser);
  analyser.connect(sink);
  sink.connect(audioContext.destination);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const s of samples) {
      const a = Math.abs(s);
      if (a > peak) peak = a;
    }
    onLevel(Math.min(1, peak));
  }, INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      source.disconnect();
      analyser.disconnect();
      sink.disconnect();
    },
  };
}
