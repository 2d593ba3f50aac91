# The two commands that matter: `make run` and `make test`. Both set up what is missing first.
VENV := .venv/bin

.PHONY: setup run cluster test lint bench e2e unit screenshot clean scenarios load soak

setup:
	@scripts/setup.sh

run: setup
	@$(VENV)/python -m stack

# cluster mode (docs/scaling.md): Redis, two LiveKit nodes, two agent workers
cluster: setup
	@PTT_LIVEKIT_NODES=$${PTT_LIVEKIT_NODES:-2} PTT_AGENT_WORKERS=$${PTT_AGENT_WORKERS:-2} $(VENV)/python -m stack

test: setup
	@scripts/test.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy server agent stack stt_service e2e bench scripts headless

unit: setup
	$(VENV)/pytest -m unit

e2e: setup
	$(VENV)/pytest -m e2e

bench: setup
	@scripts/bench.sh

# the headless client (docs/headless.md), each against a fresh local stack on free ports
scenarios: setup
	$(VENV)/python -m headless run headless/scenarios/*.toml $(ARGS)

load: setup
	$(VENV)/python -m headless load $(ARGS)

soak: setup
	$(VENV)/python -m headless soak --cycles 1000 $(ARGS)

screenshot: setup
	PYTHONPATH=. $(VENV)/python scripts/screenshot.py
	PYTHONPATH=. $(VENV)/python scripts/inspector_shot.py

clean:
	rm -rf .venv node_modules .pytest_cache test-results bench-results
