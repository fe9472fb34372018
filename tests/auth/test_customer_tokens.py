"""Customer tokens: minted by billing or admin, short-lived, signed, good for one customer only."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from loyalty_engine.auth.tokens import AUDIENCE
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from tests.conftest import Keys

WHOAMI = "/v1/auth/whoami"
MintToken = Callable[..., str]


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def secret_of(client: TestClient) -> str:
    secret: str = client.app.state.runtime.secret_key  # type: ignore[attr-defined]
    return secret


def sign(claims: dict[str, object], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def customers(make_customer: Callable[..., dict[str, object]]) -> None:
    make_customer("acme", email="ops@acme.example.com", name="Acme Corp", plan="pro")
    make_customer("globex", email="cfo@globex.example.com", name="Globex Inc", plan="enterprise")


@pytest.fixture
def acme_token(customers: None, mint_token: MintToken) -> str:
    return mint_token("acme")


# --- what a token may do ---


def test_a_token_reads_its_own_customer(client: TestClient, acme_token: str) -> None:
    customer = client.get("/v1/customers/acme", headers=bearer(acme_token))
    whoami = client.get(WHOAMI, headers=bearer(acme_token))

    assert customer.status_code == 200, customer.text
    assert customer.json()["id"] == "acme"
    assert customer.json()["email"] == "ops@acme.example.com"
    assert whoami.json() == {
        "kind": "customer",
        "role": None,
        "api_key_prefix": None,
        "customer_id": "acme",
    }


def test_another_customer_is_not_found_exactly_like_a_missing_one(
    client: TestClient, admin: dict[str, str], acme_token: str
) -> None:
    other = client.get("/v1/customers/globex", headers=bearer(acme_token))
    missing = client.get("/v1/customers/ghost", headers=bearer(acme_token))
    missing_for_admin = client.get("/v1/customers/ghost", headers=admin)

    assert other.status_code == missing.status_code == missing_for_admin.status_code == 404
    assert missing.json() == missing_for_admin.json()
    assert other.json() == json.loads(missing.text.replace("ghost", "globex"))
    assert "cfo@globex.example.com" not in other.text
    assert "Globex Inc" not in other.text
    assert "enterprise" not in other.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers"),
        ("PUT", "/v1/customers/acme"),
        ("GET", "/v1/customers/acme/events"),
        ("POST", "/v1/customers/acme/tokens"),
        ("GET", "/v1/events"),
        ("POST", "/v1/events"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/outbox"),
    ],
)
def test_routes_not_open_to_customers_are_403_even_for_their_own_id(
    client: TestClient, acme_token: str, method: str, path: str
) -> None:
    body = {} if method in ("POST", "PUT") else None
    response = client.request(method, path, json=body, headers=bearer(acme_token))

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert response.json()["error"]["details"] == {"grant": "customer"}


# --- minting ---


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("billing", 201), ("marketer", 403), ("ingest", 403), ("support", 403)],
)
def test_only_billing_and_admin_keys_mint_tokens(
    client: TestClient, keys: Keys, customers: None, role: str, status: int
) -> None:
    response = client.post("/v1/customers/acme/tokens", headers=keys.headers(role))

    assert response.status_code == status, response.text
    if status == 201:
        assert (
            client.get("/v1/customers/acme", headers=bearer(response.json()["token"])).status_code
            == 200
        )


def test_the_default_ttl_comes_from_settings(
    client: TestClient, keys: Keys, customers: None, clock: FrozenClock, settings: Settings
) -> None:
    response = client.post("/v1/customers/acme/tokens", headers=keys.headers("billing"))
    body = response.json()

    assert response.status_code == 201
    assert body["customer_id"] == "acme"
    expected = clock.now() + timedelta(seconds=settings.customer_token_ttl_seconds)
    assert datetime.fromisoformat(body["expires_at"]) == expected
    assert claims_of(body["token"])["exp"] == int(expected.timestamp())


def test_a_chosen_ttl_is_honoured(
    client: TestClient, keys: Keys, customers: None, clock: FrozenClock
) -> None:
    response = client.post(
        "/v1/customers/acme/tokens", json={"ttl_seconds": 120}, headers=keys.headers("admin")
    )

    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["expires_at"]) == clock.now() + timedelta(
        seconds=120
    )


@pytest.mark.parametrize("ttl", ["max + 1", "29", "0", "-5"])
def test_a_ttl_out_of_bounds_is_422(
    client: TestClient, keys: Keys, customers: None, settings: Settings, ttl: str
) -> None:
    seconds = settings.customer_token_max_ttl_seconds + 1 if ttl == "max + 1" else int(ttl)

    response = client.post(
        "/v1/customers/acme/tokens", json={"ttl_seconds": seconds}, headers=keys.headers("billing")
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert [d["path"] for d in response.json()["error"]["details"]] == ["$.ttl_seconds"]


def test_the_longest_ttl_allowed_is_the_maximum(
    client: TestClient, keys: Keys, customers: None, settings: Settings
) -> None:
    response = client.post(
        "/v1/customers/acme/tokens",
        json={"ttl_seconds": settings.customer_token_max_ttl_seconds},
        headers=keys.headers("billing"),
    )

    assert response.status_code == 201, response.text


def test_minting_for_a_missing_customer_is_404(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/customers/ghost/tokens", headers=keys.headers("billing"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


# --- tokens that must not work ---


def test_a_token_expires_with_the_clock(
    client: TestClient, customers: None, mint_token: MintToken, clock: FrozenClock
) -> None:
    token = mint_token("acme", ttl_seconds=60)

    clock.advance(seconds=59)
    just_before = client.get("/v1/customers/acme", headers=bearer(token))
    clock.advance(seconds=1)
    at_expiry = client.get("/v1/customers/acme", headers=bearer(token))
    clock.advance(days=1)
    long_after = client.get(WHOAMI, headers=bearer(token))

    assert just_before.status_code == 200
    assert at_expiry.status_code == 401
    assert at_expiry.json()["error"]["code"] == "invalid_credentials"
    assert long_after.status_code == 401


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize("part", ["header", "payload", "signature"])
def test_a_tampered_token_is_401(client: TestClient, acme_token: str, part: str) -> None:
    segments = acme_token.split(".")
    index = ["header", "payload", "signature"].index(part)
    # A middle character: the last one of a base64url segment may only carry padding bits.
    segments[index] = _flip(segments[index], len(segments[index]) // 2)
    tampered = ".".join(segments)
    assert tampered != acme_token

    response = client.get(WHOAMI, headers=bearer(tampered))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_a_payload_rewritten_for_another_customer_is_401(
    client: TestClient, acme_token: str
) -> None:
    header, _, signature = acme_token.split(".")
    claims = {**claims_of(acme_token), "sub": "globex"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    response = client.get("/v1/customers/globex", headers=bearer(f"{header}.{payload}.{signature}"))

    assert response.status_code == 401


def test_a_token_signed_with_another_secret_is_401(client: TestClient, acme_token: str) -> None:
    foreign = sign(
        claims_of(acme_token), "the secret of another installation, long enough for HS256"
    )

    response = client.get("/v1/customers/acme", headers=bearer(foreign))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_an_unsigned_token_is_401(client: TestClient, acme_token: str) -> None:
    unsigned = jwt.encode(claims_of(acme_token), key=None, algorithm="none")

    assert client.get(WHOAMI, headers=bearer(unsigned)).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"sub": "nobody", "cid": 999_999},
        {"sub": "globex"},
        {"cid": 999_999},
        {"aud": "someone-else"},
    ],
    ids=["unknown customer", "id of another", "unknown row", "other audience"],
)
def test_a_well_signed_token_for_no_such_customer_is_401(
    client: TestClient, acme_token: str, change: dict[str, object]
) -> None:
    claims = {**claims_of(acme_token), **change}
    assert claims_of(acme_token)["aud"] == AUDIENCE

    forged = sign(claims, secret_of(client))

    response = client.get(WHOAMI, headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
