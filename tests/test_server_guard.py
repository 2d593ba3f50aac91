"""Cross-site requests and identities nobody may take (server/guard.py, identities.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.guard import host_name

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

LOCAL = "http://127.0.0.1:8000"
# nothing listens there: LiveKit cannot be asked, so only the request rules decide
SETTINGS = Settings(livekit_url="ws://127.0.0.1:9", agent_name="ptt-agent")
BODY = {"room": "r1", "identity": "u1"}
POSTS = ["/api/token", "/api/agent/rebuild", "/api/agent/dispatch"]


def _client(settings: Settings = SETTINGS, base_url: str = LOCAL) -> TestClient:
    return TestClient(create_app(settings), base_url=base_url)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with _client() as c:
        yield c


# -- Content-Type ----------------------------------------------------------------------


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_simple_cross_site_post_is_415(client: TestClient, path: str, content_type: str) -> None:
    # what a foreign page can send without a CORS preflight
    r = client.post(path, content=b'{"room": "r1"}', headers={"Content-Type": content_type})
    assert r.status_code == 415
    assert r.json()["error"] == f"Content-Type must be application/json, got {content_type}"


def test_a_post_without_content_type_is_415(client: TestClient) -> None:
    r = client.post("/api/agent/rebuild", content=b'{"room": "r1"}')
    assert r.status_code == 415
    assert "got none" in r.json()["error"]


def test_json_with_a_charset_is_accepted(client: TestClient) -> None:
    r = client.post(
        "/api/token",
        content=b'{"room": "r1", "identity": "u1"}',
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert r.status_code == 200


# -- Origin ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:9999"])
def test_a_cross_origin_post_is_403(client: TestClient, path: str, origin: str) -> None:
    r = client.post(path, json=BODY, headers={"Origin": origin})
    assert r.status_code == 403
    assert r.json()["error"].startswith(f"cross-origin request from {origin} refused")
    assert "PTT_ALLOWED_ORIGINS" in r.json()["error"]


def test_the_console_own_origin_and_no_origin_pass(client: TestClient) -> None:
    assert client.post("/api/token", json=BODY, headers={"Origin": LOCAL}).status_code == 200
    assert client.post("/api/token", json=BODY).status_code == 200  # not a browser


def test_an_allowed_origin_passes() -> None:
    settings = Settings(**{**SETTINGS.__dict__, "allowed_origins": ("https://qa.example/",)})
    with _client(settings) as c:
        r = c.post("/api/token", json=BODY, headers={"Origin": "https://qa.example"})
    assert r.status_code == 200


# -- Host (DNS rebinding) --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/healthz", "/static/main.js"])
def test_a_foreign_host_gets_421_on_every_page(path: str) -> None:
    with _client(base_url="http://rebind.evil.example:8000") as c:
        r = c.get(path)
    assert r.status_code == 421
    assert "Host 'rebind.evil.example:8000' is not this console's" in r.json()["error"]


def test_a_rebinding_page_cannot_read_a_token() -> None:
    # same-origin to the browser (Origin matches Host): only the Host check stops it
    with _client(base_url="http://rebind.evil.example:8000") as c:
        r = c.post("/api/token", json=BODY, headers={"Origin": "http://rebind.evil.example:8000"})
    assert r.status_code == 421
    assert "token" not in r.json()


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "http://127.0.0.2"],
)
def test_loopback_hosts_are_served(base_url: str) -> None:
    with _client(base_url=base_url) as c:
        assert c.get("/healthz").status_code == 200


def test_allowed_hosts_are_served() -> None:
    settings = Settings(**{**SETTINGS.__dict__, "allowed_hosts": ("console.tunnel.example",)})
    with _client(settings, base_url="https://console.tunnel.example") as c:
        assert c.get("/healthz").status_code == 200


def test_hosts_are_not_checked_off_loopback() -> None:
    # bound to every interface, the access key protects the API instead
    settings = Settings(**{**SETTINGS.__dict__, "host": "0.0.0.0", "access_key": "k"})
    with _client(settings, base_url="http://console.lan:8000") as c:
        assert c.get("/healthz").status_code == 200
        r = c.post("/api/token", json=BODY, headers={"X-Access-Key": "k"})
        assert r.status_code == 200


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("LocalHost", "localhost"),
        ("::1", "::1"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_allowed_lists_come_from_the_environment() -> None:
    s = Settings.from_env(
        {"PTT_ALLOWED_HOSTS": "a.example, b.example,", "PTT_ALLOWED_ORIGINS": "https://x.example"}
    )
    assert s.allowed_hosts == ("a.example", "b.example")
    assert s.allowed_origins == ("https://x.example",)


# -- identities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "needle"),
    [
        ("ptt-agent", "identity 'ptt-agent' is the agent's (PTT_AGENT_IDENTITY)"),
        ("agent-AJ_x8Yq2", "identities starting with 'agent-' are LiveKit agents'"),
        ("agent-", "identities starting with 'agent-' are LiveKit agents'"),
    ],
)
def test_an_agent_identity_is_403(client: TestClient, identity: str, needle: str) -> None:
    for replace in (False, True):  # replacing an agent is never allowed
        r = client.post("/api/token", json={"room": "r1", "identity": identity, "replace": replace})
        assert r.status_code == 403
        assert needle in r.json()["error"]
        assert "token" not in r.json()


def test_the_configured_agent_identity_is_reserved() -> None:
    env = {"PTT_AGENT_IDENTITY": "helper-bot", "LIVEKIT_URL": "ws://127.0.0.1:9"}
    with _client(Settings.from_env(env)) as c:
        assert (
            c.post("/api/token", json={"room": "r1", "identity": "helper-bot"}).status_code == 403
        )
        # the default name is an ordinary identity then
        assert c.post("/api/token", json={"room": "r1", "identity": "ptt-agent"}).status_code == 200


@pytest.mark.parametrize("identity", ["agent", "my-agent-1", "Agent-x", "agents"])
def test_names_that_only_look_like_agents_are_ordinary(client: TestClient, identity: str) -> None:
    assert client.post("/api/token", json={"room": "r1", "identity": identity}).status_code == 200


@pytest.mark.parametrize(
    ("value", "kind"), [("yes", "a string"), (1, "a number"), ([], "an array")]
)
def test_replace_must_be_a_boolean(client: TestClient, value: object, kind: str) -> None:
    r = client.post("/api/token", json={**BODY, "replace": value})
    assert r.status_code == 400
    assert r.json()["error"] == f"'replace' must be true or false, got {kind}"
