"""Concurrent posts of one idempotency key, through a real server: exactly one event stored."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.events.support import event, event_count

SENDERS = 20


def test_concurrent_posts_of_one_key_store_one_event(
    live_server: LiveServer, admin: dict[str, str], engine: Engine
) -> None:
    with live_server.client(headers=admin) as http:
        assert http.put("/v1/customers/acme", json={}).status_code == 201
    start = threading.Barrier(SENDERS)

    def send(sender: int) -> tuple[int, dict[str, Any]]:
        with live_server.client(headers=admin) as http:
            start.wait()
            response = http.post(
                "/v1/events",
                json={"events": [event("order-1", type="seats_changed", seats=sender)]},
            )
            return response.status_code, response.json()

    with ThreadPoolExecutor(SENDERS) as pool:
        answers = list(pool.map(send, range(SENDERS)))

    assert [status for status, _ in answers] == [200] * SENDERS
    outcomes = [body["results"][0] for _, body in answers]
    assert Counter(o["status"] for o in outcomes) == {"accepted": 1, "duplicate": SENDERS - 1}
    assert len({o["event_id"] for o in outcomes}) == 1
    assert event_count(engine) == 1
    [winner] = [sender for sender, o in enumerate(outcomes) if o["status"] == "accepted"]
    with live_server.client(headers=admin) as http:
        assert http.get("/v1/customers/acme").json()["seats"] == winner
