"""API keys: bearer authentication, hashed storage, creation and revocation over the API."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from loyalty_engine.auth.keys import KEY_PREFIX, generate_key, matches, prefix_of
from loyalty_engine.auth.models import Role
from loyalty_engine.clock import FrozenClock
from tests.conftest import Keys

WHOAMI = "/v1/auth/whoami"


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def create_key(
    client: TestClient, admin: dict[str, str], role: str = "support"
) -> dict[str, object]:
    response = client.post("/v1/api-keys", json={"name": "ops laptop", "role": role}, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


# --- key material (pure) ---


def test_generated_key_has_a_readable_prefix_and_a_hash_that_only_it_matches() -> None:
    first, second = generate_key(), generate_key()

    assert first.key.startswith(first.prefix + "_")
    assert first.prefix.startswith(KEY_PREFIX)
    assert len(first.prefix) == len(KEY_PREFIX) + 8
    assert prefix_of(first.key) == first.prefix
    assert matches(first.key, first.secret_hash)
    assert not matches(first.key + "x", first.secret_hash)
    assert not matches(second.key, first.secret_hash)
    assert first.key not in first.secret_hash
    assert first.key != second.key
    assert first.prefix != second.prefix


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "lk_",
        "lk_1a2b3c4d",
        "lk_1a2b3c4d_short",
        "xx_1a2b3c4d_" + "a" * 43,
        "lk_1a2b3c4d-" + "a" * 43,
    ],
)
def test_malformed_keys_have_no_prefix(credential: str) -> None:
    assert prefix_of(credential) is None


# --- authentication at the gate ---


def test_keys_are_stored_hashed_with_only_the_prefix_readable(keys: Keys, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM api_keys"))]
    stored = " ".join(str(value) for row in rows for value in row.values())

    assert len(rows) == len(Role)
    for key in keys.by_role.values():
        prefix = str(prefix_of(key))
        secret = key.removeprefix(prefix + "_")
        assert key not in stored
        assert secret not in stored
        assert prefix in {row["prefix"] for row in rows}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_key_authenticates_as_that_role(
    client: TestClient, keys: Keys, role: Role
) -> None:
    response = client.get(WHOAMI, headers=keys.headers(role))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "api_key",
        "role": role.value,
        "api_key_prefix": prefix_of(keys.by_role[role]),
        "customer_id": None,
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "lk_1a2b3c4d_" + "a" * 43},
    ],
    ids=["no header", "empty bearer", "basic scheme", "no scheme"],
)
def test_missing_credentials_are_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(WHOAMI, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_credentials"


def test_wrong_or_garbage_credentials_are_401(client: TestClient, keys: Keys) -> None:
    real = keys.by_role[Role.ADMIN]
    wrong = [
        "garbage",
        "lk_00000000_" + "a" * 43,  # well formed, unknown prefix
        real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb"),  # known prefix, wrong secret
        real + "x",
        real.upper(),
        "a.b.c",  # shaped like a token
    ]
    for credential in wrong:
        response = client.get(WHOAMI, headers=bearer(credential))
        assert response.status_code == 401, credential
        assert response.json()["error"]["code"] == "invalid_credentials", credential


# --- keys over the API ---


def test_a_key_created_over_the_api_is_shown_once_and_works(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = create_key(client, admin, role="marketer")
    key = str(created["key"])

    whoami = client.get(WHOAMI, headers=bearer(key))
    listing = client.get("/v1/api-keys", headers=admin)

    assert whoami.status_code == 200
    assert whoami.json()["role"] == "marketer"
    assert created["prefix"] == prefix_of(key)
    assert key not in listing.text
    assert created["prefix"] in [k["prefix"] for k in listing.json()]
    assert all("key" not in k for k in listing.json())


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "root"},
        {"name": "  ", "role": "admin"},
        {"role": "admin"},
        {"name": "x", "role": "admin", "key": "mine"},
    ],
)
def test_invalid_key_requests_are_422(
    client: TestClient, admin: dict[str, str], body: dict[str, str]
) -> None:
    response = client.post("/v1/api-keys", json=body, headers=admin)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


@pytest.mark.parametrize("by", ["id", "prefix"])
def test_a_revoked_key_is_refused_at_once(
    client: TestClient, admin: dict[str, str], clock: FrozenClock, by: str
) -> None:
    created = create_key(client, admin)
    key = str(created["key"])
    assert client.get(WHOAMI, headers=bearer(key)).status_code == 200

    revoked = client.delete(f"/v1/api-keys/{created[by]}", headers=admin)
    after = client.get(WHOAMI, headers=bearer(key))

    assert revoked.status_code == 200, revoked.text
    assert datetime.fromisoformat(revoked.json()["revoked_at"]) == clock.now()
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_credentials"
    active = client.get("/v1/api-keys", headers=admin).json()
    everything = client.get(
        "/v1/api-keys", params={"include_revoked": "true"}, headers=admin
    ).json()
    assert created["prefix"] not in [k["prefix"] for k in active]
    assert created["prefix"] in [k["prefix"] for k in everything]


def test_revoking_twice_is_a_conflict(client: TestClient, admin: dict[str, str]) -> None:
    created = create_key(client, admin)
    assert client.delete(f"/v1/api-keys/{created['id']}", headers=admin).status_code == 200

    again = client.delete(f"/v1/api-keys/{created['prefix']}", headers=admin)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "api_key_revoked"


@pytest.mark.parametrize("key_id", ["999999", "lk_00000000"])
def test_revoking_an_unknown_key_is_404(
    client: TestClient, admin: dict[str, str], key_id: str
) -> None:
    response = client.delete(f"/v1/api-keys/{key_id}", headers=admin)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "api_key_not_found"


def test_revoking_one_key_leaves_the_others_working(client: TestClient, keys: Keys) -> None:
    support_prefix = prefix_of(keys.by_role[Role.SUPPORT])

    response = client.delete(f"/v1/api-keys/{support_prefix}", headers=keys.headers(Role.ADMIN))

    assert response.status_code == 200
    assert client.get(WHOAMI, headers=keys.headers(Role.SUPPORT)).status_code == 401
    for role in set(Role) - {Role.SUPPORT}:
        assert client.get(WHOAMI, headers=keys.headers(role)).status_code == 200, role
