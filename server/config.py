"""Web server configuration, read once from the environment.

Every setting has a default that works with the bundled stack on 127.0.0.1;
`Settings.from_env()` is the only place that reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class ConfigError(Exception):
    """The configuration is unusable; the message says what to change."""


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the web server needs; see docs/console.md for the variables."""

    livekit_url: str = "ws://127.0.0.1:7880"
    livekit_api_key: str = "devkey"
    livekit_api_secret: str = "secret"
    public_livekit_url: str = ""  # empty: same as livekit_url
    agent_name: str = "ptt-agent"
    agent_identity: str = "ptt-agent"  # the bundled agent's identity: reserved for it
    host: str = "127.0.0.1"
    port: int = 8000
    access_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides loopback and `host`
    allowed_origins: tuple[str, ...] = ()  # cross-origin pages allowed to POST
    # cluster mode: every node's URL (the server's view, then the browsers'); empty: one
    livekit_urls: tuple[str, ...] = ()
    public_livekit_urls: tuple[str, ...] = ()
    root: Path = PROJECT_ROOT

    def __post_init__(self) -> None:
        if not self.public_livekit_url:
            object.__setattr__(self, "public_livekit_url", self.livekit_url)
        if not self.livekit_urls:
            object.__setattr__(self, "livekit_urls", (self.livekit_url,))
            object.__setattr__(self, "public_livekit_urls", (self.public_livekit_url,))
        elif not self.public_livekit_urls:
            object.__setattr__(self, "public_livekit_urls", self.livekit_urls)

    @property
    def access_key_required(self) -> bool:
        return bool(self.access_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default: the process environment).

        Raises `ConfigError` when a value is invalid or the combination is unsafe.
        """
        config = Config(environ=os.environ if environ is None else environ)
        livekit_url = config("LIVEKIT_URL", cast=str, default=cls.livekit_url)
        port_raw = config("PTT_PORT", cast=str, default=str(cls.port))
        try:
            port = int(port_raw)
        except ValueError as e:
            raise ConfigError(f"PTT_PORT must be an integer, got {port_raw!r}") from e
        if not 0 < port < 65536:
            raise ConfigError(f"PTT_PORT must be between 1 and 65535, got {port}")
        settings = cls(
            livekit_url=livekit_url,
            livekit_api_key=config("LIVEKIT_API_KEY", cast=str, default=cls.livekit_api_key),
            livekit_api_secret=config(
                "LIVEKIT_API_SECRET", cast=str, default=cls.livekit_api_secret
            ),
            public_livekit_url=config("PTT_PUBLIC_LIVEKIT_URL", cast=str, default=""),
            agent_name=config("PTT_AGENT_NAME", cast=str, default=cls.agent_name),
            agent_identity=config("PTT_AGENT_IDENTITY", cast=str, default=cls.agent_identity),
            host=config("PTT_HOST", cast=str, default=cls.host),
            port=port,
            access_key=config("PTT_ACCESS_KEY", cast=str, default="") or None,
            allowed_hosts=_names(config("PTT_ALLOWED_HOSTS", cast=str, default="")),
            allowed_origins=_names(config("PTT_ALLOWED_ORIGINS", cast=str, default="")),
            livekit_urls=_names(config("PTT_LIVEKIT_URLS", cast=str, default="")),
            public_livekit_urls=_names(config("PTT_PUBLIC_LIVEKIT_URLS", cast=str, default="")),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work."""
        for name, value in (
            ("LIVEKIT_URL", self.livekit_url),
            ("LIVEKIT_API_KEY", self.livekit_api_key),
            ("LIVEKIT_API_SECRET", self.livekit_api_secret),
            ("PTT_PUBLIC_LIVEKIT_URL", self.public_livekit_url),
            ("PTT_AGENT_NAME", self.agent_name),
            ("PTT_AGENT_IDENTITY", self.agent_identity),
            ("PTT_HOST", self.host),
        ):
            if not value.strip():
                raise ConfigError(f"{name} must not be empty")
        if len(self.public_livekit_urls) != len(self.livekit_urls):
            raise ConfigError(
                f"PTT_PUBLIC_LIVEKIT_URLS names {len(self.public_livekit_urls)} node(s) and "
                f"PTT_LIVEKIT_URLS {len(self.livekit_urls)}: give one public URL per node"
            )
        for url in (*self.livekit_urls, *self.public_livekit_urls):
            if not url.startswith(("ws://", "wss://", "http://", "https://")):
                raise ConfigError(f"LiveKit node URL {url!r} must start with ws:// or wss://")
        if not is_loopback(self.host) and not self.access_key:
            raise ConfigError(
                f"PTT_HOST={self.host} is reachable from other machines, and anyone who can "
                "reach it could mint LiveKit tokens. Set PTT_ACCESS_KEY to a secret that "
                "browsers must send, or bind to 127.0.0.1."
            )
