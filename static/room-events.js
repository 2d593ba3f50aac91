// What the room reports (connection, participants, the agent and its attributes, tracks,
// devices) turned into state changes and event log entries.

/** Log what changed between two descriptions of the same agent. */
function logAgentChanges(log, prev, agent) {
  if (prev.state !== agent.state) log('info', `agent state: ${agent.state}`);
  if (prev.paused !== agent.paused) log('info', agent.paused ? 'agent paused' : 'agent resumed');
  if ((agent.errors ?? 0) > (prev.errors ?? 0)) {
    log('warn', `the agent has logged ${agent.errors} error(s)`, { errors: agent.errors });
  }
  if (prev.turnOwner !== agent.turnOwner) {
    log('info', agent.turnOwner ? `turn held by ${agent.turnOwner}` : 'turn released');
  }
}

/**
 * The handlers for createSession. app: {state, update, log, view, audio, talk, join,
 * refreshDevices}, all looked up when an event arrives.
 */
export function createRoomEvents(app) {
  const { state, update, log } = app;
  const livekitLog = (level, message, data) => log(level, message, data, 'livekit');

  return {
    onConnectionState(s) {
      if (state.connection === s || (s === 'disconnected' && !state.joined)) return;
      if (state.rejoin) return; // a rejoin attempt: the page shows reconnecting until it is in
      const was = state.connection;
      state.connection = s;
      livekitLog(s === 'reconnecting' ? 'warn' : 'info', `connection ${s}`);
      app.talk.guard();
      // livekit-client's own reconnect: after a server restart the room is new, and the
      // agent may not have come with it
      if (was === 'reconnecting' && s === 'connected') app.agentWait.reconnected();
    },
    onDisconnected(reason) {
      if (state.joined) app.join.lost(reason);
    },
    onAgent(agent) {
      const prev = state.agent;
      if (prev?.identity !== agent?.identity) {
        if (prev) log('info', `agent ${prev.identity} left`);
        if (agent) log('info', `agent ${agent.identity} joined`);
        state.pauseSupported = true; // a new agent may implement pause
      } else if (prev && agent) {
        logAgentChanges(log, prev, agent);
      }
      state.agent = agent;
      app.agentWait.check();
      app.talk.guard();
      update();
    },
    onAgentTrack(track) {
      app.view.attachAgentAudio(track);
      state.agentAudio = track ? 'subscribed' : 'none';
      app.audio.meterAgent(track);
      if (track) log('info', 'agent audio subscribed', { sid: track.sid });
    },
    onMicTrack(track) {
      app.audio.meterMic(track);
      app.inspector.recordMic(track);
      update();
    },
    onMicCapture(at) {
      state.micCaptureStartedAt = at;
      update();
    },
    onAudioPlayback(canPlay) {
      state.canPlaybackAudio = canPlay;
      update();
    },
    onDevicesChanged: () => app.refreshDevices(),
    onParticipant(what, identity) {
      livekitLog('info', `participant ${identity} ${what}`);
    },
    onLog: livekitLog,
  };
}
