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
const MARK_MS = 60; // less than this before/after the agent's audio is not marked
// Missing speech is judged on clear speech (vowels: a third of the page's peak) against
// anything audible at the agent (a twentieth of the page's peak; neither side has gain
// control): a word's quiet tail thinned by Opus (DTX) is not a cut word.
const CLEAR_OF_PEAK = 0.3;
const AUDIBLE_OF_PEAK = 0.05;
const MIN_SCORE = 0.5; // a weaker correlation does not place the agent's audio
const LATE_MS = 300; // at most this between the page sending audio and the agent feeding it

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

function peakOf(env) {
  let peak = 0;
  for (const v of env) peak = Math.max(peak, v);
  return peak;
}

/** The level from which a window of `env` counts as speech (`share` of its peak). */
function threshold(env, share = SPEECH_OF_PEAK) {
  return Math.max(SPEECH_FLOOR, peakOf(env) * share);
}

/** `samples` low-passed at `cutoffHz` (a 63-tap windowed sinc): the page's recording in
 *  the agent's band, since an STT at 16 kHz never gets what lies above 8 kHz (the "s" of
 *  "lights" would look cut otherwise). */
export function lowpass(samples, sampleRate, cutoffHz) {
  const taps = 63;
  const half = (taps - 1) / 2;
  const fc = cutoffHz / sampleRate;
  const h = new Float32Array(taps);
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const n = i - half;
    const sinc = n === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * n) / (Math.PI * n);
    h[i] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1)));
    sum += h[i];
  }
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    let acc = 0;
    for (let k = 0; k < taps; k++) {
      const j = i + k - half;
      if (j >= 0 && j < samples.length) acc += samples[j] * h[k];
    }
    out[i] = acc / sum;
  }
  return out;
}

/** [first, last] window holding speech, or null (silence). */
export function speechSpan(env) {
  const level = threshold(env);
  let first = -1;
  let last = -1;
  env.forEach((v, i) => {
    if (v >= level) {
      if (first < 0) first = i;
      last = i;
    }
  });
  return first < 0 ? null : [first, last];
}

/** The lag (windows) placing `inner` on `outer` best: inner[i] ~ outer[i + lag], within
 *  [minLag, maxLag] when given. */
export function bestLag(outer, inner, { minOverlap = 20, minLag = -Infinity, maxLag = Infinity } = {}) {
  let best = { lag: 0, score: -Infinity };
  const lo = Math.max(-inner.length + minOverlap, Math.ceil(minLag));
  const hi = Math.min(outer.length - minOverlap, Math.floor(maxLag));
  for (let lag = lo; lag <= hi; lag++) {
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

// a turn is detected again as its reports and audio arrive: its recording is filtered once
const filtered = new WeakMap(); // page samples -> {cutoffHz, samples}

function inBand(page, cutoffHz) {
  const hit = filtered.get(page.samples);
  if (hit && hit.cutoffHz === cutoffHz) return hit.samples;
  const samples = lowpass(page.samples, page.sampleRate, cutoffHz);
  filtered.set(page.samples, { cutoffHz, samples });
  return samples;
}

/**
 * page: {samples, sampleRate} (the page's recording of the turn);
 * agent: {samples, sampleRate} (what the STT got) or null when unknown;
 * clockLagMs: where the agent's first sample falls in the page's recording by the clocks
 * (null: unknown), slackMs: their uncertainty; transcript: the committed transcript
 * (null: none yet).
 * Returns {clippedStartMs, cutEndMs, missedAll, emptyTranscript, placedAtMs, method,
 * score}.
 */
export function detectClips({ page, agent, clockLagMs = null, slackMs = 60, transcript = null }) {
  const band = agent && agent.sampleRate < page.sampleRate;
  const pageSamples = band ? inBand(page, 0.45 * agent.sampleRate) : page.samples;
  const pageEnv = envelope(pageSamples, page.sampleRate);
  const spoken = speechSpan(pageEnv);
  const result = {
    clippedStartMs: 0,
    cutEndMs: 0,
    emptyTranscript: spoken !== null && transcript !== null && transcript.trim() === '',
    placedAtMs: null,
    missedAll: false,
    method: 'none',
    score: null,
  };
  if (!spoken || !agent) return result;
  const agentEnv = envelope(agent.samples, agent.sampleRate);
  const pagePeak = peakOf(pageEnv);
  let lag = null;
  // only speech at a comparable level is matched (no gain control on either side): a
  // near-silent recording would correlate with anything
  if (speechSpan(agentEnv) && peakOf(agentEnv) >= SPEECH_OF_PEAK * pagePeak) {
    // the clocks bound the search: the agent's audio is its feed time less the network's
    // delay (up to LATE_MS), give or take the clocks' uncertainty
    const near = typeof clockLagMs === 'number';
    const found = bestLag(pageEnv, agentEnv, {
      minLag: near ? (clockLagMs - LATE_MS - slackMs) / WINDOW_MS : -Infinity,
      maxLag: near ? (clockLagMs + slackMs) / WINDOW_MS : Infinity,
    });
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
  // clear speech at the page in windows where the agent's audio (placed) holds nothing
  // audible: from the first clear window up to the first one both hold, and from the
  // last one back
  const agentThreshold = Math.max(SPEECH_FLOOR, AUDIBLE_OF_PEAK * pagePeak);
  const clear = threshold(pageEnv, CLEAR_OF_PEAK);
  const both = (i) => {
    const j = i - lag;
    return j >= 0 && j < agentEnv.length && agentEnv[j] >= agentThreshold;
  };
  const clearWindows = [...pageEnv.keys()].filter((i) => pageEnv[i] >= clear);
  const first = clearWindows[0];
  const last = clearWindows.at(-1);
  const heard = clearWindows.filter(both);
  if (!heard.length) {
    result.clippedStartMs = (last - first + 1) * WINDOW_MS;
    result.missedAll = true; // none of it reached the agent
    return result;
  }
  const before = (heard[0] - first) * WINDOW_MS;
  const after = (last - heard.at(-1)) * WINDOW_MS;
  if (before >= MARK_MS) result.clippedStartMs = before;
  if (after >= MARK_MS) result.cutEndMs = after;
  return result;
}

/** The marks a turn row shows for a detection (empty: nothing wrong). */
export function clipMarks(clips) {
  if (!clips) return [];
  const marks = [];
  if (clips.missedAll) marks.push(`none of the speech reached the agent (${clips.clippedStartMs} ms)`);
  else if (clips.clippedStartMs > 0) marks.push(`first words clipped by ${clips.clippedStartMs} ms`);
  if (clips.cutEndMs > 0) marks.push(`last words cut by ${clips.cutEndMs} ms`);
  if (clips.emptyTranscript) marks.push('speech, but an empty transcript');
  return marks;
}
