// The turn inspector's data, per page turn: the levels of both sides, the page's own
// recording of the microphone, the agent's instants (ptt.metrics) and the audio it fed
// the STT (get_turn_audio, a WAV byte stream on ptt.turn_audio), the clock alignment
// and the clip detection. No DOM: view-inspector.js draws state.inspector.

import { createByteStreamInbox } from './byte-streams.js';
import { alignClocks, toPageTime, turnClockSamples } from './clock.js';
import { clipMarks, detectClips } from './clip.js';
import { latestReport, matchAgentTurns, turnAudioDue } from './inspector-match.js';
import { startMicRecorder } from './mic-recorder.js';
import { UNSUPPORTED_METHOD } from './ptt.js';
import { parseWav } from './wav.js';

export const TURN_AUDIO_TOPIC = 'ptt.turn_audio';
const BEFORE_PRESS_MS = 1000; // recorded before the press: speech the press clipped
const AFTER_RELEASE_MS = 400;
const AGENT_LEVELS_MS = 8000; // the agent's level is kept this long after the release
const STREAM_WAIT_MS = 10_000;
const KEEP_TURNS = 20; // older turns keep their marks, not their audio
const REPLY_WAIT_MS = 6000; // a reply whose end is never reported: fetch the audio anyway

function emptyRecord() {
  return {
    micLevels: [],
    agentLevels: [],
    recording: null, // {samples, sampleRate, startAt}
    agentKey: null,
    report: null, // the newest ptt.metrics of its agent turn
    alignment: null,
    agentAudio: null, // {samples, sampleRate, info}
    audioStatus: 'none', // none | fetching | ready | unsupported | failed: <why>
    fetchTimer: null, // the fallback fetch of a turn whose reply is still playing
    clips: null,
    marks: [],
    detectedFrom: null, // detectClips' inputs the last time it ran
  };
}

/** app: {state, update, log, session, talk, audio}. */
export function createInspector(app) {
  const { state, update, log } = app;
  const inbox = createByteStreamInbox(STREAM_WAIT_MS);
  let recorder = null;
  let recorderTrack = null;

  const record = (n) => {
    const turns = state.inspector.turns;
    if (!turns[n]) turns[n] = emptyRecord();
    return turns[n];
  };
  const changed = () => {
    state.inspector.version += 1;
    update();
  };
  const turnOf = (n) => state.turns.find((t) => t.n === n) ?? null;

  async function recordMic(track) {
    recorder?.stop();
    recorder = null;
    recorderTrack = track;
    if (!track) return;
    try {
      const ctx = app.audio.ensureContext();
      const monitor = track.mediaStreamTrack.clone();
      monitor.enabled = true;
      const r = await startMicRecorder(ctx, monitor);
      if (recorderTrack !== track) return r.stop();
      recorder = r;
    } catch (err) {
      log('warn', `the turn inspector cannot record the microphone: ${err.message}`);
    }
  }

  function level(kind, value) {
    const turn = state.turns.at(-1);
    if (!turn) return;
    const now = performance.now();
    const rec = record(turn.n);
    if (kind === 'mic' && (turn.releaseAt === null || now - turn.releaseAt < AFTER_RELEASE_MS)) {
      rec.micLevels.push([now, value]);
    } else if (kind === 'agent' && turn.releaseAt !== null && now - turn.releaseAt < AGENT_LEVELS_MS) {
      rec.agentLevels.push([now, value]);
    }
  }

  function released(n) {
    setTimeout(() => {
      const turn = turnOf(n);
      if (!turn || !recorder) return;
      const rec = record(n);
      rec.recording = recorder.take(turn.pressAt - BEFORE_PRESS_MS, (turn.releaseAt ?? performance.now()) + AFTER_RELEASE_MS);
      detect(n);
      changed();
    }, AFTER_RELEASE_MS + 50);
  }

  function metricsArrived() {
    const matched = matchAgentTurns(state.agentMetrics, app.session.localIdentity, state.turns);
    for (const [n, key] of matched) {
      const rec = record(n);
      const report = latestReport(state.agentMetrics, key);
      if (rec.report === report) continue;
      rec.agentKey = key;
      rec.report = report;
      const turn = turnOf(n);
      if (turn && report?.instants_ms) {
        rec.alignment = alignClocks(turnClockSamples(turn, report.instants_ms));
      }
      const due = turnAudioDue(report);
      if (due === 'now' && rec.audioStatus === 'none') fetchAudio(n, report.turn);
      else if (due === 'later' && rec.audioStatus === 'none' && !rec.fetchTimer) {
        rec.fetchTimer = setTimeout(() => {
          if (rec.audioStatus === 'none') fetchAudio(n, report.turn);
        }, REPLY_WAIT_MS);
      }
      detect(n);
    }
    prune();
    changed();
  }

  async function fetchAudio(n, agentTurn) {
    const rec = record(n);
    clearTimeout(rec.fetchTimer);
    rec.audioStatus = 'fetching';
    const result = await app.talk.call('get_turn_audio', JSON.stringify({ turn: agentTurn }));
    if (!result.ok) {
      rec.audioStatus =
        result.error?.code === UNSUPPORTED_METHOD
          ? 'unsupported'
          : `failed: ${result.error?.message ?? 'no answer'}`;
      changed();
      return;
    }
    try {
      const info = JSON.parse(result.response);
      const bytes = await inbox.take(info.stream_id);
      const wav = parseWav(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      rec.agentAudio = { samples: wav.samples, sampleRate: wav.sampleRate, info };
      rec.audioStatus = 'ready';
      detect(n);
    } catch (err) {
      rec.audioStatus = `failed: ${err.message}`;
      log('warn', `turn ${n}: the agent's audio could not be read: ${err.message}`);
    }
    changed();
  }

  function detect(n) {
    const rec = record(n);
    if (!rec.recording) return;
    const info = rec.agentAudio?.info;
    // the clocks' placement: the agent's audio ends at its last frame, and began
    // `seconds` before it (the live part arrives in real time)
    let clockLagMs = null;
    if (info && rec.alignment) {
      const end = toPageTime(info.last_frame_ms, rec.alignment);
      if (end !== null) clockLagMs = end - info.seconds * 1000 - rec.recording.startAt;
    }
    const inputs = {
      page: rec.recording,
      agent: rec.agentAudio,
      clockLagMs,
      slackMs: (rec.alignment?.uncertaintyMs ?? 0) + 40,
      transcript: rec.report?.transcript ?? null,
    };
    // each of a turn's reports asks again; the filter and correlation over its recording
    // are run only when something they read has changed
    const last = rec.detectedFrom;
    if (last && Object.keys(inputs).every((k) => inputs[k] === last[k])) return;
    rec.detectedFrom = inputs;
    rec.clips = detectClips(inputs);
    rec.marks = clipMarks(rec.clips);
    app.turns.patchTurn(n, {
      clippedStartMs: rec.clips.clippedStartMs || null,
      cutEndMs: rec.clips.cutEndMs || null,
      emptyTranscript: rec.clips.emptyTranscript ? 1 : null,
      marks: rec.marks,
    });
  }

  function prune() {
    const keys = Object.keys(state.inspector.turns).map(Number).sort((a, b) => a - b);
    for (const n of keys.slice(0, -KEEP_TURNS)) {
      const rec = state.inspector.turns[n];
      rec.recording = null;
      rec.agentAudio = null;
      rec.micLevels = [];
      rec.agentLevels = [];
    }
  }

  /** Play turn `n`'s audio: 'agent' (what the STT got) or 'page' (the microphone). */
  function play(n, which) {
    const rec = state.inspector.turns[n];
    const audio = which === 'agent' ? rec?.agentAudio : rec?.recording;
    if (!audio) return;
    const ctx = app.audio.ensureContext();
    const buffer = ctx.createBuffer(1, audio.samples.length, audio.sampleRate);
    buffer.copyToChannel(audio.samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    source.start();
  }

  return { recordMic, level, released, metricsArrived, onTurnAudio: inbox.receive, play };
}
