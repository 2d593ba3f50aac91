"""CPU and memory of the stack's processes and of the load generator itself, sampled in
a thread while a step runs. Memory is PSS (/proc/PID/smaps_rollup): shared pages are
split between the processes that map them, so per-job figures add up; RSS beside it."""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

SAMPLE_S = 1.0
PSS_EVERY = 5  # samples between PSS reads: smaps_rollup walks page tables, costly on big processes
MB = 1024 * 1024
GENERATOR = "generator"
# threads of the generator's process that are not the generator: the in-process stack
# supervisor's log pumps (its own role when the stack runs here) and this sampler
THREAD_ROLES = {"pump-": "supervisor", "sampler": "sampler"}


def pss_bytes(pid: int) -> int | None:
    """PSS of `pid` in bytes, or None when it is gone or unreadable."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


@dataclass
class _Proc:
    role: str
    root: bool
    cpu_first: float  # CPU seconds when first seen in this window (0 for a new process)
    cpu_last: float = 0.0
    pss_peak: int = 0
    rss_peak: int = 0
    pss_first: int | None = None
    pss_last: int | None = None


@dataclass
class _Window:
    started: float
    procs: dict[tuple[int, float], _Proc] = field(default_factory=dict)  # (pid, ctime)
    role_pss_peak: dict[str, int] = field(default_factory=dict)


class ProcessSampler:
    """Samples each role's process trees (`roles`: role -> root pid, or the root pids of
    every process in that role: a cluster's nodes or workers) every SAMPLE_S. The
    generator is its process and its worker processes, not a local stack started as its
    children, and not the threads named in THREAD_ROLES (reported apart)."""

    def __init__(self, roles: dict[str, int | list[int]]) -> None:
        self.roles = {r: pid if isinstance(pid, list) else [pid] for r, pid in roles.items()}
        self._samples = 0
        self._threads: dict[str, tuple[float, float]] = {}  # role -> (first, last) CPU s
        self._window: _Window | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_generator(cls, stack_roles: dict[str, int | list[int]] | None = None) -> ProcessSampler:
        return cls({**(stack_roles or {}), GENERATOR: os.getpid()})

    def begin(self) -> None:
        """Open a measurement window; CPU counts from now."""
        with self._lock:
            self._window = _Window(time.monotonic())
            self._threads = {}
        self._sample(first=True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
            self._thread.start()

    def end(self) -> dict[str, Any]:
        """Close the window: per role CPU seconds, % of one core, PSS/RSS peaks in MB,
        and the processes under each root (for the agent: its job processes). The last
        sample reads PSS too: a window shorter than PSS_EVERY samples would otherwise
        know only the PSS of processes still starting when it opened."""
        self._sample(read_all_pss=True)
        with self._lock:
            window, self._window = self._window, None
        if window is None:
            return {}
        wall = max(1e-6, time.monotonic() - window.started)
        out: dict[str, Any] = {}
        for role in self.roles:
            procs = [p for p in window.procs.values() if p.role == role]
            cpu = sum(max(0.0, p.cpu_last - p.cpu_first) for p in procs)
            children = [p for p in procs if not p.root]
            out[role] = {
                "cpu_s": round(cpu, 2),
                "cpu_pct": round(100 * cpu / wall, 1),
                "pss_peak_mb": round(window.role_pss_peak.get(role, 0) / MB, 1),
                "rss_peak_mb": round(max((p.rss_peak for p in procs), default=0) / MB, 1),
                "processes": len(procs),
                "child_pss_peak_mb": _mb_stats([p.pss_peak for p in children]),
                "child_pss_growth_mb": _mb_stats(
                    [
                        p.pss_last - p.pss_first
                        for p in children
                        if p.pss_first is not None and p.pss_last is not None
                    ]
                ),
            }
        for role, (first, last) in self._threads.items():
            cpu = max(0.0, last - first)
            out[role] = {"cpu_s": round(cpu, 2), "cpu_pct": round(100 * cpu / wall, 1)}
            if GENERATOR in out:
                gen = out[GENERATOR]
                gen["cpu_s"] = round(max(0.0, gen["cpu_s"] - cpu), 2)
                gen["cpu_pct"] = round(100 * gen["cpu_s"] / wall, 1)
        out["wall_s"] = round(wall, 2)
        return out

    def cpu_seconds(self) -> dict[str, dict[tuple[int, float], float]]:
        """Each role's processes now, (pid, start time) -> CPU seconds so far; the
        generator's own threads of THREAD_ROLES under their roles, keyed (0, 0.0)."""
        out: dict[str, dict[tuple[int, float], float]] = {}
        for role, tree in self._trees().items():
            procs = out.setdefault(role, {})
            for proc, _root in tree:
                try:
                    t = proc.cpu_times()
                    procs[(proc.pid, proc.create_time())] = t.user + t.system
                except psutil.Error:
                    continue
        if GENERATOR in self.roles:
            for role, cpu in _thread_cpu().items():
                out.setdefault(role, {})[(0, 0.0)] = cpu
                gen = out.get(GENERATOR, {})
                own = (os.getpid(), psutil.Process().create_time())
                if own in gen:
                    gen[own] -= cpu
        return out

    def _trees(self) -> dict[str, list[tuple[psutil.Process, bool]]]:
        """Each role's processes (root flagged); a local stack runs as the generator's
        children, so the generator's tree leaves out what another role claims."""
        trees = {role: [p for pid in pids for p in _tree(pid)] for role, pids in self.roles.items()}
        claimed = {p.pid for role, tree in trees.items() if role != GENERATOR for p, _ in tree}
        if GENERATOR in trees:
            trees[GENERATOR] = [(p, root) for p, root in trees[GENERATOR] if p.pid not in claimed]
        return trees

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def _sample(self, *, first: bool = False, read_all_pss: bool = False) -> None:
        with self._lock:
            window = self._window
            if window is None:
                return
            self._samples += 1
            read_pss = first or read_all_pss or self._samples % PSS_EVERY == 0
            for role, tree in self._trees().items():
                total_pss = 0
                for proc, root in tree:
                    try:
                        key = (proc.pid, proc.create_time())
                        t = proc.cpu_times()
                        cpu = t.user + t.system
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    rec = window.procs.get(key)
                    new = rec is None
                    if rec is None:
                        rec = window.procs[key] = _Proc(role, root, cpu if first else 0.0)
                    rec.cpu_last = cpu
                    rec.rss_peak = max(rec.rss_peak, rss)
                    if read_pss or new:
                        pss = pss_bytes(proc.pid) or 0
                        if rec.pss_first is None:
                            rec.pss_first = pss
                        rec.pss_last = pss
                        rec.pss_peak = max(rec.pss_peak, pss)
                    total_pss += rec.pss_last or 0
                window.role_pss_peak[role] = max(window.role_pss_peak.get(role, 0), total_pss)
            if GENERATOR in self.roles:
                for role, cpu in _thread_cpu().items():
                    first_cpu = self._threads.get(role, (cpu, cpu))[0]
                    self._threads[role] = (first_cpu, cpu)


def cpu_pct_between(
    before: dict[str, dict[tuple[int, float], float]],
    after: dict[str, dict[tuple[int, float], float]],
    wall_s: float,
) -> dict[str, float]:
    """% of one core each role used between two `cpu_seconds` readings, counting the
    processes alive at both (a quiet window has no processes coming or going)."""
    out = {}
    for role, procs in after.items():
        first = before.get(role, {})
        cpu = sum(max(0.0, c - first[k]) for k, c in procs.items() if k in first)
        out[role] = round(100 * cpu / max(1e-6, wall_s), 2)
    return out


def _tree(pid: int) -> list[tuple[psutil.Process, bool]]:
    try:
        root = psutil.Process(pid)
        return [(root, True), *((c, False) for c in root.children(recursive=True))]
    except psutil.Error:
        return []


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, by THREAD_ROLES role."""
    roles: dict[int, str] = {}
    for t in threading.enumerate():
        for prefix, role in THREAD_ROLES.items():
            if t.name.startswith(prefix) and t.native_id is not None:
                roles[t.native_id] = role
    out = dict.fromkeys(THREAD_ROLES.values(), 0.0)
    try:
        threads = psutil.Process().threads()
    except psutil.Error:
        return out
    for pt in threads:
        owner = roles.get(pt.id)
        if owner is not None:
            out[owner] += pt.user_time + pt.system_time
    return out


def _mb_stats(values: list[int]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values) / MB, 1),
        "max": round(max(values) / MB, 1),
    }
