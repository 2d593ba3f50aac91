"""Load and soak results as text tables, for stdout and the closing notes."""

from __future__ import annotations

from typing import Any

STACK_ROLES = ("livekit", "stt", "agent", "web", "upstream", "redis", "supervisor")


def _ms(summary: dict[str, Any], key: str) -> str:
    v = summary.get(key)
    return "-" if v is None else f"{v:.0f}"


def load_table(result: dict[str, Any]) -> str:
    """One row per ramp step: correctness, latency percentiles, CPU and memory."""
    head = (
        "| N | turns ok | no agent (refused) | rpc err | rel→text p50/p95/p99 ms "
        "| rel→audio p50/p95 ms | agent first audio p50/p95 ms | stack CPU % | generator CPU % "
        "| agent PSS MB (per session) | idle CPU %/session stack (gen) | settle s | pass |"
    )
    rows = [head, _rule(head)]
    for s in result["steps"]:
        rt, ra = s["release_to_transcript_ms"], s["release_to_audio_ms"]
        af = s["agent_release_to_first_audio_ms"]
        res = s.get("resources") or {}
        stack_cpu = sum(res.get(r, {}).get("cpu_pct", 0) for r in STACK_ROLES)
        gen = res.get("generator", {}).get("cpu_pct")
        agent = res.get("agent", {})
        pss = agent.get("pss_peak_mb")
        per = "-" if pss is None else f"{pss / s['sessions']:.1f}"
        idle = s.get("idle_cpu_pct_per_session") or {}
        idle_stack = sum(idle.get(r, 0) for r in STACK_ROLES)
        idle_cell = f"{idle_stack:.2f} ({idle.get('generator', 0):.2f})" if idle else "-"
        cells = [
            s["sessions"],
            f"{s['turns_ok']}/{s['turns']}",
            f"{s['no_agent']} ({s.get('refused', 0)})",
            s["rpc_errors"],
            f"{_ms(rt, 'p50')}/{_ms(rt, 'p95')}/{_ms(rt, 'p99')}",
            f"{_ms(ra, 'p50')}/{_ms(ra, 'p95')}",
            f"{_ms(af, 'p50')}/{_ms(af, 'p95')}",
            f"{stack_cpu:.0f}",
            "-" if gen is None else f"{gen:.0f}",
            f"{'-' if pss is None else pss} ({per})",
            idle_cell,
            "-" if s["settle_s"] is None else s["settle_s"],
            "yes" if s["pass"] else "no",
        ]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    t = result["thresholds"]
    rows.append("")
    rows.append(
        f"n_max = {result['n_max']} (a step passes when every session got its agent, every turn "
        f"was right and p95 release→transcript ≤ {t['p95_release_to_transcript_ms']:g} ms)"
    )
    for s in result["steps"]:
        if not s["pass"]:
            rows.append(f"  N={s['sessions']}: " + "; ".join(s["failed_because"]))
    return "\n".join(rows)


def cpu_table(result: dict[str, Any]) -> str:
    """Each part's CPU per session (% of one core), talking and quiet: the budget."""
    parts = ("generator", "livekit", "agent", "stt", "web")
    head = "| N | " + " | ".join(f"{p} talk/idle" for p in parts) + " |"
    rows = [head, _rule(head)]
    for s in result["steps"]:
        talk = s.get("cpu_pct_per_session") or {}
        idle = s.get("idle_cpu_pct_per_session") or {}
        cells = [str(s["sessions"])]
        for p in parts:
            t, i = talk.get(p), idle.get(p)
            cells.append(f"{'-' if t is None else t}/{'-' if i is None else i}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _rule(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


def soak_table(result: dict[str, Any]) -> str:
    lines = [
        f"soak: {result['cycles_done']} of {result['cycles']} cycles in {result['seconds']:.0f} s",
        f"  operations: {', '.join(f'{k} {v}' for k, v in sorted(result['operations'].items()))}",
        f"  turns right: {result['turns_ok']}/{result['turns_judged']}",
        f"  log oracle: {len(result['oracle'])} bad record(s); ptt.errors = {result['ptt_errors']}",
    ]
    mem = result.get("job_memory") or {}
    if mem:
        lines.append(
            f"  agent job PSS: {mem.get('start_mb')} MB -> {mem.get('end_mb')} MB "
            f"(growth {mem.get('growth_mb')} MB over the run)"
        )
    lines.append(
        f"  verdict: {'PASS' if result['pass'] else 'FAIL: ' + '; '.join(result['failed_because'])}"
    )
    return "\n".join(lines)
