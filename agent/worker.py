"""The agent worker: explicit dispatch by agent name, one PTT session per job."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from livekit import rtc
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobExecutorType,
    JobProcess,
    JobRequest,
    room_io,
)
from livekit.agents.utils import http_context
from livekit.plugins import deepgram

from . import config as agent_config
from . import ffi_routes
from .ffi_acks import AckWaits, within_rpc_deadline
from .input_pause import InputPause
from .lifecycle import Lifecycle
from .log_forward import ATTR_ERRORS, RoomLogForwarder
from .native_logs import keep_native_logs_native
from .ptt import ATTR_PAUSED, ATTR_TURN_OWNER, PttController, as_rpc_error
from .room_output import paced_source_of, stream_transcripts_only, use_paced_room_output
from .session import keep_recent_events, ptt_session
from .stt_reset import ResettableSTT
from .transcript_sync import (
    text_clock_from_reply_text,
    text_paced_by_duration,
    text_with_first_audio,
)
from .turn_audio import ATTR_VERSIONS, TurnAudioStore, agent_versions

logger = logging.getLogger("ptt-agent")

ATTR_INSTANCE = "ptt.instance"  # the job id: changes when the agent is rebuilt
STT_SAMPLE_RATE = 16000  # what the STT is sent; the room's audio arrives at this rate
OUTPUT_SAMPLE_RATE = 24000  # a multiple of 100 Hz (10 ms frames), as the paced source needs
INSTRUCTIONS = "You are a push-to-talk test agent. Acknowledge what the user said."


class _RoomLink:
    """The controller's view of the room: whom to listen to, attributes, text topics."""

    def __init__(self, room: rtc.Room, session: AgentSession) -> None:
        self._room = room
        self._session = session
        self.listening_to: str | None = None
        self.acks = AckWaits()

    def listen_to(self, identity: str) -> None:
        if identity != self.listening_to:
            self._session.room_io.set_participant(identity)
            self.listening_to = identity

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        local = self._room.local_participant
        await self.acks.wait("set_attributes", local.set_attributes(attributes))

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await self.publish_text(topic, json.dumps(payload))

    async def publish_text(self, topic: str, text: str) -> None:
        local = self._room.local_participant
        await self.acks.wait("send_text", local.send_text(text, topic=topic))

    async def send_bytes(
        self, data: bytes, *, to: str, topic: str, stream_id: str, attributes: dict[str, str]
    ) -> None:
        local = self._room.local_participant
        await local.send_bytes(
            data,
            topic=topic,
            name=f"{stream_id}.wav",
            mime_type="audio/wav",
            destination_identities=[to],
            attributes=attributes,
            stream_id=stream_id,
        )


def build_stt(cfg: agent_config.AgentConfig) -> ResettableSTT:
    """Deepgram's plugin, at the local STT service or (with only a key) Deepgram's cloud."""
    kwargs: dict[str, Any] = {"api_key": cfg.deepgram_api_key, "interim_results": True}
    if cfg.stt_url is not None:
        kwargs["base_url"] = cfg.stt_url
    inner = deepgram.STT(model="nova-3", language="en-US", sample_rate=STT_SAMPLE_RATE, **kwargs)
    return ResettableSTT(inner=inner, strategy=cfg.reset_strategy, preroll=cfg.preroll)


def room_options() -> room_io.RoomOptions:
    """The room's audio as the STT wants it, with no per-frame Python work on the way.

    - Input at the STT's own rate and mono: LiveKit's native audio stream resamples
      (the framework's default, 24 kHz, added a Python resampler to 16 kHz per frame).
    - No automatic gain control: the STT should hear what the user sent, and the
      AGC pass cost ~26 % of a job's busy time under load (py-spy, 8 sessions).
    - No pre-connect audio: the page and the headless client never send it.
    - Output on a paced source (room_output.py): no silence sent between replies.
    """
    return room_io.RoomOptions(
        close_on_disconnect=False,
        audio_input=room_io.AudioInputOptions(
            sample_rate=STT_SAMPLE_RATE,
            num_channels=1,
            auto_gain_control=False,
            pre_connect_audio=False,
        ),
        audio_output=room_io.AudioOutputOptions(sample_rate=OUTPUT_SAMPLE_RATE, num_channels=1),
    )


def register_rpcs(room: rtc.Room, controller: PttController) -> None:
    """Every PTT method, with domain errors turned into RpcError codes."""
    for name, handler in controller.handlers().items():

        async def _invoke(data: rtc.RpcInvocationData, _h=handler, _name=name) -> str:
            try:
                with within_rpc_deadline(data.response_timeout):
                    return await _h(data.caller_identity, data.payload)
            except Exception as e:
                err = as_rpc_error(e)
                if err is not e:
                    logger.exception("RPC handler failed", extra={"method": _name})
                else:
                    logger.info(
                        "RPC refused",
                        extra={"method": _name, "code": int(err.code), "reason": err.message},
                    )
                raise err.to_rpc_error() from None

        room.local_participant.register_rpc_method(name, _invoke)


async def on_request(req: JobRequest) -> None:
    """Accept every dispatch under the configured identity, marked as a PTT agent."""
    cfg = agent_config.load()
    # ptt.paused from the first moment: the console enables pause/resume by its presence
    await req.accept(identity=cfg.identity, attributes={"push-to-talk": "1", ATTR_PAUSED: "0"})


async def entrypoint(ctx: JobContext) -> None:
    """One job: an AgentSession with manual turns, driven by the PTT RPCs."""
    cfg = agent_config.load()
    # in the job's own process, before its room audio is built (measured: set up in
    # prewarm instead, the idle reply track went back to sending silence)
    use_paced_room_output()
    stream_transcripts_only()
    text_with_first_audio()
    text_clock_from_reply_text()
    text_paced_by_duration()
    ffi_routes.install()
    keep_native_logs_native()
    stt = build_stt(cfg)
    session = ptt_session(stt)
    await session.start(
        agent=Agent(instructions=INSTRUCTIONS),
        room=ctx.room,
        room_options=room_options(),
        # no SessionHost (livekit-agents' RemoteSession): it broadcast every session event
        # (states, each interim transcript, metrics) to the room as a byte stream on
        # lk.agent.session, ~13 a turn that nobody here reads, on the data channel the
        # reply's words take, with FFI calls on the job's loop around each reply
        session_host=False,
    )
    keep_recent_events(session)
    link = _RoomLink(ctx.room, session)
    controller = PttController(
        session=session, stt=stt, room=link, turn_audio=TurnAudioStore(cfg.turn_audio_keep)
    )
    source = paced_source_of(session.output.audio)
    if source is not None:
        source.on_playout_started = controller.playout_started
    register_rpcs(ctx.room, controller)
    forwarder = RoomLogForwarder(
        publish=link.publish_text, set_attributes=link.set_attributes, job_id=ctx.job.id
    )
    logging.getLogger().addHandler(forwarder)
    await link.set_attributes(
        {
            ATTR_PAUSED: "0",
            ATTR_TURN_OWNER: "",
            ATTR_ERRORS: "0",
            ATTR_INSTANCE: ctx.job.id,
            ATTR_VERSIONS: agent_versions(),
        }
    )

    @ctx.room.on("participant_disconnected")
    def _on_left(participant: rtc.RemoteParticipant) -> None:
        controller.participant_left(participant.identity)

    audio_input = getattr(session.room_io, "_audio_input", None)
    if cfg.pause_muted_input and audio_input is not None:
        pause = InputPause(audio_input, lambda: controller.turn_owner is not None)
        controller.on_turn_change = pause.turn_changed
        pause.settle()  # the stream room_io made at the start (a microphone published muted)
    else:
        pause = None

    @ctx.room.on("track_muted")
    def _on_muted(participant: rtc.Participant, _pub: rtc.TrackPublication) -> None:
        if participant.identity == link.listening_to and controller.turn_owner is None:
            stt.mark_boundary()
        if pause is not None:
            pause.settle()  # only the listened stream, only if its own track is muted

    lifecycle = Lifecycle(ctx.room, ctx.shutdown)

    async def _shutdown(reason: str = "") -> None:
        lifecycle.close()
        logging.getLogger().removeHandler(forwarder)
        await forwarder.aclose()
        await controller.aclose()
        await stt.aclose()
        if session.tts is not None:
            await session.tts.aclose()  # its spare espeak-ng process

    ctx.add_shutdown_callback(_shutdown)
    logger.info(
        "PTT agent ready",
        extra={"room": ctx.room.name, "strategy": cfg.reset_strategy, "stt": cfg.stt_url},
    )


def prewarm(proc: JobProcess) -> None:
    """Done while the process waits for a job, not on the job's event loop: the shared
    HTTP session's TLS context parses the whole CA bundle (the Deepgram plugin's first
    connection built it, blocking every job's loop for 0.1–0.8 s at its start). The
    context is cached per process (livekit-agents' http_context); an SDK without that
    cache just builds it at the first connection, as before."""
    ffi_routes.install()  # before the job's room exists, so its filter is narrowed too
    keep_native_logs_native()
    build = getattr(http_context, "_create_ssl_context", None)
    if callable(build):
        build()


def job_load(server: AgentServer, max_sessions: int) -> float:
    """The worker's load as LiveKit reads it: the share of its sessions in use. The
    embedded server assigns a job while load < its `agents.target_load` (stack/livekit.py
    sets it to 1.0), so exactly `max_sessions` jobs fit, never fewer."""
    return min(1.0, len(server.active_jobs) / max_sessions)


def create_server(cfg: agent_config.AgentConfig) -> AgentServer:
    """The worker: registers under `cfg.agent_name` for explicit dispatch only, and takes
    up to `cfg.max_sessions` jobs, each a thread of this process (`thread`, the default:
    one WebRTC runtime for all, half the memory per session; ffi_routes.py keeps the
    sessions from waking each other) or a process of its own (`process`: isolation, at
    twice the memory; docs/capacity.md)."""
    executor = JobExecutorType.THREAD if cfg.executor == "thread" else JobExecutorType.PROCESS
    server = AgentServer(
        host=cfg.http_host,
        port=cfg.http_port,
        job_executor_type=executor,
        # warm executors: the next jobs of a burst start at once (more only cost memory)
        num_idle_processes=min(2, cfg.max_sessions),
        setup_fnc=prewarm,
        drain_timeout=5,
        # capacity by job count, not CPU: a busy test machine must still get its agent
        load_fnc=functools.partial(job_load, max_sessions=cfg.max_sessions),
        load_threshold=1.0,
    )
    server.rtc_session(entrypoint, agent_name=cfg.agent_name, on_request=on_request)
    return server
