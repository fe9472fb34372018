"""Concurrent events of one customer: no count is lost and a milestone is achieved exactly once
(and announced once), on both databases."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import col

from loyalty_engine.events.models import Event
from loyalty_engine.milestones.models import CustomerRenewals, MilestoneAchievement
from tests.conftest import LiveServer
from tests.milestones.support import event, milestone, progress

Headers = dict[str, str]
REQUESTS = 40


def test_forty_concurrent_events_count_forty_and_achieve_once(
    live_server: LiveServer,
    client: TestClient,
    admin: Headers,
    engine: Engine,
    make_customer: Callable[..., dict[str, object]],
) -> None:
    make_customer("acme")
    steps = [{"key": "use", "event": "used", "count": REQUESTS}]
    milestone(client, admin, key="all_uses", name="Every use", steps=steps)
    milestone(client, admin, key="ten_uses", name="Ten uses", steps=[{**steps[0], "count": 10}])
    milestone(
        client,
        admin,
        key="renewed_twice",
        name="Renewed twice",
        condition={">=": [{"var": "customer.renewals"}, 2]},
    )

    def send(n: int) -> int:
        kind = "renewed" if n % 10 == 0 else "used"
        with live_server.client(headers=admin) as http:
            body = {"events": [event(kind, f"c-{n}")]}
            return http.post("/v1/events", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(REQUESTS + 5)))
    assert statuses == [200] * (REQUESTS + 5)
    rows = progress(client, admin)
    assert rows["all_uses"]["steps"][0]["count"] == REQUESTS  # 45 sent, 5 of them renewals
    assert rows["*"] == ["all_uses", "renewed_twice", "ten_uses"]
    with engine.connect() as conn:
        achieved = conn.execute(select(func.count()).select_from(MilestoneAchievement))
        announced = conn.execute(
            select(func.count()).select_from(Event).where(col(Event.type) == "milestone_achieved")
        )
        renewals = conn.execute(select(col(CustomerRenewals.renewals))).scalar_one()
        assert (achieved.scalar_one(), announced.scalar_one(), renewals) == (3, 3, 5)
