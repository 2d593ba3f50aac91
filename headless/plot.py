"""PNG plots of load ramps and soak runs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_load(result: dict[str, Any], path: Path) -> None:
    """Latency percentiles and correctness against the number of sessions."""
    steps = result["steps"]
    n = [s["sessions"] for s in steps]
    fig, (lat, ok) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for key, label, color in (
        ("release_to_transcript_ms", "release → committed transcript", "tab:blue"),
        ("release_to_audio_ms", "release → audible reply", "tab:orange"),
    ):
        for p, style in (("p50", ":"), ("p95", "-"), ("p99", "--")):
            ys = [s[key][p] for s in steps]
            lat.plot(
                n,
                [float("nan") if y is None else y for y in ys],
                style,
                marker="o",
                color=color,
                label=f"{label} {p}",
            )
    limit = result["thresholds"]["p95_release_to_transcript_ms"]
    lat.axhline(limit, color="grey", linewidth=0.8)
    lat.text(n[0], limit, f" p95 limit {limit:g} ms", va="bottom", fontsize=8, color="grey")
    lat.set_yscale("log")
    lat.set_ylabel("ms (log)")
    lat.legend(fontsize=7, ncol=2)
    lat.set_title(f"PTT load ramp: n_max = {result['n_max']}")
    ok.plot(
        n,
        [100 * s["turns_ok"] / max(1, s["turns"]) for s in steps],
        marker="o",
        label="turns right %",
    )
    ok.plot(
        n,
        [100 * (s["sessions"] - s["no_agent"]) / s["sessions"] for s in steps],
        marker="s",
        label="sessions with an agent %",
    )
    ok.set_ylim(0, 105)
    ok.set_xlabel("concurrent sessions")
    ok.set_ylabel("%")
    ok.legend(fontsize=8)
    for ax in (lat, ok):
        ax.grid(alpha=0.3)
        ax.set_xticks(n)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_soak(result: dict[str, Any], path: Path) -> None:
    """The agent job's PSS over the soak's cycles."""
    series = (result.get("job_memory") or {}).get("series") or []
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if series:
        ax.plot([c for c, _ in series], [mb for _, mb in series], marker=".")
    ax.set_xlabel("cycle")
    ax.set_ylabel("agent job PSS (MB)")
    ax.set_title(f"soak: {result['cycles_done']} cycles, {'PASS' if result['pass'] else 'FAIL'}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
