// Waits out livekit-client's reconnect attempt: room.js reports "connected" and sends its
// RPCs only once the attempt is over. Pure (no livekit-client import), so it runs under
// Node in the tests.
//
// Why: livekit-client (2.23.0) queues every reliable packet sent during a reconnect
// attempt for the replay that follows a *resume*. After a *full* reconnect (a LiveKit
// server restart) nothing replays that queue, and the attempt can stay open for a few
// seconds after the room already reports `connected` and `reconnected`. A start_turn
// sent then never leaves the page: it fails after 7 s with RpcError 1501, and the agent
// never hears of the turn. Seen in the LiveKit-crash e2e test: the page's reliable
// channel held packets 1-3 unsent for good while packets 4+ went out.
//
// The flag read here is the engine's own (`attemptingReconnect`, not public API). An
// engine without it (another livekit-client version) is never waited for.

export const SETTLE_POLL_MS = 50;
export const SETTLE_LIMIT_MS = 10_000;

const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `engine` says it is inside a reconnect attempt. */
export function reconnecting(engine) {
  return engine?.attemptingReconnect === true;
}

/**
 * Resolves once `engine` is out of its reconnect attempt, or after `limitMs` (the send then
 * goes out anyway, and fails visibly if the attempt is still on). Resolves to the ms waited.
 */
export async function untilSettled(
  engine,
  { pollMs = SETTLE_POLL_MS, limitMs = SETTLE_LIMIT_MS, sleep = realSleep, now = Date.now } = {},
) {
  const started = now();
  while (reconnecting(engine) && now() - started < limitMs) {
    await sleep(pollMs);
  }
  return now() - started;
}

/**
 * livekit-client said `room` is connected while its attempt is still open: reports
 * 'connected' once the attempt is over, if the room is still the page's (`isCurrent()`)
 * and connected. log(message) says how early livekit-client said so.
 */
export async function reportWhenSettled(room, isCurrent, report, log) {
  const ms = await untilSettled(room.engine);
  if (!isCurrent() || room.state !== 'connected') return;
  log(`livekit-client finished its reconnect ${ms} ms after saying connected`);
  report('connected');
}

/** Holds an RPC until the attempt is over; log(message) says for how long, if at all. */
export async function holdForReconnect(engine, method, log) {
  if (!reconnecting(engine)) return;
  const ms = await untilSettled(engine);
  log(`rpc ${method} held ${ms} ms until livekit-client's reconnect finished`);
}
