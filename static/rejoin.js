// When the page rejoins a room by itself, and how long it waits between attempts. Pure.
//
// livekit-client reconnects on its own first (resume, then a full reconnect); the page
// steps in only once the room is disconnected. The reason (a DisconnectReason name)
// decides: a server or network failure means "try again"; anything a person or the
// server did on purpose to this participant means "stay out".

// livekit.DisconnectReason names that mean the room may be joined again
const RETRY = new Set([
  'unknown', // no reason: livekit-client gave up reconnecting
  'UNKNOWN_REASON',
  'SERVER_SHUTDOWN', // the LiveKit server stopped or restarted
  'ROOM_DELETED', // the room was deleted through the server API
  'ROOM_CLOSED', // the server closed the room
  'STATE_MISMATCH', // client and server disagreed: a fresh join fixes it
  'JOIN_FAILURE',
  'MIGRATION',
  'SIGNAL_CLOSE', // the signalling connection closed
  'CONNECTION_TIMEOUT',
  'MEDIA_FAILURE',
]);

// why the others are final, in words for the event log and the status line
const FINAL = {
  CLIENT_INITIATED: 'this page left the room',
  DUPLICATE_IDENTITY: 'another participant joined with the same identity',
  PARTICIPANT_REMOVED: 'this participant was removed from the room',
  USER_REJECTED: 'the join was rejected',
  USER_UNAVAILABLE: 'the user is unavailable',
};

export const REJOIN_DELAYS_MS = [500, 1000, 2000, 4000, 8000]; // then every 8 s

/** Whether a disconnection for `reason` should be followed by a rejoin. */
export function shouldRejoin(reason) {
  return RETRY.has(reason);
}

/** Why a disconnection for `reason` is final, in words. */
export function finalReason(reason) {
  return FINAL[reason] ?? `the server ended the session (${reason})`;
}

/** Milliseconds to wait before attempt `n` (1 = the first attempt). */
export function rejoinDelay(n) {
  return REJOIN_DELAYS_MS[Math.min(Math.max(n, 1), REJOIN_DELAYS_MS.length) - 1];
}

/** Whether an error from a rejoin attempt means more attempts cannot succeed: our own
 *  server refused the token request (a 4xx other than a timeout or rate limit). */
export function isPermanent(err) {
  const status = err?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && ![408, 429].includes(status);
}
