"""parse_batch, without a database: the envelope is judged whole, each event alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from loyalty_engine.errors import MalformedJson, PayloadTooLarge, ValidationFailed
from loyalty_engine.events.batch import parse_batch
from loyalty_engine.events.schemas import Outcome
from tests.events.support import event


def body(document: Any) -> bytes:
    return orjson.dumps(document)


def test_valid_events_come_back_with_their_index_and_in_utc() -> None:
    raw = event("k1", at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), plan="pro")
    raw["occurred_at"] = "2026-03-01T14:00:00+02:00"

    valid, invalid = parse_batch(body({"events": [raw]}), max_events=10)

    assert invalid == []
    [(index, parsed)] = valid
    assert index == 0
    assert parsed.occurred_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parsed.occurred_at.utcoffset() is not None
    assert parsed.source == "api"
    assert parsed.properties == {"plan": "pro"}


def test_each_invalid_event_is_rejected_alone_at_its_own_path() -> None:
    missing_customer = event("k1")
    del missing_customer["customer_id"]
    events = [event("k0"), missing_customer, event("k2"), "not an event"]

    valid, invalid = parse_batch(body({"events": events}), max_events=10)

    assert [index for index, _ in valid] == [0, 2]
    assert [(r.index, r.status, r.idempotency_key) for r in invalid] == [
        (1, Outcome.REJECTED, "k1"),
        (3, Outcome.REJECTED, None),
    ]
    errors = [r.error or {} for r in invalid]
    assert [(e["code"], e["path"]) for e in errors] == [
        ("invalid_event", "$.events[1].customer_id"),
        ("invalid_event", "$.events[3]"),
    ]
    assert "customer_id" in errors[0]["message"]
    assert errors[1]["message"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"type": "Plan Changed"}, "$.events[0].type"),
        ({"customer_id": "has space"}, "$.events[0].customer_id"),
        ({"customer_id": ""}, "$.events[0].customer_id"),
        ({"occurred_at": "2026-03-01T12:00:00"}, "$.events[0].occurred_at"),
        ({"occurred_at": "last tuesday"}, "$.events[0].occurred_at"),
        ({"idempotency_key": ""}, "$.events[0].idempotency_key"),
        ({"idempotency_key": "k" * 256}, "$.events[0].idempotency_key"),
        ({"idempotency_key": 7}, "$.events[0].idempotency_key"),
        ({"properties": ["a"]}, "$.events[0].properties"),
        ({"source": "Stripe Webhooks"}, "$.events[0].source"),
        ({"colour": "teal"}, "$.events[0].colour"),
    ],
)
def test_the_path_names_the_bad_field(change: dict[str, Any], path: str) -> None:
    _, [rejection] = parse_batch(body({"events": [{**event("k"), **change}]}), max_events=10)

    assert rejection.error is not None
    assert (rejection.error["code"], rejection.error["path"]) == ("invalid_event", path)


def test_a_batch_of_exactly_max_events_is_parsed() -> None:
    valid, _ = parse_batch(body({"events": [event(f"k{n}") for n in range(5)]}), max_events=5)

    assert len(valid) == 5


def test_a_batch_over_max_events_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as raised:
        parse_batch(body({"events": [event(f"k{n}") for n in range(6)]}), max_events=5)

    assert raised.value.status_code == 413
    assert raised.value.details == {"max_events": 5, "events": 6}


@pytest.mark.parametrize("raw", [b"", b"{", b'{"events": [}', b"\xff", b"{'events': []}"])
def test_malformed_json(raw: bytes) -> None:
    with pytest.raises(MalformedJson) as raised:
        parse_batch(raw, max_events=10)

    assert (raised.value.status_code, raised.value.code) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([event("k")], "$"),
        ("events", "$"),
        (None, "$"),
        ({}, "$.events"),
        ({"events": None}, "$.events"),
        ({"events": {"0": event("k")}}, "$.events"),
        ({"events": []}, "$.events"),
        ({"events": [event("k")], "batch_id": "b1"}, "$.batch_id"),
    ],
)
def test_a_bad_envelope_refuses_the_whole_batch(document: Any, path: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_batch(body(document), max_events=10)

    assert raised.value.status_code == 422
    assert [d["path"] for d in raised.value.details] == [path]
