#!/usr/bin/env bash
# Benchmarks (not tests): print figures and save them under bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
.venv/bin/python -m bench.bench_agent "$@"
if [ -f bench/bench_stt.py ]; then .venv/bin/python -m bench.bench_stt; fi
.venv/bin/python -m bench.bench_reply
.venv/bin/python -m bench.bench_page
