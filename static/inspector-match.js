// Which of the agent's turns a page turn was (pure).
//
// The agent numbers its turns itself (ptt.metrics `turn`) and publishes each up to three
// times: at the commit, at the first reply audio, at the reply's end. After a barge-in
// the previous turn's later reports arrive during the next page turn, so a page turn is
// the first agent turn reported to this identity that no earlier page turn was. A rebuilt
// agent counts from 1 again: `instance` (ptt.instance at the time) keeps them apart.

/** The agent's number for a turn from its start_turn answer ({"turn": N}), or null. */
export function answeredTurn(response) {
  try {
    const value = JSON.parse(response);
    return Number.isInteger(value?.turn) ? value.turn : null;
  } catch {
    return null;
  }
}

/** entries: the page's agent metrics, oldest first, each {turn (page turn current when
 *  it arrived), instance, data}; turns: the page's turn records, whose `agentTurn` (from
 *  the start_turn answer) decides when known. Returns Map(page turn -> "instance/turn"). */
export function matchAgentTurns(entries, identity, turns = []) {
  const byPage = new Map();
  const taken = new Set();
  for (const t of turns) {
    if (!Number.isInteger(t.agentTurn)) continue;
    const key = `${t.agentInstance ?? ''}/${t.agentTurn}`;
    byPage.set(t.n, key);
    taken.add(key);
  }
  for (const { turn, instance, data } of entries) {
    if (!data || data.owner !== identity || typeof data.turn !== 'number') continue;
    const key = `${instance ?? ''}/${data.turn}`;
    if (taken.has(key)) continue;
    taken.add(key);
    if (!byPage.has(turn)) byPage.set(turn, key);
  }
  return byPage;
}

/** The newest report of agent turn `key` (its instants grow with each), or null. */
export function latestReport(entries, key) {
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const { instance, data } = entries[i];
    if (data && `${instance ?? ''}/${data.turn}` === key) return data;
  }
  return null;
}

/** When the inspector should fetch a turn's audio (get_turn_audio), from the turn's
 *  newest report: 'now', 'later' (its reply is still playing), or null (not committed).
 *  The WAV is tens of kB on the reliable data channel the reply's words take, and the
 *  page's clip detection over it is main-thread work, so neither may land on the
 *  reply's first words: a turn with a reply waits for its `reply_done`. */
export function turnAudioDue(report) {
  if (typeof report?.release_to_final_ms !== 'number') return null;
  const said = typeof report.transcript === 'string' && report.transcript.trim() !== '';
  if (!said || typeof report.instants_ms?.reply_done === 'number') return 'now';
  return 'later';
}
