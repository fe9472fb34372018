"""Liability and breakage from a ledger with every kind of use: spent, expired, reversed, held."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime
from rewards import service
from rewards.ledger import ReversalPolicy
from rewards.models import SourceKind
from tests.rewards.conftest import add_customer


def _ledger_through_march_and_april(runtime: Runtime, clock: FrozenClock) -> None:
    """March 2: 100 points expiring April 1, 50 that never expire, 200 usd expiring May 1; 30
    points spent (from the April lot); 20 points granted for an order, then reversed. April 2:
    the April-1 lot expires (70 left in it); 40 points expiring April 12 and 25 held points."""
    acme = add_customer(runtime.engine, "acme", clock.now())

    def grant(amount: int, ref: str, unit: str = "points", **when: timedelta) -> None:
        now = clock.now()
        service.grant(
            session,
            customer_id=acme,
            unit=unit,
            amount=amount,
            reason=ref,
            source_kind=SourceKind.RULE,
            source_ref=ref,
            now=now,
            expires_at=now + when["expires"] if "expires" in when else None,
            matures_at=now + when["hold"] if "hold" in when else None,
        )

    with session_scope(runtime.engine, write=True) as session:
        grant(100, "a", expires=timedelta(days=30))
        grant(50, "b")
        grant(200, "c", unit="usd", expires=timedelta(days=60))
        service.spend(
            session,
            customer_id=acme,
            unit="points",
            amount=30,
            reason="sticker",
            now=clock.now(),
            idempotency_key=None,
        )
        grant(20, "order-9")
        service.reverse_source(
            session,
            source_kind=SourceKind.RULE,
            source_ref="order-9",
            reason="refund",
            now=clock.now(),
            policy=ReversalPolicy.CLAW_BACK_TO_ZERO,
        )
    clock.advance(timedelta(days=31))
    with session_scope(runtime.engine, write=True) as session:
        assert len(service.expire_due(session, now=clock.now())) == 1
        grant(40, "e", expires=timedelta(days=10))
        grant(25, "f", hold=timedelta(days=14))


def test_liability_by_expiry_month_and_breakage_by_grant_month(
    client: TestClient, admin: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _ledger_through_march_and_april(runtime, clock)

    body = client.get("/v1/analytics/liability", headers=admin).json()

    assert (body["granted_from"], body["granted_until"]) == ("2025-05", "2026-04")
    assert body["outstanding"] == [
        {
            "unit": "points",
            "available": 90,
            "pending": 25,
            "by_expiry_month": {"2026-04": 40, "never": 75},
        },
        {"unit": "usd", "available": 200, "pending": 0, "by_expiry_month": {"2026-05": 200}},
    ]
    assert body["cohorts"] == [
        {
            "unit": "points",
            "month": "2026-03",
            "granted": 170,
            "outstanding": 50,
            "used": {"expired": 70, "reversed": 20, "spent": 30},
            "breakage_bps": 70 * 10_000 // 170,
        },
        {
            "unit": "points",
            "month": "2026-04",
            "granted": 65,
            "outstanding": 65,
            "used": {},
            "breakage_bps": 0,
        },
        {
            "unit": "usd",
            "month": "2026-03",
            "granted": 200,
            "outstanding": 200,
            "used": {},
            "breakage_bps": 0,
        },
    ]
    for cohort in body["cohorts"]:  # every granted amount is accounted for
        assert cohort["granted"] == cohort["outstanding"] + sum(cohort["used"].values())


def test_liability_filters_by_unit_and_grant_months(
    client: TestClient, admin: dict[str, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _ledger_through_march_and_april(runtime, clock)

    only_april = client.get(
        "/v1/analytics/liability?unit=points&granted_from=2026-04&granted_until=2026-04",
        headers=admin,
    ).json()

    assert [o["unit"] for o in only_april["outstanding"]] == ["points"]
    assert [(c["unit"], c["month"]) for c in only_april["cohorts"]] == [("points", "2026-04")]
    backwards = client.get(
        "/v1/analytics/liability?granted_from=2026-05&granted_until=2026-04", headers=admin
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"][0]["path"] == "query.granted_from"
    not_a_month = client.get("/v1/analytics/liability?granted_from=2026-13", headers=admin)
    assert not_a_month.status_code == 422
    assert "granted_from" in not_a_month.json()["error"]["details"][0]["path"]


def test_an_empty_ledger_owes_nothing(client: TestClient, admin: dict[str, str]) -> None:
    body = client.get("/v1/analytics/liability", headers=admin).json()
    assert (body["outstanding"], body["cohorts"]) == ([], [])
