// Clip detection: did the agent get all of the speech the page sent?
//
// The page records its microphone for each turn; the agent keeps the audio it fed the STT
// (agent get_turn_audio). Both become 10 ms energy envelopes; the agent's is placed on the
// page's by cross-correlation (the same words in both, whatever the network's delay and
// the clocks' offset). Speech in the page's recording before the agent's first sample, or
// after its last, was never heard by the STT: "first words clipped by N ms", "last words
// cut by N ms". When the agent's audio has no speech to match, the caller's clock-based
// placement is used instead (method "clock").

export const WINDOW_MS = 10;
const SPEECH_FLOOR = 0.01; // RMS below this (−40 dBFS) is never speech
const SPEECH_OF_PEAK = 0.1; // nor is anything below a tenth of the recording's loudest
const MARK_MS = 30; // less than this before/after the agent's audio is not marked
const MIN_SCORE = 0.5; // a weaker correlation does not place the agent's audio

/** RMS per WINDOW_MS of `samples` (Float32, −1..1) at `sampleRate`. */
export function envelope(samples, sampleRate) {
  const size = Math.max(1, Math.round((sampleRate * WINDOW_MS) / 1000));
  const out = new Float32Array(Math.floor(samples.length / size));
  for (let w = 0; w < out.length; w++) {
    let sum = 0;
    for (let i = w * size; i < (w + 1) * size; i++) sum += samples[i] * samples[i];
    out[w] = Math.sqrt(sum / size);
  }
  return out;
}

/** [first, last] window holding speech, or null (silence). */
export function speechSpan(env) {
  let peak = 0;
  for (const v of env) peak = Math.max(peak, v);
  const threshold = Math.max(SPEECH_FLOOR, peak * SPEECH_OF_PEAK);
  let first = -1;
  let last = -1;
  env.forEach((v, i) => {
    if (v >= threshold) {
      if (first < 0) first = i;
      last = i;
    }
  });
  return first < 0 ? null : [first, last];
}

/** The lag (windows) placing `inner` on `outer` best: inner[i] ~ outer[i + lag]. */
export function bestLag(outer, inner, { minOverlap = 20 } = {}) {
  let best = { lag: 0, score: -Infinity };
  for (let lag = -inner.length + minOverlap; lag <= outer.length - minOverlap; lag++) {
    const from = Math.max(0, -lag);
    const to = Math.min(inner.length, outer.length - lag);
    const n = to - from;
    if (n < minOverlap) continue;
    let ma = 0;
    let mb = 0;
    for (let i = from; i < to; i++) {
      ma += inner[i];
      mb += outer[i + lag];
    }
    ma /= n;
    mb /= n;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = from; i < to; i++) {
      const a = inner[i] - ma;
      const b = outer[i + lag] - mb;
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    const score = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
    if (score > best.score) best = { lag, score };
  }
  return best;
}

/**
 * page: {samples, sampleRate} (the page's recording of the turn);
 * agent: {samples, sampleRate} (what the STT got) or null when unknown;
 * clockLagMs: where the agent's first sample falls in the page's recording by the clocks
 * (null: unknown); transcript: the committed transcript (null: none yet).
 * Returns {clippedStartMs, cutEndMs, emptyTranscript, placedAtMs, method, score}.
 */
export function detectClips({ page, agent, clockLagMs = null, transcript = null }) {
  const pageEnv = envelope(page.samples, page.sampleRate);
  const spoken = speechSpan(pageEnv);
  const result = {
    clippedStartMs: 0,
    cutEndMs: 0,
    emptyTranscript: spoken !== null && transcript !== null && transcript.trim() === '',
    placedAtMs: null,
    method: 'none',
    score: null,
  };
  if (!spoken || !agent) return result;
  const agentEnv = envelope(agent.samples, agent.sampleRate);
  let lag = null;
  if (speechSpan(agentEnv)) {
    const found = bestLag(pageEnv, agentEnv);
    result.score = Math.round(found.score * 100) / 100;
    if (found.score >= MIN_SCORE) {
      lag = found.lag;
      result.method = 'audio';
    }
  }
  if (lag === null && typeof clockLagMs === 'number') {
    lag = Math.round(clockLagMs / WINDOW_MS);
    result.method = 'clock';
  }
  if (lag === null) return result;
  result.placedAtMs = lag * WINDOW_MS;
  const [first, last] = spoken;
  const before = (lag - first) * WINDOW_MS;
  const after = (last - (lag + agentEnv.length - 1)) * WINDOW_MS;
  if (before >= MARK_MS) result.clippedStartMs = Math.min(before, (last - first + 1) * WINDOW_MS);
  if (after >= MARK_MS) result.cutEndMs = Math.min(after, (last - first + 1) * WINDOW_MS);
  return result;
}

/** The marks a turn row shows for a detection (empty: nothing wrong). */
export function clipMarks(clips) {
  if (!clips) return [];
  const marks = [];
  if (clips.clippedStartMs > 0) marks.push(`first words clipped by ${clips.clippedStartMs} ms`);
  if (clips.cutEndMs > 0) marks.push(`last words cut by ${clips.cutEndMs} ms`);
  if (clips.emptyTranscript) marks.push('speech, but an empty transcript');
  return marks;
}
