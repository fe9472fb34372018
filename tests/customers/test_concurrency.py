"""Concurrent first PUTs of one new customer, through a real server: one row, one 201."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.events.support import customer_count

WRITERS = 20


def test_concurrent_first_puts_create_one_customer(
    live_server: LiveServer, admin: dict[str, str], engine: Engine
) -> None:
    start = threading.Barrier(WRITERS)

    def first_put(writer: int) -> int:
        with live_server.client(headers=admin) as http:
            start.wait()
            response = http.put("/v1/customers/new-co", json={"seats": writer})
            return response.status_code

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = Counter(pool.map(first_put, range(WRITERS)))

    assert statuses == {201: 1, 200: WRITERS - 1}
    assert customer_count(engine) == 1
    with live_server.client(headers=admin) as http:
        assert http.get("/v1/customers/new-co").json()["seats"] in range(WRITERS)
