// The per-turn records in state.turns (one per press) and their browser-side timings.

import { newTurn } from './metrics.js';

export function createTurns({ state, update }) {
  function current() {
    return state.turns.length ? state.turns[state.turns.length - 1] : null;
  }

  /** Replace the current turn with `patch` applied (records are never mutated). */
  function patch(fields) {
    const turn = current();
    if (!turn) return;
    state.turns = [...state.turns.slice(0, -1), { ...turn, ...fields }];
    update();
  }

  return {
    patch,

    /** A press: a new turn record; the agent's audio peak starts over. */
    begin() {
      state.turn += 1;
      state.turns = [...state.turns, newTurn(state.turn, performance.now())];
      state.levels.agentPeak = 0;
    },

    /** A normal release of a turn still held. */
    released() {
      if (current()?.outcome === 'holding') {
        patch({ releaseAt: performance.now(), outcome: 'released' });
      }
    },

    /** Record release → now for `key` once per turn, for turns that were released normally. */
    markAfterRelease(key) {
      const turn = current();
      if (!turn || turn.releaseAt === null || turn[key] !== null || turn.outcome === 'cancelled') {
        return;
      }
      patch({ [key]: Math.round(performance.now() - turn.releaseAt) });
    },
  };
}
