"""Request validation for the JSON API.

Rules (also in docs/console.md):
- the body is at most `MAX_BODY_BYTES` (4 KiB); larger bodies get 413;
- the body must be UTF-8 JSON whose top level is an object; otherwise 400;
- `room` and `identity` are required strings of 1-64 characters matching
  `NAME_PATTERN`: an ASCII letter or digit, then letters, digits, `_`, `.` or `-`.
  Anything else gets 400 with a message naming the field;
- `agent` is optional (absent or null: the configured agent name); when given it
  follows the same rules;
- `replace` (token only) is optional: absent, null or a boolean, else 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

MAX_BODY_BYTES = 4096
NAME_MAX_LEN = 64
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ApiError(Exception):
    """An error answered as JSON `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_json_object(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Read the request body as a JSON object, enforcing the size limit while reading."""
    too_large = ApiError(413, f"request body too large: the limit is {max_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise too_large
    if not body.strip():
        raise ApiError(400, "request body is empty: expected a JSON object")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"request body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ApiError(400, f"request body must be a JSON object, got {_json_type_name(data)}")
    return data


def require_name(data: dict[str, Any], field: str) -> str:
    """Return `data[field]` if it is a valid room or identity name, else raise ApiError(400)."""
    if field not in data or data[field] is None:
        raise ApiError(400, f"'{field}' is required")
    value = data[field]
    if not isinstance(value, str):
        raise ApiError(400, f"'{field}' must be a string, got {_json_type_name(value)}")
    if not value:
        raise ApiError(400, f"'{field}' must not be empty")
    if len(value) > NAME_MAX_LEN:
        raise ApiError(
            400, f"'{field}' is too long: {len(value)} characters, the limit is {NAME_MAX_LEN}"
        )
    if not NAME_PATTERN.fullmatch(value):
        raise ApiError(
            400,
            f"'{field}' contains characters that are not allowed: start with a letter or "
            "digit and use only letters, digits, '_', '.' and '-'",
        )
    return value


def optional_name(data: dict[str, Any], field: str) -> str | None:
    """Like `require_name`, but an absent or null `data[field]` gives None."""
    if data.get(field) is None:
        return None
    return require_name(data, field)


def optional_bool(data: dict[str, Any], field: str) -> bool:
    """`data[field]` as a boolean: absent or null is False, a non-boolean is 400."""
    value = data.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"'{field}' must be true or false, got {_json_type_name(value)}")
    return value


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
