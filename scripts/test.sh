#!/usr/bin/env bash
# The whole suite: lint, type check, unit and e2e tests. "No tests collected" is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin

echo "==> ruff"
$VENV/ruff check .
$VENV/ruff format --check .
echo "==> mypy"
$VENV/mypy server agent stack stt_service e2e bench scripts headless
# Unit tests in two processes (pytest-xdist), then the e2e tests in one: their turns run
# in real time, and beside other work on this 2-core machine the agent falls behind the
# audio (words lost, see the README's QA section). Each phase must collect tests.
pytest_phase() {
  local name="$1"
  shift
  echo "==> pytest: $name"
  set +e
  $VENV/pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no $name: failing" >&2
    return 1
  fi
  return "$rc"
}
unit_rc=0
pytest_phase "unit tests" -m "not e2e" -n "${PTT_TEST_WORKERS:-2}" "$@" || unit_rc=$?
e2e_rc=0
# --dist loadgroup: with PTT_E2E_WORKERS=2 the cluster tests (one cluster) share a worker
pytest_phase "e2e tests" -m e2e -n "${PTT_E2E_WORKERS:-0}" --dist loadgroup "$@" || e2e_rc=$?
[ "$unit_rc" -eq 0 ] && [ "$e2e_rc" -eq 0 ]
