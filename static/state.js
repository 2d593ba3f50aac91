// The one state object, its resets, and the store around it: update() schedules one
// render(state) per task, log() and setStatus() are the two ways to tell the user.

import { appendEntry } from './log.js';

function randomIdentity() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `user-${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')}`;
}

/** What one connection to a room holds; a new connection starts from this. */
export function connectionReset() {
  return {
    connection: 'disconnected',
    joined: null, // {room, identity, agent} once connected (agent: the name dispatched)
    rejoin: null, // {room, identity, agent, attempt} while rejoining on our own
    agentMissing: false, // connected, and no agent has been in the room for a while
    agent: null, // {identity, state, paused}
    micReady: false,
    micError: null,
    micCaptureStartedAt: null, // performance.now() when getUserMedia delivered the track
    agentAudio: 'none', // 'subscribed' while the agent's audio track is attached
    held: false,
    turnOpen: false,
    pauseSupported: true,
    canPlaybackAudio: true,
    busy: { connect: false, device: false, pause: false, resume: false, rebuild: false },
    levels: { mic: 0, agent: 0, agentPeak: 0 },
    transcript: [],
    turn: 0,
    turns: [],
    agentMetrics: [],
    inspector: { version: 0, turns: {} }, // inspector.js: per page turn n
    offline: null, // {room, identity, exportedAt, versions} while a report is shown
  };
}

/** The state at page load: the form from the query parameters and the server's settings. */
export function initialState(params, config) {
  return {
    ...connectionReset(),
    agentName: config.agentName, // the server's default (PTT_AGENT_NAME)
    accessKeyRequired: config.accessKeyRequired,
    form: {
      room: params.get('room') || 'ptt-test',
      identity: params.get('identity') || randomIdentity(),
      agent: params.get('agent') || config.agentName,
      accessKey: '',
      deviceId: '',
    },
    devices: [],
    status: { level: 'info', text: '' },
    log: [],
  };
}

/** Wrap `state`; `render(state)` runs once per microtask checkpoint after changes. */
export function createStore(state, render) {
  let renderQueued = false;

  function update() {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      renderQueued = false;
      render(state);
    });
  }

  return {
    state,
    update,

    /** Append to the event log; `source` is console, rpc, livekit or agent. */
    log(level, message, data, source = 'console') {
      state.log = appendEntry(state.log, { level, message, data, source });
      update();
    },

    /** The status line: the last outcome. */
    setStatus(level, text) {
      state.status = { level, text };
      update();
    },
  };
}
