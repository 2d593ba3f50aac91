"""The page's pure modules (no DOM, no LiveKit) run under Node: the PTT state machine,
transcript assembly, percentiles, the disabled rules and log levels."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
]

STATIC = (PROJECT_ROOT / "static").as_uri()


def run_module(tmp_path: Path, body: str) -> object:
    """Run an ES module body that imports from static/ and prints one JSON value."""
    script = tmp_path / "check.mjs"
    script.write_text(body.replace("STATIC", STATIC))
    done = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


PTT_HARNESS = """
import { createPtt } from 'STATIC/ptt.js';
const events = [];
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
function make(failures = {}) {
  const call = async (method) => {
    events.push(`rpc:${method}`);
    await delay(5);
    return failures[method] ? { ok: false, ms: 5, error: { code: failures[method] } }
                            : { ok: true, ms: 5 };
  };
  const setMic = async (on) => { events.push(`mic:${on}`); await delay(1); };
  const hooks = {
    onChange: () => {}, onPress: () => events.push('press'),
    onStarted: (r) => events.push(`started:${r.ok}`), onRelease: () => events.push('release'),
    onEnded: (r) => events.push(`ended:${r.ok}`),
    onCancelled: (r) => events.push(`cancelled:${r !== null}`),
    onError: (e) => events.push(`error:${e.message}`),
  };
  return createPtt({ call, setMic, hooks });
}
"""


def test_ptt_press_unmutes_before_start_turn_and_release_mutes_after_end_turn(
    tmp_path: Path,
) -> None:
    out = run_module(
        tmp_path,
        PTT_HARNESS
        + """
const ptt = make();
ptt.press(); await ptt.release();
console.log(JSON.stringify(events));
""",
    )
    assert out == [
        "press",
        "release",
        "mic:true",
        "rpc:start_turn",
        "started:true",
        "rpc:end_turn",
        "ended:true",
        "mic:false",
    ]


def test_ptt_cancel_while_start_in_flight_sends_cancel_after_start(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        PTT_HARNESS
        + """
const ptt = make();
ptt.press(); await ptt.cancel();
const second = ptt.release();  // nothing held any more
console.log(JSON.stringify({ events, second }));
""",
    )
    assert out == {
        "events": [
            "press",
            "mic:true",
            "rpc:start_turn",
            "started:true",
            "rpc:cancel_turn",
            "cancelled:true",
            "mic:false",
        ],
        "second": None,
    }


def test_ptt_failed_start_mutes_and_skips_end_turn(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        PTT_HARNESS
        + """
const ptt = make({ start_turn: 4423 });
ptt.press(); await ptt.release();
console.log(JSON.stringify(events));
""",
    )
    assert out == [
        "press",
        "release",
        "mic:true",
        "rpc:start_turn",
        "mic:false",
        "started:false",
        "mic:false",
    ]


def test_ptt_abort_drops_queued_work(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        PTT_HARNESS
        + """
const ptt = make();
ptt.press(); ptt.release(); ptt.abort();
await delay(50);
console.log(JSON.stringify({ events, held: ptt.held }));
""",
    )
    assert out["held"] is False
    assert "rpc:end_turn" not in out["events"]


def test_rpc_caller_reports_round_trip_and_rpc_error(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { createRpc, describeRpcError } from 'STATIC/ptt.js';
const reports = [];
const session = { performRpc: async (m) => {
  if (m === 'pause') {
    const e = new Error('Method not supported at destination');
    e.code = 1400;
    throw e;
  }
  return 'ok';
} };
const call = createRpc(session, (level, message, data) => reports.push({ level, message, data }));
const a = await call('start_turn');
const b = await call('pause');
console.log(JSON.stringify({ a: a.ok, b: b.ok, code: b.error.code, reports }));
""",
    )
    assert out["a"] is True and out["b"] is False and out["code"] == 1400
    ok, err = out["reports"]
    assert ok["level"] == "info" and ok["message"].startswith("rpc start_turn ok in ")
    assert err["level"] == "error"
    assert "RpcError 1400: Method not supported at destination" in err["message"]
    assert err["data"]["code"] == 1400 and isinstance(err["data"]["ms"], int)


def test_transcript_interim_then_final_and_agent_deltas(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { readTranscription } from 'STATIC/transcript.js';
let entries = [];
const update = (id, fn) => {
  const i = entries.findIndex((e) => e.id === id);
  const next = fn(i >= 0 ? entries[i] : undefined);
  if (i >= 0) entries[i] = next; else entries.push(next);
};
function reader(id, attrs, chunks, trailer = {}) {
  const info = { id, topic: 'lk.transcription', attributes: { ...attrs } };
  return { info, async *[Symbol.asyncIterator]() {
    for (const c of chunks) yield c;
    Object.assign(info.attributes, trailer);
  } };
}
const local = { identity: 'me', micTrackSid: 'TR_me' };
const ctx = { local, turn: 1, update, onText: () => {} };
const seg = { 'lk.segment_id': 'SG_u', 'lk.transcription_final': 'false' };
await readTranscription(reader('s1', seg, ['turn on']), { identity: 'me' }, ctx);
const interim = structuredClone(entries);
await readTranscription(reader('s2', { ...seg, 'lk.transcription_final': 'true' },
  ['turn on the lights']), { identity: 'me' }, ctx);
const agentSeg = { 'lk.segment_id': 'SG_a', 'lk.transcription_final': 'false' };
const agentStream = reader('s3', agentSeg, ['Lights ', 'are ', 'on.'],
  { 'lk.transcription_final': 'true' });
await readTranscription(agentStream, { identity: 'ptt-agent' }, ctx);
// a user transcript sent by the agent on the user's behalf, recognised by track id
const proxied = { 'lk.segment_id': 'SG_v', 'lk.transcribed_track_id': 'TR_me' };
await readTranscription(reader('s4', proxied, ['hello']), { identity: 'ptt-agent' }, ctx);
console.log(JSON.stringify({ interim, entries }));
""",
    )
    assert out["interim"][0]["text"] == "turn on" and out["interim"][0]["final"] is False
    user, agent, proxied = out["entries"]
    assert (user["role"], user["text"], user["final"]) == ("user", "turn on the lights", True)
    assert (agent["role"], agent["text"], agent["final"]) == ("agent", "Lights are on.", True)
    assert proxied["role"] == "user"


def test_percentiles_and_summary(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { percentile, summarise, newTurn } from 'STATIC/metrics.js';
const values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
const turns = [1, 2, 3].map((n) => ({ ...newTurn(n, 0), startRtt: n * 10 }));
console.log(JSON.stringify({
  p50: percentile(values, 50), p95: percentile(values, 95), empty: percentile([], 50),
  one: percentile([7], 95), summary: summarise(turns)[0],
}));
""",
    )
    assert out["p50"] == 50 and out["p95"] == 100 and out["empty"] is None and out["one"] == 7
    assert out["summary"] == {
        "key": "startRtt",
        "label": "start_turn round trip",
        "last": 30,
        "p50": 20,
        "p95": 30,
        "n": 3,
    }


def test_controls_decide_disabled_with_reasons(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { controls } from 'STATIC/controls.js';
const base = {
  connection: 'connected', joined: { room: 'r', identity: 'me' }, micReady: true, micError: null,
  held: false, turnOpen: false, pauseSupported: true, log: [],
  busy: { connect: false, device: false, pause: false, resume: false, rebuild: false },
  agent: { identity: 'ptt-agent', state: 'listening', paused: false, pausable: true,
           turnOwner: null },
};
const upstream = { identity: 'agent-AJ_x', state: 'listening', paused: false, pausable: false,
                   turnOwner: null };
const pick = (s) => {
  const c = controls(s);
  return { reason: c.pttReason, control: c.controlReason, ...c.disabled };
};
console.log(JSON.stringify({
  ready: pick(base),
  disconnected: pick({ ...base, connection: 'disconnected', joined: null, agent: null }),
  absent: pick({ ...base, agent: null }),
  paused: pick({ ...base, agent: { ...base.agent, paused: true } }),
  unsupported: pick({ ...base, pauseSupported: false }),
  busy: pick({ ...base, agent: { ...base.agent, turnOwner: 'other' } }),
  held: pick({ ...base, held: true }),
  upstream: pick({ ...base, agent: upstream }),
  upstreamStarting: pick({ ...base, agent: { ...upstream, state: 'initializing' } }),
  upstreamRebuilding: pick({ ...base, agent: upstream, busy: { ...base.busy, rebuild: true } }),
}));
""",
    )
    assert out["ready"]["ptt"] is False and out["ready"]["reason"] == ""
    assert out["ready"]["pause"] is False and out["ready"]["resume"] is True
    assert out["ready"]["cancel"] is True and out["ready"]["connect"] is True
    assert out["disconnected"]["ptt"] is True and out["disconnected"]["connect"] is False
    assert out["disconnected"]["rebuild"] is True and out["disconnected"]["room"] is False
    assert out["absent"]["ptt"] is True and "No agent" in out["absent"]["reason"]
    assert out["paused"]["ptt"] is True and "paused" in out["paused"]["reason"]
    assert out["paused"]["resume"] is False and out["paused"]["pause"] is True
    assert out["unsupported"]["pause"] is True and out["unsupported"]["resume"] is True
    assert "1400" in out["unsupported"]["control"]
    assert out["busy"]["ptt"] is False and "other holds the turn" in out["busy"]["reason"]
    assert out["held"]["cancel"] is False and out["held"]["pause"] is True
    assert out["ready"]["control"] == ""
    # an agent with only the upstream RPCs: talking works, pause/resume are explained away
    upstream = out["upstream"]
    assert upstream["ptt"] is False and upstream["reason"] == ""
    assert upstream["pause"] is True and upstream["resume"] is True
    assert upstream["control"] == (
        "This agent offers only start_turn/end_turn/cancel_turn: pause and resume need an "
        "agent that publishes ptt.paused."
    )
    # still starting: no verdict yet, but no pause either
    assert out["upstreamStarting"]["pause"] is True and out["upstreamStarting"]["control"] == ""
    assert out["upstreamRebuilding"]["control"] == "Rebuilding the agent…"


def test_log_levels_are_normalised(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { normaliseLevel, appendEntry } from 'STATIC/log.js';
let log = [];
for (let i = 0; i < 1005; i += 1) log = appendEntry(log, { level: 'info', message: `m${i}` });
console.log(JSON.stringify({
  levels: ['WARNING', 'warn', 'ERROR', 'CRITICAL', 'DEBUG', 'info', undefined].map(normaliseLevel),
  size: log.length, first: log[0].message, last: log[log.length - 1].message,
}));
""",
    )
    assert out["levels"] == ["warn", "warn", "error", "error", "info", "info", "info"]
    assert out["size"] == 1000 and out["first"] == "m5" and out["last"] == "m1004"


def test_agent_is_picked_and_described_from_attributes(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { describeAgent, pickAgent } from 'STATIC/agent.js';
const user = { identity: 'me', kind: 0, attributes: {} };
const upstream = { identity: 'agent-AJ_1', kind: 4, attributes: { 'lk.agent.state': 'listening' } };
const ours = { identity: 'ptt-agent', kind: 4, attributes: {
  'lk.agent.state': 'speaking', 'push-to-talk': '1', 'ptt.paused': '0',
  'ptt.turn_owner': 'me', 'ptt.errors': '2', 'ptt.instance': 'AJ_7',
  'ptt.versions': '{"livekit-agents":"1.8.9"}' } };
const marked = { identity: 'bot', kind: 0, attributes: { 'push-to-talk': '1' } };
console.log(JSON.stringify({
  none: pickAgent([user]),
  upstreamOnly: pickAgent([user, upstream]).identity,
  prefersPtt: pickAgent([upstream, ours]).identity,
  markedOnly: pickAgent([user, marked]).identity,
  ours: describeAgent(ours),
  upstream: describeAgent(upstream),
  paused: describeAgent({ ...ours, attributes: { ...ours.attributes, 'ptt.paused': '1' } }),
  fresh: describeAgent({ identity: 'a', kind: 4, attributes: {} }),
}));
""",
    )
    assert out["none"] is None
    assert out["upstreamOnly"] == "agent-AJ_1"
    assert out["prefersPtt"] == "ptt-agent"
    assert out["markedOnly"] == "bot"
    assert out["ours"] == {
        "identity": "ptt-agent",
        "state": "speaking",
        "paused": False,
        "pausable": True,
        "turnOwner": "me",
        "errors": 2,
        "instance": "AJ_7",
        "versions": {"livekit-agents": "1.8.9"},
    }
    assert out["upstream"]["pausable"] is False and out["upstream"]["errors"] is None
    assert out["paused"]["paused"] is True and out["paused"]["pausable"] is True
    assert out["fresh"]["state"] == "initializing"


def test_rejoin_only_after_failures_with_bounded_backoff(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { shouldRejoin, finalReason, rejoinDelay, isPermanent } from 'STATIC/rejoin.js';
const reasons = ['unknown', 'UNKNOWN_REASON', 'CLIENT_INITIATED', 'DUPLICATE_IDENTITY',
  'SERVER_SHUTDOWN', 'PARTICIPANT_REMOVED', 'ROOM_DELETED', 'STATE_MISMATCH', 'JOIN_FAILURE',
  'MIGRATION', 'SIGNAL_CLOSE', 'ROOM_CLOSED', 'USER_UNAVAILABLE', 'USER_REJECTED',
  'SIP_TRUNK_FAILURE', 'CONNECTION_TIMEOUT', 'MEDIA_FAILURE', 'AGENT_ERROR', 'SOMETHING_NEW'];
const status = (s) => Object.assign(new Error('x'), { status: s });
console.log(JSON.stringify({
  rejoin: reasons.filter(shouldRejoin),
  delays: [1, 2, 3, 4, 5, 6, 7, 50].map(rejoinDelay),
  duplicate: finalReason('DUPLICATE_IDENTITY'),
  removed: finalReason('PARTICIPANT_REMOVED'),
  other: finalReason('SIP_TRUNK_FAILURE'),
  permanent: [status(400), status(401), status(404), status(408), status(429), status(500),
              status(502), new Error('Failed to fetch')].map(isPermanent),
}));
""",
    )
    # a failure of the server or the network: try again; a decision about this participant
    # (left, replaced by the same identity, removed, rejected) or an unknown reason: stay out
    assert out["rejoin"] == [
        "unknown",
        "UNKNOWN_REASON",
        "SERVER_SHUTDOWN",
        "ROOM_DELETED",
        "STATE_MISMATCH",
        "JOIN_FAILURE",
        "MIGRATION",
        "SIGNAL_CLOSE",
        "ROOM_CLOSED",
        "CONNECTION_TIMEOUT",
        "MEDIA_FAILURE",
    ]
    assert out["delays"] == [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]
    assert "same identity" in out["duplicate"] and "removed" in out["removed"]
    assert "SIP_TRUNK_FAILURE" in out["other"]
    assert out["permanent"] == [True, True, True, False, False, False, False, False]


def test_controls_explain_rejoin_and_a_missing_agent(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { controls } from 'STATIC/controls.js';
const base = {
  connection: 'connected', joined: { room: 'r', identity: 'me', agent: 'my-agent' },
  rejoin: null, agentMissing: false, micReady: true, micError: null, held: false,
  turnOpen: false, pauseSupported: true, log: [], agent: null,
  busy: { connect: false, device: false, pause: false, resume: false, rebuild: false },
};
const pick = (s) => {
  const c = controls(s);
  return { reason: c.pttReason, ...c.disabled };
};
console.log(JSON.stringify({
  waiting: pick(base),
  missing: pick({ ...base, agentMissing: true }),
  refused: pick({ ...base, joined: { ...base.joined, dispatch: {
    status: 'refused', reason: 'no worker with capacity',
    hint: 'Raise PTT_AGENT_MAX_SESSIONS.' } } }),
  rejoining: pick({ ...base, connection: 'reconnecting', joined: null,
                    rejoin: { room: 'r', identity: 'me', agent: 'my-agent', attempt: 3 } }),
}));
""",
    )
    assert out["waiting"]["ptt"] is True
    assert out["waiting"]["reason"] == "No agent in the room yet: waiting for my-agent to join…"
    assert out["waiting"]["rebuild"] is False
    missing = out["missing"]["reason"]
    assert missing.startswith("No agent has joined after 10 s.")
    assert "Rebuild agent dispatches it now" in missing and "my-agent" in missing
    assert out["missing"]["rebuild"] is False
    refused = out["refused"]
    assert refused["reason"] == (
        "No agent: my-agent was refused (no worker with capacity). Raise PTT_AGENT_MAX_SESSIONS."
    )
    assert refused["ptt"] is True and refused["rebuild"] is False
    rejoining = out["rejoining"]
    assert rejoining["reason"] == "Connection lost: rejoining r (attempt 3)…"
    assert rejoining["ptt"] is True and rejoining["disconnect"] is False
    assert rejoining["connect"] is True and rejoining["room"] is True


def test_livekit_client_reconnect_brings_the_agent_back_but_a_first_connect_does_not(
    tmp_path: Path,
) -> None:
    out = run_module(
        tmp_path,
        """
import { createRoomEvents } from 'STATIC/room-events.js';
const calls = [];
const state = { connection: 'connecting', joined: { room: 'r' }, rejoin: null };
const app = {
  state, update: () => {}, log: () => {},
  talk: { guard: () => {} },
  agentWait: { reconnected: () => calls.push(state.connection) },
};
const events = createRoomEvents(app);
const seen = [];
for (const s of ['connected', 'reconnecting', 'connected', 'connected']) {
  events.onConnectionState(s);
  seen.push(calls.length);
}
console.log(JSON.stringify(seen));
""",
    )
    # only the reconnecting → connected transition asks for the agent again
    assert out == [0, 0, 1, 1]


def test_rpc_gate_waits_out_a_reconnect_attempt_and_never_forever(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { reconnecting, untilSettled } from 'STATIC/send-gate.js';
let clock = 0;
const now = () => clock;
const engine = { attemptingReconnect: true };
// the attempt ends after 3 polls of 50 ms
let polls = 0;
const sleep = async (ms) => { clock += ms; if (++polls === 3) engine.attemptingReconnect = false; };
const settled = await untilSettled(engine, { sleep, now });
// an attempt that never ends: the send goes out at the limit
const stuck = { attemptingReconnect: true };
const tick = async (ms) => { clock += ms; };
const limited = await untilSettled(stuck, { sleep: tick, now, limitMs: 400 });
const idle = await untilSettled({ attemptingReconnect: false }, { sleep, now });
// another livekit-client without the flag is never waited for
const unknown = [reconnecting({}), reconnecting(undefined), reconnecting(engine)];
console.log(JSON.stringify({ settled, limited, idle, unknown }));
""",
    )
    assert out == {"settled": 150, "limited": 400, "idle": 0, "unknown": [False, False, False]}


def test_connected_is_reported_and_rpcs_sent_only_after_the_reconnect_attempt(
    tmp_path: Path,
) -> None:
    out = run_module(
        tmp_path,
        """
import { holdForReconnect, reportWhenSettled } from 'STATIC/send-gate.js';
const events = [];
const log = (m) => events.push(m.replace(/[0-9]+ ms/, 'N ms'));
const report = (s) => events.push(`report ${s}`);
const endAttempt = (engine) => setTimeout(() => { engine.attemptingReconnect = false; }, 120);
// livekit-client said connected too early: 'connected' comes once the attempt ends
const room = { state: 'connected', engine: { attemptingReconnect: true } };
endAttempt(room.engine);
await reportWhenSettled(room, () => true, report, log);
// the page left that room meanwhile, or it is no longer connected: nothing reported
const left = { state: 'connected', engine: { attemptingReconnect: true } };
endAttempt(left.engine);
await reportWhenSettled(left, () => false, report, log);
const lost = { state: 'reconnecting', engine: { attemptingReconnect: true } };
endAttempt(lost.engine);
await reportWhenSettled(lost, () => true, report, log);
// an RPC waits for the attempt, and says so; without one it goes at once, silently
const engine = { attemptingReconnect: true };
endAttempt(engine);
await holdForReconnect(engine, 'start_turn', log);
events.push(`attempt over: ${!engine.attemptingReconnect}`);
await holdForReconnect(engine, 'end_turn', log);
console.log(JSON.stringify(events));
""",
    )
    assert out == [
        "livekit-client finished its reconnect N ms after saying connected",
        "report connected",
        "rpc start_turn held N ms until livekit-client's reconnect finished",
        "attempt over: true",
    ]


def test_reply_stages_come_from_the_newest_report_of_that_turn_in_order(tmp_path: Path) -> None:
    out = run_module(
        tmp_path,
        """
import { createStagesJoin, formatStages, stagesFor } from 'STATIC/stages.js';
const early = { committed: 14.2, reply_text: null, first_frame: null };
const late = { committed: 14.2, reply_text: 15, tts_first_chunk: 40.6, first_frame: 43,
               playout: 44, reply_done: 2100 };
const metrics = [
  { turn: 1, data: { stages_ms: early } },
  { turn: 2, data: { transcript: 'no stages: another agent' } },
  { turn: 1, data: { stages_ms: late } },
];
const join = createStagesJoin();
const turns = [{ n: 1 }, { n: 2 }];
const first = join(turns, metrics);
const again = join(turns, metrics);
const fewer = join(turns, metrics.slice(0, 1));
console.log(JSON.stringify({
  one: formatStages(stagesFor(1, metrics)),
  early: formatStages(early),
  none: formatStages(stagesFor(2, metrics)),
  missing: stagesFor(3, metrics),
  rows: first.map((t) => t.stages),
  kept: first[0] === again[0] && first[1] === again[1],
  // the same lists, the same array: the turns table is not walked at every render
  sameList: first === again,
  newList: join([...turns], metrics) !== again,
  changed: fewer[0] !== first[0] && fewer[0].stages === 'final 14',
}));
""",
    )
    assert out == {
        "one": "final 14 · text 15 · tts 41 · frame 43 · sent 44",
        "early": "final 14",
        "none": "",
        "missing": None,
        "rows": ["final 14 · text 15 · tts 41 · frame 43 · sent 44", ""],
        "kept": True,
        "sameList": True,
        "newList": True,
        "changed": True,
    }
