// Aligning the agent's clock with the page's, from the RPC round trips of a turn.
//
// The agent reports when its start_turn and end_turn handlers began (ptt.metrics
// `instants_ms`, its monotonic clock). The page knows when it sent each call and how
// long the answer took. The handler ran somewhere inside that round trip, so
//   offset = agent time − (sent + rtt / 2),   uncertain by ± rtt / 2,
// and of the samples the one with the shortest round trip bounds it best.

/**
 * samples: [{sentAt, rtt, agentAt}] (ms; page clock for sentAt, agent clock for agentAt).
 * Returns {offsetMs, uncertaintyMs, samples: n} or null when none is complete.
 */
export function alignClocks(samples) {
  const usable = samples.filter(
    (s) => [s.sentAt, s.rtt, s.agentAt].every((v) => typeof v === 'number') && s.rtt >= 0,
  );
  if (!usable.length) return null;
  const best = usable.reduce((a, b) => (b.rtt < a.rtt ? b : a));
  return {
    offsetMs: best.agentAt - (best.sentAt + best.rtt / 2),
    uncertaintyMs: best.rtt / 2,
    samples: usable.length,
  };
}

/** An agent-clock instant (ms) on the page's clock, or null. */
export function toPageTime(agentMs, alignment) {
  if (typeof agentMs !== 'number' || !alignment) return null;
  return agentMs - alignment.offsetMs;
}

/** The clock samples of one turn record (see turns.js) and its agent instants. */
export function turnClockSamples(turn, instants) {
  if (!instants) return [];
  return [
    { sentAt: turn.startSentAt, rtt: turn.startRtt, agentAt: instants.start_turn },
    { sentAt: turn.endSentAt, rtt: turn.endRtt, agentAt: instants.end_turn },
  ];
}
