"""Nobody takes the agent's place, or a present participant's by accident (#18): the
token endpoint refuses, and the room, its user and its agent carry on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from e2e.conftest import LaunchConsole, Target
from e2e.rooms import room_of
from e2e.speech import SpeechClip


def post_token(target: Target, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if target.access_key:
        headers["X-Access-Key"] = target.access_key
    req = urllib.request.Request(
        f"{target.url}/api/token", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_impostors_are_refused_and_the_agent_stays_in_the_room(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    target: Target,
    request: pytest.FixtureRequest,
) -> None:
    room = room_of(request)
    console = launch_console(clips["door"], room=room)
    console.expect_agent_state("listening")

    for replace in (False, True):  # the agent's identity, even when asking to replace
        status, body = post_token(
            target, {"room": room, "identity": "ptt-agent", "replace": replace}
        )
        assert status == 403, body
        assert "token" not in body
    status, body = post_token(target, {"room": room, "identity": "agent-AJ_impostor"})
    assert status == 403, body
    # the page's own identity: taken, so refused without "replace"
    status, body = post_token(target, {"room": room, "identity": "qa-user"})
    assert status == 409, body
    assert "already in room" in body["error"]

    # nobody was thrown out: the page keeps its agent and talks to it
    expect(console.el("connection-state")).to_have_text("connected")
    console.expect_agent_state("listening")
    console.speak_turn(0)
    console.expect_user_final("open the door")
    console.expect_agent_reply(1)
    expect(console.log_entries("DUPLICATE_IDENTITY")).to_have_count(0)
