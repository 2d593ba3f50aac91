"""The native SDK's log records stay native: written by the FFI library to stderr, not
handed to Python one event at a time.

The livekit rtc SDK (1.1.21) initialises its FFI library with `capture_logs=True`, and
the library then forwards every log record of every level to Python, each as an event of
its own through the FFI callback (a GIL handover from a native thread, a protobuf parse),
where the SDK drops the debug and trace ones. libwebrtc's verbose ICE logging (every
PeerConnection's port allocator re-listing the machine's networks, each connection's
checks) made that, in the agent worker with 24 sessions connected and nobody talking,
~7,400 events a second against ~480 audio frames (docs/capacity.md, session 14).

`keep_native_logs_native()` initialises the library once more with `capture_logs=False`
(its setup is re-entrant: the same callback, the logger switched). Records then go to
the library's own `env_logger`: filtered natively by `RUST_LOG` (read when the library
loaded; unset: errors only), and written to this process's stderr, which the stack
keeps in the component's log. They no longer reach Python's logging, so the agent's
ERROR count (`ptt.errors`) counts Python's records only.

`PTT_NATIVE_LOGS=python` keeps the SDK's default (every record through Python's
logging, at that per-record cost), for a debugging session that wants them there.
"""

from __future__ import annotations

import os
import threading

from livekit.rtc import _ffi_client
from livekit.rtc.version import __version__

_lock = threading.Lock()
_done = False


def keep_native_logs_native() -> bool:
    """Stop the per-record log events of this process (idempotent). False when the SDK
    lacks what this relies on, or `PTT_NATIVE_LOGS=python` asks for the SDK's default
    (then nothing changes)."""
    global _done
    if os.environ.get("PTT_NATIVE_LOGS", "").strip().lower() == "python":
        return False
    with _lock:
        if _done:
            return True
        client = _ffi_client.FfiClient.instance  # initialised (capture on) if it was not
        callback = getattr(_ffi_client, "ffi_event_callback", None)
        lib = getattr(client, "_ffi_lib", None)
        if callback is None or lib is None:
            return False
        lib.livekit_ffi_initialize(callback, False, b"python", __version__.encode("ascii"))
        _done = True
        return True
