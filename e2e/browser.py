"""Debian's Chromium and the flags every suite launches it with (never a downloaded one)."""

from __future__ import annotations

import os
import shutil

CHROMIUM = os.environ.get("PTT_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# loopback only, nothing fetched in the background, a fake microphone and no prompts
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
