"""Cluster mode: Redis and N non-dev livekit-server nodes on loopback (docs/scaling.md).

LiveKit runs distributed as soon as its nodes share a Redis: any node accepts any
participant and relays the signalling to the node hosting the room, which the node
selector chooses when the room is created. This module only builds the command lines
and the node configuration; the supervisor starts and watches them.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import livekit

NODE_PORT_STEP = 10  # node i signals on livekit_port + 10 i (TCP +1, UDP +2)
MIN_SECRET = 32  # livekit-server refuses shorter secrets outside dev mode


@dataclass(frozen=True)
class Keys:
    api_key: str
    api_secret: str

    @classmethod
    def generate(cls) -> Keys:
        """A key pair for one run: nothing to configure, nothing reused across runs."""
        return cls("ptt-" + secrets.token_hex(6), secrets.token_urlsafe(36))

    def check(self) -> None:
        if len(self.api_secret) < MIN_SECRET:
            raise ValueError(
                f"LIVEKIT_API_SECRET must be at least {MIN_SECRET} characters in cluster mode "
                "(livekit-server refuses shorter ones outside dev mode); "
                f"got {len(self.api_secret)}"
            )


def node_port(base: int, index: int) -> int:
    """Signalling port of node `index` (0-based)."""
    return base + NODE_PORT_STEP * index


def node_config(*, port: int, redis_port: int, keys: Keys, level: str = "info") -> str:
    """One node's YAML: loopback only, no external IP lookup (no STUN), rooms spread by
    room count. Prometheus and the debug handler stay off (their default)."""
    return "\n".join(
        [
            f"port: {port}",
            "rtc:",
            f"  tcp_port: {port + 1}",
            f"  udp_port: {port + 2}",
            "  use_external_ip: false",
            "  enable_loopback_candidate: true",
            "redis:",
            f"  address: 127.0.0.1:{redis_port}",
            "keys:",
            f"  {keys.api_key}: {keys.api_secret}",
            "node_selector:",
            "  kind: any",
            "  sort_by: rooms",
            "agents:",
            f"  target_load: {livekit.AGENT_TARGET_LOAD}",
            "logging:",
            f"  level: {level}",
            "",
        ]
    )


def node_command(
    *, port: int, redis_port: int, keys: Keys, host: str = "127.0.0.1", level: str = "info"
) -> list[str]:
    """A non-dev node bound to `host`, its keys in the config body (not on disk)."""
    binary = livekit.binary_path()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make setup` to build livekit-server")
    body = node_config(port=port, redis_port=redis_port, keys=keys, level=level)
    return [str(binary), "--bind", host, "--node-ip", host, "--config-body", body]


def redis_command(*, port: int, workdir: Path) -> list[str]:
    """Debian's redis-server on loopback, keeping nothing on disk (`workdir` only for
    what Redis insists on writing, never the source tree)."""
    return [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--protected-mode",
        "yes",
    ]


def redis_ping(port: int) -> Callable[[], bool]:
    """A readiness probe: Redis answers PING with PONG."""

    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    return probe


def redis_call(port: int, *args: str, timeout: float = 2.0) -> str | None:
    """One Redis command over RESP; returns a bulk or simple string reply (None for nil).
    Enough for the tests' and the docs' checks (`HGET room_node_map <room>`). Bytes that
    are not UTF-8 (a node's protobuf record in `nodes`) come back surrogate-escaped, so
    such values still compare."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload.encode())
        reader = s.makefile("rb")
        head = reader.readline().rstrip(b"\r\n")
        kind, rest = head[:1], head[1:].decode()
        if kind == b"+" or kind == b":":
            return rest
        if kind == b"-":
            raise RuntimeError(f"redis: {rest}")
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else reader.read(size + 2)[:-2].decode(errors="surrogateescape")
        raise RuntimeError(f"redis: unexpected reply {head!r}")
