// Which remote participant is the agent, and what its attributes say. Pure (no
// livekit-client import), so it runs under Node in the tests.

export const AGENT_STATE_ATTRIBUTE = 'lk.agent.state';
export const PAUSED_ATTRIBUTE = 'ptt.paused';
export const TURN_OWNER_ATTRIBUTE = 'ptt.turn_owner';
export const ERRORS_ATTRIBUTE = 'ptt.errors';
export const PTT_ATTRIBUTE = 'push-to-talk';
export const INSTANCE_ATTRIBUTE = 'ptt.instance';
export const VERSIONS_ATTRIBUTE = 'ptt.versions';

function parseVersions(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}
const AGENT_KIND = 4; // ParticipantKind.AGENT: a wire value of livekit.ParticipantInfo.Kind

function isAgentKind(p) {
  return p.kind === AGENT_KIND;
}

function isPttParticipant(p) {
  return p.attributes?.[PTT_ATTRIBUTE] === '1';
}

/** The agent to drive: an AGENT-kind participant (preferring one that says push-to-talk),
 *  else any participant with the push-to-talk attribute. */
export function pickAgent(participants) {
  const list = [...participants];
  return (
    list.find((p) => isAgentKind(p) && isPttParticipant(p)) ??
    list.find(isAgentKind) ??
    list.find(isPttParticipant) ??
    null
  );
}

/**
 * The agent as the state holds it: {identity, state, paused, pausable, turnOwner, errors,
 * instance, versions (its ptt.versions, parsed)}.
 * `pausable`: it publishes ptt.paused, so it offers pause/resume (an agent with only the
 * upstream start_turn/end_turn/cancel_turn publishes none of our attributes).
 */
export function describeAgent(p) {
  const attrs = p.attributes ?? {};
  return {
    identity: p.identity,
    state: attrs[AGENT_STATE_ATTRIBUTE] || 'initializing',
    paused: attrs[PAUSED_ATTRIBUTE] === '1',
    pausable: PAUSED_ATTRIBUTE in attrs,
    turnOwner: attrs[TURN_OWNER_ATTRIBUTE] || null,
    errors: ERRORS_ATTRIBUTE in attrs ? Number(attrs[ERRORS_ATTRIBUTE]) || 0 : null,
    instance: attrs[INSTANCE_ATTRIBUTE] || null,
    versions: attrs[VERSIONS_ATTRIBUTE] ? parseVersions(attrs[VERSIONS_ATTRIBUTE]) : null,
  };
}
