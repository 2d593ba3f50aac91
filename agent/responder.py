"""A small offline responder: answers every committed turn without any model.

It acknowledges the command it recognised and can refer to earlier turns
("how many turns", "repeat that"), which makes kept or emptied context visible.
"""

from __future__ import annotations

from livekit.agents import llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions

_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()

_REPLIES = {
    "hello agent": "Hello! I am listening.",
    "good morning": "Good morning to you.",
    "thank you": "You are welcome.",
    "what time is it": "It is time to test push to talk.",
    "tell me a joke": "Why did the packet cross the network? To reach the other side.",
}


def _spell(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def reply_for(user_turns: list[str]) -> str:
    """The reply to the last of `user_turns` (all user transcripts so far, oldest first)."""
    if not user_turns or not user_turns[-1].strip():
        return "I did not catch that."
    said = " ".join(user_turns[-1].lower().split())
    earlier = user_turns[:-1]
    if "how many turns" in said:
        n = len(user_turns)
        k = len(earlier)
        return (
            f"This is turn {_spell(n)}. You spoke {_spell(k)} time{'' if k == 1 else 's'} before."
        )
    if "repeat that" in said:
        if not earlier:
            return "There is nothing to repeat yet."
        return f"Earlier you said: {earlier[-1]}."
    for phrase, answer in _REPLIES.items():
        if phrase in said:
            return answer
    return f"Okay: {said}."


class Responder(llm.LLM):
    """An `llm.LLM` that answers from the chat context with `reply_for`."""

    @property
    def model(self) -> str:
        return "ptt-responder"

    @property
    def provider(self) -> str:
        return "offline"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls=NOT_GIVEN,  # type: ignore[no-untyped-def]
        tool_choice=NOT_GIVEN,  # type: ignore[no-untyped-def]
        extra_kwargs=NOT_GIVEN,  # type: ignore[no-untyped-def]
    ) -> llm.LLMStream:
        return _ResponderStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ResponderStream(llm.LLMStream):
    async def _run(self) -> None:
        user_turns = [m.text_content or "" for m in self._chat_ctx.messages() if m.role == "user"]
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=utils.shortuuid(),
                delta=llm.ChoiceDelta(role="assistant", content=reply_for(user_turns)),
            )
        )
