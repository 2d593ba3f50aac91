"""Page object for the PTT console, driven through its data-testid contract."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

from e2e.speech import SpeechClip

TURN_TIMEOUT = 15_000
SPEAK_AFTER_PRESS = 0.2  # s between the press and the first word, as a person leaves


class Console:
    def __init__(self, page: Page, *, base_url: str, clip: SpeechClip) -> None:
        self.page = page
        self.base_url = base_url
        self.clip = clip

    def el(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def open(
        self,
        *,
        room: str,
        identity: str,
        agent: str | None = None,
        access_key: str | None = None,
        take_over: bool = False,
    ) -> None:
        """Open the page and join. With `take_over`, `identity` is already in the room:
        the first Connect is refused (409) and the second takes its place."""
        params = {"room": room, "identity": identity}
        if agent is not None:
            params["agent"] = agent  # dispatch this agent name instead of the default
        if access_key is None:
            params["autoconnect"] = "1"
        self._install_microphone()
        self.page.goto(f"{self.base_url}/?{urlencode(params)}")
        if access_key is not None:  # typed, never put in the URL
            self.el("access-key-input").fill(access_key)
            self.el("connect-button").click()
        if take_over:
            expect(self.el("status")).to_contain_text(
                f"{identity} is already in {room} (another tab?). Connect again to take over."
            )
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

    # -- the microphone ------------------------------------------------------------
    # The page's microphone is a stream this suite plays phrases into, on demand: an init
    # script answers the page's getUserMedia() for audio with a track of a Web Audio
    # destination (the page and livekit-client are otherwise untouched: the track is
    # published, muted and unmuted, metered and switched as a real one). So a turn
    # presses, speaks and releases when the test says, with no waiting for a looping
    # file; the words reach the agent through the real WebRTC path. Each playback is
    # recorded in page time, with the talk button's presses, for failure messages.
    # A real microphone delivers samples all the time, silence included. A Web Audio
    # destination with nothing playing into it delivers none, so Chromium stopped sending
    # packets the moment a phrase ended, and the agent's jitter buffer filled the gap with
    # ~200 ms of decaying concealment that the STT heard as speech: every turn's Finalize
    # found the utterance still open (bench/bench_page.py, docs/latency.md). A started
    # source of zeros keeps the destination delivering, as a microphone does.
    _MICROPHONE = """() => {
        if (window.__pttMic) return;
        const mic = (window.__pttMic = { phrases: [], played: [], talk: [], source: null });
        mic.context = () => {
            if (!mic.ctx) {
                mic.ctx = new AudioContext({ sampleRate: 48000 });
                mic.dest = mic.ctx.createMediaStreamDestination();
                const floor = mic.ctx.createConstantSource();
                floor.offset.value = 0;
                floor.connect(mic.dest);
                floor.start();
            }
            return mic.ctx;
        };
        mic.load = (phrases) => {
            const ctx = mic.context();
            mic.phrases = phrases.map((b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const pcm = new Int16Array(bytes.buffer);
                const buffer = ctx.createBuffer(1, pcm.length, 48000);
                const out = buffer.getChannelData(0);
                for (let i = 0; i < pcm.length; i++) out[i] = pcm[i] / 32768;
                return buffer;
            });
        };
        mic.play = (i, loop = false) => {
            mic.stop();
            const source = mic.context().createBufferSource();
            source.buffer = mic.phrases[i];
            source.loop = loop;
            source.connect(mic.dest);
            const played = { phrase: i, start: performance.now(), end: null };
            source.onended = () => (played.end = performance.now());
            source.start();
            mic.source = source;
            mic.played.push(played);
            return mic.played.length - 1;
        };
        mic.stop = () => {
            if (mic.source) mic.source.stop();
            mic.source = null;
        };
        // "speaking at the instant of press": play from inside the press itself
        mic.playOnPress = (i) => {
            document.addEventListener(
                'pointerdown', () => mic.play(i), { capture: true, once: true });
            return mic.played.length; // the playback id that press will start
        };
        const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
        navigator.mediaDevices.getUserMedia = async (constraints) => {
            if (!constraints?.audio || constraints.video) return getUserMedia(constraints);
            await mic.context().resume();
            return new MediaStream([mic.dest.stream.getAudioTracks()[0].clone()]);
        };
        new MutationObserver((records) => {
            for (const r of records) {
                if (r.target.dataset?.testid !== 'ptt-button') continue;
                const pressed = r.target.getAttribute('aria-pressed');
                mic.talk.push([Math.round(performance.now()), pressed]);
            }
        }).observe(document, { subtree: true, attributeFilter: ['aria-pressed'] });
    }"""

    def _install_microphone(self) -> None:
        """From the next navigation on, every document of this page has the microphone."""
        self.page.add_init_script(script=f"({self._MICROPHONE})();")

    def _load_phrases(self) -> None:
        if self.page.evaluate("() => window.__pttMic.phrases.length") == 0:
            phrases = [base64.b64encode(seg.pcm).decode() for seg in self.clip.segments]
            self.page.evaluate("(phrases) => window.__pttMic.load(phrases)", phrases)

    def play(self, segment: int, *, loop: bool = False) -> int:
        """Start saying phrase `segment` (over and over, with `loop`); its playback id."""
        self._load_phrases()
        return int(
            self.page.evaluate("([i, loop]) => window.__pttMic.play(i, loop)", [segment, loop])
        )

    def stop_playing(self) -> None:
        self.page.evaluate("() => window.__pttMic.stop()")

    def _played(self, playback: int, edge: str) -> float:
        """Page time (ms) at which `playback` started or ended ("start"/"end")."""
        handle = self.page.wait_for_function(
            "([n, edge]) => window.__pttMic.played[n]?.[edge] ?? false",
            arg=[playback, edge],
            polling=5,
            timeout=30_000,
        )
        return float(handle.json_value())

    def _wait_silent(self) -> None:
        """Until the microphone has said the whole phrase it was saying: someone who goes
        on talking after a cancel is heard in the next turn they press for."""
        self.page.wait_for_function(
            "() => window.__pttMic.played.at(-1)?.end !== null",
            polling=10,
            timeout=30_000,
        )

    def _wait_into(self, playback: int, segment: int, fraction: float) -> None:
        """Until `fraction` of phrase `segment` (playing as `playback`) has been said."""
        start = self._played(playback, "start")
        self.wait_until(start + self.clip.segments[segment].duration * fraction * 1000)

    def timeline(self) -> str:
        """What the page's microphone said and when the talk button was held (page ms)."""
        played, talk = self.page.evaluate(
            """() => [
                window.__pttMic.played.slice(-12).map(
                    (p) => [p.phrase, Math.round(p.start), p.end && Math.round(p.end)]),
                window.__pttMic.talk.slice(-12),
            ]"""
        )
        return f"phrases said [phrase, start, end]: {played}; talk button [ms, pressed]: {talk}"

    def wait_until(self, page_ms: float) -> None:
        """Until the page clock reaches `page_ms`."""
        self.page.wait_for_function(
            "(t) => performance.now() >= t", arg=page_ms, polling=5, timeout=30_000
        )

    def wait(self, seconds: float) -> None:
        """`seconds` by the page's clock."""
        self.wait_until(self._now() + seconds * 1000)

    def log_entries(self, text: str | re.Pattern[str], level: str = "") -> Locator:
        """Event log entries containing `text` (any, if empty), of `level` if given."""
        level_attr = f'[data-level="{level}"]' if level else ""
        entries = self.el("event-log").locator(f'[data-testid="event-entry"]{level_attr}')
        return entries.filter(has_text=text) if text else entries

    def _now(self) -> float:
        return float(self.page.evaluate("performance.now()"))

    # -- talking -----------------------------------------------------------------
    def press(self, *, hover: bool = True) -> None:
        # the agent may be in the room before the page (the server dispatches it first):
        # "listening" can show while the microphone is still being published
        expect(self.el("ptt-button")).to_be_enabled()
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
        """One turn saying phrase `segment`: press, speak SPEAK_AFTER_PRESS s later (with
        `at_onset`, at the instant of the press), release `after` s after the phrase
        ends. `during` runs once the phrase has started, with the button held."""
        self._wait_silent()
        self.el("ptt-button").hover()
        if at_onset:
            self._load_phrases()
            playback = int(self.page.evaluate("(i) => window.__pttMic.playOnPress(i)", segment))
            self.press(hover=False)
        else:
            self.press(hover=False)
            self.wait(SPEAK_AFTER_PRESS)
            playback = self.play(segment)
        if during is not None:
            self._played(playback, "start")
            during()
        self.wait_until(self._played(playback, "end") + after * 1000)
        self.release()

    def press_into_phrase(self, segment: int, after_ms: float) -> None:
        """A late press: phrase `segment` starts, the button goes down `after_ms` into it
        and comes up 0.3 s after it ends (its first words are never sent)."""
        self.el("ptt-button").hover()
        playback = self.play(segment)
        self.wait_until(self._played(playback, "start") + after_ms)
        self.press(hover=False)
        self.wait_until(self._played(playback, "end") + 300)
        self.release()

    def cancel_mid_phrase(self, segment: int = 0) -> None:
        """Press, say phrase `segment`, press Esc halfway through it, then let go."""
        self._wait_silent()
        self.press()
        self.wait(SPEAK_AFTER_PRESS)
        self._wait_into(self.play(segment), segment, 0.5)
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
            raise AssertionError(f"{e}\n{self.timeline()}") from None

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
        """`press()`, say phrase `segment`, `release()` `after` s after it ends (with
        `midway`: halfway through it); `press` and `release` wait for their own effect."""
        self._wait_silent()
        press()
        self.wait(SPEAK_AFTER_PRESS)
        playback = self.play(segment)
        if midway:
            self._wait_into(playback, segment, 0.5)
        else:
            self.wait_until(self._played(playback, "end") + after * 1000)
        release()

    def rpc_entries(self, method: str, outcome: str = "ok") -> Locator:
        """Event log entries of RPC `method` that ended with `outcome` ("ok"/"failed")."""
        return self.el("event-log").locator(
            '[data-testid="event-entry"][data-source="rpc"]',
            has_text=re.compile(rf"rpc {method} {outcome}\b"),
        )
