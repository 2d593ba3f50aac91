"""An upstream-style PTT agent: LiveKit's push-to-talk example, ported to our parts.

It is what many users run: `start_turn`, `end_turn` and `cancel_turn` only, the
framework's own STT reset (`clear_user_turn`), no pause/resume, no attributes of ours,
the default agent identity. Only the engines differ from the example (the local STT
service through the real Deepgram plugin, the offline responder, espeak-ng), so it
runs offline. The console and the e2e suite drive it to prove that an agent with
nothing but the upstream convention works.

Run: `python -m agent.upstream [start]`; dispatched by the name in
PTT_UPSTREAM_AGENT_NAME (default `ptt-upstream`).

Inspector mode: a job dispatched with metadata `{"ptt_inspect": true}` adds the turn
inspector's helper (`agent/inspectable.py`, two lines after `session.start`), as a
user would to their own agent. Without it the agent stays upstream-only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli, llm
from livekit.plugins import deepgram

from . import config as agent_config
from .inspectable import Inspectable
from .responder import Responder
from .tts_espeak import EspeakTTS

logger = logging.getLogger("ptt-upstream")

DEFAULT_NAME = "ptt-upstream"


def agent_name() -> str:
    return os.environ.get("PTT_UPSTREAM_AGENT_NAME", DEFAULT_NAME)


class UpstreamAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a helpful assistant.")

    async def on_user_turn_completed(
        self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage
    ) -> None:
        if not new_message.text_content:
            logger.info("ignore empty user turn")
            raise llm.StopResponse()


async def entrypoint(ctx: JobContext) -> None:
    cfg = agent_config.load()
    kwargs: dict[str, Any] = {"base_url": cfg.stt_url} if cfg.stt_url else {}
    session: AgentSession = AgentSession(
        stt=deepgram.STT(api_key=cfg.deepgram_api_key, **kwargs),
        llm=Responder(),
        tts=EspeakTTS(),
        vad=None,
        turn_handling={"turn_detection": "manual"},
    )
    await session.start(agent=UpstreamAgent(), room=ctx.room)
    if wants_inspector(ctx.job.metadata):  # the two lines a user adds to their agent
        inspectable = Inspectable(session, ctx.room)
        ctx.add_shutdown_callback(inspectable.aclose)
    # disable input audio at the start
    session.input.set_audio_enabled(False)

    async def start_turn(data: rtc.RpcInvocationData) -> str:
        session.interrupt()
        session.clear_user_turn()
        # listen to the caller if multi-user
        session.room_io.set_participant(data.caller_identity)
        session.input.set_audio_enabled(True)
        return ""

    async def end_turn(data: rtc.RpcInvocationData) -> str:
        session.input.set_audio_enabled(False)
        session.commit_user_turn(transcript_timeout=10.0, stt_flush_duration=2.0)
        return ""

    async def cancel_turn(data: rtc.RpcInvocationData) -> str:
        session.input.set_audio_enabled(False)
        session.clear_user_turn()
        return ""

    # not from the example: leave once the session has closed (the user left). Staying,
    # the job is cut off when the server closes the room ~20 s later, and the Rust SDK
    # logs that at ERROR ("publisher data channel ... closed unexpectedly").
    @session.on("close")
    def _on_close(_ev: object) -> None:
        ctx.shutdown(reason="session closed")

    rpc = ctx.room.local_participant.register_rpc_method
    rpc("start_turn", start_turn)
    rpc("end_turn", end_turn)
    rpc("cancel_turn", cancel_turn)


def wants_inspector(metadata: str) -> bool:
    """The dispatch asked for the inspector's helper (`{"ptt_inspect": true}`)."""
    try:
        data = json.loads(metadata) if metadata else {}
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("ptt_inspect") is True


def create_server(agent_name: str) -> AgentServer:
    # not from the example: loopback only, a short drain, capacity by job count (the
    # default CPU-based load refuses jobs on a busy test machine)
    server = AgentServer(
        host="127.0.0.1",
        port=0,
        num_idle_processes=1,
        drain_timeout=5,
        load_fnc=lambda s: len(s.active_jobs) / 16,
        load_threshold=1.0,
    )
    server.rtc_session(entrypoint, agent_name=agent_name)
    return server


def main() -> None:
    try:
        agent_config.load()
    except agent_config.ConfigError as e:
        sys.exit(f"agent.upstream: {e}")
    if len(sys.argv) == 1:
        sys.argv.append("start")
    cli.run_app(create_server(agent_name()))


if __name__ == "__main__":
    main()
