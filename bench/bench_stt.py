"""Benchmark of the offline STT service (a script, not a test).

Measures, on this machine:
  * real-time factor of one stream (CPU seconds per audio second, in-process recognizer);
  * how many concurrent streams, each sending 20 ms frames in real time, the service
    keeps up with (every transcript right and Finalize->final p95 under 1 s);
  * memory per stream (RSS of the service and its decoder workers, 20 open streams);
  * Finalize -> final Results latency (p50/p95) at light load.

The service runs as a child process (``python -m stt_service``) so the client's event
loop does not share its GIL. Prints a table and writes bench-results/stt.json.
Run: ``.venv/bin/python -m bench.bench_stt`` (about 1-2 minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import psutil
from websockets.asyncio.client import ClientConnection, connect

from stt_service.commands import PHRASES
from stt_service.engine import Engine, build_spec
from stt_service.recognizer import Recognizer, RecognizerOptions
from stt_service.testing import silence, synthesize

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-results" / "stt.json"
RATE = 48000  # what livekit agents send
FRAME = RATE // 50  # 20 ms
KEEP_UP_P95 = 1.0  # seconds: above this the service is falling behind


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STT_PORT=str(port), STT_HOST="127.0.0.1", STT_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "stt_service"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("stt_service exited during startup")
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("stt_service did not become healthy")


def rss_mb(proc: psutil.Process) -> float:
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 1e6


def cpu_seconds(proc: psutil.Process) -> tuple[float, float]:
    """CPU seconds used so far by the service process and by its decoder workers."""
    own = proc.cpu_times()
    children = proc.children(recursive=True)
    workers = sum(c.cpu_times().user + c.cpu_times().system for c in children)
    return own.user + own.system, workers


def real_time_factor(speech: dict[str, np.ndarray]) -> dict[str, float]:
    """CPU time of one recognizer (interim results on) over all phrases, per audio second."""
    engine = Engine(build_spec("commands"))
    results = {}
    for interim in (True, False):
        cpu = audio = 0.0
        for pcm in speech.values():
            data = np.concatenate([silence(0.3, RATE), pcm, silence(0.6, RATE)]).tobytes()
            options = RecognizerOptions(sample_rate=RATE, interim_results=interim)
            rec = Recognizer(engine, options)
            start = time.process_time()
            for i in range(0, len(data), FRAME * 2):
                rec.push(data[i : i + FRAME * 2])
            rec.close()
            cpu += time.process_time() - start
            audio += len(data) / 2 / RATE
        results["interim" if interim else "final_only"] = cpu / audio
    return results


async def paced_utterance(
    ws: ClientConnection, pcm: np.ndarray, phrase: str, start_at: float
) -> tuple[bool, float]:
    """Send ``pcm`` in real time from ``start_at``, then Finalize; return (right, latency)."""
    loop = asyncio.get_running_loop()
    data = pcm.tobytes()
    for n, i in enumerate(range(0, len(data), FRAME * 2)):
        delay = start_at + n * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await ws.send(data[i : i + FRAME * 2])
    sent = loop.time()
    await ws.send(json.dumps({"type": "Finalize"}))
    finals = []
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "Results" and msg["is_final"]:
            finals.append(msg["channel"]["alternatives"][0]["transcript"])
            if msg["from_finalize"]:
                latency = loop.time() - sent
                return [t for t in finals if t] == [phrase], latency


async def stream_session(
    url: str, items: list[tuple[str, np.ndarray]], offset: float
) -> list[tuple[bool, float]]:
    loop = asyncio.get_running_loop()
    out = []
    async with connect(url, proxy=None, open_timeout=60, max_queue=None, compression=None) as ws:
        start = loop.time() + offset
        for phrase, pcm in items:
            right, latency = await paced_utterance(ws, pcm, phrase, start)
            out.append((right, latency))
            start = loop.time()
        await ws.send(json.dumps({"type": "CloseStream"}))
        async for _ in ws:
            pass
    return out


async def run_streams(
    url: str, speech: dict[str, np.ndarray], n: int, turns: int
) -> dict[str, Any]:
    phrases = list(speech)
    rng = np.random.default_rng(n)
    jobs = []
    for k in range(n):
        items = []
        for t in range(turns):
            phrase = phrases[(k + t * 7) % len(phrases)]
            items.append((phrase, np.concatenate([silence(0.3, RATE), speech[phrase]])))
        jobs.append(stream_session(url, items, float(rng.uniform(0, 0.5))))
    results = [r for rs in await asyncio.gather(*jobs) for r in rs]
    latencies = sorted(lat for _, lat in results)
    return {
        "streams": n,
        "utterances": len(results),
        "correct": sum(right for right, _ in results),
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[max(0, int(round(0.95 * len(latencies))) - 1)],
        "max_s": latencies[-1],
    }


async def memory_per_stream(
    url: str, speech: dict[str, np.ndarray], proc: psutil.Process
) -> dict[str, float]:
    """Open 20 streams mid-utterance (partial decoders alive) and compare RSS."""
    n = 20
    baseline = rss_mb(proc)
    pcm = speech[PHRASES[9]]
    half = pcm[: pcm.size // 2].tobytes()
    conns = [await connect(url, proxy=None, open_timeout=60) for _ in range(n)]
    try:
        for ws in conns:
            for i in range(0, len(half), FRAME * 2):
                await ws.send(half[i : i + FRAME * 2])
        for ws in conns:  # an interim result: the audio was decoded, a decoder is held
            while json.loads(await ws.recv())["type"] != "Results":
                pass
        loaded = rss_mb(proc)
    finally:
        for ws in conns:
            await ws.close()
    return {
        "baseline_mb": baseline,
        "with_streams_mb": loaded,
        "per_stream_mb": (loaded - baseline) / n,
    }


async def bench(port: int, proc: psutil.Process, speech: dict[str, np.ndarray]) -> dict[str, Any]:
    query = urlencode({"encoding": "linear16", "sample_rate": RATE, "interim_results": "true"})
    url = f"ws://127.0.0.1:{port}/v1/listen?{query}"
    report: dict[str, Any] = {}
    print("finalize latency at light load (4 streams x 8 turns) ...", flush=True)
    report["finalize_latency"] = await run_streams(url, speech, 4, 8)
    print("memory per stream ...", flush=True)
    report["memory"] = await memory_per_stream(url, speech, proc)
    report["concurrency"] = []
    best = 0
    for n in (4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64):
        print(f"{n} concurrent real-time streams ...", flush=True)
        cpu_before = cpu_seconds(proc)
        wall = time.monotonic()
        trial = await run_streams(url, speech, n, 2)
        wall = time.monotonic() - wall
        cpu_after = cpu_seconds(proc)
        trial["cpu_share_server"] = (cpu_after[0] - cpu_before[0]) / wall
        trial["cpu_share_workers"] = (cpu_after[1] - cpu_before[1]) / wall
        trial["keeps_up"] = trial["correct"] == trial["utterances"] and trial["p95_s"] < KEEP_UP_P95
        report["concurrency"].append(trial)
        if not trial["keeps_up"]:
            break
        best = n
    report["max_realtime_streams"] = best
    return report


def print_table(report: dict[str, Any]) -> None:
    rtf = report["real_time_factor"]
    lat = report["finalize_latency"]
    mem = report["memory"]
    print()
    load = ", ".join(f"{x:.1f}" for x in report["machine"]["load_avg_before"])
    print(
        f"STT service benchmark ({report['machine']['cpus']} CPUs, {RATE} Hz, 20 ms frames, "
        f"load average before: {load})"
    )
    print(f"  real-time factor, one stream, interims on : {rtf['interim']:.3f}")
    print(f"  real-time factor, one stream, finals only : {rtf['final_only']:.3f}")
    print(
        f"  Finalize -> final, p50 / p95              : {lat['p50_s'] * 1000:.0f} ms / "
        f"{lat['p95_s'] * 1000:.0f} ms ({lat['correct']}/{lat['utterances']} right)"
    )
    print(
        f"  memory per open stream (RSS delta)        : {mem['per_stream_mb']:.1f} MB "
        f"(service {mem['baseline_mb']:.0f} MB idle)"
    )
    print(f"  concurrent real-time streams kept up      : {report['max_realtime_streams']}")
    print("   streams  right    p50 ms   p95 ms   max ms  keeps up  CPU server  CPU workers")
    for t in report["concurrency"]:
        print(
            f"   {t['streams']:7d}  {t['correct']:3d}/{t['utterances']:<3d}"
            f" {t['p50_s'] * 1000:7.0f}  {t['p95_s'] * 1000:7.0f}  {t['max_s'] * 1000:7.0f}"
            f"  {t['keeps_up']!s:8}"
            f"  {t['cpu_share_server']:10.2f}  {t['cpu_share_workers']:11.2f}"
        )


def main() -> None:
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        speech = {p: synthesize(p, Path(tmp), sample_rate=RATE) for p in PHRASES}
    speech = {p: pcm[: int(np.nonzero(np.abs(pcm) > 100)[0][-1]) + 1] for p, pcm in speech.items()}
    print("real-time factor (in-process recognizer) ...", flush=True)
    report: dict[str, Any] = {"real_time_factor": real_time_factor(speech)}
    port = free_port()
    service = start_service(port)
    try:
        report.update(asyncio.run(bench(port, psutil.Process(service.pid), speech)))
    finally:
        service.terminate()
        service.wait(timeout=30)
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }
    report["workers"] = os.cpu_count()
    report["runtime_s"] = round(time.monotonic() - started, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nsaved {OUT.relative_to(ROOT)} in {report['runtime_s']} s")


if __name__ == "__main__":
    main()
