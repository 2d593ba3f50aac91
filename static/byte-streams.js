// Byte streams answered by an RPC: the agent names a stream in its answer, and the stream
// may arrive before or after that answer. The inbox keeps what arrived until it is taken.

/** An inbox for streams of one topic; `waitMs`: how long take() waits for a stream. */
export function createByteStreamInbox(waitMs) {
  const streams = new Map(); // stream id -> {bytes} | {waiter}

  /** The bytes of stream `id`, once it has arrived (rejects after waitMs). */
  function take(id) {
    const have = streams.get(id);
    if (have?.bytes) {
      streams.delete(id);
      return Promise.resolve(have.bytes);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        streams.delete(id);
        reject(new Error(`stream ${id} did not arrive within ${waitMs / 1000} s`));
      }, waitMs);
      streams.set(id, {
        waiter(bytes) {
          clearTimeout(timer);
          resolve(bytes);
        },
      });
    });
  }

  /** A livekit-client ByteStreamReader: read it whole and hand it to its taker. */
  async function receive(reader) {
    const chunks = await reader.readAll();
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    const waiting = streams.get(reader.info.id);
    if (waiting?.waiter) {
      streams.delete(reader.info.id);
      waiting.waiter(bytes);
    } else {
      streams.set(reader.info.id, { bytes });
    }
  }

  return { take, receive };
}
