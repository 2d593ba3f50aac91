"""Page object for the PTT console, driven through its data-testid contract."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

from e2e.speech import SpeechClip

TURN_TIMEOUT = 15_000


class Console:
    def __init__(self, page: Page, *, base_url: str, clip: SpeechClip) -> None:
        self.page = page
        self.base_url = base_url
        self.clip = clip

    def el(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def open(self, *, room: str, identity: str) -> None:
        query = urlencode({"room": room, "identity": identity, "autoconnect": "1"})
        self.page.goto(f"{self.base_url}/?{query}")
        expect(self.el("connection-state")).to_have_text("connected", timeout=20_000)

    def expect_agent_state(self, state: str, timeout: float = 30_000) -> None:
        expect(self.el("agent-state")).to_have_text(state, timeout=timeout)

    # -- the microphone loop ---------------------------------------------------
    def loop_phase(self) -> float:
        """Where the looping fake-mic file is now, in seconds from its start."""
        started = self.el("mic-level").get_attribute("data-capture-started")
        assert started, "the page did not report when microphone capture started"
        now = float(self.page.evaluate("performance.now()"))
        return ((now - float(started)) / 1000.0) % self.clip.duration

    def wait_for_phase(self, phase: float) -> None:
        """Real-time wait until the fake-mic loop reaches `phase` (audio sync, not polling)."""
        delay = (phase - self.loop_phase()) % self.clip.duration
        self.page.wait_for_timeout(delay * 1000)

    # -- talking -----------------------------------------------------------------
    def press(self) -> None:
        self.el("ptt-button").hover()
        self.page.mouse.down()
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "true")

    def release(self) -> None:
        self.page.mouse.up()
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "false")

    def speak_turn(self, segment: int = 0, *, lead: float = 0.3, after: float = 0.4) -> None:
        """Press `lead` s before a phrase starts, release `after` s after it ends.

        `lead` 0 presses at the instant the phrase starts.
        """
        seg = self.clip.segments[segment]
        self.wait_for_phase(seg.start - lead)
        self.press()
        self.page.wait_for_timeout((lead + seg.end - seg.start + after) * 1000)
        self.release()

    def cancel_mid_phrase(self, segment: int = 0) -> None:
        """Press before a phrase, press Esc halfway through it, then let go."""
        seg = self.clip.segments[segment]
        self.wait_for_phase(seg.start - 0.3)
        self.press()
        self.page.wait_for_timeout((0.3 + (seg.end - seg.start) / 2) * 1000)
        self.page.keyboard.press("Escape")
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "false")
        self.page.mouse.up()

    # -- transcripts ---------------------------------------------------------------
    def entries(self, role: str, *, final: bool = True) -> Locator:
        final_attr = "true" if final else "false"
        return self.el("transcript").locator(
            f'[data-testid="transcript-entry"][data-role="{role}"][data-final="{final_attr}"]'
        )

    def expect_user_final(self, text: str, *, index: int = -1) -> None:
        entries = self.entries("user")
        expect(entries.nth(index) if index >= 0 else entries.last).to_contain_text(
            text, timeout=TURN_TIMEOUT
        )

    def expect_agent_reply(self, count: int = 1) -> None:
        expect(self.entries("agent")).to_have_count(count, timeout=TURN_TIMEOUT)

    def agent_peak(self) -> float:
        return float(self.el("agent-level").get_attribute("data-peak") or 0)
