"""Demo data: about 200 customers with varied traits and a year of events, loaded exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from loyalty_engine.customers.models import Customer
from loyalty_engine.db import session_scope
from loyalty_engine.demo import load_demo
from loyalty_engine.events.models import Event
from loyalty_engine.runtime import Runtime


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_demo_loads_once_with_realistic_spread(runtime: Runtime) -> None:
    first = load_demo(runtime, customers=200, months=12, seed=7)
    assert first.customers == 200
    assert first.admin_key is not None
    with session_scope(runtime.engine, write=False) as session:
        customers = list(session.execute(select(Customer)).scalars())
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        oldest, newest = session.execute(
            select(func.min(Event.occurred_at), func.max(Event.occurred_at))
        ).one()
    assert len(customers) == 200
    assert events == first.events > 5_000
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
