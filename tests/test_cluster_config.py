"""Cluster mode's configuration: the supervisor's variables, each node's YAML, the web
server's node list, and the round robin over live nodes (docs/scaling.md)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from server.config import ConfigError, Settings
from server.nodes import Nodes, health_url, http_health
from stack import cluster
from stack.supervisor import Stack, StackConfig

pytestmark = pytest.mark.unit


def test_single_node_stays_as_it_was() -> None:
    c = StackConfig.from_env({})
    assert not c.cluster
    assert (c.api_key, c.api_secret) == ("devkey", "secret")
    assert c.livekit_urls == ["ws://127.0.0.1:7880"]
    assert [n.port for n in c.ports()] == [8000, 7880, 7881, 7882, 8790]


def test_cluster_ports_keys_and_urls() -> None:
    c = StackConfig.from_env({"PTT_LIVEKIT_NODES": "2", "PTT_AGENT_WORKERS": "3"})
    assert c.cluster
    assert len(c.api_secret) >= cluster.MIN_SECRET and c.api_key.startswith("ptt-")
    assert StackConfig.from_env({"PTT_LIVEKIT_NODES": "2"}).api_secret != c.api_secret
    assert c.livekit_urls == ["ws://127.0.0.1:7880", "ws://127.0.0.1:7890"]
    needs = {n.port: n.what for n in c.ports()}
    assert "node 2 signalling (PTT_LIVEKIT_PORT + 10)" in needs[7890]
    assert "node 2 RTC over UDP (PTT_LIVEKIT_PORT + 10 + 2)" in needs[7892]
    assert "redis-server (PTT_REDIS_PORT)" in needs[6380]
    assert [needs[p] for p in (8081, 8082, 8083)] == [
        "agent worker 1 (PTT_AGENT_HTTP_PORT)",
        "agent worker 2 (PTT_AGENT_HTTP_PORT + 1)",
        "agent worker 3 (PTT_AGENT_HTTP_PORT + 2)",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PTT_LIVEKIT_NODES": "0"}, "PTT_LIVEKIT_NODES must be between 1 and 8"),
        ({"PTT_AGENT_WORKERS": "two"}, "PTT_AGENT_WORKERS must be a whole number"),
        (
            {"PTT_LIVEKIT_NODES": "2", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "short"},
            "at least 32 characters",
        ),
        (
            {
                "PTT_LIVEKIT_NODES": "2",
                "LIVEKIT_URL": "wss://lk.example",
                "LIVEKIT_API_KEY": "k",
                "LIVEKIT_API_SECRET": "s" * 40,
            },
            "unset it or LIVEKIT_URL",
        ),
    ],
)
def test_bad_cluster_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        StackConfig.from_env(env)


def test_given_keys_are_used() -> None:
    secret = "x" * 40
    env = {"PTT_LIVEKIT_NODES": "2", "LIVEKIT_API_KEY": "team", "LIVEKIT_API_SECRET": secret}
    c = StackConfig.from_env(env)
    assert (c.api_key, c.api_secret) == ("team", secret)


def test_node_config_is_loopback_only_and_spreads_rooms() -> None:
    keys = cluster.Keys("key", "s" * 40)
    body = cluster.node_config(port=7890, redis_port=6380, keys=keys)
    for line in (
        "port: 7890",
        "  tcp_port: 7891",
        "  udp_port: 7892",
        "  use_external_ip: false",
        "  enable_loopback_candidate: true",
        "  address: 127.0.0.1:6380",
        f"  key: {'s' * 40}",
        "  sort_by: rooms",
    ):
        assert line in body.splitlines()
    assert "prometheus" not in body


def test_web_server_node_list() -> None:
    one = Settings.from_env({})
    assert one.livekit_urls == one.public_livekit_urls == ("ws://127.0.0.1:7880",)
    two = Settings.from_env({"PTT_LIVEKIT_URLS": "ws://127.0.0.1:7880, ws://127.0.0.1:7890"})
    assert (
        two.livekit_urls
        == two.public_livekit_urls
        == (
            "ws://127.0.0.1:7880",
            "ws://127.0.0.1:7890",
        )
    )
    with pytest.raises(ConfigError, match="one public URL per node"):
        Settings.from_env(
            {"PTT_LIVEKIT_URLS": "ws://a:1,ws://b:2", "PTT_PUBLIC_LIVEKIT_URLS": "wss://a"}
        )
    with pytest.raises(ConfigError, match="must start with ws://"):
        Settings.from_env({"PTT_LIVEKIT_URLS": "127.0.0.1:7880"})


async def test_joins_go_round_robin_over_live_nodes_and_skip_a_dead_one() -> None:
    up = {"ws://a": True, "ws://b": True, "ws://c": True}

    async def probe(url: str) -> bool:
        return up[url]

    nodes = Nodes.of(tuple(up), tuple(up))
    nodes.probe = probe
    assert [(await nodes.next_for_join()).url for _ in range(4)] == [
        "ws://a",
        "ws://b",
        "ws://c",
        "ws://a",
    ]
    up["ws://b"] = False
    for node in nodes.nodes:
        node.checked_at = -1e9  # the cached answers are stale
    picked = {(await nodes.next_for_join()).url for _ in range(6)}
    assert picked == {"ws://a", "ws://c"}
    up.update({"ws://a": False, "ws://c": False})
    for node in nodes.nodes:
        node.checked_at = -1e9
    # none answers: every node again, so the caller gets LiveKit's own error
    assert len(await nodes.live()) == 3


async def test_http_health_asks_get_slash() -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert health_url(f"ws://127.0.0.1:{port}") == f"http://127.0.0.1:{port}/"
        assert health_url("wss://lk.example/") == "https://lk.example/"
        assert await http_health(f"ws://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert not await asyncio.wait_for(http_health(f"ws://127.0.0.1:{closed}"), 5)


def test_a_cluster_goes_on_without_one_node_or_worker_but_not_without_the_last() -> None:
    single = Stack(StackConfig.from_env({}), echo=None)
    single.children = dict.fromkeys(["livekit", "stt", "agent", "web"])  # type: ignore[arg-type]
    assert single.fatal(["agent"]) == ["agent"]
    two = Stack(StackConfig.from_env({"PTT_LIVEKIT_NODES": "2", "PTT_AGENT_WORKERS": "2"}))
    names = ["redis", "livekit", "livekit-2", "stt", "agent", "agent-2", "web"]
    two.children = dict.fromkeys(names)  # type: ignore[arg-type]
    assert two.fatal(["livekit-2"]) == []
    assert two.fatal(["agent"]) == []
    assert two.fatal(["livekit", "agent-2"]) == []
    assert sorted(two.fatal(["livekit", "livekit-2"])) == ["livekit", "livekit-2"]
    assert two.fatal(["redis"]) == ["redis"]
    assert two.fatal(["web", "agent"]) == ["web"]
