// The session report: one JSON file holding what the page knows about a session (turns
// with both sides' timings, transcripts, clip marks, both recordings as WAV in base64,
// the event log with the agent's forwarded records, the agent's config, the versions),
// and the way back: a report read into the state the page renders offline. Pure.
//
// Where it overlaps the headless client's JSON report (headless/turns.py), a turn uses
// the same keys: transcript, expected, release_to_transcript_ms, release_to_audio_ms,
// start_turn/end_turn {rtt_ms}, agent (the agent's own figures).

import { encodeWav, parseWav } from './wav.js';

export const REPORT_KIND = 'ptt-console-report';
export const REPORT_VERSION = 1;

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function audioOut(audio) {
  if (!audio?.samples) return null;
  return {
    sample_rate: audio.sampleRate,
    start_at: audio.startAt ?? null,
    wav_base64: toBase64(encodeWav(audio.samples, audio.sampleRate)),
  };
}

function audioIn(saved) {
  if (!saved?.wav_base64) return null;
  const wav = parseWav(fromBase64(saved.wav_base64));
  return { samples: wav.samples, sampleRate: wav.sampleRate, startAt: saved.start_at };
}

/** The report document for `state`; `versions`: {console, livekit_client, livekit_server}. */
export function buildReport(state, versions) {
  const records = state.inspector.turns;
  const reports = state.turns.map((t) => records[t.n]?.report).filter(Boolean);
  const turns = state.turns.map((t) => {
    const rec = records[t.n] ?? {};
    const report = rec.report ?? null;
    return {
      n: t.n,
      page: t,
      // the headless client's names, where they overlap
      transcript: report?.transcript ?? null,
      expected: null,
      release_to_transcript_ms: t.releaseToUserFinal,
      release_to_audio_ms: t.releaseToAudio,
      start_turn: { rtt_ms: t.startRtt },
      end_turn: { rtt_ms: t.endRtt },
      agent: report,
      alignment: rec.alignment ?? null,
      clips: rec.clips ?? null,
      marks: rec.marks ?? [],
      mic_levels: rec.micLevels ?? [],
      agent_levels: rec.agentLevels ?? [],
      recording: audioOut(rec.recording),
      agent_audio: rec.agentAudio
        ? { info: rec.agentAudio.info, ...audioOut(rec.agentAudio) }
        : null,
      agent_audio_status: rec.audioStatus ?? 'none',
    };
  });
  return {
    kind: REPORT_KIND,
    version: REPORT_VERSION,
    exported_at: new Date().toISOString(),
    room: state.joined?.room ?? state.form.room,
    identity: state.joined?.identity ?? state.form.identity,
    agent_name: state.joined?.agent ?? state.form.agent,
    versions,
    agent_config: {
      identity: state.agent?.identity ?? null,
      instance: state.agent?.instance ?? null,
      strategy: reports.at(-1)?.strategy ?? null,
      preroll_ms: Math.max(0, ...reports.map((r) => r.preroll_ms ?? 0)),
    },
    turns,
    transcript: state.transcript,
    agent_metrics: state.agentMetrics,
    events: state.log,
    agent_log: state.log.filter((e) => e.source === 'agent'),
  };
}

/** The parts of the state a report restores, or an Error saying why it cannot. */
export function readReport(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return new Error(`not a report: the file is not JSON (${err.message})`);
  }
  if (!doc || doc.kind !== REPORT_KIND) return new Error(`not a report: kind is not ${REPORT_KIND}`);
  if (doc.version !== REPORT_VERSION) {
    return new Error(`report version ${doc.version} is not supported (this page reads ${REPORT_VERSION})`);
  }
  const inspector = { version: 1, turns: {} };
  for (const t of doc.turns ?? []) {
    const agentAudio = t.agent_audio ? { ...audioIn(t.agent_audio), info: t.agent_audio.info } : null;
    inspector.turns[t.n] = {
      micLevels: t.mic_levels ?? [],
      agentLevels: t.agent_levels ?? [],
      recording: audioIn(t.recording),
      agentKey: null,
      report: t.agent,
      alignment: t.alignment,
      agentAudio: agentAudio?.samples ? agentAudio : null,
      audioStatus: t.agent_audio_status ?? 'none',
      clips: t.clips,
      marks: t.marks ?? [],
    };
  }
  return {
    turns: (doc.turns ?? []).map((t) => t.page),
    turn: Math.max(0, ...(doc.turns ?? []).map((t) => t.n)),
    transcript: doc.transcript ?? [],
    agentMetrics: doc.agent_metrics ?? [],
    inspector,
    log: doc.events ?? [],
    offline: { room: doc.room, identity: doc.identity, exportedAt: doc.exported_at, versions: doc.versions },
  };
}
