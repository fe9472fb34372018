"""Demo data: about 200 customers with varied traits and a year of events, loaded exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import col

from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.db import session_scope
from loyalty_engine.demo import load_demo
from loyalty_engine.events.models import Event
from loyalty_engine.runtime import Runtime

DEMO_SEGMENTS = ("high-adoption", "administrators", "year-one")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_demo_loads_once_with_realistic_spread(runtime: Runtime) -> None:
    first = load_demo(runtime, customers=200, months=12, seed=7)
    assert first.customers == 200
    assert first.admin_key is not None
    with session_scope(runtime.engine, write=False) as session:
        customers = list(session.execute(select(Customer)).scalars())
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        from_demo = session.execute(
            select(func.count()).select_from(Event).where(col(Event.source) == "demo")
        ).scalar_one()
        oldest, newest = session.execute(
            select(func.min(Event.occurred_at), func.max(Event.occurred_at))
        ).one()
    assert len(customers) == 200
    assert from_demo == first.events > 5_000
    assert events > from_demo  # and what the rules, milestones and tiers emitted in reply
    assert (newest - oldest).days >= 330  # about twelve months of history
    assert len(Counter(c.plan for c in customers)) == 4
    assert len(Counter(c.role for c in customers)) >= 3
    assert len(Counter(c.industry for c in customers)) >= 6
    assert all(c.email and c.signup_at and c.timezone for c in customers)

    second = load_demo(runtime, customers=200, months=12, seed=7)
    assert second.admin_key is None
    assert "already loaded" in second.summary
    with session_scope(runtime.engine, write=False) as session:
        assert session.execute(select(func.count()).select_from(Event)).scalar_one() == events


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_demo_shows_every_program_with_members(client: TestClient, runtime: Runtime) -> None:
    loaded = load_demo(runtime, customers=200, months=12, seed=7)
    headers = {"Authorization": f"Bearer {loaded.admin_key}"}

    def get(path: str) -> Any:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    # The three kinds of segment the product documents name, each with members.
    counts = {s: get(f"/v1/segments/{s}/count")["count"] for s in DEMO_SEGMENTS}
    assert all(count > 0 for count in counts.values()), counts
    stages = Counter(c.lifecycle_stage for c in _customers(runtime))
    assert stages[LifecycleStage.LOYALTY] > 0, stages
    tiers = Counter(
        get(f"/v1/customers/demo-{n:04d}/tier")["tier"] is not None for n in (1, 50, 150)
    )
    assert get("/v1/tier-program")["tiers"][0]["key"] == "silver"
    assert sum(tiers.values()) == 3
    offers = get("/v1/customers/demo-0001/rewards")
    assert {o["key"] for o in offers} == {"credit-50", "early-access-reports"}
    assert get("/v1/renewal-discounts")["policies"][0]["segment"] == "year-one"


def _customers(runtime: Runtime) -> list[Customer]:
    with session_scope(runtime.engine, write=False) as session:
        return list(session.execute(select(Customer)).scalars())
