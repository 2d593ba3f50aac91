#!/usr/bin/env bash
# Idempotent setup: installs only what is missing. Used by `make run` and `make test`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
LIVEKIT_VERSION="1.13.5"
CACHE="${PTT_CACHE_DIR:-$ROOT/.cache}"
LK_BIN="$CACHE/livekit-server/v$LIVEKIT_VERSION/livekit-server"
PYTHON="${PYTHON:-python3}"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# 1. Debian packages: Chromium (browser tests), espeak-ng (agent voice, test speech) and
#    redis-server (cluster mode, docs/scaling.md)
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# 2. Python venv with the project and its dev extras (reinstalled when pyproject.toml changes)
stamp=".venv/.ptt-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "python venv + pip install -e '.[dev]'"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

# 3. livekit-client from package-lock.json (reinstalled when the lock file changes)
npm_stamp="node_modules/.ptt-installed"
npm_want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
  echo "$npm_want" > "$npm_stamp"
fi

# 4. livekit-server, built from the pinned Go module into the cache
if [ ! -x "$LK_BIN" ]; then
  step "building livekit-server v$LIVEKIT_VERSION with go install (first time only, a few minutes)"
  command -v go >/dev/null || { echo "go is required to build livekit-server" >&2; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # -v prints each package as it compiles: a running count shows progress
  (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-mod=mod go install -v \
      "github.com/livekit/livekit-server/cmd/server@v$LIVEKIT_VERSION" 2>&1) \
    | awk '/^go: downloading/ {d++; if (d % 20 == 1) printf "  downloading modules: %d\n", d; fflush(); next}
           {n++; if (n % 25 == 1) printf "  compiled %d packages (%s)\n", n, $0; fflush()}
           END {printf "  compiled %d packages\n", n}'
  [ -x "$tmp/bin/server" ] || { echo "livekit-server build failed" >&2; exit 1; }
  mkdir -p "$(dirname "$LK_BIN")"
  mv "$tmp/bin/server" "$LK_BIN"
  echo "  built $LK_BIN"
fi
