"""Page object for the PTT console, driven through its data-testid contract."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from e2e.speech import SpeechClip

TURN_TIMEOUT = 15_000
QUIET_MS = 250  # silence that ends a burst: longer than any pause inside a phrase
MAX_TICK_MS = 45  # the most one tracker tick counts: a little over the meter's interval
# the meter's peak window (~43 ms) keeps the level up after the sound stops
METER_TAIL_MS = -40
METER_LAG_MS = 45  # the meter reports a sound about one analysis window after it starts
ONSET_LEAD_MS = 120  # aim before the onset: a busy machine presses tens of ms late
ONSET_TOLERANCE_MS = 30
ONSET_ATTEMPTS = 4
# a press may go in the silence already under way when this much of it is left: the
# press and the microphone's unmute take tens of ms, hundreds on a busy machine
PRESS_LEAD_MS = 500


class Console:
    def __init__(self, page: Page, *, base_url: str, clip: SpeechClip) -> None:
        self.page = page
        self.base_url = base_url
        self.clip = clip

    def el(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def open(
        self, *, room: str, identity: str, agent: str | None = None, access_key: str | None = None
    ) -> None:
        params = {"room": room, "identity": identity}
        if agent is not None:
            params["agent"] = agent  # dispatch this agent name instead of the default
        if access_key is None:
            params["autoconnect"] = "1"
        self._install_tracker()
        self.page.goto(f"{self.base_url}/?{urlencode(params)}")
        if access_key is not None:  # typed, never put in the URL
            self.el("access-key-input").fill(access_key)
            self.el("connect-button").click()
        state = self.el("connection-state")
        # joined, or refused: the page's status says why (e.g. a missing access key)
        self.page.wait_for_function(
            """() => {
                const s = document.querySelector('[data-testid="connection-state"]');
                const status = document.querySelector('[data-testid="status"]');
                return s.textContent === 'connected' || status.dataset.level === 'error';
            }""",
            timeout=20_000,
        )
        status = self.el("status")
        assert state.inner_text() == "connected", f"could not join: {status.inner_text()}"

    def expect_agent_state(self, state: str, timeout: float = 30_000) -> None:
        expect(self.el("agent-state")).to_have_text(state, timeout=timeout)

    # -- the microphone loop ---------------------------------------------------
    # Chromium's fake microphone loops its file with jitter of a few hundred ms per loop,
    # so turns are timed from what the page hears: it meters the microphone even while
    # muted, and a tracker in the page records each burst of sound. The burst after the
    # longest silence is the clip's first phrase; the rest follow in order.

    # The tracker is installed before the page's own scripts run (an init script), so it
    # has heard the silence before the clip's first phrase by the time the microphone
    # starts, and labels that phrase at once instead of waiting for the next loop.
    # Silence is counted in ticks actually observed, each worth at most MAX_TICK_MS: when
    # the busy page stalls its timers for 300 ms mid-phrase, that is not 300 ms of quiet
    # (counted as wall time, it ended the phrase early and the release cut its last word).
    _TRACKER = """([quietMs, firstQuietMs, phrases, maxTickMs, beforeAudio]) => {
        if (window.__pttBursts) return;
        document.addEventListener(
            'pointerdown', () => (window.__pttPressAt = performance.now()), true);
        const talk = (window.__pttTalk = []); // [page ms, aria-pressed] of the talk button
        new MutationObserver((records) => {
            for (const r of records) {
                if (r.target.dataset?.testid !== 'ptt-button') continue;
                const pressed = r.target.getAttribute('aria-pressed');
                talk.push([Math.round(performance.now()), pressed]);
            }
        }).observe(document, { subtree: true, attributeFilter: ['aria-pressed'] });
        const bursts = (window.__pttBursts = []);
        // installed before the microphone started, the first burst is the clip's start
        let loud = null, quiet = beforeAudio ? firstQuietMs + 1 : 0, current = null, seg = -1;
        let lastTick = performance.now();
        setInterval(() => {
            const now = performance.now();
            const tick = Math.min(now - lastTick, maxTickMs);
            lastTick = now;
            const meter = document.querySelector('[data-testid="mic-level"]');
            if (meter !== null && Number(meter.value) >= 0.02) {
                if (current === null) {
                    seg = quiet > firstQuietMs ? 0 : seg < 0 ? -1 : (seg + 1) % phrases;
                    current = { seg, start: now, end: null };
                    bursts.push(current);
                }
                loud = now;
                quiet = 0;
            } else {
                quiet += tick;
                if (current !== null && quiet >= quietMs) {
                    current.end = loud;
                    current = null;
                }
            }
        }, 5);
    }"""

    def _tracker_args(self, *, before_audio: bool) -> list[float]:
        first_quiet = (self.clip.longest_gap + 0.3) * 1000
        return [QUIET_MS, first_quiet, len(self.clip.segments), MAX_TICK_MS, before_audio]

    def _install_tracker(self) -> None:
        """From the next navigation on, every document of this page tracks bursts."""
        args = json.dumps(self._tracker_args(before_audio=True))
        self.page.add_init_script(script=f"({self._TRACKER})({args});")

    def _track_bursts(self) -> None:
        """Starts the tracker in a page opened without `open()` (a no-op otherwise)."""
        self.page.evaluate(self._TRACKER, self._tracker_args(before_audio=False))

    def _wait_burst(self, seg: int, *, after: float, edge: str) -> float:
        """Page time (ms) of the `edge` ("start"/"end") of phrase `seg` later than `after`."""
        self._track_bursts()
        try:
            handle = self.page.wait_for_function(
                """([seg, after, edge]) => {
                    const b = window.__pttBursts.find(
                        (b) => b.seg === seg && b[edge] !== null && b[edge] > after);
                    return b ? b[edge] : false;
                }""",
                arg=[seg, after, edge],
                polling=5,
                timeout=(self.clip.duration * 3 + 5) * 1000,
            )
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"phrase {seg} ({edge}) never heard after page time {after:.0f} ms; "
                + self.timeline()
            ) from None
        return float(handle.json_value())

    def timeline(self) -> str:
        """What the page heard and when the talk button was held, for a failure message."""
        heard, talk = self.page.evaluate(
            """() => [
                window.__pttBursts.slice(-12).map(
                    (b) => [b.seg, Math.round(b.start), b.end && Math.round(b.end)]),
                (window.__pttTalk ?? []).slice(-12),
            ]"""
        )
        return f"last bursts [phrase, start, end]: {heard}; talk button [ms, pressed]: {talk}"

    def _silence_before(self, segment: int) -> float:
        """Page time (ms) of the end of the phrase before `segment`, for a press in the
        silence after it: the silence under way if enough of it is left (PRESS_LEAD_MS),
        else the next one, rather than always waiting a whole loop of the clip."""
        previous = (segment - 1) % len(self.clip.segments)
        self._track_bursts()
        left = self.clip.silence_before(segment) * 1000 + METER_TAIL_MS - PRESS_LEAD_MS
        end = self.page.evaluate(
            """([previous, left]) => {
                const last = window.__pttBursts.at(-1);
                if (!last || last.seg !== previous || last.end === null) return null;
                return performance.now() < last.end + left ? last.end : null;
            }""",
            [previous, left],
        )
        if end is not None:
            return float(end)
        return self._wait_burst(previous, after=self._now(), edge="end")

    def wait_until(self, page_ms: float) -> None:
        """Until the page clock reaches `page_ms`: a point of the audio the page measured."""
        self.page.wait_for_function(
            "(t) => performance.now() >= t", arg=page_ms, polling=5, timeout=30_000
        )

    def log_entries(self, text: str | re.Pattern[str], level: str = "") -> Locator:
        """Event log entries containing `text` (any, if empty), of `level` if given."""
        level_attr = f'[data-level="{level}"]' if level else ""
        entries = self.el("event-log").locator(f'[data-testid="event-entry"]{level_attr}')
        return entries.filter(has_text=text) if text else entries

    def _now(self) -> float:
        return float(self.page.evaluate("performance.now()"))

    # -- talking -----------------------------------------------------------------
    def press(self, *, hover: bool = True) -> None:
        if hover:
            self.el("ptt-button").hover()
        self.page.mouse.down()
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "true")

    def release(self) -> None:
        self.page.mouse.up()
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "false")

    def speak_turn(
        self,
        segment: int = 0,
        *,
        at_onset: bool = False,
        after: float = 0.3,
        during: Callable[[], None] | None = None,
    ) -> None:
        """One turn around phrase `segment`: press in the silence before it (or, with
        `at_onset`, at the instant it starts), release `after` s after it ends. `during`
        runs once the phrase has started, with the button held (a fault mid-turn)."""
        late: list[float] = []
        for _ in range(ONSET_ATTEMPTS if at_onset else 1):
            self.el("ptt-button").hover()
            end_prev = self._silence_before(segment)
            if at_onset:
                silence = self.clip.silence_before(segment) * 1000
                self.wait_until(end_prev + METER_TAIL_MS + silence - ONSET_LEAD_MS)
            self.press(hover=not at_onset)  # hovered above: a second hover costs ~50 ms
            if at_onset:
                onset = self._wait_burst(segment, after=end_prev, edge="start") - METER_LAG_MS
                pressed = float(self.page.evaluate("window.__pttPressAt"))
                if pressed > onset + ONSET_TOLERANCE_MS:
                    late.append(round(pressed - onset))
                    # the machine was too busy to press in time: not a result, try again
                    self.page.keyboard.press("Escape")
                    self.page.mouse.up()
                    continue
            if during is not None:
                self._wait_burst(segment, after=end_prev, edge="start")
                during()
            end = self._wait_burst(segment, after=end_prev, edge="end")
            self.wait_until(end + after * 1000)
            self.release()
            return
        raise AssertionError(
            f"could not press within {ONSET_TOLERANCE_MS} ms of the onset: late by {late} ms"
        )

    def cancel_mid_phrase(self, segment: int = 0) -> None:
        """Press before phrase `segment`, press Esc halfway through it, then let go."""
        self.el("ptt-button").hover()
        end_prev = self._silence_before(segment)
        self.press()
        start = self._wait_burst(segment, after=end_prev, edge="start")
        seg = self.clip.segments[segment]
        self.wait_until(start + (seg.end - seg.start) / 2 * 1000)
        self.page.keyboard.press("Escape")
        expect(self.el("ptt-button")).to_have_attribute("aria-pressed", "false")
        self.page.mouse.up()

    # -- transcripts ---------------------------------------------------------------
    def entries(self, role: str, *, final: bool | None = True) -> Locator:
        """Transcript entries of `role`: final, not yet final, or (None) either."""
        final_attr = "" if final is None else f'[data-final="{"true" if final else "false"}"]'
        return self.el("transcript").locator(
            f'[data-testid="transcript-entry"][data-role="{role}"]{final_attr}'
        )

    def expect_user_final(self, text: str, *, index: int = -1) -> None:
        entries = self.entries("user")
        try:
            expect(entries.nth(index) if index >= 0 else entries.last).to_contain_text(
                text, timeout=TURN_TIMEOUT
            )
        except AssertionError as e:
            raise AssertionError(f"{e}\nthe clip as heard: {self.timeline()}") from None

    def expect_agent_reply(self, count: int = 1) -> None:
        """`count` replies on the page, the last one played out (its entry is final)."""
        expect(self.entries("agent")).to_have_count(count, timeout=TURN_TIMEOUT)

    def agent_replies(self) -> Locator:
        """The agent's transcript entries, final or still being spoken."""
        return self.entries("agent", final=None)

    def agent_peak(self) -> float:
        return float(self.el("agent-level").get_attribute("data-peak") or 0)

    # == controls (e2e/test_controls.py) ==============================================
    # Talking by any means: hold_through() times a turn like speak_turn() does, with the
    # press and the release given (Space, touch, a pointer leaving the button, …).

    def hold_through(
        self,
        press: Callable[[], None],
        release: Callable[[], None],
        segment: int = 0,
        *,
        after: float = 0.3,
        midway: bool = False,
    ) -> None:
        """`press()` in the silence before phrase `segment`, `release()` `after` s after
        it ends (with `midway`: halfway through it); each waits for its own effect."""
        end_prev = self._silence_before(segment)
        press()
        if midway:
            start = self._wait_burst(segment, after=end_prev, edge="start")
            seg = self.clip.segments[segment]
            self.wait_until(start + (seg.end - seg.start) / 2 * 1000)
        else:
            end = self._wait_burst(segment, after=end_prev, edge="end")
            self.wait_until(end + after * 1000)
        release()

    def rpc_entries(self, method: str, outcome: str = "ok") -> Locator:
        """Event log entries of RPC `method` that ended with `outcome` ("ok"/"failed")."""
        return self.el("event-log").locator(
            '[data-testid="event-entry"][data-source="rpc"]',
            has_text=re.compile(rf"rpc {method} {outcome}\b"),
        )
