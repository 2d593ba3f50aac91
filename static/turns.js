// The per-turn records in state.turns (one per press) and their browser-side timings.

import { newTurn } from './metrics.js';

export function createTurns(app) {
  const { state, update } = app;
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

  /** Patch turn `n`, wherever it is (the inspector's findings come after the turn). */
  function patchTurn(n, fields) {
    const i = state.turns.findIndex((t) => t.n === n);
    if (i < 0) return;
    state.turns = state.turns.with(i, { ...state.turns[i], ...fields });
    update();
  }

  return {
    patch,
    patchTurn,

    /** A press: a new turn record; the agent's audio peak starts over. */
    begin() {
      state.turn += 1;
      state.turns = [...state.turns, newTurn(state.turn, performance.now())];
      state.levels.agentPeak = 0;
    },

    /** A normal release of a turn still held. */
    released() {
      const turn = current();
      if (turn?.outcome === 'holding') {
        const early = turn.finalBeforeRelease ? { releaseToUserFinal: 0 } : {};
        patch({ releaseAt: performance.now(), outcome: 'released', ...early });
        app.inspector?.released(turn.n);
      }
    },

    /** A final transcript of the user's: release → the last one of the turn (0: it was
     *  final before the release). */
    userFinal() {
      const turn = current();
      if (!turn || turn.outcome === 'cancelled') return;
      if (turn.releaseAt === null) patch({ finalBeforeRelease: true });
      else patch({ releaseToUserFinal: Math.round(performance.now() - turn.releaseAt) });
    },

    /** Record release → `at` (page ms, default now) for `key` once per turn, for turns
     *  that were released normally; an instant before the release is not this turn's. */
    markAfterRelease(key, at = performance.now()) {
      const turn = current();
      if (!turn || turn.releaseAt === null || turn[key] !== null || turn.outcome === 'cancelled') {
        return;
      }
      if (at < turn.releaseAt) return;
      patch({ [key]: Math.round(at - turn.releaseAt) });
    },
  };
}
