"""Settings from the environment and the refusal to expose the token endpoint."""

from __future__ import annotations

import pytest

from server.config import ConfigError, Settings, is_loopback

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.livekit_url == "ws://127.0.0.1:7880"
    assert s.livekit_api_key == "devkey"
    assert s.livekit_api_secret == "secret"
    assert s.public_livekit_url == "ws://127.0.0.1:7880"
    assert s.agent_name == "ptt-agent"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.access_key is None
    assert not s.access_key_required


def test_public_url_defaults_to_livekit_url() -> None:
    s = Settings.from_env({"LIVEKIT_URL": "ws://10.0.0.5:7880"})
    assert s.public_livekit_url == "ws://10.0.0.5:7880"
    s = Settings.from_env(
        {"LIVEKIT_URL": "ws://10.0.0.5:7880", "PTT_PUBLIC_LIVEKIT_URL": "wss://lk.example"}
    )
    assert s.public_livekit_url == "wss://lk.example"


def test_env_overrides() -> None:
    s = Settings.from_env(
        {
            "LIVEKIT_API_KEY": "k",
            "LIVEKIT_API_SECRET": "s",
            "PTT_AGENT_NAME": "other-agent",
            "PTT_PORT": "9001",
            "PTT_ACCESS_KEY": "abc",
        }
    )
    assert (s.livekit_api_key, s.livekit_api_secret) == ("k", "s")
    assert s.agent_name == "other-agent"
    assert s.port == 9001
    assert s.access_key == "abc"
    assert s.access_key_required


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_host_without_key_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="PTT_ACCESS_KEY"):
        Settings.from_env({"PTT_HOST": host})


def test_non_loopback_host_with_key_is_allowed() -> None:
    s = Settings.from_env({"PTT_HOST": "0.0.0.0", "PTT_ACCESS_KEY": "k"})
    assert s.host == "0.0.0.0"


def test_create_app_refuses_unsafe_settings() -> None:
    from server.app import create_app

    with pytest.raises(ConfigError):
        create_app(Settings(host="0.0.0.0"))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("value", ["x", "0", "70000"])
def test_bad_port_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="PTT_PORT"):
        Settings.from_env({"PTT_PORT": value})


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="LIVEKIT_API_SECRET"):
        Settings.from_env({"LIVEKIT_API_SECRET": ""})


def test_main_exits_2_with_message(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from server.__main__ import main

    monkeypatch.setenv("PTT_HOST", "0.0.0.0")
    monkeypatch.delenv("PTT_ACCESS_KEY", raising=False)
    assert main() == 2
    assert "PTT_ACCESS_KEY" in capsys.readouterr().err
