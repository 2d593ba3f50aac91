// Reads `lk.transcription` text streams into transcript entries keyed by segment id.
//
// livekit-agents publishes, per segment (attribute `lk.segment_id`):
// - user speech: one stream per interim or final result, each carrying the whole text,
//   sent on behalf of the user (participantInfo.identity === the user's identity);
// - agent speech: one stream per segment whose chunks are deltas as the words are spoken;
//   the closing trailer sets `lk.transcription_final` to "true".
// Both cases reduce to: the latest stream of a segment carries the segment's whole text.

export const TRANSCRIPTION_TOPIC = 'lk.transcription';
const SEGMENT_ID = 'lk.segment_id';
const FINAL = 'lk.transcription_final';
const TRACK_ID = 'lk.transcribed_track_id';

/** 'user' when the stream transcribes the local participant, else 'agent'. */
export function transcriptRole(senderIdentity, attributes, local) {
  if (senderIdentity === local.identity) return 'user';
  if (local.micTrackSid && attributes[TRACK_ID] === local.micTrackSid) return 'user';
  return 'agent';
}

/**
 * Read one transcription stream incrementally.
 *
 * `update(segmentId, fn)` replaces the entry with `fn(entry | undefined)`;
 * `onText(role)` is called for every non-empty chunk (for timing the first agent text),
 * `onFinal(role)` once a stream closes with a final, non-empty text.
 */
export async function readTranscription(
  reader,
  participantInfo,
  { local, turn, update, onText, onFinal = () => {} },
) {
  const header = reader.info.attributes ?? {};
  const streamId = reader.info.id;
  const id = header[SEGMENT_ID] || streamId;
  const role = transcriptRole(participantInfo.identity, header, local);
  const owns = (e) => e !== undefined && e.streamId === streamId && !e.final;

  update(id, (e) => {
    if (e === undefined) {
      return { id, role, turn, text: '', final: false, interrupted: false, streamId };
    }
    return e.final ? e : { ...e, streamId };
  });

  let text = '';
  try {
    for await (const chunk of reader) {
      if (!chunk) continue;
      text += chunk;
      update(id, (e) => (owns(e) ? { ...e, text } : e));
      onText(role);
    }
  } catch (err) {
    update(id, (e) => (owns(e) ? { ...e, interrupted: true } : e));
    throw err;
  }
  // the trailer's attributes are merged into info.attributes when the stream closes
  const final = (reader.info.attributes ?? {})[FINAL] === 'true';
  update(id, (e) => (owns(e) ? { ...e, text, final } : e));
  if (final && text.trim()) onFinal(role);
}
