"""The main-features milestone is a setting (LOYALTY_MAIN_FEATURES_MILESTONE): the loyalty stage
asks for the configured one, and the demo defines it under that key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.milestones.demo import load_demo_milestones
from loyalty_engine.runtime import Runtime
from tests.milestones.support import decisions, event, post, rule

Headers = dict[str, str]
Make = Callable[..., dict[str, object]]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, main_features_milestone="core_usage")


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_MAIN_FEATURES_MILESTONE", "power_user")
    assert Settings().main_features_milestone == "power_user"
    monkeypatch.setenv("LOYALTY_MAIN_FEATURES_MILESTONE", "Not A Key")
    with pytest.raises(ValueError, match="main_features_milestone"):
        Settings()


def test_loyalty_asks_for_the_configured_milestone(
    client: TestClient, admin: Headers, make_customer: Make, runtime: Runtime
) -> None:
    make_customer("acme", lifecycle_stage="renewal")
    with session_scope(runtime.engine, write=True) as session:
        defined = load_demo_milestones(session, now=runtime.clock.now(), runtime=runtime)
    assert "core_usage" in defined
    assert "main_features" not in defined
    rule(
        client,
        admin,
        key="try-loyalty",
        name="Try loyalty",
        triggers=["poke"],
        actions=[{"type": "set_stage", "params": {"stage": "loyalty"}}],
    )
    post(client, admin, event("renewed", "r1"), event("poke", "p1"))
    refused = [
        r["refused"] for d in decisions(client, admin) for r in d["results"] if "refused" in r
    ]
    assert "loyalty stage: has not achieved the 'core_usage' milestone" in refused
    granted = client.post("/v1/customers/acme/milestones/core_usage/grant", headers=admin)
    assert granted.status_code == 201
    assert client.get("/v1/customers/acme", headers=admin).json()["lifecycle_stage"] == "loyalty"
