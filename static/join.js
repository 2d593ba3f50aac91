// Joining and leaving a room: token from the server, connect, publish the muted
// microphone; the teardown that leaves everything as it was before joining; and the
// rejoin that follows a disconnection nobody asked for (see rejoin.js for when).

import { formProblem, postJson } from './api.js';
import { finalReason, isPermanent, rejoinDelay, shouldRejoin } from './rejoin.js';
import { connectionReset } from './state.js';

/** app: {state, update, log, setStatus, session, audio, talk, view, agentWait,
 *  refreshDevices}. */
export function createJoin(app) {
  const { state, update, log, setStatus, session } = app;
  let generation = 0; // bumped on every connect/disconnect so late callbacks are ignored
  let rejoinTimer = null;
  // {room, identity} the server said is taken (409): the next Connect to it takes over
  let takeover = null;

  /** Token, connect, say `joined` (log and status), publish the muted mic. Throws when
   *  the token or the connection fails; a microphone failure is reported and leaves the
   *  page connected. False when a newer connect or disconnect took over meanwhile.
   *  With `replace`, the server lets this join take the place of a participant with the
   *  same identity (another tab, or this page's own lost connection). */
  async function enter({ room, identity, agent }, gen, joined, replace = false) {
    const body = replace ? { room, identity, agent, replace } : { room, identity, agent };
    const grant = await postJson('/api/token', body, state.form.accessKey);
    if (gen !== generation) return false;
    await session.connect({ url: grant.url, token: grant.token });
    if (gen !== generation) return false;
    const dispatch = grant.dispatch ?? null; // {status, reason, hint}: the server's dispatch
    state.joined = { room: grant.room, identity: grant.identity, agent: grant.agent, dispatch };
    state.connection = 'connected';
    state.rejoin = null;
    app.agentWait.check();
    log('info', joined);
    if (dispatch?.status === 'refused') {
      log('warn', `${grant.agent} could not be dispatched: ${dispatch.reason}. ${dispatch.hint}`);
    }
    setStatus('info', `${joined[0].toUpperCase()}${joined.slice(1)}.`);
    try {
      await session.publishMicrophone(state.form.deviceId);
      if (gen !== generation) return false;
      state.micReady = true;
      log('info', 'microphone published, muted until you talk');
    } catch (err) {
      if (gen !== generation) return false;
      state.micError = err.message;
      log('error', `microphone failed: ${err.message}`, { name: err.name });
      setStatus('error', `Microphone failed: ${err.message}`);
    }
    return true;
  }

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
    const replace = takeover?.room === room && takeover?.identity === identity;
    takeover = null;
    log('info', `connecting to room ${room} as ${identity} (agent ${agent})`);
    try {
      const joined = `connected to ${room} as ${identity}`;
      if (!(await enter({ room, identity, agent }, gen, joined, replace))) return;
    } catch (err) {
      if (gen !== generation) return;
      generation += 1;
      await teardown();
      if (err.status === 409) {
        takeover = { room, identity };
        log('warn', `${err.message}: press Connect again to take its place`, { status: 409 });
        setStatus('warn', `${identity} is already in ${room} (another tab?). Connect again to take over.`);
        return;
      }
      log('error', `connect failed: ${err.message}`);
      setStatus('error', `Connect failed: ${err.message}`);
      return;
    } finally {
      state.busy.connect = false;
      update();
    }
    await app.refreshDevices();
  }

  /** Leave the room. With `rejoin` ({room, identity, agent, attempt}: what to rejoin),
   *  the transcript and the turns are kept and the connection shows as reconnecting. */
  async function teardown(rejoin = null) {
    clearTimeout(rejoinTimer);
    rejoinTimer = null;
    app.agentWait.stop();
    app.talk.abort();
    app.audio.meterMic(null);
    app.audio.meterAgent(null);
    app.inspector.recordMic(null);
    app.view.attachAgentAudio(null);
    const { form, devices, status, log: entries, transcript, turn, turns, agentMetrics } = state;
    const { inspector } = state;
    const kept = rejoin
      ? { transcript, turn, turns, agentMetrics, inspector, connection: 'reconnecting', rejoin }
      : {};
    Object.assign(state, connectionReset(), { form, devices, status, log: entries }, kept);
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
    log('info', state.rejoin ? 'disconnecting: no more rejoin attempts' : 'disconnecting');
    await teardown();
    setStatus('info', 'Disconnected.');
  }

  /** The room was left without the user asking (`reason`: a DisconnectReason name). */
  function lost(reason) {
    generation += 1;
    if (!shouldRejoin(reason)) {
      const why = finalReason(reason);
      log('warn', `disconnected (${reason}): ${why}; not rejoining`, { reason }, 'livekit');
      setStatus('warn', `Disconnected: ${why}.`);
      teardown();
      return;
    }
    const { room, identity, agent } = state.joined;
    const target = { room, identity, agent };
    const gen = generation;
    log('warn', `disconnected (${reason}): rejoining ${room}`, { reason }, 'livekit');
    setStatus('warn', `Disconnected (${reason}): rejoining ${room}…`);
    teardown({ ...target, attempt: 1 }).then(() => scheduleRejoin(target, 1, gen));
  }

  function scheduleRejoin(target, n, gen) {
    if (gen !== generation) return;
    state.rejoin = { ...target, attempt: n };
    update();
    rejoinTimer = setTimeout(() => rejoin(target, n, gen), rejoinDelay(n));
  }

  async function rejoin(target, n, gen) {
    rejoinTimer = null;
    if (gen !== generation) return;
    log('info', `rejoin attempt ${n}: ${target.room} as ${target.identity}`, { attempt: n });
    try {
      // in place of this page's own lost participant, which LiveKit may still list
      if (!(await enter(target, gen, `rejoined ${target.room} (attempt ${n})`, true))) return;
      app.agentWait.reconnected();
      await app.refreshDevices();
    } catch (err) {
      if (gen !== generation) return;
      await teardown({ ...target, attempt: n + 1 });
      if (gen !== generation) return;
      if (isPermanent(err)) {
        log('error', `rejoin attempt ${n} failed: ${err.message}; giving up`, { attempt: n });
        setStatus('error', `Rejoin failed: ${err.message}`);
        generation += 1;
        Object.assign(state, { connection: 'disconnected', rejoin: null });
        update();
        return;
      }
      const next = rejoinDelay(n + 1) / 1000;
      log('warn', `rejoin attempt ${n} failed: ${err.message}; next in ${next} s`, {
        attempt: n,
      });
      scheduleRejoin(target, n + 1, gen);
    }
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
