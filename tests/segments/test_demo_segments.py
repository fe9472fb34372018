"""The demo's segments: usage-, role- and lifecycle-based, saved once, each with members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime
from loyalty_engine.segments.demo import load_demo_segments
from tests.conftest import START

Make = Callable[..., dict[str, object]]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_three_kinds_of_demo_segments_load_once_and_have_members(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    started = (START - timedelta(days=100)).isoformat()
    make_customer("a", role="admin", custom_traits={"weekly_active_days": 5})
    make_customer("b", role="member", subscription_started_at=started)
    make_customer("c", role="manager", custom_traits={"weekly_active_days": 2})
    with session_scope(runtime.engine, write=True) as session:
        assert load_demo_segments(session, now=START) == [
            "high-adoption",
            "administrators",
            "year-one",
        ]
    with session_scope(runtime.engine, write=True) as session:
        assert load_demo_segments(session, now=START) == []
    counts = {
        key: client.get(f"/v1/segments/{key}/members", headers=admin).json()["data"]
        for key in ("high-adoption", "administrators", "year-one")
    }
    assert {key: [c["id"] for c in found] for key, found in counts.items()} == {
        "high-adoption": ["a"],
        "administrators": ["a"],
        "year-one": ["b"],
    }
    traits = client.get("/v1/custom-traits", headers=admin).json()
    assert [(t["name"], t["kind"]) for t in traits] == [("weekly_active_days", "integer")]
