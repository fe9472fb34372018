"""The request body limit (loyalty_engine.limits): over settings.max_body_bytes is a 413."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine

from loyalty_engine.config import Settings
from tests.events.support import customer_count, event, event_count

LIMIT = 1024


@pytest.fixture
def settings(db_url: str) -> Settings:
    """This module's app refuses bodies over 1 KiB."""
    return Settings(database_url=db_url, max_body_bytes=LIMIT)


@pytest.fixture(autouse=True)
def acme(client: TestClient, admin: dict[str, str]) -> None:
    assert client.put("/v1/customers/acme", json={}, headers=admin).status_code == 201


def batch_of(size: int) -> bytes:
    """A valid one-event batch padded with JSON whitespace to exactly `size` bytes."""
    raw = orjson.dumps({"events": [event("k1")]})
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


def chunks(raw: bytes, size: int = 100) -> Iterator[bytes]:
    """The body sent in pieces, without a Content-Length (chunked transfer encoding)."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def assert_too_large(response: Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"max_bytes": LIMIT}


def test_a_body_of_exactly_the_limit_is_accepted(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    response = client.post(
        "/v1/events", content=batch_of(LIMIT), headers={**admin, "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert event_count(engine) == 1


def test_a_declared_length_over_the_limit_is_refused(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    response = client.post(
        "/v1/events",
        content=batch_of(LIMIT + 1),
        headers={**admin, "Content-Type": "application/json"},
    )

    assert_too_large(response)
    assert event_count(engine) == 0


def test_a_streamed_batch_over_the_limit_is_refused(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    response = client.post(
        "/v1/events",
        content=chunks(batch_of(LIMIT + 1)),
        headers={**admin, "Content-Type": "application/json"},
    )

    assert_too_large(response)
    assert event_count(engine) == 0


def test_a_streamed_batch_under_the_limit_is_accepted(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    response = client.post(
        "/v1/events",
        content=chunks(batch_of(LIMIT)),
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert event_count(engine) == 1


def test_a_streamed_customer_over_the_limit_is_refused(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    body = orjson.dumps({"name": "Globex", "custom_traits": {"notes": "x" * LIMIT}})

    response = client.put(
        "/v1/customers/globex",
        content=chunks(body),
        headers={**admin, "Content-Type": "application/json"},
    )

    assert_too_large(response)
    assert customer_count(engine) == 1
