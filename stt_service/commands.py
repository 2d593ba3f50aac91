"""What you can say offline: the default command vocabulary and its JSGF grammar."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Short English commands the default grammar recognises. A turn may chain several
# of them ("turn on the lights open the door"). Every word must be in CMUdict.
PHRASES: tuple[str, ...] = (
    "hello agent",
    "turn on the lights",
    "turn off the lights",
    "what time is it",
    "open the door",
    "close the door",
    "play some music",
    "stop the music",
    "what is the weather",
    "set a timer for five minutes",
    "call my mother",
    "how many turns",
    "repeat that",
    "good morning",
    "thank you",
    "tell me a joke",
    "start the engine",
    "red green blue",
    "one two three four five",
    "good night",
)

_WORD = re.compile(r"^[a-z][a-z']*$")


def build_grammar(phrases: Sequence[str] = PHRASES, *, name: str = "commands") -> str:
    """Return a JSGF grammar accepting one or more of ``phrases`` in sequence.

    Raises ValueError for an empty list or a phrase that is not lowercase words.
    """
    if not phrases:
        raise ValueError("at least one phrase is required")
    alternatives = []
    for phrase in phrases:
        words = phrase.split()
        if not words or not all(_WORD.match(w) for w in words):
            raise ValueError(f"phrase {phrase!r}: use lowercase words separated by spaces")
        alternatives.append("( " + " ".join(words) + " )")
    body = "\n    | ".join(alternatives)
    return f"#JSGF V1.0;\ngrammar {name};\n<phrase> = {body};\npublic <utterance> = <phrase>+;\n"
