// Readers for the agent's text streams: transcripts (lk.transcription), per-turn metrics
// (ptt.metrics) and forwarded log records (ptt.log). Streams from an earlier connection
// are ignored once the page has left it.

import { normaliseLevel } from './log.js';
import { readTranscription, TRANSCRIPTION_TOPIC } from './transcript.js';

const METRICS_TOPIC = 'ptt.metrics';
const LOG_TOPIC = 'ptt.log';
const MAX_TRANSCRIPT = 500;
const MAX_AGENT_METRICS = 50;

/** JSON objects from a stream: one document, or one per line (NDJSON). */
async function readJsonObjects(reader, log) {
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

/**
 * app: {state, update, log, session, turns, join} (join.generation tells connections
 * apart). Returns the handlers by topic, for createSession.
 */
export function createStreamHandlers(app) {
  const { state, update, log } = app;
  let agentMetricsSeq = 0;

  function onTranscription(reader, participantInfo) {
    const gen = app.join.generation;
    const current = () => gen === app.join.generation;
    readTranscription(reader, participantInfo, {
      local: { identity: app.session.localIdentity, micTrackSid: app.session.micTrackSid },
      turn: state.turn,
      update(id, fn) {
        if (!current()) return;
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
        if (current() && role === 'agent') app.turns.markAfterRelease('releaseToText');
      },
      onFinal(role) {
        if (current() && role === 'user') app.turns.userFinal();
      },
    }).catch((err) => {
      if (current()) log('warn', `transcription stream broke off: ${err.message}`);
    });
  }

  async function onAgentMetrics(reader) {
    const gen = app.join.generation;
    try {
      for (const data of await readJsonObjects(reader, log)) {
        if (gen !== app.join.generation) return;
        agentMetricsSeq += 1;
        const entry = {
          seq: agentMetricsSeq,
          receivedAt: new Date().toISOString(),
          turn: state.turn,
          instance: state.agent?.instance ?? null,
          data,
        };
        state.agentMetrics = [...state.agentMetrics.slice(1 - MAX_AGENT_METRICS), entry];
        log('info', 'agent metrics received', data, 'agent');
      }
      app.inspector.metricsArrived();
    } catch (err) {
      log('warn', `agent metrics stream broke off: ${err.message}`);
    }
  }

  async function onAgentLog(reader) {
    try {
      for (const { level, message, logger, ...rest } of await readJsonObjects(reader, log)) {
        const data = { logger, ...rest };
        log(normaliseLevel(level), String(message ?? ''), data, 'agent');
      }
    } catch (err) {
      log('warn', `agent log stream broke off: ${err.message}`);
    }
  }

  return {
    [TRANSCRIPTION_TOPIC]: onTranscription,
    [METRICS_TOPIC]: onAgentMetrics,
    [LOG_TOPIC]: onAgentLog,
  };
}
