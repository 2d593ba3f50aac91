// The agent's reply stages for a turn of the page (`stages_ms` in ptt.metrics, ms after
// the release on the agent's clock; docs/console.md, "What the page reads from the agent").

export const STAGES = [
  { key: 'committed', label: 'final' },
  { key: 'reply_text', label: 'text' },
  { key: 'tts_first_chunk', label: 'tts' },
  { key: 'first_frame', label: 'frame' },
  { key: 'playout', label: 'sent' },
];

/** The newest `stages_ms` the agent reported while page turn `n` was the current one,
 *  or null. `agentMetrics`: the page's entries, {turn, data}, oldest first. */
export function stagesFor(n, agentMetrics) {
  for (let i = agentMetrics.length - 1; i >= 0; i -= 1) {
    const { turn, data } = agentMetrics[i];
    if (turn === n && data && typeof data.stages_ms === 'object' && data.stages_ms) {
      return data.stages_ms;
    }
  }
  return null;
}

/** "final 14 · text 15 · tts 41 · frame 43 · sent 44": the stages reached so far, in
 *  order; '' when the agent reported none. */
export function formatStages(stages) {
  if (!stages) return '';
  return STAGES.filter(({ key }) => typeof stages[key] === 'number')
    .map(({ key, label }) => `${label} ${Math.round(stages[key])}`)
    .join(' · ');
}

/** A function giving `turns` with `stages` (the formatted text) added. A turn keeps its
 *  record (the same object) while neither it nor its stages text changed, since lists
 *  re-render only the items that were replaced. */
export function createStagesJoin() {
  let cache = new WeakMap(); // turn record -> turn record with stages
  let last = { turns: null, agentMetrics: null, joined: [] };
  return function withStages(turns, agentMetrics) {
    // the same lists give the same array, so the turns table is not walked (and the page
    // not laid out) at every render, i.e. at each level meter's tick
    if (turns === last.turns && agentMetrics === last.agentMetrics) return last.joined;
    const next = new WeakMap();
    const joined = turns.map((t) => {
      const stages = formatStages(stagesFor(t.n, agentMetrics));
      const old = cache.get(t);
      const row = old && old.stages === stages ? old : { ...t, stages };
      next.set(t, row);
      return row;
    });
    cache = next;
    last = { turns, agentMetrics, joined };
    return joined;
  };
}
