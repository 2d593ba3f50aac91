"""Ports the stack needs, checked before anything starts: a taken one is named with the
process holding it, instead of a child failing later with "address already in use"."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # TCP state in /proc/net/tcp
UNCONNECTED = "07"  # a bound UDP socket


class PortTaken(RuntimeError):
    """A port the stack needs is in use."""


@dataclass(frozen=True)
class Need:
    port: int
    proto: str  # "tcp" or "udp"
    what: str  # who in the stack wants it, and the variable that moves it


def _bindable(need: Need) -> bool:
    kind = socket.SOCK_STREAM if need.proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        if need.proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            s.bind(("127.0.0.1", need.port))
        except OSError:
            return False
    return True


def _socket_inodes(port: int, proto: str, proc: Path = PROC) -> set[str]:
    """Inodes of sockets bound to `port` (listening, for TCP) on any address."""
    inodes: set[str] = set()
    for table in (f"{proto}", f"{proto}6"):
        try:
            rows = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            state_ok = fields[3] == (LISTEN if proto == "tcp" else UNCONNECTED)
            if local_port == port and state_ok:
                inodes.add(fields[9])
    return inodes


def holders(port: int, proto: str, proc: Path = PROC) -> list[str]:
    """`PID (command line)` of each process holding `port`, as far as /proc lets us see
    (another user's processes are hidden unless we are root)."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(port, proto, proc)}
    found: list[str] = []
    if not wanted:
        return found
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = os.listdir(pid_dir / "fd")
            if not any(os.readlink(pid_dir / "fd" / fd) in wanted for fd in fds):
                continue
            argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        cmd = " ".join(a.decode(errors="replace") for a in argv if a)
        found.append(f"pid {pid_dir.name} ({cmd[:120]})")
    return found


def check_free(needs: list[Need]) -> None:
    """Raise PortTaken naming every needed port that cannot be bound, and its holders."""
    problems = []
    for need in needs:
        if _bindable(need):
            continue
        who = holders(need.port, need.proto)
        held = ", ".join(who) if who else "a process this user cannot see"
        problems.append(f"  {need.proto} port {need.port} for {need.what}: in use by {held}")
    if problems:
        raise PortTaken(
            "ports already in use (another `make run`? stop it, or move this stack):\n"
            + "\n".join(problems)
        )
