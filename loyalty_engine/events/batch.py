"""Parsing a raw event batch: the envelope must be right as a whole; each event is judged alone."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from loyalty_engine.errors import (
    MalformedJson,
    PayloadTooLarge,
    ValidationFailed,
    json_path,
    problem,
)
from loyalty_engine.events.schemas import EventIn
from loyalty_engine.events.service import Result, rejected

_EVENT = TypeAdapter(EventIn)


def parse_batch(body: bytes, *, max_events: int) -> tuple[list[tuple[int, EventIn]], list[Result]]:
    """Valid events with their index, and a rejection for each invalid one."""
    items = _envelope(body, max_events)
    valid: list[tuple[int, EventIn]] = []
    invalid: list[Result] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, _EVENT.validate_python(item)))
        except ValidationError as exc:
            invalid.append(_rejection(index, item, exc))
    return valid, invalid


def _envelope(body: bytes, max_events: int) -> list[Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"malformed JSON: {exc}", details={"position": exc.pos}) from exc
    if not isinstance(document, dict):
        raise _invalid("$", 'expected an object like {"events": [...]}', "object_type")
    unknown = sorted(set(document) - {"events"})
    if unknown:
        raise _invalid(
            f"$.{unknown[0]}",
            f"unknown field {unknown[0]!r}; only 'events' is allowed",
            "extra_forbidden",
        )
    events = document.get("events")
    if not isinstance(events, list):
        raise _invalid("$.events", "expected a list of events", "list_type")
    if not events:
        raise _invalid("$.events", "send at least one event", "too_short")
    if len(events) > max_events:
        raise PayloadTooLarge(
            f"a batch holds at most {max_events} events, this one has {len(events)}",
            details={"max_events": max_events, "events": len(events)},
        )
    return events


def _invalid(path: str, message: str, type_: str) -> ValidationFailed:
    return ValidationFailed(message, details=[problem(path, message, type_)])


def _rejection(index: int, item: Any, exc: ValidationError) -> Result:
    errs = exc.errors()
    first = errs[0]
    path = f"$.events[{index}]" + json_path(first["loc"])[1:]
    message = "; ".join(f"{json_path(e['loc'])[2:] or 'event'}: {e['msg']}" for e in errs)
    key = item.get("idempotency_key") if isinstance(item, dict) else None
    return rejected(index, "invalid_event", message, path, key if isinstance(key, str) else None)
