// Wraps the livekit-client Room: connection, the agent participant, the microphone,
// text streams and RPC. Reports everything through the handlers given to createSession.

import {
  ConnectionState,
  DisconnectReason,
  ParticipantEvent,
  Room,
  RoomEvent,
  Track,
  TrackEvent,
} from 'livekit-client';

import { describeAgent, pickAgent } from './agent.js';
import { holdForReconnect, reconnecting, reportWhenSettled } from './send-gate.js';

const MIC_CAPTURE = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

const CONNECTION_STATES = {
  [ConnectionState.Disconnected]: 'disconnected',
  [ConnectionState.Connecting]: 'connecting',
  [ConnectionState.Connected]: 'connected',
  [ConnectionState.Reconnecting]: 'reconnecting',
  [ConnectionState.SignalReconnecting]: 'reconnecting',
};

/**
 * handlers: onConnectionState(s), onDisconnected(reason), onAgent(agent|null),
 * onAgentTrack(track|null), onMicTrack(track|null), onMicCapture(performanceNow) (the
 * microphone capture (re)started), onAudioPlayback(canPlay),
 * onDevicesChanged(), onParticipant(kind, identity), onLog(level, message, data)
 * textStreams, byteStreams: {topic: (reader, participantInfo) => Promise}
 */
export function createSession(handlers, textStreams, byteStreams = {}) {
  let room = null;
  let agentIdentity = null;
  let watchedMic = null;

  const captureStarted = () => handlers.onMicCapture(performance.now());
  const logInfo = (message) => handlers.onLog('info', message);

  /** Report the mic track and follow its restarts (device switch = new capture). */
  function reportMic(track) {
    if (watchedMic !== track) {
      watchedMic?.off(TrackEvent.Restarted, captureStarted);
      watchedMic = track;
      watchedMic?.on(TrackEvent.Restarted, captureStarted);
    }
    handlers.onMicTrack(track);
  }

  function updateAgent() {
    const agent = room ? pickAgent(room.remoteParticipants.values()) : null;
    const info = agent ? describeAgent(agent) : null;
    if ((info?.identity ?? null) !== agentIdentity) {
      agentIdentity = info?.identity ?? null;
      const track = agent ? agentAudioTrack(agent) : null;
      handlers.onAgentTrack(track);
    }
    handlers.onAgent(info);
  }

  function agentAudioTrack(participant) {
    for (const pub of participant.audioTrackPublications.values()) {
      if (pub.track && pub.isSubscribed) return pub.track;
    }
    return null;
  }

  function micTrack() {
    return room?.localParticipant.getTrackPublication(Track.Source.Microphone)?.track ?? null;
  }

  function wire(r) {
    // sends before livekit-client's reconnect attempt ends are lost: stay "reconnecting"
    r.on(RoomEvent.ConnectionStateChanged, (s) => {
      const name = CONNECTION_STATES[s] ?? 'disconnected';
      if (name !== 'connected' || !reconnecting(r.engine)) handlers.onConnectionState(name);
      else reportWhenSettled(r, () => room === r, handlers.onConnectionState, logInfo);
    })
      .on(RoomEvent.Disconnected, (reason) => {
        handlers.onDisconnected(DisconnectReason[reason] ?? String(reason ?? 'unknown'));
      })
      .on(RoomEvent.ParticipantConnected, (p) => {
        handlers.onParticipant('joined', p.identity);
        updateAgent();
      })
      .on(RoomEvent.ParticipantDisconnected, (p) => {
        handlers.onParticipant('left', p.identity);
        updateAgent();
      })
      .on(RoomEvent.ParticipantAttributesChanged, (_changed, p) => {
        if (p !== r.localParticipant) updateAgent();
      })
      .on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
        if (track.kind === Track.Kind.Audio && p.identity === agentIdentity) {
          handlers.onAgentTrack(track);
        }
      })
      .on(RoomEvent.TrackUnsubscribed, (track, _pub, p) => {
        if (track.kind === Track.Kind.Audio && p.identity === agentIdentity) {
          handlers.onAgentTrack(null);
        }
      })
      .on(RoomEvent.LocalTrackPublished, (pub) => {
        if (pub.source === Track.Source.Microphone) reportMic(pub.track ?? null);
      })
      .on(RoomEvent.LocalTrackUnpublished, (pub) => {
        if (pub.source === Track.Source.Microphone) reportMic(null);
      })
      .on(RoomEvent.AudioPlaybackStatusChanged, () => {
        handlers.onAudioPlayback(r.canPlaybackAudio);
      })
      .on(RoomEvent.MediaDevicesChanged, () => handlers.onDevicesChanged())
      .on(RoomEvent.MediaDevicesError, (err) => {
        handlers.onLog('error', `media device error: ${err.message}`, { name: err.name });
      });
    // emitted right after getUserMedia resolves: the moment capture starts
    r.localParticipant.on(ParticipantEvent.AudioStreamAcquired, captureStarted);
  }

  return {
    /** Join the room; the microphone is published separately by publishMicrophone(). */
    async connect({ url, token }) {
      if (room) throw new Error('already connected');
      room = new Room({ adaptiveStream: false, dynacast: false });
      wire(room);
      for (const [topic, handler] of Object.entries(textStreams)) {
        room.registerTextStreamHandler(topic, handler);
      }
      for (const [topic, handler] of Object.entries(byteStreams)) {
        room.registerByteStreamHandler(topic, handler);
      }
      await room.connect(url, token);
      try {
        await room.startAudio();
      } catch (err) {
        handlers.onLog('warn', `audio playback is blocked until a click: ${err.message}`);
      }
      handlers.onAudioPlayback(room.canPlaybackAudio);
      updateAgent();
    },

    /** Publish the microphone and mute it at once, so the track exists before the first
     *  press (setMicrophoneEnabled(false) mutes a published track, it does not unpublish). */
    async publishMicrophone(deviceId) {
      const options = deviceId ? { ...MIC_CAPTURE, deviceId } : { ...MIC_CAPTURE };
      await room.localParticipant.setMicrophoneEnabled(true, options);
      await room.localParticipant.setMicrophoneEnabled(false);
      const track = micTrack();
      reportMic(track);
      return track;
    },

    async setMicrophoneEnabled(enabled) {
      if (!room) return;
      await room.localParticipant.setMicrophoneEnabled(enabled);
    },

    async switchMicrophone(deviceId) {
      if (!room) return null;
      await room.switchActiveDevice('audioinput', deviceId);
      const track = micTrack();
      // a muted track only records the new device and would reopen it on the next unmute,
      // i.e. at the next press, clipping the first words: reopen it now (it stays muted)
      if (track?.isMuted) await track.restartTrack();
      reportMic(track);
      return track;
    },

    async startAudio() {
      if (!room) return;
      await room.startAudio();
      handlers.onAudioPlayback(room.canPlaybackAudio);
    },

    /** Waits out livekit-client's reconnect attempt first: see send-gate.js. */
    async performRpc(method, payload = '') {
      if (!room) throw new Error('not connected');
      await holdForReconnect(room.engine, method, logInfo);
      if (!room) throw new Error('not connected');
      if (!agentIdentity) throw new Error('no agent in the room');
      return room.localParticipant.performRpc({
        destinationIdentity: agentIdentity,
        method,
        payload,
      });
    },

    get localIdentity() {
      return room?.localParticipant.identity ?? null;
    },

    get micTrackSid() {
      return room?.localParticipant.getTrackPublication(Track.Source.Microphone)?.trackSid ?? null;
    },

    get agentIdentity() {
      return agentIdentity;
    },

    /** The LiveKit server's version, as it reported it when joining (null: not joined). */
    get serverVersion() {
      return room?.serverInfo?.version ?? null;
    },

    /** Leave the room and forget it; safe to call at any time. */
    async disconnect() {
      const r = room;
      room = null;
      agentIdentity = null;
      watchedMic?.off(TrackEvent.Restarted, captureStarted);
      watchedMic = null;
      if (!r) return;
      r.localParticipant.off(ParticipantEvent.AudioStreamAcquired, captureStarted);
      r.removeAllListeners();
      await r.disconnect();
    },
  };
}
