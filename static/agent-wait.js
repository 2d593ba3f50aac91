// Notices a room without an agent: a token dispatches its agent only when the join
// creates the room, so joining a room that already exists (or naming an agent that no
// worker serves) leaves the user alone. After AGENT_WAIT_MS the talk button says so.
//
// After a reconnection (the page's own rejoin, or livekit-client's full reconnect) the
// page also brings the agent back by itself. LiveKit drops a join's dispatch when no
// worker is registered at that moment, and after a server restart the page is back
// faster than the agent workers register again. So while no agent is in the room it
// asks the server to dispatch one (which does nothing while an agent is there or on its
// way), every REJOIN_DISPATCH_MS, at most REJOIN_DISPATCH_TRIES times. An agent whose
// own connection survived the restart comes back by itself, well within the first wait.

import { postJson } from './api.js';

export const AGENT_WAIT_MS = 10_000;
export const REJOIN_DISPATCH_MS = 3_000;
export const REJOIN_DISPATCH_TRIES = 10;
// From this attempt on the page says it sees no agent (`missing`): the server then
// looks past a listing that names an agent nobody has seen since before the rejoin
// (a cluster node died: docs/scaling.md). Not earlier, so that an agent rejoining by
// itself (its own connection survived) is seen before a second one is sent.
export const MISSING_FROM_ATTEMPT = 3;

/** app: {state, update, log}. check() after every change of the agent or the connection;
 *  reconnected() once a rejoin or a livekit-client reconnect has succeeded. */
export function createAgentWait({ state, update, log }) {
  let timer = null;
  let dispatchTimer = null;

  function stop() {
    clearTimeout(timer);
    timer = null;
    clearTimeout(dispatchTimer);
    dispatchTimer = null;
    if (state.agentMissing) {
      state.agentMissing = false;
      update();
    }
  }

  function dispatchWhileMissing(joined, n) {
    dispatchTimer = setTimeout(async () => {
      dispatchTimer = null;
      if (state.joined !== joined || state.agent) return; // left, or the agent is there
      const { room, agent } = joined;
      try {
        // missing: this page is in the room and sees no agent (a listing may say otherwise
        // after a cluster node died: docs/scaling.md)
        const body = { room, agent, missing: n >= MISSING_FROM_ATTEMPT };
        const result = await postJson('/api/agent/dispatch', body, state.form.accessKey);
        if (result.dispatch?.status === 'refused') {
          log('warn', `no agent after reconnecting to ${room}: ${agent} refused, ` +
            `${result.dispatch.reason} (attempt ${n})`);
        } else if (result.dispatch_id) {
          log('info', `no agent after reconnecting to ${room}: dispatched ${agent} (attempt ${n})`);
        }
      } catch (err) {
        log('warn', `dispatching ${agent} into ${room} failed (attempt ${n}): ${err.message}`);
      }
      if (n < REJOIN_DISPATCH_TRIES && !state.agent && state.joined === joined) {
        dispatchWhileMissing(joined, n + 1);
      }
    }, REJOIN_DISPATCH_MS);
  }

  return {
    stop,

    reconnected() {
      clearTimeout(dispatchTimer);
      // the agent may still be listed from before the reconnect: the timer looks again
      if (state.joined) dispatchWhileMissing(state.joined, 1);
    },

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
