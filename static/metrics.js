// Per-turn timings measured in the browser and their session percentiles.

export const TIMINGS = [
  { key: 'startRtt', label: 'start_turn round trip' },
  { key: 'endRtt', label: 'end_turn round trip' },
  { key: 'releaseToUserFinal', label: 'release → your final transcript' },
  { key: 'releaseToText', label: 'release → first agent transcript' },
  { key: 'releaseToAudio', label: 'release → first agent audio' },
  // the turn inspector's clip detection (clip.js): only the turns it marked
  { key: 'clippedStartMs', label: 'first words clipped (turns marked)' },
  { key: 'cutEndMs', label: 'last words cut (turns marked)' },
  { key: 'emptyTranscript', label: 'speech, empty transcript (turns)', count: true },
];

/** Nearest-rank percentile of `values` (p in 0..100), or null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** A fresh turn record, created when the talk button goes down. */
export function newTurn(n, pressAt) {
  return {
    n,
    pressAt,
    releaseAt: null,
    outcome: 'holding',
    startRtt: null,
    endRtt: null,
    startSentAt: null,
    startAckAt: null,
    endSentAt: null,
    endAckAt: null,
    releaseToUserFinal: null,
    agentTurn: null, // the agent's number for it (its start_turn answer), when it says
    agentInstance: null,
    clippedStartMs: null, // > 0 when marked
    cutEndMs: null,
    emptyTranscript: null, // 1 when marked
    marks: [],
    releaseToText: null,
    releaseToAudio: null,
  };
}

/** Rows of {key, label, last, p50, p95, n} over the session's turns. */
export function summarise(turns) {
  return TIMINGS.map(({ key, label, count }) => {
    const values = turns.map((t) => t[key]).filter((v) => typeof v === 'number');
    if (count) return { key, label, last: null, p50: null, p95: null, n: values.length };
    return {
      key,
      label,
      last: values.length ? values[values.length - 1] : null,
      p50: percentile(values, 50),
      p95: percentile(values, 95),
      n: values.length,
    };
  });
}
