// One turn on one time axis: what the page did, what the agent did (its instants moved
// to the page's clock, see clock.js), and the two audio levels. Pure layout: view code
// draws the lanes this returns.

import { toPageTime } from './clock.js';

const MARGIN_MS = 150;

const BROWSER_MARKS = [
  ['pressAt', 'press'],
  ['startSentAt', 'start_turn sent'],
  ['startAckAt', 'start_turn answered'],
  ['releaseAt', 'release'],
  ['endSentAt', 'end_turn sent'],
  ['endAckAt', 'end_turn answered'],
];

const AGENT_MARKS = [
  ['start_turn', 'start_turn received'],
  ['stt_ready', 'STT stream ready'],
  ['end_turn', 'end_turn received'],
  ['committed', 'final transcript'],
  ['reply_text', 'reply text'],
  ['first_frame', 'first reply audio'],
  ['reply_done', 'reply done'],
];

/** The agent's instants of a turn on the page's clock ({name: ms}, interims a list). */
export function agentInstants(instants, alignment) {
  if (!instants || !alignment) return null;
  const out = {};
  for (const [key] of AGENT_MARKS) out[key] = toPageTime(instants[key], alignment);
  out.interims = (instants.interims ?? []).map((t) => toPageTime(t, alignment));
  return out;
}

function span(label, from, to) {
  return typeof from === 'number' && typeof to === 'number' && to >= from
    ? { label, from, to }
    : null;
}

/**
 * turn: the page's turn record (turns.js); agent: agentInstants(...) or null;
 * extra: {prerollMs, uncertaintyMs}. Returns {from, to, lanes: [{name, marks:[{label,
 * at}], spans:[{label, from, to}], levels:[[at, level]]}], uncertaintyMs} with every
 * time in page-clock ms; `scale(width)` maps them to x.
 */
export function layoutTurn(turn, agent, { prerollMs = 0, uncertaintyMs = null } = {}) {
  const browser = {
    name: 'browser',
    marks: BROWSER_MARKS.filter(([k]) => typeof turn[k] === 'number').map(([k, label]) => ({
      label,
      at: turn[k],
    })),
    spans: [span('held', turn.pressAt, turn.releaseAt)].filter(Boolean),
    levels: turn.micLevels ?? [],
  };
  const lanes = [browser];
  if (agent) {
    const interims = agent.interims.filter((t) => typeof t === 'number');
    lanes.push({
      name: 'agent',
      marks: [
        ...AGENT_MARKS.filter(([k]) => typeof agent[k] === 'number').map(([k, label]) => ({
          label,
          at: agent[k],
        })),
        ...interims.map((at) => ({ label: 'interim transcript', at })),
      ],
      spans: [
        span('pre-roll replayed', agent.start_turn - prerollMs, agent.start_turn),
        span('thinking', agent.committed, agent.first_frame),
        span('speaking', agent.first_frame, agent.reply_done),
      ].filter((s) => s && s.to > s.from),
      levels: [],
    });
  }
  lanes.push({ name: 'agent audio heard', marks: [], spans: [], levels: turn.agentLevels ?? [] });
  const times = lanes.flatMap((l) => [
    ...l.marks.map((m) => m.at),
    ...l.spans.flatMap((s) => [s.from, s.to]),
    ...l.levels.map(([at]) => at),
  ]);
  const from = Math.min(...times, turn.pressAt) - MARGIN_MS;
  const to = Math.max(...times, turn.pressAt) + MARGIN_MS;
  return {
    from,
    to,
    lanes,
    uncertaintyMs,
    scale(width) {
      return (at) => ((at - from) / (to - from)) * width;
    },
  };
}
