"""The default-deny route table: every route of the app has a decision, and the gate enforces it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from loyalty_engine.auth.dependencies import authorize
from loyalty_engine.auth.models import Role
from loyalty_engine.auth.permissions import PERMISSIONS, PUBLIC_PATHS, SIGNED_PATHS, allowed
from loyalty_engine.auth.principal import CUSTOMER
from tests.conftest import Keys

GRANTS = [*(role.value for role in Role), CUSTOMER]
# Valid-looking path parameters: the token's own customer; any other id is one that does not exist.
OWN_CUSTOMER = "acme"
MISSING_ID = "999999"
# Bodies that pass validation far enough not to matter; a 404/422 for an allowed call is fine.
BODIES = {("POST", "/v1/api-keys"): {"name": "walk", "role": "support"}}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, descending into included routers.

    `app.routes` holds one `_IncludedRouter` per `include_router` call; FastAPI's own
    `iter_route_contexts` (what the OpenAPI generator walks) expands them, hidden routes included.
    Mounts have no methods and are listed with "*".
    """
    found = set()
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, route
        for method in route.methods or {"*"}:
            found.add((method, route.path))
    return found


def v1_routes(app: FastAPI) -> set[tuple[str, str]]:
    """The /v1 routes behind credentials (signed routes check their own signature)."""
    return {(m, p) for m, p in served_routes(app) if p.startswith("/v1") and p not in SIGNED_PATHS}


def documented_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def concrete(path: str) -> str:
    """`/v1/customers/{external_id}/events` -> `/v1/customers/acme/events`."""

    def value(match: re.Match[str]) -> str:
        return OWN_CUSTOMER if match.group(1) == "external_id" else MISSING_ID

    return re.sub(r"\{(\w+)\}", value, path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    body = BODIES.get((method, path), {}) if method in ("POST", "PUT", "PATCH") else None
    response = client.request(method, concrete(path), json=body, headers=headers)
    is_error = (
        response.status_code >= 400 and response.headers["content-type"] == "application/json"
    )
    return response.status_code, response.json()["error"]["code"] if is_error else ""


@pytest.fixture
def credentials(
    keys: Keys, make_customer: Callable[..., dict[str, object]], client: TestClient
) -> dict[str, dict[str, str]]:
    """Headers for every grant: one key per role, and a customer token for `acme`."""
    make_customer(OWN_CUSTOMER)
    minted = client.post(f"/v1/customers/{OWN_CUSTOMER}/tokens", headers=keys.headers(Role.BILLING))
    assert minted.status_code == 201, minted.text
    headers = {role.value: keys.headers(role) for role in Role}
    headers[CUSTOMER] = {"Authorization": f"Bearer {minted.json()['token']}"}
    return headers


# --- the table covers the app ---


def test_the_route_walk_sees_every_documented_route(app: FastAPI) -> None:
    documented = documented_routes(app)

    assert {p for _, p in documented if p.startswith("/v1")}, "the walk needs /v1 routes to check"
    assert documented <= served_routes(app)


def test_every_v1_route_has_a_decision_and_the_table_names_no_missing_route(app: FastAPI) -> None:
    served = v1_routes(app)

    assert served - set(PERMISSIONS) == set(), "routes without a decision in PERMISSIONS"
    assert set(PERMISSIONS) - served == set(), "PERMISSIONS names routes the app does not serve"


def test_signed_routes_are_few_and_refuse_an_unsigned_call(client: TestClient) -> None:
    """A route authenticated by its caller's signature is listed, and a call without one is
    refused by the route itself (400 here: the Stripe webhook; 503 before a secret is set)."""
    assert {"/v1/billing/stripe/webhook"} == SIGNED_PATHS
    refused = client.post("/v1/billing/stripe/webhook", content=b"{}")
    assert refused.status_code in (400, 503)
    assert refused.json()["error"]["code"] in ("signature_missing", "stripe_webhook_not_configured")


def test_every_route_outside_v1_is_public(app: FastAPI) -> None:
    outside = {path for _, path in served_routes(app) if not path.startswith("/v1")}

    assert outside <= PUBLIC_PATHS


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"]
)
def test_public_routes_need_no_credentials(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_a_new_route_without_a_decision_is_refused_to_everyone_and_caught_by_the_walk(
    app: FastAPI, client: TestClient, credentials: dict[str, dict[str, str]]
) -> None:
    extra = APIRouter(prefix="/v1")

    @extra.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    app.include_router(extra, dependencies=[Depends(authorize)])

    assert allowed("GET", "/v1/forgotten") == frozenset()
    assert v1_routes(app) - set(PERMISSIONS) == {("GET", "/v1/forgotten")}
    for grant, headers in credentials.items():
        response = client.get("/v1/forgotten", headers=headers)
        assert response.status_code == 403, grant
        assert "data" not in response.text


# --- the gate enforces the table, route by route ---


def test_every_v1_route_refuses_a_call_without_credentials(
    app: FastAPI, client: TestClient
) -> None:
    wrong = {}
    for method, path in sorted(v1_routes(app)):
        status, code = call(client, method, path, headers={})
        if (status, code) != (401, "missing_credentials"):
            wrong[f"{method} {path}"] = (status, code)
    assert wrong == {}


def test_every_v1_route_refuses_a_garbage_credential(app: FastAPI, client: TestClient) -> None:
    headers = {"Authorization": "Bearer lk_00000000_" + "x" * 43}
    wrong = {}
    for method, path in sorted(v1_routes(app)):
        status, code = call(client, method, path, headers=headers)
        if (status, code) != (401, "invalid_credentials"):
            wrong[f"{method} {path}"] = (status, code)
    assert wrong == {}


@pytest.mark.parametrize("grant", GRANTS)
def test_each_grant_reaches_exactly_the_routes_the_table_allows(
    app: FastAPI, client: TestClient, credentials: dict[str, dict[str, str]], grant: str
) -> None:
    wrong = {}
    for method, path in sorted(v1_routes(app)):
        status, code = call(client, method, path, headers=credentials[grant])
        permitted = grant in allowed(method, path)
        if permitted and status in (401, 403):
            wrong[f"{method} {path}"] = f"allowed but got {status} {code}"
        if not permitted and (status, code) != (403, "forbidden"):
            wrong[f"{method} {path}"] = f"denied but got {status} {code}"
    assert wrong == {}


def test_customer_routes_treat_every_other_customer_as_missing(
    app: FastAPI,
    client: TestClient,
    credentials: dict[str, dict[str, str]],
    make_customer: Callable[..., dict[str, object]],
) -> None:
    make_customer("globex", name="Globex Inc")
    scoped = [
        (method, path)
        for method, path in sorted(v1_routes(app))
        if CUSTOMER in allowed(method, path) and "{external_id}" in path
    ]
    wrong = {}
    for method, path in scoped:
        other = concrete(path.replace("{external_id}", "globex"))
        response = client.request(method, other, headers=credentials[CUSTOMER])
        if response.status_code != 404 or "Globex Inc" in response.text:
            wrong[f"{method} {path}"] = (response.status_code, response.text)
    assert scoped, "no customer route takes an external_id"
    assert wrong == {}


# --- the decisions the issue names ---


def test_the_table_keeps_keys_tokens_and_the_outbox_to_their_roles() -> None:
    assert allowed("GET", "/v1/api-keys") == {"admin"}
    assert allowed("POST", "/v1/api-keys") == {"admin"}
    assert allowed("DELETE", "/v1/api-keys/{key_id}") == {"admin"}
    assert allowed("POST", "/v1/customers/{external_id}/tokens") == {"admin", "billing"}
    assert allowed("GET", "/v1/outbox") == {"admin", "support"}
    assert allowed("POST", "/v1/outbox/{message_id}/retry") == {"admin"}
    assert CUSTOMER in allowed("GET", "/v1/customers/{external_id}")


def test_routes_open_to_customers_are_scoped_to_their_own_customer() -> None:
    """The gate confines a token through the `external_id` path parameter; a customer route
    without it could reach beyond that customer (whoami only describes the caller)."""
    unscoped = {
        (method, path)
        for (method, path), grants in PERMISSIONS.items()
        if CUSTOMER in grants and "{external_id}" not in path
    }

    assert unscoped == {("GET", "/v1/auth/whoami")}


def test_a_malformed_body_without_credentials_is_still_refused_as_unauthenticated(
    client: TestClient,
) -> None:
    response = client.post(
        "/v1/api-keys", content=b"{oops", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 401
