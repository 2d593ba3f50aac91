// The only module that touches the DOM. render(state) draws everything from the state
// object; user input is forwarded to the intents given to createView.

import { controls } from './controls.js';
import { summarise } from './metrics.js';

const $ = (doc, id) => doc.querySelector(`[data-testid="${id}"]`);

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function isTyping(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}

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
 * Keyed list rendering: one DOM node per item, created once, updated when the item object
 * changes (items are replaced, never mutated), removed when it leaves the list.
 */
function createList(container, key, create, update) {
  const nodes = new Map();
  let last = null;
  return function renderList(items) {
    if (items === last) return;
    last = items;
    const stick = nearBottom(container);
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
    if (stick) container.scrollTop = container.scrollHeight;
  };
}

function span(doc, className) {
  const el = doc.createElement('span');
  el.className = className;
  return el;
}

/**
 * intents: formChanged(form), connect(), disconnect(), selectDevice(id), press(),
 * release(), cancel(), escape(), focusLost(why), pause(), resume(), rebuild(),
 * startAudio(), exportLog(), clearLog()
 */
export function createView(doc, intents) {
  const el = {
    form: doc.getElementById('connect-form'),
    connectionState: $(doc, 'connection-state'),
    agentState: $(doc, 'agent-state'),
    agentErrors: $(doc, 'agent-errors'),
    room: $(doc, 'room-input'),
    identity: $(doc, 'identity-input'),
    accessKey: $(doc, 'access-key-input'),
    device: $(doc, 'device-select'),
    connect: $(doc, 'connect-button'),
    disconnect: $(doc, 'disconnect-button'),
    ptt: $(doc, 'ptt-button'),
    pttReason: $(doc, 'ptt-reason'),
    cancel: $(doc, 'cancel-button'),
    pause: $(doc, 'pause-button'),
    resume: $(doc, 'resume-button'),
    rebuild: $(doc, 'rebuild-button'),
    startAudio: $(doc, 'start-audio-button'),
    controlReason: $(doc, 'control-reason'),
    status: $(doc, 'status'),
    micLevel: $(doc, 'mic-level'),
    agentLevel: $(doc, 'agent-level'),
    audio: $(doc, 'agent-audio'),
    transcript: $(doc, 'transcript'),
    metrics: $(doc, 'metrics'),
    summary: doc.querySelector('[data-testid="metrics"] [data-role="summary"]'),
    turns: doc.querySelector('[data-testid="metrics"] [data-role="turns"]'),
    agentMetrics: doc.querySelector('[data-testid="metrics"] [data-role="agent-metrics"]'),
    log: $(doc, 'event-log'),
    exportLog: $(doc, 'export-log-button'),
    clearLog: $(doc, 'clear-log-button'),
  };

  // ---- input -> intents ----
  const readForm = () => ({
    room: el.room.value.trim(),
    identity: el.identity.value.trim(),
    accessKey: el.accessKey ? el.accessKey.value : '',
  });
  for (const input of [el.room, el.identity, el.accessKey]) {
    input?.addEventListener('input', () => intents.formChanged(readForm()));
  }
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    intents.formChanged(readForm());
    intents.connect();
  });
  el.disconnect.addEventListener('click', () => intents.disconnect());
  el.device.addEventListener('change', () => intents.selectDevice(el.device.value));
  el.cancel.addEventListener('click', () => intents.cancel());
  el.pause.addEventListener('click', () => intents.pause());
  el.resume.addEventListener('click', () => intents.resume());
  el.rebuild.addEventListener('click', () => intents.rebuild());
  el.startAudio.addEventListener('click', () => intents.startAudio());
  el.exportLog.addEventListener('click', () => intents.exportLog());
  el.clearLog.addEventListener('click', () => intents.clearLog());

  // Talk button: pointer capture so releasing anywhere ends the turn; touch and pen too.
  let pointerId = null;
  el.ptt.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (el.ptt.disabled || pointerId !== null) return;
    e.preventDefault();
    pointerId = e.pointerId;
    el.ptt.setPointerCapture(e.pointerId);
    intents.press();
  });
  const endPointer = (e, cancel) => {
    if (e.pointerId !== pointerId) return;
    pointerId = null;
    if (cancel) intents.cancel();
    else intents.release();
  };
  el.ptt.addEventListener('pointerup', (e) => endPointer(e, false));
  el.ptt.addEventListener('pointercancel', (e) => endPointer(e, true));
  el.ptt.addEventListener('lostpointercapture', (e) => endPointer(e, false));
  el.ptt.addEventListener('contextmenu', (e) => e.preventDefault());

  // Space held = talk (not while typing; key repeat ignored). Esc cancels.
  let spaceHeld = false;
  doc.addEventListener('keydown', (e) => {
    if (e.code === 'Space') {
      if (isTyping(e.target)) return;
      e.preventDefault(); // no page scroll, no click on a focused button
      if (e.repeat || spaceHeld) return;
      spaceHeld = true;
      intents.press();
    } else if (e.key === 'Escape') {
      intents.escape();
    }
  });
  doc.addEventListener('keyup', (e) => {
    if (e.code !== 'Space' || !spaceHeld) return;
    e.preventDefault();
    spaceHeld = false;
    intents.release();
  });
  const lost = (why) => {
    spaceHeld = false;
    pointerId = null;
    intents.focusLost(why);
  };
  doc.defaultView.addEventListener('blur', () => lost('window lost focus'));
  doc.addEventListener('visibilitychange', () => {
    if (doc.visibilityState === 'hidden') lost('page hidden');
  });

  // ---- lists ----
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
      for (let i = 0; i < 6; i += 1) tr.append(doc.createElement('td'));
      return tr;
    },
    (tr, t) => {
      tr.dataset.turn = String(t.n);
      tr.dataset.outcome = t.outcome;
      const cells = [t.n, t.outcome, formatMs(t.startRtt), formatMs(t.endRtt)];
      cells.push(formatMs(t.releaseToText), formatMs(t.releaseToAudio));
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
  let lastDevices = null;
  let attachedTrack = null;

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

  function render(state) {
    const c = controls(state);
    setText(el.connectionState, state.connection);
    setAttr(el.connectionState, 'data-state', state.connection);
    const agentState = !state.agent ? 'absent' : state.agent.paused ? 'paused' : state.agent.state;
    setText(el.agentState, agentState);
    setAttr(el.agentState, 'data-state', agentState);
    const errors = state.agent?.errors ?? null;
    setText(el.agentErrors, errors === null ? '—' : String(errors));
    setAttr(el.agentErrors, 'data-state', errors ? 'paused' : 'none');
    if (el.room.value.trim() !== state.form.room) el.room.value = state.form.room;
    if (el.identity.value.trim() !== state.form.identity) el.identity.value = state.form.identity;
    renderDevices(state.devices, state.form.deviceId);

    for (const name of Object.keys(c.disabled)) {
      if (el[name] && el[name].disabled !== c.disabled[name]) el[name].disabled = c.disabled[name];
    }
    setAttr(el.ptt, 'aria-pressed', String(state.held));
    setText(el.ptt, state.held ? 'Talking… release to send' : 'Hold to talk');
    setText(el.pttReason, c.pttReason);
    setText(el.controlReason, c.controlReason);
    setText(el.status, state.status.text);
    setAttr(el.status, 'data-level', state.status.level);
    el.startAudio.hidden = state.connection === 'disconnected' || state.canPlaybackAudio;

    el.micLevel.value = state.levels.mic;
    const started = state.micCaptureStartedAt;
    if (started === null) el.micLevel.removeAttribute('data-capture-started');
    else setAttr(el.micLevel, 'data-capture-started', started.toFixed(1));
    setAttr(el.audio, 'data-track', state.agentAudio);
    el.agentLevel.value = state.levels.agent;
    setAttr(el.agentLevel, 'data-peak', state.levels.agentPeak.toFixed(3));

    renderTranscript(state.transcript);
    renderSummary(state.turns);
    renderTurns(state.turns);
    renderAgentMetrics(state.agentMetrics);
    renderLog(state.log);
  }

  return {
    render,

    /** Settings the server put in the page. */
    readConfig() {
      return {
        agentName: doc.body.dataset.agentName ?? '',
        accessKeyRequired: doc.body.dataset.accessKeyRequired === 'true',
      };
    },

    /** Play `track` (a livekit-client RemoteAudioTrack) in the agent audio element. */
    attachAgentAudio(track) {
      if (attachedTrack === track) return;
      if (attachedTrack) attachedTrack.detach(el.audio);
      attachedTrack = track;
      if (track) track.attach(el.audio);
    },

    /** Offer `text` as a file download. */
    download(filename, text, type = 'application/json') {
      const url = URL.createObjectURL(new Blob([text], { type }));
      const a = doc.createElement('a');
      a.href = url;
      a.download = filename;
      a.hidden = true;
      doc.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  };
}
