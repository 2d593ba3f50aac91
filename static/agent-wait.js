// Notices a room without an agent: a token dispatches its agent only when the join
// creates the room, so joining a room that already exists (or naming an agent that no
// worker serves) leaves the user alone. After AGENT_WAIT_MS the talk button says so.

export const AGENT_WAIT_MS = 10_000;

/** app: {state, update, log}. check() after every change of the agent or the connection. */
export function createAgentWait({ state, update, log }) {
  let timer = null;

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (state.agentMissing) {
      state.agentMissing = false;
      update();
    }
  }

  return {
    stop,

    check() {
      if (state.agent || !state.joined) {
        stop();
        return;
      }
      if (timer !== null || state.agentMissing) return;
      timer = setTimeout(() => {
        timer = null;
        if (state.agent || !state.joined) return;
        state.agentMissing = true;
        const { room, agent } = state.joined;
        log('warn', `no agent in ${room} after ${AGENT_WAIT_MS / 1000} s; Rebuild agent dispatches ${agent}`);
        update();
      }, AGENT_WAIT_MS);
    },
  };
}
