"""The turn inspector's pure modules under Node: clock alignment, WAV in and out, clip
detection on real synthesized speech, and the timeline layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from headless.speech import RATE, synthesize
from tests.test_server_js import run_module

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
]


def test_clocks_align_on_the_shortest_round_trip(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { alignClocks, toPageTime } from 'STATIC/clock.js';
// the agent's clock is 5000 ms ahead; its handlers ran 10 and 40 ms after the sends
const a = alignClocks([
  { sentAt: 100, rtt: 80, agentAt: 5140 },   // ran at 140: estimate 5140-(100+40) = 5000
  { sentAt: 900, rtt: 20, agentAt: 5908 },   // ran at 908: estimate 5908-910 = 4998 (±10)
  { sentAt: 1000, rtt: null, agentAt: 6000 },
]);
console.log(JSON.stringify({ a, t: toPageTime(6000, a), none: alignClocks([]) }));
""",
    )
    assert out == {
        "a": {"offsetMs": 4998, "uncertaintyMs": 10, "samples": 2},
        "t": 1002,
        "none": None,
    }


def _speech_json(phrase: str, rate: int) -> list[float]:
    pcm = synthesize(phrase).astype(np.float32) / 32768
    if rate != RATE:
        pcm = pcm[:: RATE // rate]
    return [round(float(v), 4) for v in pcm]


def test_clips_are_found_by_placing_the_agents_audio_on_the_pages(tmp_path: Path) -> None:
    """The page recorded 300 ms of quiet, the phrase, 300 ms of quiet; the agent got (at
    16 kHz) the phrase without its first 400 ms, or all of it, or nothing but silence."""
    speech = _speech_json("turn on the lights", 16000)
    (tmp_path / "speech.json").write_text(json.dumps(speech))
    out = run_module(
        tmp_path,
        f"""
import {{ readFileSync }} from 'node:fs';
import {{ detectClips, clipMarks }} from 'STATIC/clip.js';
import {{ parseWav, encodeWav }} from 'STATIC/wav.js';
const speech = Float32Array.from(JSON.parse(readFileSync('{tmp_path / "speech.json"}')));
const rate = 16000, quiet = new Float32Array(rate * 0.3);
const page = {{ samples: Float32Array.from([...quiet, ...speech, ...quiet]), sampleRate: rate }};
// the agent's audio through a WAV file, as the page gets it
const asAgent = (s) => parseWav(encodeWav(s, rate));
const clipped = detectClips({{
  page, agent: asAgent(speech.slice(rate * 0.4)), transcript: 'on the lights' }});
const lead = quiet.slice(0, 1600);
const whole = detectClips({{
  page, agent: asAgent(Float32Array.from([...lead, ...speech])),
  transcript: 'turn on the lights' }});
const deaf = detectClips({{
  page, agent: asAgent(new Float32Array(rate / 2)), clockLagMs: 300, transcript: '' }});
console.log(JSON.stringify({{ clipped, whole, deaf, marks: clipMarks(deaf) }}));
""",
    )
    assert isinstance(out, dict)
    clipped, whole, deaf = out["clipped"], out["whole"], out["deaf"]
    assert clipped["method"] == "audio"
    assert 300 <= clipped["clippedStartMs"] <= 450  # the 400 ms cut, less its quiet start
    assert clipped["cutEndMs"] == 0
    assert whole["method"] == "audio"
    assert (whole["clippedStartMs"], whole["cutEndMs"]) == (0, 0)
    assert abs(whole["placedAtMs"] - 200) <= 20  # 100 ms of its quiet before the page's 300
    assert deaf["method"] == "clock"  # nothing to correlate: placed by the clocks
    assert deaf["missedAll"] is True and deaf["emptyTranscript"] is True
    assert deaf["clippedStartMs"] > 500  # the whole phrase
    assert out["marks"][0].startswith("none of the speech reached the agent")
    assert "speech, but an empty transcript" in out["marks"]


def test_a_turns_timeline_puts_both_lanes_on_the_page_clock(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { agentInstants, layoutTurn } from 'STATIC/timeline.js';
const turn = { pressAt: 1000, startSentAt: 1002, startAckAt: 1042, releaseAt: 2500,
  endSentAt: 2501, endAckAt: 2541, micLevels: [[1100, 0.3]], agentLevels: [[2700, 0.2]] };
const alignment = { offsetMs: 9000, uncertaintyMs: 20 };
const instants = { start_turn: 10022, stt_ready: 10023, end_turn: 11521, committed: 11560,
  reply_text: 11600, first_frame: 11640, reply_done: 12400, interims: [10500, null] };
const agent = agentInstants(instants, alignment);
const t = layoutTurn(turn, agent, { prerollMs: 120, uncertaintyMs: 20 });
const x = t.scale(1000);
console.log(JSON.stringify({
  lanes: t.lanes.map((l) => [
    l.name, l.marks.map((m) => [m.label, m.at]), l.spans.map((s) => [s.label, s.from, s.to])]),
  from: t.from, to: t.to, x0: x(t.from), x1: x(t.to),
}));
""",
    )
    assert isinstance(out, dict)
    browser, agent, heard = out["lanes"]
    assert browser[0] == "browser"
    assert [m[0] for m in browser[1]][:2] == ["press", "start_turn sent"]
    assert agent[0] == "agent"
    marks = dict((label, at) for label, at in agent[1] if label != "interim transcript")
    assert marks["start_turn received"] == 1022  # inside start_turn's round trip
    assert marks["first reply audio"] == 2640
    assert ["interim transcript", 1500] in agent[1]
    assert ["pre-roll replayed", 902, 1022] in agent[2]
    assert ["thinking", 2560, 2640] in agent[2]
    assert heard[0] == "agent audio heard"
    assert out["from"] == 752 and out["to"] == 3550  # pre-roll start, reply done; margins
    assert (out["x0"], out["x1"]) == (0, 1000)


def test_a_report_keeps_turns_marks_and_both_recordings_and_refuses_other_files(
    tmp_path: Path,
) -> None:
    out = run_module(
        tmp_path,
        """
import { buildReport, readReport } from 'STATIC/report.js';
const wave = (n, rate) => Float32Array.from({ length: n }, (_, i) => Math.sin(i / 7) * 0.5);
const turn = { n: 1, pressAt: 10, releaseAt: 900, outcome: 'ended', startRtt: 30, endRtt: 20,
  releaseToUserFinal: 45, releaseToAudio: 300 };
const report = { turn: 1, owner: 'me', transcript: 'open the door', strategy: 'prewarm',
  preroll_ms: 120, instants_ms: { start_turn: 5 } };
const state = {
  form: { room: 'r', identity: 'me', agent: 'ptt-agent' }, joined: null,
  agent: { identity: 'ptt-agent', instance: 'AJ_1' },
  turns: [turn], transcript: [{ id: 's', role: 'user', text: 'open the door' }],
  agentMetrics: [{ turn: 1, data: report }],
  log: [{ seq: 1, level: 'warn', source: 'agent', message: 'x' }],
  inspector: { version: 3, turns: { 1: {
    micLevels: [[20, 0.2]], agentLevels: [], report, alignment: { offsetMs: 1, uncertaintyMs: 9 },
    recording: { samples: wave(4800), sampleRate: 48000, startAt: -990 },
    agentAudio: { samples: wave(1600), sampleRate: 16000, info: { turn: 1, preroll_ms: 120 } },
    audioStatus: 'ready', clips: { clippedStartMs: 200 }, marks: ['first words clipped by 200 ms'],
  } } },
};
const versions = { console: '0.1.0', livekit_client: '2.23.0', livekit_server: '1.13.5' };
const doc = buildReport(state, versions);
const back = readReport(JSON.stringify(doc));
const rec = back.inspector.turns[1];
console.log(JSON.stringify({
  kind: doc.kind, config: doc.agent_config, versions: doc.versions,
  headless: [doc.turns[0].transcript, doc.turns[0].release_to_audio_ms, doc.turns[0].start_turn],
  agentLog: doc.agent_log.length,
  turns: back.turns, turn: back.turn, marks: rec.marks, status: rec.audioStatus,
  page: [rec.recording.sampleRate, rec.recording.samples.length, rec.recording.startAt,
    Math.round(rec.recording.samples[50] * 1000)],
  agent: [rec.agentAudio.sampleRate, rec.agentAudio.samples.length, rec.agentAudio.info.preroll_ms],
  bad: [readReport('{').message, readReport('{"kind": "x"}').message,
    readReport('{"kind": "ptt-console-report", "version": 9}').message],
}));
""",
    )
    assert isinstance(out, dict)
    assert out["kind"] == "ptt-console-report"
    assert out["config"] == {
        "identity": "ptt-agent",
        "instance": "AJ_1",
        "strategy": "prewarm",
        "preroll_ms": 120,
    }
    assert out["versions"]["livekit_server"] == "1.13.5"
    assert out["headless"] == ["open the door", 300, {"rtt_ms": 30}]
    assert out["agentLog"] == 1
    assert out["turns"][0]["n"] == 1 and out["turn"] == 1
    assert out["marks"] == ["first words clipped by 200 ms"] and out["status"] == "ready"
    assert out["page"][:3] == [48000, 4800, -990]
    assert abs(out["page"][3] - round(np.sin(50 / 7) * 0.5 * 1000)) <= 1  # 16-bit round trip
    assert out["agent"] == [16000, 1600, 120]
    assert out["bad"][0].startswith("not a report: the file is not JSON")
    assert out["bad"][1] == "not a report: kind is not ptt-console-report"
    assert "version 9 is not supported" in out["bad"][2]


def test_page_turns_are_matched_to_agent_turns_late_reports_and_rebuilds_aside(
    tmp_path: Path,
) -> None:
    out = run_module(
        tmp_path,
        """
import { answeredTurn, matchAgentTurns } from 'STATIC/inspector-match.js';
const me = 'me';
const m = (turn, instance, agentTurn, owner = me) =>
  ({ turn, instance, data: { turn: agentTurn, owner } });
const entries = [
  m(1, 'A', 1), m(2, 'A', 1),       // turn 1's later report came during page turn 2
  m(2, 'A', 2), m(2, 'A', 5, 'bob'), // bob's turn is not ours
  m(3, 'B', 1),                      // a rebuilt agent counts from 1 again
];
const guessed = Object.fromEntries(matchAgentTurns(entries, me));
// answered turns decide: page turn 4 said agent turn 7, though a late 6 came first
const answered = Object.fromEntries(matchAgentTurns([m(4, 'B', 6), m(4, 'B', 7)], me,
  [{ n: 4, agentTurn: 7, agentInstance: 'B' }]));
console.log(JSON.stringify({ guessed, answered,
  parsed: [answeredTurn('{"turn": 3}'), answeredTurn('ok'), answeredTurn('{"turn": "3"}')] }));
""",
    )
    assert out == {
        "guessed": {"1": "A/1", "2": "A/2", "3": "B/1"},
        "answered": {"4": "B/7"},
        "parsed": [3, None, None],
    }


def test_a_turns_audio_is_fetched_once_its_reply_has_played(tmp_path: Path) -> None:
    """The WAV and the clip detection must not share the data channel and the main
    thread with the reply's first words: a turn with a reply waits for its end."""
    out = run_module(
        tmp_path,
        """
import { turnAudioDue } from 'STATIC/inspector-match.js';
const r = (final, transcript, done) =>
  ({ release_to_final_ms: final, transcript, instants_ms: { reply_done: done } });
console.log(JSON.stringify([
  turnAudioDue(null),
  turnAudioDue(r(null, '', null)),          // not committed yet
  turnAudioDue(r(12, 'red green', null)),   // committed, its reply still to come
  turnAudioDue(r(12, 'red green', 900.5)),  // the reply has played (or was cut)
  turnAudioDue(r(12, '  ', null)),          // nothing said: no reply will come
]));
""",
    )
    assert out == [None, None, "later", "now", "now"]


def test_agent_audio_onset_is_the_first_audible_sample_after_the_release(
    tmp_path: Path,
) -> None:
    """The worklet's onset gives the first audible sample's own instant, and a turn
    takes the first one at or after its release (a reply's tail from before is not it)."""
    out = run_module(
        tmp_path,
        """
import { firstAudible } from 'STATIC/onset.js';
import { createTurns } from 'STATIC/turns.js';
const batch = new Float32Array(480);
batch[240] = -0.5; batch[300] = 0.9;
const app = { state: { turn: 0, turns: [], levels: { agentPeak: 0 } }, update: () => {} };
const turns = createTurns(app);
turns.begin();
turns.released();
const releaseAt = app.state.turns[0].releaseAt;
turns.markAfterRelease('releaseToAudio', releaseAt - 5);   // before the release: not it
const beforeIgnored = app.state.turns[0].releaseToAudio;
turns.markAfterRelease('releaseToAudio', releaseAt + 120.4);
turns.markAfterRelease('releaseToAudio', releaseAt + 300);  // only the first counts
console.log(JSON.stringify({
  onset: firstAudible(batch, 1000, 48000),
  quiet: firstAudible(new Float32Array(480).fill(0.01), 1000, 48000),
  beforeIgnored, after: app.state.turns[0].releaseToAudio,
}));
""",
    )
    assert out == {"onset": 1005.0, "quiet": None, "beforeIgnored": None, "after": 120}
