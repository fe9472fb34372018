"""The milestones migration counts the renewals stored before it, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, text
from sqlmodel import col

from loyalty_engine import migrations
from loyalty_engine.customers.models import Customer
from loyalty_engine.db import make_engine
from loyalty_engine.events.models import Event
from loyalty_engine.milestones.models import CustomerRenewals
from tests import pg
from tests.conftest import START

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (the shared test databases are already at head)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/backfill.db")
        yield engine
        engine.dispose()
        return
    server: pg.PostgresServer = request.getfixturevalue("pg_server")
    admin = make_engine(server.url())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DROP DATABASE IF EXISTS milestones_backfill"))
        conn.execute(text("CREATE DATABASE milestones_backfill"))
    engine = make_engine(server.url("milestones_backfill"))
    yield engine
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DROP DATABASE milestones_backfill"))
    admin.dispose()


def test_renewals_stored_before_the_migration_are_counted(unmigrated: Engine) -> None:
    config = migrations.alembic_config(unmigrated)
    command.upgrade(config, "0004")
    with unmigrated.begin() as conn:
        ids = [
            conn.execute(
                insert(CUSTOMERS)
                .values(
                    external_id=name,
                    custom_traits={},
                    trait_times={},
                    lifecycle_stage="renewal",
                    created_at=START,
                    updated_at=START,
                )
                .returning(CUSTOMERS.c.id)
            ).scalar_one()
            for name in ("twice", "never")
        ]
        for n, (customer, kind) in enumerate(
            [(ids[0], "renewed"), (ids[0], "renewed"), (ids[0], "page_viewed"), (ids[1], "x")]
        ):
            at = START + timedelta(days=n)
            conn.execute(
                insert(EVENTS).values(
                    customer_id=customer,
                    type=kind,
                    source="api",
                    idempotency_key=f"k{n}",
                    occurred_at=at,
                    received_at=at,
                    properties={},
                )
            )
    command.upgrade(config, "head")
    with unmigrated.connect() as conn:
        rows = conn.execute(
            select(col(CustomerRenewals.customer_id), col(CustomerRenewals.renewals))
        ).all()
        stamped = conn.execute(select(col(CustomerRenewals.updated_at))).scalar_one()
    assert rows == [(ids[0], 2)]
    assert stamped == START + timedelta(days=1)  # the last renewal's arrival
