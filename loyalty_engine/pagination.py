"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from loyalty_engine.errors import ValidationFailed, problem


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Decode a cursor made by `encode_cursor`; anything else is a 422 at `query.cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, dict) or set(values) != set(keys):
        raise _bad_cursor()
    return values


def cursor_id(values: dict[str, Any], key: str) -> int:
    """The row id under `key` of a decoded cursor; anything but a 64-bit id is a bad cursor."""
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _bad_cursor()
    return value


def cursor_instant(values: dict[str, Any], key: str) -> datetime:
    """The aware instant under `key` of a decoded cursor; anything else is a bad cursor."""
    value = values[key]
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.utcoffset() is None:
        raise _bad_cursor()
    return at.astimezone(UTC)


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "invalid cursor",
        details=[problem("query.cursor", "not a cursor returned by this endpoint", "cursor")],
    )
