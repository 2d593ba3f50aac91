// The event log: an append-only list of entries, capped, exportable as JSON.

const MAX_ENTRIES = 1000;
const LEVELS = new Set(['info', 'warn', 'error']);
let seq = 0;

/** Normalise a level name from any source (Python logging included) to info|warn|error. */
export function normaliseLevel(level) {
  const name = String(level ?? 'info').toLowerCase();
  if (name === 'warning' || name === 'warn') return 'warn';
  if (name === 'error' || name === 'critical' || name === 'fatal' || name === 'exception') {
    return 'error';
  }
  return LEVELS.has(name) ? name : 'info';
}

/** A new log array with the entry appended (the state keeps arrays immutable). */
export function appendEntry(entries, { level, source = 'console', message, data }) {
  seq += 1;
  const entry = {
    seq,
    time: new Date().toISOString(),
    level: normaliseLevel(level),
    source,
    message: String(message),
  };
  if (data !== undefined) entry.data = data;
  const next = entries.length >= MAX_ENTRIES ? entries.slice(1 - MAX_ENTRIES) : entries.slice();
  next.push(entry);
  return next;
}

/** The JSON document the export button downloads. */
export function exportDocument(state) {
  return JSON.stringify(
    {
      exported_at: new Date().toISOString(),
      room: state.form.room,
      identity: state.joined?.identity ?? state.form.identity,
      agent_name: state.joined?.agent ?? state.form.agent,
      entries: state.log,
    },
    null,
    2,
  );
}
