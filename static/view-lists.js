// The page's keyed lists and tables: transcript, event log, turns, agent metrics, the
// timing summary and the microphone choices. Part of the view: only it touches the DOM.

import { setText, span } from './dom.js';
import { summarise } from './metrics.js';
import { createStagesJoin } from './stages.js';

function formatMs(value) {
  return typeof value === 'number' ? String(Math.round(value)) : '—';
}

function formatValue(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(3);
  return String(value);
}

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
}

/**
 * Keeps `container` at its end while the user leaves it there: whether it is at the end
 * is read when it scrolls (layout reads after the lists' writes cost 1.9 s of main thread
 * in a 20-turn bench_page), the scroll waits for the next frame, and the event of our own
 * scroll keeps `atEnd` (entries added before it came looked like the user scrolling).
 */
function createStick(container) {
  let [atEnd, queued, ours] = [true, false, false]; // ours: our scroll's event is due
  const win = container.ownerDocument.defaultView;
  const onScroll = () => ([atEnd, ours] = [ours || nearBottom(container), false]);
  container.addEventListener('scroll', onScroll, { passive: true });
  return function contentChanged() {
    if (!atEnd || queued) return;
    queued = true;
    win.requestAnimationFrame(() => {
      queued = false;
      if (!atEnd) return;
      ours = container.scrollHeight - container.clientHeight > container.scrollTop;
      container.scrollTop = container.scrollHeight;
    });
  };
}

/**
 * Keyed list rendering: one DOM node per item, created once, updated when the item object
 * changes (items are replaced, never mutated), removed when it leaves the list.
 */
function createList(container, key, create, update) {
  const nodes = new Map();
  const stick = createStick(container);
  let last = null;
  return function renderList(items) {
    if (items === last) return;
    last = items;
    const seen = new Set();
    let prev = null;
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      let rec = nodes.get(k);
      if (!rec) {
        rec = { el: create(item), item: null };
        nodes.set(k, rec);
      }
      if (rec.item !== item) {
        update(rec.el, item);
        rec.item = item;
      }
      const expected = prev ? prev.nextSibling : container.firstChild;
      if (expected !== rec.el) container.insertBefore(rec.el, expected);
      prev = rec.el;
    }
    for (const [k, rec] of nodes) {
      if (!seen.has(k)) {
        rec.el.remove();
        nodes.delete(k);
      }
    }
    stick();
  };
}

/** One function that draws every list from the state; `el` holds the containers. */
export function createListRenderers(doc, el) {
  const renderTranscript = createList(
    el.transcript,
    (e) => e.id,
    (e) => {
      const li = doc.createElement('li');
      li.dataset.testid = 'transcript-entry';
      li.append(span(doc, 'text'));
      li.setAttribute('data-segment-id', e.id);
      return li;
    },
    (li, e) => {
      li.dataset.role = e.role;
      li.dataset.final = String(e.final);
      li.dataset.turn = String(e.turn);
      li.dataset.interrupted = String(e.interrupted);
      setText(li.firstChild, e.text);
    },
  );

  const renderLog = createList(
    el.log,
    (e) => e.seq,
    (e) => {
      const li = doc.createElement('li');
      li.dataset.testid = 'event-entry';
      li.append(span(doc, 'time'), span(doc, 'source'), span(doc, 'message'));
      return li;
    },
    (li, e) => {
      li.dataset.level = e.level;
      li.dataset.source = e.source;
      const [time, source, message] = li.children;
      setText(time, e.time.slice(11, 23));
      setText(source, e.source);
      setText(message, e.message);
      li.title = e.data === undefined ? '' : JSON.stringify(e.data);
    },
  );

  const renderTurns = createList(
    el.turns,
    (t) => t.n,
    () => {
      const tr = doc.createElement('tr');
      for (let i = 0; i < 8; i += 1) tr.append(doc.createElement('td'));
      tr.children[6].dataset.role = 'stages';
      tr.lastChild.dataset.role = 'marks';
      return tr;
    },
    (tr, t) => {
      tr.dataset.turn = String(t.n);
      tr.dataset.outcome = t.outcome;
      const cells = [t.n, t.outcome, formatMs(t.startRtt), formatMs(t.endRtt)];
      cells.push(formatMs(t.releaseToText), formatMs(t.releaseToAudio), t.stages);
      cells.push((t.marks ?? []).join('; '));
      cells.forEach((v, i) => setText(tr.children[i], String(v)));
    },
  );

  const renderAgentMetrics = createList(
    el.agentMetrics,
    (m) => m.seq,
    () => {
      const li = doc.createElement('li');
      li.dataset.testid = 'agent-metrics-entry';
      li.append(span(doc, 'when'), doc.createElement('dl'));
      return li;
    },
    (li, m) => {
      setText(li.firstChild, `${m.receivedAt.slice(11, 19)} (turn ${m.turn})`);
      const dl = li.lastChild;
      dl.replaceChildren();
      for (const [k, v] of Object.entries(m.data)) {
        const dt = doc.createElement('dt');
        const dd = doc.createElement('dd');
        dt.textContent = k;
        dd.textContent = formatValue(v);
        dd.dataset.key = k;
        dl.append(dt, dd);
      }
    },
  );

  let lastTurns = null;
  const withStages = createStagesJoin();
  let lastDevices = null;

  function renderSummary(turns) {
    if (turns === lastTurns) return;
    lastTurns = turns;
    const rows = summarise(turns).map((row) => {
      const tr = doc.createElement('tr');
      tr.dataset.metric = row.key;
      const th = doc.createElement('th');
      th.scope = 'row';
      th.textContent = row.label;
      tr.append(th);
      for (const v of [row.last, row.p50, row.p95]) {
        const td = doc.createElement('td');
        td.textContent = formatMs(v);
        tr.append(td);
      }
      const n = doc.createElement('td');
      n.textContent = String(row.n);
      tr.append(n);
      return tr;
    });
    el.summary.replaceChildren(...rows);
  }

  function renderDevices(devices, selected) {
    if (devices !== lastDevices) {
      lastDevices = devices;
      const options = [{ id: '', label: 'System default' }, ...devices].map((d) => {
        const option = doc.createElement('option');
        option.value = d.id;
        option.textContent = d.label;
        return option;
      });
      el.device.replaceChildren(...options);
    }
    const value = devices.some((d) => d.id === selected) ? selected : '';
    if (el.device.value !== value) el.device.value = value;
  }

  return function renderLists(state) {
    renderDevices(state.devices, state.form.deviceId);
    renderTranscript(state.transcript);
    renderSummary(state.turns);
    renderTurns(withStages(state.turns, state.agentMetrics));
    renderAgentMetrics(state.agentMetrics);
    renderLog(state.log);
  };
}
