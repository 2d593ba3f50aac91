"""The log oracle, shared with the headless client (it lives in stack/, beside the logs)."""

from stack.log_oracle import BENIGN, DATA_CHANNEL_CLOSED, FORBIDDEN, LogCursor, bad_records

__all__ = ["BENIGN", "DATA_CHANNEL_CLOSED", "FORBIDDEN", "LogCursor", "bad_records"]
