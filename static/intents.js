// The user's other intents: the form, the agent controls (pause, resume, rebuild), audio
// playback, the microphone choice and the event log.

import { postJson } from './api.js';
import { PAUSE_UNSUPPORTED_REASON } from './controls.js';
import { exportDocument } from './log.js';
import { buildReport, readReport } from './report.js';
import { UNSUPPORTED_METHOD } from './ptt.js';
import { CLIENT_VERSION, listMicrophones } from './client-info.js';

/** app: {state, update, log, setStatus, session, audio, talk, view}. */
export function createIntents(app) {
  const { state, update, log, setStatus } = app;

  async function pauseOrResume(method) {
    state.busy[method] = true;
    update();
    const result = await app.talk.call(method);
    state.busy[method] = false;
    if (!result.ok && result.error?.code === UNSUPPORTED_METHOD) {
      state.pauseSupported = false;
      log('warn', PAUSE_UNSUPPORTED_REASON);
      setStatus('warn', PAUSE_UNSUPPORTED_REASON);
    } else if (result.ok) {
      setStatus('info', method === 'pause' ? 'Agent paused.' : 'Agent resumed.');
    }
    update();
  }

  async function rebuild() {
    if (!state.joined) return;
    state.busy.rebuild = true;
    setStatus('info', 'Rebuilding the agent…');
    try {
      const body = { room: state.joined.room, agent: state.joined.agent };
      const result = await postJson('/api/agent/rebuild', body, state.form.accessKey);
      const removed = result.removed.length ? result.removed.join(', ') : 'none';
      const dispatched = `dispatched ${result.agent} (${result.dispatch_id})`;
      log('info', `agent rebuilt: removed ${removed}, ${dispatched}`, result);
      setStatus('info', `Agent rebuilt: a fresh ${result.agent} is joining.`);
    } catch (err) {
      log('error', `rebuild failed: ${err.message}`);
      setStatus('error', `Rebuild failed: ${err.message}`);
    } finally {
      state.busy.rebuild = false;
      update();
    }
  }

  async function startAudio() {
    app.audio.ensureContext();
    try {
      await app.session.startAudio();
    } catch (err) {
      log('warn', `audio playback still blocked: ${err.message}`);
    }
  }

  async function selectDevice(deviceId) {
    state.form.deviceId = deviceId;
    update();
    if (!state.micReady) return;
    state.busy.device = true;
    update();
    try {
      await app.session.switchMicrophone(deviceId || 'default');
      log('info', `microphone switched to ${deviceId || 'the system default'}`);
    } catch (err) {
      log('error', `could not switch microphone: ${err.message}`);
      setStatus('error', `Could not switch microphone: ${err.message}`);
    } finally {
      state.busy.device = false;
      update();
    }
  }

  async function refreshDevices() {
    try {
      state.devices = await listMicrophones();
    } catch (err) {
      log('warn', `cannot list microphones: ${err.message}`);
    }
    update();
  }

  return {
    formChanged(form) {
      state.form = { ...state.form, ...form };
      update();
    },
    pause: () => pauseOrResume('pause'),
    resume: () => pauseOrResume('resume'),
    rebuild,
    startAudio,
    selectDevice,
    refreshDevices,
    exportLog() {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      app.view.download(`ptt-console-log-${stamp}.json`, exportDocument(state));
    },
    clearLog() {
      state.log = [];
      update();
    },
    exportReport() {
      const versions = {
        console: app.view.readConfig().consoleVersion,
        livekit_client: CLIENT_VERSION,
        livekit_server: app.session.serverVersion ?? state.offline?.versions?.livekit_server ?? null,
        agent: state.agent?.versions ?? null, // its ptt.versions; null: it publishes none
      };
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const room = state.joined?.room ?? state.form.room;
      app.view.download(`ptt-report-${room}-${stamp}.json`, JSON.stringify(buildReport(state, versions)));
      log('info', 'session report exported');
    },
    /** Show a session report offline (only while disconnected: a session has the page). */
    async openReport(file) {
      if (state.connection !== 'disconnected') {
        setStatus('warn', 'Disconnect first to open a report: a live session is on the page.');
        return;
      }
      const restored = readReport(await file.text());
      if (restored instanceof Error) {
        log('error', `${file.name}: ${restored.message}`);
        setStatus('error', `Could not open ${file.name}: ${restored.message}`);
        return;
      }
      Object.assign(state, restored);
      const at = restored.offline.exportedAt ?? 'an unknown time';
      setStatus('info', `Report ${file.name} (room ${restored.offline.room}, exported ${at}), offline.`);
      update();
    },
  };
}
