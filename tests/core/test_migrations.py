"""Migrations: idempotent `loyalty migrate`; an unmigrated database is refused with what to run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from loyalty_engine import migrations
from loyalty_engine.app import create_app
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import make_engine
from loyalty_engine.messaging.memory import InMemoryMailer
from tests.conftest import START

LOYALTY = str(Path(sys.executable).parent / "loyalty")


def _cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": db, "PATH": "/usr/bin:/bin"}
    return subprocess.run([LOYALTY, *args], env=env, capture_output=True, text=True, timeout=60)


def test_migrate_is_idempotent_and_creates_every_table(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = _cli("migrate", db=db)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    second = _cli("migrate", db=db)
    assert second.returncode == 0
    assert "already at revision" in second.stdout
    engine = make_engine(db)
    tables = set(inspect(engine).get_table_names())
    assert {"customers", "events", "api_keys", "outbox_messages", "apscheduler_jobs"} <= tables
    assert migrations.is_current(engine)
    engine.dispose()


def test_schema_matches_the_models(db_url: str) -> None:
    """No model change without a migration: autogenerate finds nothing to do on either database."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from loyalty_engine.schema import metadata

    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": migrations.include_object}
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    result = _cli("serve", "--port", "1", db=db)
    assert result.returncode == 1
    assert "not migrated" in result.stderr
    assert "loyalty migrate" in result.stderr


def test_app_start_up_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(
        settings,
        clock=FrozenClock(START),
        billing=InMemoryBillingGateway(),
        mailer=InMemoryMailer(),
    )
    with pytest.raises(RuntimeError, match="run `loyalty migrate`"), TestClient(app):
        pass


def test_readyz_reports_an_outdated_schema(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ready.db'}"
    engine = make_engine(db)
    migrations.upgrade(engine)
    settings = Settings(database_url=db)
    app = create_app(
        settings,
        clock=FrozenClock(START),
        billing=InMemoryBillingGateway(),
        mailer=InMemoryMailer(),
    )
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old'")
        response = client.get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"].startswith("at old")
