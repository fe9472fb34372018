"""The ledger through HTTP: balances with expiries, the ledger with decision links, staff
adjustments and redemptions with idempotency keys, and 200 concurrent redemptions of 100 points."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.auth.models import Role
from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime
from rewards import service
from rewards.models import SourceKind
from tests.conftest import START, Keys, LiveServer
from tests.rewards.conftest import CUSTOMERS

Make = Callable[..., dict[str, object]]


def grant(
    runtime: Runtime,
    customer_id: int,
    amount: int,
    *,
    unit: str = "points",
    ref: str = "welcome",
    expires_in: timedelta | None = None,
    hold: timedelta | None = None,
) -> None:
    now = runtime.clock.now()
    with session_scope(runtime.engine, write=True) as session:
        service.grant(
            session,
            customer_id=customer_id,
            unit=unit,
            amount=amount,
            reason=f"grant {ref}",
            source_kind=SourceKind.RULE,
            source_ref=ref,
            now=now,
            expires_at=now + expires_in if expires_in else None,
            matures_at=now + hold if hold else None,
        )


def customer(make_customer: Make, runtime: Runtime, external_id: str = "acme") -> int:
    """Create the customer through the API; its row id, for granting through the service."""
    make_customer(external_id, plan="growth")
    with session_scope(runtime.engine, write=False) as session:
        found = session.execute(
            select(CUSTOMERS.c.id).where(CUSTOMERS.c.external_id == external_id)
        ).scalar_one()
    return int(found)


def redeem(
    client: TestClient, headers: dict[str, str], key: str, amount: int = 1, **body: Any
) -> Any:
    return client.post(
        "/v1/customers/acme/redemptions",
        json={"amount": amount, **body},
        headers={**headers, "Idempotency-Key": key},
    )


def test_balances_show_available_pending_and_what_expires_soon(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    cid = customer(make_customer, runtime)
    grant(runtime, cid, 100, ref="a", expires_in=timedelta(days=10))
    grant(runtime, cid, 40, ref="b", expires_in=timedelta(days=10))
    grant(runtime, cid, 70, ref="c", expires_in=timedelta(days=90))
    grant(runtime, cid, 25, ref="d", hold=timedelta(days=14))
    grant(runtime, cid, 500, unit="usd", ref="e")

    body = client.get("/v1/customers/acme/balances", headers=admin).json()

    assert body["expiring_within_days"] == 30
    by_unit = {b["unit"]: b for b in body["balances"]}
    points = by_unit["points"]
    assert (points["available"], points["pending"], points["debt"]) == (210, 25, 0)
    assert points["expiring_soon"] == 140
    assert points["next_expiry"] == {
        "at": (START + timedelta(days=10)).isoformat().replace("+00:00", "Z"),
        "amount": 140,
    }
    assert by_unit["usd"] == {
        "unit": "usd",
        "available": 500,
        "pending": 0,
        "debt": 0,
        "expiring_soon": 0,
        "next_expiry": None,
    }
    wider = client.get("/v1/customers/acme/balances?expiring_within_days=120", headers=admin).json()
    assert {b["unit"]: b["expiring_soon"] for b in wider["balances"]}["points"] == 210


def test_an_unknown_customer_is_404_and_a_customer_without_accounts_has_no_balances(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    assert client.get("/v1/customers/ghost/balances", headers=admin).status_code == 404
    customer(make_customer, runtime)
    body = client.get("/v1/customers/acme/balances", headers=admin).json()
    assert body["balances"] == []
    assert client.get("/v1/customers/acme/ledger", headers=admin).json() == {
        "data": [],
        "next_cursor": None,
    }


def test_the_ledger_pages_newest_first_and_links_rule_grants_to_their_decision(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    rule = {
        "key": "welcome",
        "name": "welcome points",
        "triggers": ["signed_up"],
        "condition": True,
        "actions": [{"type": "award_points", "params": {"points": 50}}],
        "activate": True,
    }
    assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    event = {
        "type": "signed_up",
        "customer_id": "acme",
        "idempotency_key": "s1",
        "occurred_at": START.isoformat(),
    }
    assert client.post("/v1/events", json={"events": [event]}, headers=admin).status_code == 200
    for i in range(3):
        response = redeem(client, admin, f"r{i}", amount=10, reason=f"sticker {i}")
        assert response.status_code == 201, response.text

    first = client.get("/v1/customers/acme/ledger?limit=2", headers=admin).json()
    second = client.get(
        f"/v1/customers/acme/ledger?limit=2&cursor={first['next_cursor']}", headers=admin
    ).json()

    entries = first["data"] + second["data"]
    assert second["next_cursor"] is None
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("spend", -10, 20),
        ("spend", -10, 30),
        ("spend", -10, 40),
        ("earn", 50, 50),
    ]
    assert [e["reason"] for e in entries[:3]] == ["sticker 2", "sticker 1", "sticker 0"]
    earn = entries[-1]
    decisions = client.get("/v1/customers/acme/decisions", headers=admin).json()["data"]
    assert earn["decision_id"] == decisions[0]["id"]
    assert earn["decision_url"] == f"/v1/customers/acme/decisions/{earn['decision_id']}"
    assert all(e["decision_url"] is None for e in entries[:3])
    only_usd = client.get("/v1/customers/acme/ledger?unit=usd", headers=admin).json()
    assert only_usd["data"] == []


def test_a_bad_cursor_or_unit_is_a_422_at_its_query_parameter(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    bad_cursor = client.get("/v1/customers/acme/ledger?cursor=nonsense", headers=admin)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["error"]["details"][0]["path"] == "query.cursor"
    bad_unit = client.get("/v1/customers/acme/ledger?unit=USD", headers=admin)
    assert bad_unit.status_code == 422
    assert "unit" in bad_unit.json()["error"]["details"][0]["path"]


def test_adjustments_need_a_reason_and_add_or_take_lots(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    url = "/v1/customers/acme/adjustments"

    no_reason = client.post(
        url, json={"unit": "points", "amount": 5}, headers={**admin, "Idempotency-Key": "x"}
    )
    assert no_reason.status_code == 422
    assert [p["path"] for p in no_reason.json()["error"]["details"]] == ["$.reason"]
    no_key = client.post(url, json={"unit": "points", "amount": 5, "reason": "goodwill"})
    assert no_key.status_code == 401  # credentials are checked first
    no_key = client.post(
        url, json={"unit": "points", "amount": 5, "reason": "goodwill"}, headers=admin
    )
    assert no_key.status_code == 422
    assert "Idempotency-Key" in no_key.json()["error"]["details"][0]["path"]

    added = client.post(
        url,
        json={"unit": "points", "amount": 80, "reason": "goodwill after outage"},
        headers={**admin, "Idempotency-Key": "adj-1"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["entry"]["kind"] == "adjust"
    assert added.json()["entry"]["reason"] == "goodwill after outage"
    assert added.json()["balance"]["available"] == 80
    taken = client.post(
        url,
        json={"unit": "points", "amount": -30, "reason": "duplicate grant"},
        headers={**admin, "Idempotency-Key": "adj-2"},
    )
    assert taken.status_code == 201, taken.text
    assert (taken.json()["entry"]["amount"], taken.json()["balance"]["available"]) == (-30, 50)
    too_much = client.post(
        url,
        json={"unit": "points", "amount": -51, "reason": "duplicate grant"},
        headers={**admin, "Idempotency-Key": "adj-3"},
    )
    assert too_much.status_code == 409
    assert too_much.json()["error"]["details"] == {
        "unit": "points",
        "available": 50,
        "requested": 51,
    }
    zero = client.post(
        url,
        json={"unit": "points", "amount": 0, "reason": "nothing"},
        headers={**admin, "Idempotency-Key": "adj-4"},
    )
    assert zero.status_code == 422
    assert zero.json()["error"]["details"][0]["path"] == "$.amount"


def test_only_staff_with_the_right_role_may_adjust(
    client: TestClient, keys: Keys, make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    body = {"unit": "points", "amount": 5, "reason": "goodwill"}
    for role, status in ((Role.MARKETER, 403), (Role.BILLING, 403), (Role.SUPPORT, 201)):
        response = client.post(
            "/v1/customers/acme/adjustments",
            json=body,
            headers={**keys.headers(role), "Idempotency-Key": f"k-{role}"},
        )
        assert response.status_code == status, (role, response.text)


def test_a_redemption_replayed_with_its_key_spends_once_and_a_changed_body_is_refused(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    cid = customer(make_customer, runtime)
    grant(runtime, cid, 100)

    first = redeem(client, admin, "order-7", amount=60)
    again = redeem(client, admin, "order-7", amount=60)
    changed = redeem(client, admin, "order-7", amount=61)
    short = redeem(client, admin, "order-8", amount=41)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["entry"] == again.json()["entry"]
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert again.json()["balance"]["available"] == 40
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert short.status_code == 409
    assert short.json()["error"]["code"] == "insufficient_balance"
    assert short.json()["error"]["details"] == {
        "unit": "points",
        "available": 40,
        "requested": 41,
    }
    # The failed request wrote nothing: its key is still free and succeeds once funded.
    grant(runtime, cid, 1, ref="top-up")
    assert redeem(client, admin, "order-8", amount=41).status_code == 201


def test_two_customers_may_use_the_same_idempotency_key(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    grant(runtime, customer(make_customer, runtime, "acme"), 10)
    grant(runtime, customer(make_customer, runtime, "globex"), 10)
    for external_id in ("acme", "globex"):
        response = client.post(
            f"/v1/customers/{external_id}/redemptions",
            json={"amount": 3},
            headers={**admin, "Idempotency-Key": "1"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["balance"]["available"] == 7


def test_a_customer_redeems_their_own_credits_and_cannot_see_anyone_elses(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    grant(runtime, customer(make_customer, runtime, "acme"), 500, unit="usd")
    grant(runtime, customer(make_customer, runtime, "globex"), 500, unit="usd")
    token = client.post("/v1/customers/acme/tokens", json={}, headers=admin).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}

    spent = client.post(
        "/v1/customers/acme/redemptions",
        json={"unit": "usd", "amount": 200, "reason": "applied to invoice"},
        headers={**mine, "Idempotency-Key": "inv-1"},
    )
    assert spent.status_code == 201, spent.text
    assert spent.json()["balance"]["available"] == 300
    assert client.get("/v1/customers/acme/ledger", headers=mine).status_code == 200
    for path in ("balances", "ledger"):
        assert client.get(f"/v1/customers/globex/{path}", headers=mine).status_code == 404
    theirs = client.post(
        "/v1/customers/globex/redemptions",
        json={"unit": "usd", "amount": 1},
        headers={**mine, "Idempotency-Key": "inv-2"},
    )
    assert theirs.status_code == 404
    assert (
        client.get("/v1/customers/globex/balances", headers=admin).json()["balances"][0][
            "available"
        ]
        == 500
    )


@pytest.mark.slow
@pytest.mark.parametrize("replays", [False, True], ids=["distinct-keys", "with-replays"])
def test_200_concurrent_one_point_redemptions_of_100_points_over_http(
    live_server: LiveServer,
    admin: dict[str, str],
    make_customer: Make,
    runtime: Runtime,
    clock: FrozenClock,
    replays: bool,
) -> None:
    grant(runtime, customer(make_customer, runtime), 100)
    # With replays, 100 keys are each sent twice: the second of a pair replays, never spends.
    keys = [f"k{i // 2}" if replays else f"k{i}" for i in range(200)]
    start = threading.Barrier(len(keys))

    def attempt(key: str) -> tuple[str, int]:
        with live_server.client() as http:
            start.wait()
            response = http.post(
                "/v1/customers/acme/redemptions",
                json={"amount": 1},
                headers={**admin, "Idempotency-Key": key},
            )
        return key, response.status_code

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        results = list(pool.map(attempt, keys))

    statuses = Counter(status for _, status in results)
    assert all(status < 500 for status in statuses), statuses
    with live_server.client() as http:
        balances = http.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
        ledger = http.get("/v1/customers/acme/ledger?limit=200", headers=admin).json()["data"]
    spends = [e for e in ledger if e["kind"] == "spend"]
    if replays:
        assert statuses == Counter({201: 100, 200: 100})
        assert len({e["id"] for e in spends}) == 100
    else:
        assert statuses == Counter({201: 100, 409: 100})
        assert len(spends) == 100
    assert balances[0]["available"] == 0


def test_each_customer_sees_their_own_next_expiry(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    """Another customer's earlier expiry never leaks into this customer's balance."""
    grant(
        runtime,
        customer(make_customer, runtime, "globex"),
        10,
        ref="g",
        expires_in=timedelta(days=3),
    )
    acme = customer(make_customer, runtime, "acme")
    grant(runtime, acme, 70, ref="a", expires_in=timedelta(days=20))
    grant(runtime, acme, 5, ref="b", expires_in=timedelta(days=20))

    [points] = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]

    assert points["next_expiry"]["amount"] == 75
    assert points["next_expiry"]["at"].startswith((START + timedelta(days=20)).date().isoformat())
    assert points["expiring_soon"] == 75
