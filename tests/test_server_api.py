"""Token, rebuild and dispatch endpoints: happy path, validation, access key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livekit import api
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings

# the console serves loopback Host names only (server/guard.py)
LOCAL = "http://127.0.0.1:8000"

pytestmark = [
    pytest.mark.unit,
    # the dev secret "secret" is short on purpose (livekit-server --dev)
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

SETTINGS = Settings(
    livekit_url="ws://127.0.0.1:7880",
    livekit_api_key="devkey",
    livekit_api_secret="secret",
    public_livekit_url="ws://public.example:7880",
    agent_name="ptt-agent",
)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS), base_url=LOCAL) as c:
        yield c


@pytest.fixture
def keyed_client() -> Iterator[TestClient]:
    settings = Settings(**{**SETTINGS.__dict__, "access_key": "s3cret-key"})
    with TestClient(create_app(settings), base_url=LOCAL) as c:
        yield c


def test_token_valid_request_returns_verifiable_token(client: TestClient) -> None:
    r = client.post("/api/token", json={"room": "ptt-test", "identity": "user-ab12"})
    assert r.status_code == 200
    body = r.json()
    assert body["url"] == "ws://public.example:7880"
    assert body["room"] == "ptt-test"
    assert body["identity"] == "user-ab12"
    assert "secret" not in r.text
    # nothing listens at SETTINGS' LiveKit: the token still comes, the dispatch is unknown
    assert body["dispatch"]["status"] == "unknown"
    assert body["dispatch"]["reason"].startswith("LiveKit server unreachable")

    claims = api.TokenVerifier("devkey", "secret").verify(body["token"])
    assert claims.identity == "user-ab12"
    assert claims.name == "user-ab12"
    assert claims.video is not None
    assert claims.video.room == "ptt-test"
    assert claims.video.room_join is True
    assert claims.video.can_publish is True
    assert claims.video.can_subscribe is True
    assert claims.video.can_publish_data is True
    assert claims.room_config is not None
    assert [a.agent_name for a in claims.room_config.agents] == ["ptt-agent"]


def test_token_expires_within_two_hours(client: TestClient) -> None:
    import jwt

    r = client.post("/api/token", json={"room": "r1", "identity": "u1"})
    payload = jwt.decode(r.json()["token"], "secret", algorithms=["HS256"], issuer="devkey")
    assert 0 < payload["exp"] - payload["nbf"] <= 2 * 3600


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"identity": "u1"}, "'room' is required"),
        ({"room": "r1"}, "'identity' is required"),
        ({"room": "", "identity": "u1"}, "'room' must not be empty"),
        ({"room": "r1", "identity": ""}, "'identity' must not be empty"),
        ({"room": "r" * 65, "identity": "u1"}, "'room' is too long"),
        ({"room": "r1", "identity": "u" * 65}, "'identity' is too long"),
        ({"room": "bad room", "identity": "u1"}, "'room' contains characters"),
        ({"room": "r1", "identity": "<script>"}, "'identity' contains characters"),
        ({"room": "-leading", "identity": "u1"}, "'room' contains characters"),
        ({"room": "r1", "identity": "ünï"}, "'identity' contains characters"),
        ({"room": 12, "identity": "u1"}, "'room' must be a string"),
        ({"room": "r1", "identity": None}, "'identity' is required"),
    ],
)
def test_token_bad_field_is_400_naming_it(client: TestClient, body: dict, needle: str) -> None:
    r = client.post("/api/token", json=body)
    assert r.status_code == 400
    assert needle in r.json()["error"]


def _dispatched(token: str) -> list[str]:
    claims = api.TokenVerifier("devkey", "secret").verify(token)
    assert claims.room_config is not None
    return [a.agent_name for a in claims.room_config.agents]


@pytest.mark.parametrize("extra", [{}, {"agent": None}])
def test_token_without_agent_dispatches_configured_agent(client: TestClient, extra: dict) -> None:
    r = client.post("/api/token", json={"room": "r1", "identity": "u1", **extra})
    assert r.status_code == 200
    assert r.json()["agent"] == "ptt-agent"
    assert _dispatched(r.json()["token"]) == ["ptt-agent"]


def test_token_dispatches_the_chosen_agent(client: TestClient) -> None:
    r = client.post("/api/token", json={"room": "r1", "identity": "u1", "agent": "my-agent.v2"})
    assert r.status_code == 200
    assert r.json()["agent"] == "my-agent.v2"
    assert _dispatched(r.json()["token"]) == ["my-agent.v2"]


BAD_AGENTS = [
    ("", "'agent' must not be empty"),
    ("a" * 65, "'agent' is too long"),
    ("my agent", "'agent' contains characters"),
    ("_agent", "'agent' contains characters"),
    ("agent/../x", "'agent' contains characters"),
    (7, "'agent' must be a string, got a number"),
    (["ptt-agent"], "'agent' must be a string, got an array"),
]


@pytest.mark.parametrize(("agent", "needle"), BAD_AGENTS)
def test_token_bad_agent_is_400_naming_it(client: TestClient, agent: object, needle: str) -> None:
    r = client.post("/api/token", json={"room": "r1", "identity": "u1", "agent": agent})
    assert r.status_code == 400
    assert needle in r.json()["error"]


AGENT_ENDPOINTS = ["/api/agent/rebuild", "/api/agent/dispatch"]


@pytest.mark.parametrize("path", AGENT_ENDPOINTS)
@pytest.mark.parametrize(("agent", "needle"), BAD_AGENTS)
def test_rebuild_bad_agent_is_400_naming_it(
    client: TestClient, path: str, agent: object, needle: str
) -> None:
    # validated before LiveKit is asked anything (the test server has no LiveKit)
    r = client.post(path, json={"room": "r1", "agent": agent})
    assert r.status_code == 400
    assert needle in r.json()["error"]


def test_token_accepts_64_chars_and_allowed_punctuation(client: TestClient) -> None:
    r = client.post("/api/token", json={"room": "a" * 64, "identity": "User_1.test-x"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"", "empty"),
        (b'["ptt-test", "u1"]', "must be a JSON object, got an array"),
        (b'"room"', "must be a JSON object, got a string"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_token_bad_body_is_400(client: TestClient, content: bytes, needle: str) -> None:
    r = client.post("/api/token", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert needle in r.json()["error"]


def test_token_oversized_body_is_413(client: TestClient) -> None:
    body = {"room": "r1", "identity": "u1", "pad": "x" * 5000}
    r = client.post("/api/token", json=body)
    assert r.status_code == 413
    assert "too large" in r.json()["error"]


def test_token_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"room": "r1", "identity": "u1", "pad": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/api/token", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_token_get_is_405_json(client: TestClient) -> None:
    r = client.get("/api/token")
    assert r.status_code == 405
    assert "error" in r.json()


def test_unknown_path_is_404_json(client: TestClient) -> None:
    r = client.get("/api/nope")
    assert r.status_code == 404
    assert "error" in r.json()


def test_access_key_missing_or_wrong_is_401(keyed_client: TestClient) -> None:
    body = {"room": "r1", "identity": "u1"}
    for headers in ({}, {"X-Access-Key": "wrong"}):
        for path in ("/api/token", *AGENT_ENDPOINTS):
            r = keyed_client.post(path, json=body, headers=headers)
            assert r.status_code == 401, path
            assert "X-Access-Key" in r.json()["error"]


def test_access_key_right_is_accepted(keyed_client: TestClient) -> None:
    r = keyed_client.post(
        "/api/token",
        json={"room": "r1", "identity": "u1"},
        headers={"X-Access-Key": "s3cret-key"},
    )
    assert r.status_code == 200


def test_no_access_key_needed_by_default(client: TestClient) -> None:
    r = client.post("/api/token", json={"room": "r1", "identity": "u1"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 400, "'room' is required"),
        ({"room": ""}, 400, "'room' must not be empty"),
        ({"room": "a b"}, 400, "'room' contains characters"),
        ({"room": "r" * 65}, 400, "'room' is too long"),
        ([1], 400, "must be a JSON object"),
        ({"room": "r1", "pad": "x" * 5000}, 413, "too large"),
    ],
)
@pytest.mark.parametrize("path", AGENT_ENDPOINTS)
def test_rebuild_bad_input(
    client: TestClient, path: str, body: object, status: int, needle: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status
    assert needle in r.json()["error"]


@pytest.mark.parametrize("path", AGENT_ENDPOINTS)
@pytest.mark.parametrize("extra", [{}, {"agent": "other-agent"}])
def test_rebuild_livekit_unreachable_is_502(path: str, extra: dict) -> None:
    settings = Settings(**{**SETTINGS.__dict__, "livekit_url": "http://127.0.0.1:9"})
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        r = client.post(path, json={"room": "r1", **extra})
    assert r.status_code == 502
    assert "unreachable" in r.json()["error"]


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (api.ParticipantInfo(identity="x", kind=api.ParticipantInfo.Kind.AGENT), True),
        (api.ParticipantInfo(identity="ptt-agent"), True),
        (api.ParticipantInfo(identity="bot", attributes={"push-to-talk": "1"}), True),
        (api.ParticipantInfo(identity="user-1"), False),
        (api.ParticipantInfo(identity="user-2", attributes={"push-to-talk": "0"}), False),
    ],
)
def test_rebuild_removes_only_agents(info: api.ParticipantInfo, expected: bool) -> None:
    from server.rebuild import is_agent

    assert is_agent(info, "ptt-agent") is expected


def test_dispatch_missing_must_be_a_boolean(client: TestClient) -> None:
    r = client.post("/api/agent/dispatch", json={"room": "r1", "missing": "yes"})
    assert r.status_code == 400
    assert "missing" in r.json()["error"]
