#!/usr/bin/env bash
# The whole suite: lint, type check, unit and e2e tests. "No tests collected" is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin

echo "==> ruff"
$VENV/ruff check .
$VENV/ruff format --check .
echo "==> mypy"
$VENV/mypy server agent stack stt_service e2e bench scripts
echo "==> pytest"
set +e
# two processes (pytest-xdist): the e2e tests mostly wait on real-time audio, and each
# worker runs its own stack on its own free ports. PTT_TEST_WORKERS=0 runs in one process.
$VENV/pytest -n "${PTT_TEST_WORKERS:-2}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
