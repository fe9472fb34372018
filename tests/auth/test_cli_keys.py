"""`loyalty keys create|list|revoke` against the test database, checked through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from loyalty_engine.auth.keys import prefix_of
from loyalty_engine.cli import app as cli

Loyalty = Callable[..., Result]


@pytest.fixture
def loyalty(db_url: str, client: TestClient) -> Loyalty:
    """Run `loyalty ...` on the test database (the app is started first: it shares the database)."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), env={"DATABASE_URL": db_url})

    return run


def whoami(client: TestClient, key: str) -> int:
    return client.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"}).status_code


def test_keys_create_prints_the_key_once_alone_on_the_last_line(
    loyalty: Loyalty, client: TestClient
) -> None:
    result = loyalty("keys", "create", "--role", "billing", "--name", "stripe sync")

    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").split("\n")
    key = lines[-1]
    assert prefix_of(key) is not None
    assert result.stdout.count(key) == 1
    assert whoami(client, key) == 200
    described = client.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"}).json()
    assert described["role"] == "billing"


def test_keys_create_refuses_an_unknown_role(loyalty: Loyalty) -> None:
    result = loyalty("keys", "create", "--role", "root", "--name", "x")

    assert result.exit_code == 2
    assert "lk_" not in result.stdout


def test_keys_list_shows_prefixes_never_keys(loyalty: Loyalty) -> None:
    key = loyalty("keys", "create", "--role", "marketer", "--name", "campaigns").stdout.split()[-1]
    prefix = prefix_of(key)
    assert prefix is not None

    listing = loyalty("keys", "list")

    assert listing.exit_code == 0, listing.output
    assert prefix in listing.stdout
    assert "campaigns" in listing.stdout
    assert key not in listing.stdout
    assert key[len(prefix) + 1 :] not in listing.stdout


@pytest.mark.parametrize("by", ["prefix", "id"])
def test_keys_revoke_stops_the_key_at_once(
    loyalty: Loyalty, client: TestClient, admin: dict[str, str], by: str
) -> None:
    key = loyalty("keys", "create", "--role", "support", "--name", "helpdesk").stdout.split()[-1]
    prefix = prefix_of(key)
    assert prefix is not None
    assert whoami(client, key) == 200
    listed = client.get("/v1/api-keys", headers=admin).json()
    target = (
        prefix if by == "prefix" else str(next(k["id"] for k in listed if k["prefix"] == prefix))
    )

    revoked = loyalty("keys", "revoke", target)

    assert revoked.exit_code == 0, revoked.output
    assert prefix in revoked.stdout
    assert whoami(client, key) == 401
    assert prefix not in loyalty("keys", "list").stdout
    assert prefix in loyalty("keys", "list", "--all").stdout


def test_keys_revoke_reports_unknown_and_already_revoked_keys(loyalty: Loyalty) -> None:
    key = loyalty("keys", "create", "--role", "ingest", "--name", "segment").stdout.split()[-1]
    prefix = str(prefix_of(key))
    assert loyalty("keys", "revoke", prefix).exit_code == 0

    again = loyalty("keys", "revoke", prefix)
    unknown = loyalty("keys", "revoke", "lk_00000000")

    assert again.exit_code == 1
    assert "revoked" in again.stderr
    assert unknown.exit_code == 1
    assert "lk_00000000" in unknown.stderr


def test_keys_create_refuses_an_empty_name(loyalty: Loyalty) -> None:
    result = loyalty("keys", "create", "--role", "admin", "--name", "  ")
    assert result.exit_code == 2
    assert "--name must not be empty" in result.output
    assert "lk_" not in loyalty("keys", "list").output
