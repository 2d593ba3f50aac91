"""The page, its static modules and the vendored livekit-client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import PROJECT_ROOT, Settings

# the console serves loopback Host names only (server/guard.py)
LOCAL = "http://127.0.0.1:8000"

pytestmark = pytest.mark.unit

TESTIDS = [
    "connect-button",
    "disconnect-button",
    "connection-state",
    "room-input",
    "identity-input",
    "agent-input",
    "agent-state",
    "ptt-button",
    "cancel-button",
    "pause-button",
    "resume-button",
    "rebuild-button",
    "transcript",
    "event-log",
    "metrics",
    "mic-level",
    "device-select",
    "agent-level",
    "agent-audio",
    "agent-errors",
    "ptt-reason",
    "control-reason",
    "status",
    "start-audio-button",
    "export-log-button",
    "clear-log-button",
]

MODULES = [
    "main.js",
    "state.js",
    "api.js",
    "join.js",
    "rejoin.js",
    "agent-wait.js",
    "room.js",
    "send-gate.js",
    "room-events.js",
    "agent.js",
    "streams.js",
    "talk.js",
    "turns.js",
    "audio.js",
    "intents.js",
    "ptt.js",
    "view.js",
    "view-input.js",
    "view-lists.js",
    "dom.js",
    "controls.js",
    "transcript.js",
    "meter.js",
    "metrics.js",
    "stages.js",
    "log.js",
    "client-info.js",
    "inspector.js",
    "inspector-match.js",
    "byte-streams.js",
    "clock.js",
    "clip.js",
    "timeline.js",
    "wav.js",
    "mic-recorder.js",
    "capture.js",
    "capture-worklet.js",
    "onset.js",
    "report.js",
    "view-inspector.js",
]


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), base_url=LOCAL) as c:
        yield c


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_page_has_import_map(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    m = re.search(r'<script type="importmap">(.*?)</script>', r.text, re.S)
    assert m, "import map missing"
    assert json.loads(m.group(1)) == {
        "imports": {"livekit-client": "/vendor/livekit-client/livekit-client.esm.mjs"}
    }
    assert '<script type="module" src="/static/main.js">' in r.text


@pytest.mark.parametrize("testid", TESTIDS)
def test_page_has_testid(client: TestClient, testid: str) -> None:
    assert f'data-testid="{testid}"' in client.get("/").text


def test_page_initial_states(client: TestClient) -> None:
    html = client.get("/").text
    assert re.search(r'data-testid="connection-state"[^>]*>disconnected<', html)
    assert re.search(r'data-testid="agent-state"[^>]*>absent<', html)
    assert re.search(r'data-testid="ptt-button"[^>]*aria-pressed="false"', html)
    assert re.search(r'<audio data-testid="agent-audio"', html)
    assert 'data-peak="0.000"' in html


def test_page_passes_agent_name_and_no_secret(client: TestClient) -> None:
    html = client.get("/").text
    assert 'data-agent-name="ptt-agent"' in html
    assert re.search(r'data-testid="agent-input"[^>]*value="ptt-agent"', html)
    assert 'data-access-key-required="false"' in html
    assert "access-key-input" not in html
    assert "secret" not in html.lower()


def test_page_asks_for_access_key_when_required() -> None:
    with TestClient(create_app(Settings(access_key="k")), base_url=LOCAL) as client:
        html = client.get("/").text
    assert 'data-access-key-required="true"' in html
    assert 'data-testid="access-key-input"' in html
    assert ">k<" not in html and '"k"' not in html


@pytest.mark.parametrize("module", MODULES)
def test_static_modules_served(client: TestClient, module: str) -> None:
    r = client.get(f"/static/{module}")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]


def test_static_css_served(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")


def test_vendor_livekit_client_served(client: TestClient) -> None:
    r = client.get("/vendor/livekit-client/livekit-client.esm.mjs")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert "export{" in r.text.replace(" ", "") or "export {" in r.text


def test_static_missing_file_is_404(client: TestClient) -> None:
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../server/config.py").status_code == 404


def test_modules_use_no_inner_html() -> None:
    for module in MODULES:
        text = (PROJECT_ROOT / "static" / module).read_text()
        assert "innerHTML" not in text, module


def test_every_module_is_listed_and_small() -> None:
    """The page is built from small modules, each named for one job (issue #5)."""
    on_disk = sorted(p.name for p in (PROJECT_ROOT / "static").glob("*.js"))
    assert on_disk == sorted(MODULES)
    for module in MODULES:
        lines = (PROJECT_ROOT / "static" / module).read_text().count("\n")
        assert lines <= 220, f"{module}: {lines} lines"
