// Push-to-talk: press / release / cancel and the RPCs on the agent (LiveKit's PTT
// convention: start_turn, end_turn, cancel_turn; plus our pause and resume).

export const UNSUPPORTED_METHOD = 1400; // RpcError.ErrorCode.UNSUPPORTED_METHOD

/** Readable description of an RPC failure (RpcError has code, message and maybe data). */
export function describeRpcError(err) {
  if (err && typeof err.code === 'number') {
    const data = err.data ? ` (${err.data})` : '';
    return `RpcError ${err.code}: ${err.message}${data}`;
  }
  return err?.message ?? String(err);
}

/**
 * A timed RPC caller. `report(level, message, data)` receives one entry per call with
 * its round trip in ms. Resolves to {ok, ms, sentAt (performance.now() of the send),
 * response?, error?}; never rejects.
 */
export function createRpc(session, report) {
  return async function call(method, payload = '') {
    const started = performance.now();
    try {
      const response = await session.performRpc(method, payload);
      const ms = Math.round(performance.now() - started);
      report('info', `rpc ${method} ok in ${ms} ms`, { method, ms, response });
      return { ok: true, ms, sentAt: started, response };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      report('error', `rpc ${method} failed after ${ms} ms: ${describeRpcError(error)}`, {
        method,
        ms,
        code: error?.code ?? null,
        message: error?.message ?? String(error),
        data: error?.data ?? null,
      });
      return { ok: false, ms, sentAt: started, error };
    }
  };
}

/**
 * The talk button's state machine. Operations run one after another (a quick tap still
 * sends start_turn before end_turn). hooks: onChange({held, turnOpen}), onPress(),
 * onStarted(result), onRelease(), onEnded(result), onCancelled(result|null) (null: no turn was
 * open on the agent), onError(err).
 */
export function createPtt({ call, setMic, hooks }) {
  let held = false;
  let turnOpen = false;
  let generation = 0; // bumped by abort() so queued work from an old session is dropped
  let queue = Promise.resolve();

  const changed = () => hooks.onChange({ held, turnOpen });

  function enqueue(work) {
    const gen = generation;
    queue = queue
      .then(() => (gen === generation ? work() : undefined))
      .catch((err) => hooks.onError(err));
    return queue;
  }

  return {
    get held() {
      return held;
    },

    /** Unmute first so the first words are captured, then open the turn on the agent. */
    press() {
      if (held) return null;
      held = true;
      hooks.onPress();
      changed();
      return enqueue(async () => {
        await setMic(true);
        const result = await call('start_turn');
        turnOpen = result.ok;
        if (!result.ok) await setMic(false);
        hooks.onStarted(result);
        changed();
      });
    },

    /** Close the turn (the agent replies), then mute. */
    release() {
      if (!held) return null;
      held = false;
      hooks.onRelease();
      changed();
      return enqueue(async () => {
        if (turnOpen) {
          const result = await call('end_turn');
          turnOpen = false;
          hooks.onEnded(result);
          changed();
        }
        await setMic(false);
      });
    },

    /** Drop the turn without a reply, then mute. */
    cancel() {
      if (!held && !turnOpen) return null;
      const wasHeld = held;
      held = false;
      changed();
      return enqueue(async () => {
        let result = null;
        if (turnOpen) {
          result = await call('cancel_turn');
          turnOpen = false;
        }
        if (wasHeld || result) hooks.onCancelled(result);
        changed();
        await setMic(false);
      });
    },

    /** Forget everything without talking to the agent (disconnect, agent gone). */
    abort() {
      generation += 1;
      held = false;
      turnOpen = false;
      queue = Promise.resolve();
      changed();
    },
  };
}
