"""Opaque cursors (loyalty_engine.pagination): round trips, and refusals as 422 at query.cursor."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.errors import ValidationFailed
from loyalty_engine.pagination import cursor_id, cursor_instant, decode_cursor, encode_cursor

positions = st.fixed_dictionaries(
    {
        "at": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        "id": st.integers(min_value=0, max_value=2**63 - 1),
    }
)


@given(positions)
def test_a_cursor_decodes_to_what_was_encoded(position: dict[str, Any]) -> None:
    cursor = encode_cursor(position)

    assert decode_cursor(cursor, ("at", "id")) == position
    assert cursor_id(position, "id") == position["id"]
    assert cursor_instant(position, "at") == datetime.fromisoformat(position["at"])


@given(positions)
def test_a_cursor_is_url_safe(position: dict[str, Any]) -> None:
    assert set(encode_cursor(position)) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_an_instant_with_an_offset_comes_back_in_utc() -> None:
    at = cursor_instant({"at": "2026-03-02T11:00:00+02:00"}, "at")

    assert at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)


def _refused(call: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as raised:
        call()
    return raised.value


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        encode_cursor([1, 2]),  # type: ignore[arg-type]
        encode_cursor({"after": 1}),
        encode_cursor({"at": "2026-03-02T09:00:00Z"}),
        encode_cursor({"at": "2026-03-02T09:00:00Z", "id": 1, "more": 2}),
    ],
)
def test_anything_but_a_cursor_with_exactly_the_keys_is_refused(cursor: str) -> None:
    error = _refused(lambda: decode_cursor(cursor, ("at", "id")))

    assert error.status_code == 422
    assert [d["path"] for d in error.details] == ["query.cursor"]


@pytest.mark.parametrize("value", ["7", 7.0, True, None, -1, 2**63, [7]])
def test_an_id_must_be_a_64_bit_integer(value: Any) -> None:
    error = _refused(lambda: cursor_id({"id": value}, "id"))

    assert [d["path"] for d in error.details] == ["query.cursor"]


@pytest.mark.parametrize("value", ["yesterday", "2026-03-02T09:00:00", 1_772_442_000, None])
def test_an_instant_must_be_iso_8601_with_an_offset(value: Any) -> None:
    error = _refused(lambda: cursor_instant({"at": value}, "at"))

    assert [d["path"] for d in error.details] == ["query.cursor"]
