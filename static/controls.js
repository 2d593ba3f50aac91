// Decides every control's `disabled` flag and the reasons shown next to them.
// Pure: reads the state object, touches nothing.

import { AGENT_WAIT_MS } from './agent-wait.js';

export const PAUSE_UNSUPPORTED_REASON =
  'This agent does not implement pause/resume (RPC 1400 UNSUPPORTED_METHOD).';
export const UPSTREAM_ONLY_REASON =
  'This agent offers only start_turn/end_turn/cancel_turn: pause and resume need an agent ' +
  'that publishes ptt.paused.';

/** Why this agent cannot be paused at all, or '' when it can (or it is too early to say). */
export function pauseUnavailableReason(state) {
  const agent = state.agent;
  if (!agent) return '';
  if (!state.pauseSupported) return PAUSE_UNSUPPORTED_REASON;
  // until the framework has started the session, our agent has not published it yet
  if (!agent.pausable) return agent.state === 'initializing' ? '' : UPSTREAM_ONLY_REASON;
  return '';
}

/** Why there is no agent to talk to: still waiting, or waited long enough to say why. */
export function noAgentReason(state) {
  const name = state.joined?.agent;
  if (!name) return 'No agent in the room yet.';
  const dispatch = state.joined.dispatch;
  if (dispatch?.status === 'refused') {
    return `No agent: ${name} was refused (${dispatch.reason}). ${dispatch.hint}`;
  }
  if (!state.agentMissing) return `No agent in the room yet: waiting for ${name} to join…`;
  return (
    `No agent has joined after ${AGENT_WAIT_MS / 1000} s. Joining dispatches ${name} only ` +
    'when it creates the room (this room may have existed already), and only a worker ' +
    `registered as ${name} can come. Rebuild agent dispatches it now.`
  );
}

/** Why the talk button cannot be used right now, or '' when it can. */
export function pttBlockReason(state) {
  if (state.connection === 'disconnected') return 'Connect to a room to talk.';
  if (state.rejoin) {
    return `Connection lost: rejoining ${state.rejoin.room} (attempt ${state.rejoin.attempt})…`;
  }
  if (state.connection !== 'connected') return `Not connected (${state.connection}).`;
  if (!state.agent) return noAgentReason(state);
  if (state.agent.paused) return 'The agent is paused: resume it to talk.';
  if (state.micError) return `Microphone unavailable: ${state.micError}`;
  if (!state.micReady) return 'Microphone is starting…';
  return '';
}

/** Advice that does not block the talk button (another participant holds the turn). */
export function pttHint(state) {
  const owner = state.agent?.turnOwner;
  if (owner && state.joined && owner !== state.joined.identity) {
    return `${owner} holds the turn: the agent will refuse a press until they release.`;
  }
  return '';
}

/** Every control's disabled flag plus the reasons to display. */
export function controls(state) {
  const disconnected = state.connection === 'disconnected';
  const connected = state.connection === 'connected';
  const agent = state.agent;
  const pttReason = pttBlockReason(state);
  // pause/resume: connected to an agent that publishes ptt.paused and did not refuse them
  const pausable = connected && agent !== null && agent.pausable && state.pauseSupported;

  const controlReason = state.busy.rebuild
    ? 'Rebuilding the agent…'
    : pauseUnavailableReason(state);

  return {
    pttReason: pttReason || pttHint(state),
    controlReason,
    disabled: {
      connect: !disconnected || state.busy.connect,
      disconnect: disconnected,
      room: !disconnected,
      identity: !disconnected,
      agent: !disconnected,
      accessKey: !disconnected,
      device: state.busy.device,
      ptt: pttReason !== '',
      cancel: !(state.held || state.turnOpen),
      pause: !pausable || agent.paused || state.busy.pause || state.held,
      resume: !pausable || !agent.paused || state.busy.resume,
      rebuild: !connected || state.busy.rebuild,
      exportLog: state.log.length === 0,
      clearLog: state.log.length === 0,
    },
  };
}
