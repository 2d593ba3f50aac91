// The view: the only part that touches the DOM (with view-input.js, view-lists.js and
// dom.js). render(state) draws everything from the state object; user input is forwarded
// to the intents given to createView.

import { controls } from './controls.js';
import { setAttr, setText } from './dom.js';
import { createInspectorView } from './view-inspector.js';
import { bindInput } from './view-input.js';
import { createListRenderers } from './view-lists.js';

const $ = (doc, id) => doc.querySelector(`[data-testid="${id}"]`);

/**
 * intents: formChanged(form), connect(), disconnect(), selectDevice(id), press(),
 * release(), cancel(), escape(), focusLost(why), pause(), resume(), rebuild(),
 * startAudio(), exportLog(), clearLog(), play(n, which), rerender(), exportReport(),
 * openReport(file)
 */
export function createView(doc, intents) {
  const el = {
    form: doc.getElementById('connect-form'),
    connectionState: $(doc, 'connection-state'),
    agentState: $(doc, 'agent-state'),
    agentErrors: $(doc, 'agent-errors'),
    room: $(doc, 'room-input'),
    identity: $(doc, 'identity-input'),
    agent: $(doc, 'agent-input'),
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
    inspector: $(doc, 'inspector'),
    exportReport: $(doc, 'export-report-button'),
    openReport: $(doc, 'open-report-input'),
  };

  bindInput(doc, el, intents);

  const renderLists = createListRenderers(doc, el);
  const renderInspector = createInspectorView(doc, el.inspector, intents);
  let attachedTrack = null;

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
    for (const name of ['room', 'identity', 'agent']) {
      if (el[name].value.trim() !== state.form[name]) el[name].value = state.form[name];
    }

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

    renderLists(state);
    renderInspector(state);
  }

  return {
    render,

    /** Settings the server put in the page. */
    readConfig() {
      return {
        agentName: doc.body.dataset.agentName ?? '',
        accessKeyRequired: doc.body.dataset.accessKeyRequired === 'true',
        consoleVersion: doc.body.dataset.consoleVersion ?? 'unknown',
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
