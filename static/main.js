// Composes the console: one state object, the room session, push-to-talk, meters and
// the view. Every change goes through update(), which schedules one render(state).

import { pttBlockReason, PAUSE_UNSUPPORTED_REASON } from './controls.js';
import { appendEntry, exportDocument, normaliseLevel } from './log.js';
import { startMeter } from './meter.js';
import { newTurn } from './metrics.js';
import { createPtt, createRpc, UNSUPPORTED_METHOD } from './ptt.js';
import { createSession, listMicrophones } from './room.js';
import { readTranscription, TRANSCRIPTION_TOPIC } from './transcript.js';
import { createView } from './view.js';

const METRICS_TOPIC = 'ptt.metrics';
const LOG_TOPIC = 'ptt.log';
const ACCESS_KEY_HEADER = 'X-Access-Key';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const AUDIO_THRESHOLD = 0.02; // agent level (peak amplitude) counted as "audio arrived"
const MAX_TRANSCRIPT = 500;
const MAX_AGENT_METRICS = 50;

function randomIdentity() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `user-${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')}`;
}

function connectionReset() {
  return {
    connection: 'disconnected',
    joined: null, // {room, identity} once connected
    agent: null, // {identity, state, paused}
    micReady: false,
    micError: null,
    micCaptureStartedAt: null, // performance.now() when getUserMedia delivered the track
    agentAudio: 'none', // 'subscribed' while the agent's audio track is attached
    held: false,
    turnOpen: false,
    pauseSupported: true,
    canPlaybackAudio: true,
    busy: { connect: false, device: false, pause: false, resume: false, rebuild: false },
    levels: { mic: 0, agent: 0, agentPeak: 0 },
    transcript: [],
    turn: 0,
    turns: [],
    agentMetrics: [],
  };
}

const params = new URLSearchParams(window.location.search);
const view = createView(document, {
  formChanged,
  connect,
  disconnect,
  selectDevice,
  press,
  release: () => ptt.release(),
  cancel,
  escape: () => state.held && cancel('Esc'),
  focusLost: (why) => state.held && cancel(why),
  pause: () => pauseOrResume('pause'),
  resume: () => pauseOrResume('resume'),
  rebuild,
  startAudio,
  exportLog,
  clearLog,
});
const config = view.readConfig();

const state = {
  ...connectionReset(),
  agentName: config.agentName,
  accessKeyRequired: config.accessKeyRequired,
  form: {
    room: params.get('room') || 'ptt-test',
    identity: params.get('identity') || randomIdentity(),
    accessKey: '',
    deviceId: '',
  },
  devices: [],
  status: { level: 'info', text: '' },
  log: [],
};

// ---- rendering ----
let renderQueued = false;
function update() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    view.render(state);
  });
}

function log(level, message, data, source = 'console') {
  state.log = appendEntry(state.log, { level, message, data, source });
  update();
}

function setStatus(level, text) {
  state.status = { level, text };
  update();
}

// ---- audio meters ----
let audioContext = null;
let micMeter = null;
let agentMeter = null;

function ensureAudioContext() {
  if (!audioContext) audioContext = new AudioContext();
  if (audioContext.state === 'suspended') audioContext.resume().catch(() => {});
  return audioContext;
}

function meterMic(track) {
  micMeter?.stop();
  micMeter = null;
  state.levels.mic = 0;
  if (!track) return;
  // a clone keeps metering while the published track is muted: you see that you are
  // speaking before you press (and the e2e suite finds where the fake mic's loop is)
  const monitor = track.mediaStreamTrack.clone();
  monitor.enabled = true; // a clone copies the muted (disabled) state
  const meter = startMeter(ensureAudioContext(), monitor, (level) => {
    if (Math.abs(level - state.levels.mic) < 0.005) return;
    state.levels.mic = level;
    update();
  });
  micMeter = {
    stop() {
      meter.stop();
      monitor.stop();
    },
  };
}

function meterAgent(track) {
  agentMeter?.stop();
  agentMeter = null;
  state.levels.agent = 0;
  update();
  if (!track) return;
  agentMeter = startMeter(ensureAudioContext(), track.mediaStreamTrack, (level) => {
    const peak = Math.max(state.levels.agentPeak, level);
    if (Math.abs(level - state.levels.agent) < 0.005 && peak === state.levels.agentPeak) return;
    state.levels.agent = level;
    state.levels.agentPeak = peak;
    if (level >= AUDIO_THRESHOLD) markAfterRelease('releaseToAudio');
    update();
  });
}

// ---- turns and their timings ----
function currentTurn() {
  return state.turns.length ? state.turns[state.turns.length - 1] : null;
}

function patchTurn(patch) {
  const turn = currentTurn();
  if (!turn) return;
  state.turns = [...state.turns.slice(0, -1), { ...turn, ...patch }];
  update();
}

/** Record release → now for `key` once per turn, for turns that were released normally. */
function markAfterRelease(key) {
  const turn = currentTurn();
  if (!turn || turn.releaseAt === null || turn[key] !== null || turn.outcome === 'cancelled') {
    return;
  }
  patchTurn({ [key]: Math.round(performance.now() - turn.releaseAt) });
}

// ---- LiveKit session ----
let connectionGen = 0; // bumped on every connect/disconnect so late callbacks are ignored

const session = createSession(
  {
    onConnectionState(s) {
      if (state.connection === s || (s === 'disconnected' && !state.joined)) return;
      state.connection = s;
      log(s === 'reconnecting' ? 'warn' : 'info', `connection ${s}`, undefined, 'livekit');
      guardTurn();
    },
    onDisconnected(reason) {
      if (!state.joined) return;
      log('warn', `disconnected by the server (${reason})`, { reason }, 'livekit');
      setStatus('warn', `Disconnected (${reason}).`);
      connectionGen += 1;
      teardown();
    },
    onAgent(agent) {
      const prev = state.agent;
      if (prev?.identity !== agent?.identity) {
        if (prev) log('info', `agent ${prev.identity} left`);
        if (agent) log('info', `agent ${agent.identity} joined`);
        state.pauseSupported = true; // a new agent may implement pause
      } else if (prev && agent) {
        if (prev.state !== agent.state) log('info', `agent state: ${agent.state}`);
        if (prev.paused !== agent.paused) log('info', agent.paused ? 'agent paused' : 'agent resumed');
        if ((agent.errors ?? 0) > (prev.errors ?? 0)) {
          log('warn', `the agent has logged ${agent.errors} error(s)`, { errors: agent.errors });
        }
        if (prev.turnOwner !== agent.turnOwner) {
          log('info', agent.turnOwner ? `turn held by ${agent.turnOwner}` : 'turn released');
        }
      }
      state.agent = agent;
      guardTurn();
      update();
    },
    onAgentTrack(track) {
      view.attachAgentAudio(track);
      state.agentAudio = track ? 'subscribed' : 'none';
      meterAgent(track);
      if (track) log('info', 'agent audio subscribed', { sid: track.sid });
    },
    onMicTrack(track) {
      meterMic(track);
      update();
    },
    onMicCapture(at) {
      state.micCaptureStartedAt = at;
      update();
    },
    onAudioPlayback(canPlay) {
      state.canPlaybackAudio = canPlay;
      update();
    },
    onDevicesChanged: refreshDevices,
    onParticipant(what, identity) {
      log('info', `participant ${identity} ${what}`, undefined, 'livekit');
    },
    onLog: (level, message, data) => log(level, message, data, 'livekit'),
  },
  {
    [TRANSCRIPTION_TOPIC]: onTranscription,
    [METRICS_TOPIC]: onAgentMetrics,
    [LOG_TOPIC]: onAgentLog,
  },
);

const call = createRpc(session, (level, message, data) => {
  log(level, message, data, 'rpc');
  if (level === 'error') setStatus('error', message);
});

const ptt = createPtt({
  call,
  setMic: (on) => session.setMicrophoneEnabled(on),
  hooks: {
    onChange({ held, turnOpen }) {
      state.held = held;
      state.turnOpen = turnOpen;
      update();
    },
    onPress() {
      state.turn += 1;
      state.turns = [...state.turns, newTurn(state.turn, performance.now())];
      state.levels.agentPeak = 0;
    },
    onStarted(result) {
      patchTurn(result.ok ? { startRtt: result.ms } : { outcome: 'failed' });
    },
    onRelease() {
      if (currentTurn()?.outcome === 'holding') {
        patchTurn({ releaseAt: performance.now(), outcome: 'released' });
      }
    },
    onEnded(result) {
      patchTurn(result.ok ? { endRtt: result.ms, outcome: 'ended' } : { outcome: 'failed' });
    },
    onCancelled() {
      patchTurn({ outcome: 'cancelled' });
    },
    onError(err) {
      log('error', `push-to-talk: ${err.message}`);
      setStatus('error', `Push-to-talk failed: ${err.message}`);
    },
  },
});

/** A held turn cannot continue once the agent, the connection or the mic goes away. */
function guardTurn() {
  if (!(state.held || state.turnOpen) || !pttBlockReason(state)) return;
  if (!state.agent || state.connection === 'disconnected') {
    log('warn', 'turn dropped: the agent or the connection went away');
    ptt.abort();
    patchTurn({ outcome: 'dropped' });
    session.setMicrophoneEnabled(false).catch(() => {});
  } else {
    cancel(pttBlockReason(state));
  }
}

// ---- text streams from the agent ----
function onTranscription(reader, participantInfo) {
  const gen = connectionGen;
  readTranscription(reader, participantInfo, {
    local: { identity: session.localIdentity, micTrackSid: session.micTrackSid },
    turn: state.turn,
    update(id, fn) {
      if (gen !== connectionGen) return;
      const i = state.transcript.findIndex((e) => e.id === id);
      const prev = i >= 0 ? state.transcript[i] : undefined;
      const next = fn(prev);
      if (next === prev) return;
      if (i >= 0) {
        state.transcript = state.transcript.with(i, next);
      } else {
        state.transcript = [...state.transcript.slice(1 - MAX_TRANSCRIPT), next];
      }
      update();
    },
    onText(role) {
      if (gen === connectionGen && role === 'agent') markAfterRelease('releaseToText');
    },
  }).catch((err) => {
    if (gen === connectionGen) log('warn', `transcription stream broke off: ${err.message}`);
  });
}

/** JSON objects from a stream: one document, or one per line (NDJSON). */
async function readJsonObjects(reader) {
  const text = await reader.readAll();
  let values;
  try {
    values = [JSON.parse(text)];
  } catch {
    values = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        values.push(JSON.parse(line));
      } catch (err) {
        log('warn', `unreadable message on ${reader.info.topic}: ${err.message}`, { text: line });
      }
    }
  }
  const objects = values.filter((v) => v && typeof v === 'object' && !Array.isArray(v));
  if (objects.length < values.length) {
    log('warn', `ignored a non-object message on ${reader.info.topic}`, { text });
  }
  return objects;
}

let agentMetricsSeq = 0;
async function onAgentMetrics(reader) {
  const gen = connectionGen;
  try {
    for (const data of await readJsonObjects(reader)) {
      if (gen !== connectionGen) return;
      agentMetricsSeq += 1;
      const entry = {
        seq: agentMetricsSeq,
        receivedAt: new Date().toISOString(),
        turn: state.turn,
        data,
      };
      state.agentMetrics = [...state.agentMetrics.slice(1 - MAX_AGENT_METRICS), entry];
      log('info', 'agent metrics received', data, 'agent');
    }
  } catch (err) {
    log('warn', `agent metrics stream broke off: ${err.message}`);
  }
}

async function onAgentLog(reader) {
  try {
    for (const { level, message, logger, ...rest } of await readJsonObjects(reader)) {
      const data = { logger, ...rest };
      log(normaliseLevel(level), String(message ?? ''), data, 'agent');
    }
  } catch (err) {
    log('warn', `agent log stream broke off: ${err.message}`);
  }
}

// ---- intents ----
function formChanged(form) {
  state.form = { ...state.form, ...form };
  update();
}

function formProblem() {
  for (const field of ['room', 'identity']) {
    const value = state.form[field];
    if (!value) return `${field} is required`;
    if (value.length > 64) return `${field} is too long (at most 64 characters)`;
    if (!NAME_PATTERN.test(value)) {
      return `${field} may only use letters, digits, '_', '.' and '-' and must start with a letter or digit`;
    }
  }
  if (state.accessKeyRequired && !state.form.accessKey) return 'access key is required';
  return '';
}

async function postJson(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (state.form.accessKey) headers[ACCESS_KEY_HEADER] = state.form.accessKey;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

async function connect() {
  if (state.connection !== 'disconnected' || state.busy.connect) return;
  const problem = formProblem();
  if (problem) {
    log('error', `cannot connect: ${problem}`);
    setStatus('error', `Cannot connect: ${problem}.`);
    return;
  }
  ensureAudioContext(); // inside the click, so audio may start
  const gen = ++connectionGen;
  const { room, identity } = state.form;
  state.busy.connect = true;
  state.connection = 'connecting';
  setStatus('info', `Connecting to ${room}…`);
  log('info', `connecting to room ${room} as ${identity}`);
  try {
    const grant = await postJson('/api/token', { room, identity });
    if (gen !== connectionGen) return;
    await session.connect({ url: grant.url, token: grant.token });
    if (gen !== connectionGen) return;
    state.joined = { room: grant.room, identity: grant.identity };
    state.connection = 'connected';
    log('info', `connected to ${grant.room} as ${grant.identity}`);
    setStatus('info', `Connected to ${grant.room}.`);
  } catch (err) {
    if (gen !== connectionGen) return;
    log('error', `connect failed: ${err.message}`);
    connectionGen += 1;
    await teardown();
    setStatus('error', `Connect failed: ${err.message}`);
    return;
  } finally {
    state.busy.connect = false;
    update();
  }
  try {
    await session.publishMicrophone(state.form.deviceId);
    if (gen !== connectionGen) return;
    state.micReady = true;
    log('info', 'microphone published, muted until you talk');
  } catch (err) {
    if (gen !== connectionGen) return;
    state.micError = err.message;
    log('error', `microphone failed: ${err.message}`, { name: err.name });
    setStatus('error', `Microphone failed: ${err.message}`);
  }
  await refreshDevices();
}

async function teardown() {
  ptt.abort();
  meterMic(null);
  meterAgent(null);
  view.attachAgentAudio(null);
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
  connectionGen += 1;
  log('info', 'disconnecting');
  await teardown();
  setStatus('info', 'Disconnected.');
}

function press() {
  if (pttBlockReason(state) || state.held) return;
  ensureAudioContext();
  if (!state.canPlaybackAudio) startAudio();
  ptt.press();
}

function cancel(why) {
  if (!(state.held || state.turnOpen)) return;
  log('info', typeof why === 'string' ? `turn cancelled: ${why}` : 'turn cancelled');
  ptt.cancel();
}

async function pauseOrResume(method) {
  state.busy[method] = true;
  update();
  const result = await call(method);
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
    const result = await postJson('/api/agent/rebuild', { room: state.joined.room });
    const removed = result.removed.length ? result.removed.join(', ') : 'none';
    log('info', `agent rebuilt: removed ${removed}, dispatch ${result.dispatch_id}`, result);
    setStatus('info', 'Agent rebuilt: a fresh instance is joining.');
  } catch (err) {
    log('error', `rebuild failed: ${err.message}`);
    setStatus('error', `Rebuild failed: ${err.message}`);
  } finally {
    state.busy.rebuild = false;
    update();
  }
}

async function startAudio() {
  ensureAudioContext();
  try {
    await session.startAudio();
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
    await session.switchMicrophone(deviceId || 'default');
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

function exportLog() {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  view.download(`ptt-console-log-${stamp}.json`, exportDocument(state));
}

function clearLog() {
  state.log = [];
  update();
}

// ---- start ----
update();
refreshDevices();
if (params.get('autoconnect') === '1') connect();
