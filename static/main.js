// Composes the console. `app` is the one context every part receives: the store (state,
// update, log, setStatus) plus the parts below, looked up when they are used, so the
// parts may refer to each other. Every change goes through update(), which schedules one
// render(state).

import { createAgentWait } from './agent-wait.js';
import { createAudio } from './audio.js';
import { createInspector, TURN_AUDIO_TOPIC } from './inspector.js';
import { createIntents } from './intents.js';
import { createJoin } from './join.js';
import { createRoomEvents } from './room-events.js';
import { createSession } from './room.js';
import { createStore, initialState } from './state.js';
import { createStreamHandlers } from './streams.js';
import { createTalk } from './talk.js';
import { createTurns } from './turns.js';
import { createView } from './view.js';

const params = new URLSearchParams(window.location.search);
const app = {};
const view = createView(document, {
  formChanged: (form) => app.intents.formChanged(form),
  connect: () => app.join.connect(),
  disconnect: () => app.join.disconnect(),
  selectDevice: (id) => app.intents.selectDevice(id),
  press: () => app.talk.press(),
  release: () => app.talk.release(),
  cancel: () => app.talk.cancel(),
  escape: () => app.state.held && app.talk.cancel('Esc'),
  focusLost: (why) => app.state.held && app.talk.cancel(why),
  pause: () => app.intents.pause(),
  resume: () => app.intents.resume(),
  rebuild: () => app.intents.rebuild(),
  startAudio: () => app.intents.startAudio(),
  exportLog: () => app.intents.exportLog(),
  clearLog: () => app.intents.clearLog(),
  play: (n, which) => app.inspector.play(n, which),
  exportReport: () => app.intents.exportReport(),
  openReport: (file) => app.intents.openReport(file),
  rerender: () => app.update(),
});
const store = createStore(initialState(params, view.readConfig()), view.render);
Object.assign(app, store, { view });
app.turns = createTurns(app);
app.inspector = createInspector(app);
app.audio = createAudio(
  app,
  (at) => app.turns.markAfterRelease('releaseToAudio', at),
  (kind, level) => app.inspector.level(kind, level),
);
app.session = createSession(createRoomEvents(app), createStreamHandlers(app), {
  [TURN_AUDIO_TOPIC]: (reader) => app.inspector.onTurnAudio(reader),
});
app.talk = createTalk(app);
app.agentWait = createAgentWait(app);
app.join = createJoin(app);
app.intents = createIntents(app);
app.startAudio = app.intents.startAudio;
app.refreshDevices = app.intents.refreshDevices;

store.update();
app.refreshDevices();
if (params.has('report')) {
  app.setStatus('info', 'Open a session report: choose its file under the turn inspector, or drop it here.');
} else if (params.get('autoconnect') === '1') {
  app.join.connect();
}
