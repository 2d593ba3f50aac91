"""The turn inspector: each turn's timeline, what the agent heard, and clip marks, on the
real stack (real browser recording, real WebRTC, the agent's own turn audio)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from e2e.conftest import LaunchConsole
from e2e.speech import SpeechClip

READY = 15_000


def test_a_turn_shows_its_timeline_and_what_the_agent_heard_with_no_marks(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip]
) -> None:
    console = launch_console(clips["lights"], room="e2e-inspector")
    console.expect_agent_state("listening")
    console.speak_turn()
    console.expect_user_final("turn on the lights")
    console.expect_agent_reply()

    turn = console.el("inspector").locator('[data-testid="inspector-turn"][data-turn="1"]')
    expect(turn).to_have_attribute("data-expanded", "true")
    expect(turn).to_have_attribute("data-audio", "ready", timeout=READY)
    timeline = turn.get_by_test_id("inspector-timeline")
    # both lanes, the agent's instants placed on the page's clock
    for mark in ("press", "release", "end_turn answered"):
        expect(timeline.locator(f'[data-lane="browser"] [data-mark="{mark}"]')).to_have_count(1)
    for mark in ("start_turn received", "final transcript", "first reply audio"):
        expect(timeline.locator(f'[data-lane="agent"] [data-mark="{mark}"]')).to_have_count(1)
    expect(timeline.locator('[data-wave="page"]')).to_have_count(1)
    expect(timeline.locator('[data-wave="agent"]')).to_have_count(1)
    expect(turn.locator('button[data-role="play-agent"]')).to_be_enabled()
    expect(turn.locator('button[data-role="play-page"]')).to_be_enabled()
    expect(turn.locator('[data-role="note"]')).to_contain_text("agent clock aligned ±")
    # a clean turn: the agent heard all of it, placed by its audio, not by the clocks
    details = json.loads(turn.locator("details pre").text_content() or "{}")
    expect(turn).to_have_attribute("data-marks", "")
    assert details["clips"]["method"] == "audio", details["clips"]
    # the browser-measured release -> the user's final transcript, in the summary
    row = console.el("metrics").locator('[data-metric="releaseToUserFinal"]')
    expect(row.locator("td").last).to_have_text("1")
    # the turn's row: the agent's reply stages, every one, in their order (never a value)
    stages = console.el("metrics").locator(
        '[data-role="turns"] tr[data-turn="1"] [data-role="stages"]'
    )
    expect(stages).to_have_text(
        re.compile(r"^final \d+ · text \d+ · tts \d+ · frame \d+ · sent \d+$"), timeout=READY
    )


def test_words_said_before_the_press_are_marked_clipped(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip]
) -> None:
    """The page sends nothing before the press, but records its microphone: a press 0.6 s
    into the phrase leaves its first words to the page's recording alone."""
    console = launch_console(clips["long"], room="e2e-inspector-clip")
    console.expect_agent_state("listening")
    console.press_into_phrase(0, 600)

    turn = console.el("inspector").locator('[data-testid="inspector-turn"][data-turn="1"]')
    expect(turn).to_have_attribute("data-audio", "ready", timeout=READY)
    expect(turn).to_have_attribute(
        "data-marks", re.compile(r"first words clipped by \d+ ms"), timeout=READY
    )
    row = console.el("metrics").locator('[data-metric="clippedStartMs"]')
    expect(row.locator("td").last).to_have_text("1")


def test_an_exported_report_opens_offline_with_the_same_turn(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], browser: Browser, tmp_path: Path
) -> None:
    console = launch_console(clips["lights"], room="e2e-inspector-report")
    console.expect_agent_state("listening")
    console.speak_turn()
    console.expect_agent_reply()
    turn = console.el("inspector").locator('[data-testid="inspector-turn"][data-turn="1"]')
    expect(turn).to_have_attribute("data-audio", "ready", timeout=READY)
    with console.page.expect_download() as download:
        console.el("export-report-button").click()
    path = tmp_path / "report.json"
    download.value.save_as(path)
    report = json.loads(path.read_text())
    assert report["kind"] == "ptt-console-report"
    assert report["versions"]["livekit_server"] and report["versions"]["livekit_client"]
    assert report["versions"]["agent"]["livekit-agents"]  # the agent's ptt.versions
    assert report["turns"][0]["transcript"] == "turn on the lights"
    assert report["turns"][0]["agent_audio"]["wav_base64"]

    # a fresh page, never connected: the report alone fills the inspector
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{console.base_url}/?report=1")
        expect(page.get_by_test_id("status")).to_contain_text("Open a session report")
        page.get_by_test_id("open-report-input").set_input_files(str(path))
        offline = page.get_by_test_id("inspector").locator('[data-testid="inspector-turn"]')
        expect(offline).to_have_count(1)
        expect(offline).to_have_attribute("data-audio", "ready")
        expect(offline.locator('button[data-role="play-agent"]')).to_be_enabled()
        expect(
            offline.get_by_test_id("inspector-timeline").locator('[data-lane="agent"]')
        ).to_have_count(1)
        expect(page.get_by_test_id("status")).to_contain_text("offline")
        expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")
    finally:
        context.close()
