"""Starts the whole stack in order, each child waited on until healthy, and stops it."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import cluster, livekit
from .lifeline import Lifeline
from .ports import Need, check_free
from .process import Child, http_ok, never

PY = sys.executable
REGISTERED = "registered worker"  # an agent worker's ready line
WORKER_PREFIXES = ("agent", "upstream")  # agent, agent-2, ... and upstream
# How long `stop()` may take in all: each child gets what is left of it for its drain
# (the agent worker's jobs, livekit-server's participants), then its group is SIGKILLed.
DRAIN_S = 15.0


def free_port(span: int = 1) -> int:
    """A free TCP port on loopback with `span` consecutive ports free after it."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65000 and all(_is_free(port + i) for i in range(1, span)):
            return port
    raise RuntimeError("no free port range found on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class StackConfig:
    """Ports and targets; `from_env` reads the same variables as `make run`."""

    host: str = "127.0.0.1"
    web_port: int = 8000
    livekit_port: int = 7880
    stt_port: int = 8790
    livekit_url: str | None = None  # external LiveKit: start none
    api_key: str = "devkey"
    api_secret: str = "secret"
    cloud_stt: bool = False  # DEEPGRAM_API_KEY without PTT_STT_URL: start no STT service
    upstream_agent: bool = False  # also run agent.upstream (LiveKit's PTT example, ported)
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # cluster mode (docs/scaling.md): 2+ nodes share a Redis and run in non-dev mode
    livekit_nodes: int = 1
    agent_workers: int = 1
    redis_port: int = 6380
    agent_http_port: int = 8081  # cluster mode: worker i's health server on this + i
    livekit_log_level: str = field(default_factory=lambda: livekit.log_level(os.environ))

    @property
    def cluster(self) -> bool:
        return self.livekit_url is None and self.livekit_nodes > 1

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        external = env.get("LIVEKIT_URL")
        if external and not (env.get("LIVEKIT_API_KEY") and env.get("LIVEKIT_API_SECRET")):
            raise SystemExit("LIVEKIT_URL is set: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET too")
        nodes, workers = cluster_size(env)
        if external and nodes > 1:
            raise SystemExit("PTT_LIVEKIT_NODES starts local nodes: unset it or LIVEKIT_URL")
        key, secret = "devkey", "secret"
        if external:
            key, secret = env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]
        elif nodes > 1:
            keys = cluster.Keys.generate()
            keys = cluster.Keys(
                env.get("LIVEKIT_API_KEY") or keys.api_key,
                env.get("LIVEKIT_API_SECRET") or keys.api_secret,
            )
            try:
                keys.check()
            except ValueError as e:
                raise SystemExit(str(e)) from None
            key, secret = keys.api_key, keys.api_secret
        return cls(
            host=env.get("PTT_HOST", "127.0.0.1"),
            web_port=int(env.get("PTT_PORT", "8000")),
            livekit_port=int(env.get("PTT_LIVEKIT_PORT", "7880")),
            stt_port=int(env.get("STT_PORT", "8790")),
            livekit_url=external or None,
            api_key=key,
            api_secret=secret,
            cloud_stt=bool(env.get("DEEPGRAM_API_KEY")) and not env.get("PTT_STT_URL"),
            upstream_agent=env.get("PTT_UPSTREAM_AGENT") == "1",
            livekit_nodes=nodes,
            agent_workers=workers,
            redis_port=int(env.get("PTT_REDIS_PORT", "6380")),
            agent_http_port=int(env.get("PTT_AGENT_HTTP_PORT", "8081")),
            livekit_log_level=livekit.log_level(env),
        )

    @classmethod
    def ephemeral(cls, log_dir: Path, *, nodes: int = 1, workers: int = 1) -> StackConfig:
        """Free ports everywhere, so a test stack never collides with `make run`."""
        config = cls(
            web_port=free_port(),
            livekit_port=free_port(span=3 + cluster.NODE_PORT_STEP * (nodes - 1)),
            stt_port=free_port(),
            log_dir=log_dir,
            upstream_agent=True,
            livekit_nodes=nodes,
            agent_workers=workers,
        )
        if nodes > 1:
            keys = cluster.Keys.generate()
            config.api_key, config.api_secret = keys.api_key, keys.api_secret
            config.redis_port = free_port()
            config.agent_http_port = free_port(span=workers)
            config.upstream_agent = False  # the cluster tests need only the bundled agent
        return config

    @property
    def node_ports(self) -> list[int]:
        """Signalling port of each local LiveKit node (none with an external LiveKit)."""
        if self.livekit_url is not None:
            return []
        return [cluster.node_port(self.livekit_port, i) for i in range(self.livekit_nodes)]

    @property
    def livekit_urls(self) -> list[str]:
        """Every node's URL (one with an external LiveKit)."""
        if self.livekit_url is not None:
            return [self.livekit_url]
        return [f"ws://127.0.0.1:{port}" for port in self.node_ports]

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def server_livekit_url(self) -> str:
        return self.livekit_url or f"ws://127.0.0.1:{self.livekit_port}"

    @property
    def stt_url(self) -> str:
        return f"ws://127.0.0.1:{self.stt_port}/v1/listen"

    def ports(self) -> list[Need]:
        """Every port the stack will bind, with the variable that moves it."""
        needs = [Need(self.web_port, "tcp", "the web server (PTT_PORT)")]
        for i, lk in enumerate(self.node_ports):
            at = "PTT_LIVEKIT_PORT" + (f" + {cluster.NODE_PORT_STEP * i}" if i else "")
            node = f"livekit-server node {i + 1}" if self.cluster else "livekit-server"
            needs += [
                Need(lk, "tcp", f"{node} signalling ({at})"),
                Need(lk + 1, "tcp", f"{node} RTC over TCP ({at} + 1)"),
                Need(lk + 2, "udp", f"{node} RTC over UDP ({at} + 2)"),
            ]
        if self.cluster:
            needs.append(Need(self.redis_port, "tcp", "redis-server (PTT_REDIS_PORT)"))
            for i in range(self.agent_workers):
                at = "PTT_AGENT_HTTP_PORT" + (f" + {i}" if i else "")
                needs.append(Need(self.agent_http_port + i, "tcp", f"agent worker {i + 1} ({at})"))
        if not self.cloud_stt:
            needs.append(Need(self.stt_port, "tcp", "the STT service (STT_PORT)"))
        return needs


def _count(env: dict[str, str], name: str) -> int:
    raw = env.get(name, "1")
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if not 1 <= value <= 8:
        raise SystemExit(f"{name} must be between 1 and 8, got {value}")
    return value


def cluster_size(env: dict[str, str]) -> tuple[int, int]:
    """(LiveKit nodes, agent workers) from PTT_LIVEKIT_NODES and PTT_AGENT_WORKERS."""
    return _count(env, "PTT_LIVEKIT_NODES"), _count(env, "PTT_AGENT_WORKERS")


def node_name(index: int) -> str:
    """The child name of LiveKit node `index`: livekit, livekit-2, ..."""
    return "livekit" if index == 0 else f"livekit-{index + 1}"


def worker_name(index: int) -> str:
    return "agent" if index == 0 else f"agent-{index + 1}"


class Stack:
    """The supervisor: `start()` brings every part up in order, `stop()` ends them all.

    `stop_requested()` is polled while starting (a signal arrived: `start()` raises
    StopRequested after stopping what it started) and `hurry()` while stopping (a second
    signal: SIGKILL what is left at once). Both are plain reads, never a lock, so signal
    handlers can feed them."""

    def __init__(
        self,
        config: StackConfig,
        *,
        echo: IO[str] | None = sys.stdout,
        stop_requested: Callable[[], bool] = never,
        hurry: Callable[[], bool] = never,
    ) -> None:
        self.config = config
        self._echo = echo
        self._stop_requested = stop_requested
        self._hurry = hurry
        self.children: dict[str, Child] = {}
        self.ready_seconds: dict[str, float] = {}
        self._probes: dict[str, Callable[[], bool] | None] = {}
        self._lifeline: Lifeline | None = None

    def _env(self) -> dict[str, str]:
        c = self.config
        env = dict(os.environ)
        env.update(
            LIVEKIT_URL=c.server_livekit_url,
            LIVEKIT_API_KEY=c.api_key,
            LIVEKIT_API_SECRET=c.api_secret,
            PTT_HOST=c.host,
            PTT_PORT=str(c.web_port),
            STT_HOST="127.0.0.1",
            STT_PORT=str(c.stt_port),
            PYTHONUNBUFFERED="1",
        )
        if not c.cloud_stt:
            env.setdefault("PTT_STT_URL", c.stt_url)
        if c.cluster:
            env["PTT_LIVEKIT_URLS"] = ",".join(c.livekit_urls)
        env.update(c.extra_env)
        return env

    def _child(
        self,
        name: str,
        argv: list[str],
        ready_line: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Child:
        child = Child(
            name,
            argv,
            env={**self._env(), **(env or {})},
            log_dir=self.config.log_dir,
            echo=self._echo,
            ready_line=ready_line,
            lifeline=self._lifeline,
        )
        self.children[name] = child
        child.start()
        return child

    def start(self) -> None:
        """Check every port, then start each part and wait until it is healthy. Raises
        PortTaken before starting anything, ChildFailed or StopRequested after stopping
        what was started."""
        c = self.config
        check_free(c.ports())
        if c.log_dir:
            c.log_dir.mkdir(parents=True, exist_ok=True)
        if self._lifeline is None:
            self._lifeline = Lifeline()
        try:
            if c.cluster:
                workdir = c.log_dir or Path(tempfile.gettempdir())
                argv = cluster.redis_command(port=c.redis_port, workdir=workdir)
                redis = self._child("redis", argv)
                self._ready(redis, cluster.redis_ping(c.redis_port), 15)
            nodes = []
            for i, port in enumerate(c.node_ports):
                keys = cluster.Keys(c.api_key, c.api_secret)
                level = c.livekit_log_level
                argv = (
                    cluster.node_command(port=port, redis_port=c.redis_port, keys=keys, level=level)
                    if c.cluster
                    else livekit.command(port=port, level=level)
                )
                url = f"ws://127.0.0.1:{port}"
                nodes.append(self._child(node_name(i), argv, env={"PTT_NODE_URL": url}))
            for node, port in zip(nodes, c.node_ports, strict=True):  # side by side
                self._ready(node, http_ok(f"http://127.0.0.1:{port}/"), 30)
            if not c.cloud_stt:
                stt = self._child("stt", [PY, "-m", "stt_service"])
                self._ready(stt, http_ok(f"http://127.0.0.1:{c.stt_port}/healthz"), 60)
            workers = []
            urls = c.livekit_urls
            for i in range(c.agent_workers):  # worker i registers with node i mod N
                env = {"LIVEKIT_URL": urls[i % len(urls)]}
                if c.cluster:  # each its own health server, on a port a check can name
                    env["PTT_AGENT_HTTP_PORT"] = str(c.agent_http_port + i)
                argv = [PY, "-m", "agent", "start"]
                workers.append(self._child(worker_name(i), argv, REGISTERED, env))
            if c.upstream_agent:
                argv = [PY, "-m", "agent.upstream", "start"]
                workers.append(self._child("upstream", argv, REGISTERED))
            for worker in workers:  # they start side by side
                health_port = worker.env.get("PTT_AGENT_HTTP_PORT") if c.cluster else None
                health = http_ok(f"http://127.0.0.1:{health_port}/") if health_port else None
                self._ready(worker, health, 90)
            web = self._child("web", [PY, "-m", "server"])
            self._ready(web, http_ok(f"http://127.0.0.1:{c.web_port}/healthz"), 30)
        except BaseException:
            self.stop()
            raise

    def _ready(self, child: Child, probe: Callable[[], bool] | None, timeout: float) -> None:
        self._probes[child.name] = probe
        self.ready_seconds[child.name] = child.wait_ready(probe, timeout, self._stop_requested)

    def workers(self) -> list[str]:
        """Names of the running agent workers' children."""
        return [n for n in self.children if n.split("-")[0] in WORKER_PREFIXES]

    def fatal(self, dead: list[str]) -> list[str]:
        """Of the children in `dead`, those the stack cannot go on without: any, in
        single-node mode; in cluster mode a node or a worker only when it was the last
        of its kind (the others carry on, as a cluster should)."""
        if not self.config.cluster:
            return dead
        redundant = [n for n in self.children if n.startswith(("livekit", "agent"))]
        out = [n for n in dead if n not in redundant]
        for prefix in ("livekit", "agent"):
            group = [n for n in redundant if n.startswith(prefix)]
            if group and all(n in dead for n in group):
                out += group
        return out

    def kill(self, name: str) -> None:
        """SIGKILL one child and leave it dead (chaos tests: a node or a worker dies)."""
        self.children[name].stop(kill=True)

    def restart(
        self,
        name: str,
        *,
        kill: bool = False,
        timeout: float = 60,
        env: dict[str, str | None] | None = None,
    ) -> None:
        """Stop (or with `kill`, SIGKILL) and start one child: chaos tests. An operator's
        restart: a second SIGTERM after 1 s ends any drain. `env` changes the child's
        environment from now on (None removes a variable). After a LiveKit server
        restart, also waits until every agent worker has registered again."""
        child = self.children[name]
        workers = {w: self.children[w].ready_lines for w in self.workers() if w != name}
        child.stop(kill=kill, force_after=1.0)
        child_env = dict(child.env)
        for key, value in (env or {}).items():
            if value is None:
                child_env.pop(key, None)
            else:
                child_env[key] = value
        fresh = Child(
            name,
            child.argv,
            env=child_env,
            log_dir=self.config.log_dir,
            echo=self._echo,
            ready_line=child.ready_line,
            lifeline=self._lifeline,
        )
        self.children[name] = fresh
        fresh.start()
        self._ready(fresh, self._probes.get(name), timeout)
        # the workers registered with a restarted node register again
        for worker, seen in workers.items():
            if name.startswith("livekit") and self.children[worker].env.get(
                "LIVEKIT_URL"
            ) == child.env.get("PTT_NODE_URL", self.config.server_livekit_url):
                self.children[worker].wait_ready_line(seen, timeout)

    def stop(self, drain_s: float = DRAIN_S) -> None:
        """Stop children in reverse order within `drain_s` in all; every process group is
        gone afterwards, and the lifeline's reaper with them."""
        deadline = time.monotonic() + drain_s
        for name, child in reversed(list(self.children.items())):
            left = max(0.0, deadline - time.monotonic())
            # livekit-server waits for participants on the first SIGTERM (browsers may
            # still be connected), and stops on the second
            force_after = min(2.0, left) if name == "livekit" else None
            child.stop(left, force_after=force_after, hurry=self._hurry)
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
