// When the agent's audio becomes audible at the page: the first sample at or above
// AUDIBLE_LEVEL, on the page's clock, from the capture worklet. The level meter
// (meter.js) polls every 40 ms over a 43 ms window, so it saw a reply's first audible
// sample up to a poll late; this reports the sample's own instant.

import { startCapture } from './capture.js';

export const AUDIBLE_LEVEL = 0.02; // peak amplitude counted as "the agent is audible"

/** Page time (ms) of the first sample of a batch at or above `level`, or null. */
export function firstAudible(samples, startAt, sampleRate, level = AUDIBLE_LEVEL) {
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]) >= level) return startAt + (i / sampleRate) * 1000;
  }
  return null;
}

/** Report `onAudible(at)` for every batch of `mediaStreamTrack` with an audible sample
 *  (at: its first one). Resolves to {stop()}, as startCapture. */
export function startOnsets(audioContext, mediaStreamTrack, onAudible) {
  const rate = audioContext.sampleRate;
  return startCapture(audioContext, mediaStreamTrack, (at, samples) => {
    const audible = firstAudible(samples, at, rate);
    if (audible !== null) onAudible(audible);
  });
}
