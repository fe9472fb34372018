"""The balance read's fast route answers exactly what the route would, and leaves every other
case (other customers, bad parameters, refused grants, unknown customers) to the route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.auth.models import Role
from loyalty_engine.runtime import Runtime
from rewards import queries
from tests.conftest import Keys
from tests.rewards.test_ledger_api import customer, grant

Make = Callable[..., dict[str, object]]


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Calls that reached the FastAPI route (the fast route does not look up ids this way)."""
    seen: list[str] = []
    real = queries.customer_id_of

    def spy(session: Any, external_id: str) -> int:
        seen.append(external_id)
        return real(session, external_id)

    monkeypatch.setattr(queries, "customer_id_of", spy)
    return seen


def test_the_fast_answer_is_the_routes_answer_byte_for_byte(
    client: TestClient, keys: Keys, make_customer: Make, runtime: Runtime, route_calls: list[str]
) -> None:
    acme = customer(make_customer, runtime)
    grant(runtime, acme, 700, expires_in=timedelta(days=10))
    grant(runtime, acme, 300, ref="later", expires_in=timedelta(days=200))
    grant(runtime, acme, 50, ref="held", hold=timedelta(days=30))
    grant(runtime, acme, 1_999, unit="usd", ref="credit")
    token = client.post("/v1/customers/acme/tokens", json={}, headers=keys.headers(Role.ADMIN))
    callers = [keys.headers(role) for role in (Role.ADMIN, Role.BILLING, Role.SUPPORT)]
    callers.append({"Authorization": f"Bearer {token.json()['token']}"})
    for headers in callers:
        for days in ("", "?expiring_within_days=300"):
            fast = client.get(f"/v1/customers/acme/balances{days}", headers=headers)
            # An extra parameter the fast route does not know sends the read to the route.
            tail = f"{days}&x=1" if days else "?x=1&expiring_within_days=30"
            slow = client.get(f"/v1/customers/acme/balances{tail}", headers=headers)
            assert fast.status_code == slow.status_code == 200
            assert fast.content == slow.content
            assert fast.headers["content-type"] == slow.headers["content-type"]
    assert len(route_calls) == len(callers) * 2  # only the slow ones reached the route
    body = client.get("/v1/customers/acme/balances", headers=callers[0]).json()
    assert [b["unit"] for b in body["balances"]] == ["points", "usd"]
    assert body["balances"][0]["expiring_soon"] == 700


def test_everything_but_success_is_answered_by_the_route_as_before(
    client: TestClient, keys: Keys, make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    customer(make_customer, runtime, "globex")
    admin = keys.headers(Role.ADMIN)
    token = client.post("/v1/customers/acme/tokens", json={}, headers=admin).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}

    other = client.get("/v1/customers/globex/balances", headers=mine)
    assert (other.status_code, other.json()["error"]["code"]) == (404, "customer_not_found")
    missing = client.get("/v1/customers/nobody/balances", headers=admin)
    assert missing.status_code == 404
    bad = client.get("/v1/customers/acme/balances?expiring_within_days=0", headers=admin)
    assert bad.status_code == 422
    assert "expiring_within_days" in bad.text
    refused = client.get("/v1/customers/acme/balances", headers=keys.headers(Role.INGEST))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    anonymous = client.get("/v1/customers/acme/balances")
    assert anonymous.status_code == 401
    wrong = client.get("/v1/customers/acme/balances", headers={"Authorization": "Bearer lk_nope"})
    assert wrong.status_code == 401


def test_a_revoked_key_is_refused_by_the_fast_route_at_once(
    client: TestClient, keys: Keys, make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    billing = keys.headers(Role.BILLING)
    assert client.get("/v1/customers/acme/balances", headers=billing).status_code == 200
    listed = client.get("/v1/api-keys", headers=keys.headers(Role.ADMIN)).json()
    key_id = next(k["id"] for k in listed if k["role"] == "billing")
    revoked = client.delete(f"/v1/api-keys/{key_id}", headers=keys.headers(Role.ADMIN))
    assert revoked.status_code in (200, 204)
    assert client.get("/v1/customers/acme/balances", headers=billing).status_code == 401


def test_the_metrics_name_the_route_template(
    client: TestClient, keys: Keys, make_customer: Make, runtime: Runtime
) -> None:
    customer(make_customer, runtime)
    client.get("/v1/customers/acme/balances", headers=keys.headers(Role.ADMIN))
    metrics = client.get("/metrics").text
    assert 'route="/v1/customers/{external_id}/balances",status="200"' in metrics
