// The turn inspector's view: one article per turn, the newest expanded (its timeline,
// both waveforms, play buttons, the clock's uncertainty), older ones a strip of marks.
// Part of the view: it draws state.inspector (inspector.js) and forwards clicks.

import { agentInstants, layoutTurn } from './timeline.js';
import { setAttr } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const LANE_H = 26;
const WAVE_H = 40;
const COLUMNS = 360;

function svgEl(doc, name, attrs = {}) {
  const node = doc.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function title(doc, node, text) {
  const t = svgEl(doc, 'title');
  t.textContent = text;
  node.append(t);
  return node;
}

/** min/max per column of `samples` between x0 and x1 (px) as an SVG path. */
function wavePath(samples, x0, x1, mid, half) {
  if (!samples?.length || x1 <= x0) return '';
  const cols = Math.max(1, Math.min(COLUMNS, Math.round(x1 - x0)));
  const per = samples.length / cols;
  let d = '';
  for (let c = 0; c < cols; c++) {
    let lo = 0;
    let hi = 0;
    for (let i = Math.floor(c * per); i < Math.floor((c + 1) * per); i++) {
      if (samples[i] < lo) lo = samples[i];
      if (samples[i] > hi) hi = samples[i];
    }
    const x = (x0 + ((c + 0.5) / cols) * (x1 - x0)).toFixed(1);
    d += `M${x} ${(mid - hi * half).toFixed(1)}V${(mid - lo * half).toFixed(1)}`;
  }
  return d;
}

function drawTimeline(doc, turn, rec) {
  const agent = agentInstants(rec.report?.instants_ms, rec.alignment);
  const levels = { micLevels: rec.micLevels, agentLevels: rec.agentLevels };
  const layout = layoutTurn({ ...turn, ...levels }, agent, {
    prerollMs: rec.report?.preroll_ms ?? 0,
    uncertaintyMs: rec.alignment?.uncertaintyMs ?? null,
  });
  const x = layout.scale(WIDTH);
  const height = layout.lanes.length * LANE_H + 2 * WAVE_H + 24;
  const svg = svgEl(doc, 'svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    class: 'timeline',
    'data-testid': 'inspector-timeline',
    role: 'img',
  });
  layout.lanes.forEach((lane, i) => {
    const y = i * LANE_H;
    const g = svgEl(doc, 'g', { 'data-lane': lane.name });
    g.append(svgEl(doc, 'line', { x1: 0, x2: WIDTH, y1: y + LANE_H - 4, y2: y + LANE_H - 4, class: 'axis' }));
    const label = svgEl(doc, 'text', { x: 2, y: y + 10, class: 'lane-label' });
    label.textContent = lane.name;
    g.append(label);
    for (const s of lane.spans) {
      g.append(
        title(doc, svgEl(doc, 'rect', {
          x: x(s.from), y: y + 12, width: Math.max(1, x(s.to) - x(s.from)), height: 8,
          class: `span span-${s.label.replace(/\W+/g, '-')}`, 'data-span': s.label,
        }), `${s.label}: ${Math.round(s.to - s.from)} ms`),
      );
    }
    if (lane.levels.length) {
      const pts = lane.levels.map(([at, v]) => `${x(at).toFixed(1)},${(y + LANE_H - 4 - v * 16).toFixed(1)}`);
      g.append(svgEl(doc, 'polyline', { points: pts.join(' '), class: 'level' }));
    }
    for (const m of lane.marks) {
      const at = Math.round(m.at - turn.pressAt);
      g.append(
        title(doc, svgEl(doc, 'line', {
          x1: x(m.at), x2: x(m.at), y1: y + 10, y2: y + LANE_H - 2, class: 'mark', 'data-mark': m.label,
        }), `${m.label}: ${at} ms after the press`),
      );
    }
    svg.append(g);
  });
  // the waveforms: the page's recording, and the agent's audio where it was placed
  const top = layout.lanes.length * LANE_H + 8;
  const page = rec.recording;
  if (page) {
    const x0 = x(page.startAt);
    const x1 = x(page.startAt + (page.samples.length / page.sampleRate) * 1000);
    svg.append(title(doc, svgEl(doc, 'path', {
      d: wavePath(page.samples, x0, x1, top + WAVE_H / 2, WAVE_H / 2), class: 'wave wave-page', 'data-wave': 'page',
    }), 'your microphone, as the page recorded it'));
  }
  const heard = rec.agentAudio;
  if (page && heard && rec.clips?.placedAtMs !== null && rec.clips?.placedAtMs !== undefined) {
    const start = page.startAt + rec.clips.placedAtMs;
    const x0 = x(start);
    const x1 = x(start + (heard.samples.length / heard.sampleRate) * 1000);
    svg.append(title(doc, svgEl(doc, 'path', {
      d: wavePath(heard.samples, x0, x1, top + WAVE_H * 1.5 + 4, WAVE_H / 2), class: 'wave wave-agent', 'data-wave': 'agent',
    }), `what the agent heard (placed by ${rec.clips.method})`));
  }
  return svg;
}

function button(doc, text, role, onClick, disabled) {
  const b = doc.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.dataset.role = role;
  b.disabled = disabled;
  b.addEventListener('click', onClick);
  return b;
}

function audioNote(rec, agentReports) {
  const s = rec.audioStatus;
  if (s === 'ready') return '';
  if (s === 'unsupported') return "this agent does not keep its turn audio (no get_turn_audio; see docs/console.md)";
  if (s === 'fetching') return "fetching what the agent heard…";
  if (s.startsWith('failed')) return `what the agent heard: ${s}`;
  if (rec.report) return '';
  return agentReports
    ? "waiting for the agent's report of this turn"
    : 'no ptt.metrics from this agent: only the browser lane';
}

/** render(state) for the container `el`; `intents.play(n, which)`. */
export function createInspectorView(doc, el, intents) {
  const expanded = new Map(); // n -> true/false chosen by the user
  const detailsOpen = new Set(); // turns whose details the user opened
  let lastVersion = -1;
  let lastTurns = null;

  function article(turn, rec, open, agentReports) {
    const a = doc.createElement('article');
    a.dataset.testid = 'inspector-turn';
    a.dataset.turn = String(turn.n);
    a.dataset.expanded = String(open);
    a.dataset.marks = rec.marks.join('; ');
    a.dataset.audio = rec.audioStatus;
    const head = doc.createElement('header');
    const summary = doc.createElement('span');
    const marks = rec.marks.length ? ` · ${rec.marks.join('; ')}` : '';
    summary.textContent = `Turn ${turn.n} · ${turn.outcome}${rec.report?.transcript ? ` · “${rec.report.transcript}”` : ''}${marks}`;
    head.append(
      button(doc, open ? '▾' : '▸', 'toggle', () => {
        expanded.set(turn.n, !open);
        lastVersion = -1;
        intents.rerender();
      }, false),
      summary,
    );
    a.append(head);
    if (!open) return a;
    a.append(drawTimeline(doc, turn, rec));
    const row = doc.createElement('p');
    row.className = 'inspector-actions';
    row.append(
      button(doc, '▶ your microphone', 'play-page', () => intents.play(turn.n, 'page'), !rec.recording),
      button(doc, '▶ what the agent heard', 'play-agent', () => intents.play(turn.n, 'agent'), !rec.agentAudio),
    );
    const note = doc.createElement('span');
    note.dataset.role = 'note';
    const u = rec.alignment?.uncertaintyMs;
    const clock = typeof u === 'number' ? `agent clock aligned ± ${Math.round(u)} ms` : '';
    note.textContent = [clock, audioNote(rec, agentReports)].filter(Boolean).join(' · ');
    row.append(note);
    a.append(row);
    const details = doc.createElement('details');
    details.open = detailsOpen.has(turn.n);
    details.addEventListener('toggle', () => {
      if (details.open) detailsOpen.add(turn.n);
      else detailsOpen.delete(turn.n);
    });
    const sum = doc.createElement('summary');
    sum.textContent = 'details';
    const pre = doc.createElement('pre');
    pre.textContent = JSON.stringify({ page: turn, agent: rec.report, clips: rec.clips }, null, 1);
    details.append(sum, pre);
    a.append(details);
    return a;
  }

  return function render(state) {
    const { version, turns: records } = state.inspector;
    if (version === lastVersion && state.turns === lastTurns) return;
    lastVersion = version;
    lastTurns = state.turns;
    const newest = state.turns.at(-1)?.n;
    const agentReports = state.agentMetrics.length > 0;
    const items = [...state.turns].reverse().map((turn) => {
      const rec = records[turn.n] ?? { marks: [], audioStatus: 'none', report: null };
      const open = expanded.get(turn.n) ?? turn.n === newest;
      return article(turn, { micLevels: [], agentLevels: [], ...rec }, open, agentReports);
    });
    el.replaceChildren(...items);
    setAttr(el, 'data-turns', String(items.length));
  };
}
