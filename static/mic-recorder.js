// The page's own recording of its microphone: the last KEEP_S seconds, on the page's
// clock (performance.now() ms), from which each turn takes its span. It records the
// monitor (an always-enabled clone of the published track), so it holds what the
// microphone captured whether or not the published track was muted at that instant.

import { startCapture } from './capture.js';

const KEEP_S = 30;

/** Start recording `mediaStreamTrack` in `audioContext`; resolves to a recorder. */
export async function startMicRecorder(audioContext, mediaStreamTrack) {
  const chunks = []; // {at (page ms of the first sample), samples}
  const capture = await startCapture(audioContext, mediaStreamTrack, (at, samples) => {
    chunks.push({ at, samples });
    const horizon = at - KEEP_S * 1000;
    while (chunks.length && chunks[0].at < horizon) chunks.shift();
  });
  const rate = capture.sampleRate;
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

    stop: capture.stop,
  };
}
