// Joining and leaving a room: token from the server, connect, publish the muted
// microphone; and the teardown that leaves everything as it was before joining.

import { formProblem, postJson } from './api.js';
import { connectionReset } from './state.js';

/** app: {state, update, log, setStatus, session, audio, talk, view, refreshDevices}. */
export function createJoin(app) {
  const { state, update, log, setStatus, session } = app;
  let generation = 0; // bumped on every connect/disconnect so late callbacks are ignored

  async function connect() {
    if (state.connection !== 'disconnected' || state.busy.connect) return;
    const problem = formProblem(state.form, state.accessKeyRequired);
    if (problem) {
      log('error', `cannot connect: ${problem}`);
      setStatus('error', `Cannot connect: ${problem}.`);
      return;
    }
    app.audio.ensureContext(); // inside the click, so audio may start
    const gen = ++generation;
    const { room, identity, agent } = state.form;
    state.busy.connect = true;
    state.connection = 'connecting';
    setStatus('info', `Connecting to ${room}…`);
    log('info', `connecting to room ${room} as ${identity}`);
    try {
      const body = { room, identity, agent };
      const grant = await postJson('/api/token', body, state.form.accessKey);
      if (gen !== generation) return;
      await session.connect({ url: grant.url, token: grant.token });
      if (gen !== generation) return;
      state.joined = { room: grant.room, identity: grant.identity, agent: grant.agent };
      state.connection = 'connected';
      log('info', `connected to ${grant.room} as ${grant.identity}`);
      setStatus('info', `Connected to ${grant.room}.`);
    } catch (err) {
      if (gen !== generation) return;
      log('error', `connect failed: ${err.message}`);
      generation += 1;
      await teardown();
      setStatus('error', `Connect failed: ${err.message}`);
      return;
    } finally {
      state.busy.connect = false;
      update();
    }
    try {
      await session.publishMicrophone(state.form.deviceId);
      if (gen !== generation) return;
      state.micReady = true;
      log('info', 'microphone published, muted until you talk');
    } catch (err) {
      if (gen !== generation) return;
      state.micError = err.message;
      log('error', `microphone failed: ${err.message}`, { name: err.name });
      setStatus('error', `Microphone failed: ${err.message}`);
    }
    await app.refreshDevices();
  }

  async function teardown() {
    app.talk.abort();
    app.audio.meterMic(null);
    app.audio.meterAgent(null);
    app.view.attachAgentAudio(null);
    const keep = { form: state.form, devices: state.devices, status: state.status, log: state.log };
    Object.assign(state, connectionReset(), keep);
    update();
    try {
      await session.disconnect();
    } catch (err) {
      log('warn', `disconnect: ${err.message}`);
    }
  }

  async function disconnect() {
    if (state.connection === 'disconnected') return;
    generation += 1;
    log('info', 'disconnecting');
    await teardown();
    setStatus('info', 'Disconnected.');
  }

  /** The room was left without the user asking (`reason`: a DisconnectReason name). */
  function lost(reason) {
    log('warn', `disconnected by the server (${reason})`, { reason }, 'livekit');
    setStatus('warn', `Disconnected (${reason}).`);
    generation += 1;
    teardown();
  }

  return {
    connect,
    disconnect,
    lost,
    get generation() {
      return generation;
    },
  };
}
