"""Auth fixtures: customer tokens minted through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Keys


@pytest.fixture
def mint_token(client: TestClient, keys: Keys) -> Callable[..., str]:
    """`mint_token("acme")`: a token for an existing customer, minted with a billing key."""

    def mint(external_id: str, **body: object) -> str:
        response = client.post(
            f"/v1/customers/{external_id}/tokens",
            json=body or None,
            headers=keys.headers("billing"),
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    return mint
