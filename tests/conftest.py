"""Fixtures shared by the whole suite: both databases, a frozen clock, fakes, the app, keys."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from loyalty_engine import migrations
from loyalty_engine.app import create_app
from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.messaging.memory import InMemoryMailer
from loyalty_engine.schema import metadata
from tests import pg

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]


def _required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0")


# --- PostgreSQL: one server for the session (per xdist worker), one database per worker ---


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PostgresServer]:
    try:
        server = pg.start_server()
    except (FileNotFoundError, KeyError, OSError) as exc:
        if _required("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL could not start: {exc}")
        pytest.skip(f"PostgreSQL server not available ({exc}); install postgresql to run these")
    try:
        yield server
    finally:
        pg.remove(server)


@pytest.fixture(scope="session")
def pg_template_url(pg_server: pg.PostgresServer) -> str:
    """A migrated database for this session; tests get it back empty (truncated)."""
    engine = make_engine(pg_server.url())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE loyalty_test"))
    engine.dispose()
    url = pg_server.url("loyalty_test")
    migrated = make_engine(url)
    migrations.upgrade(migrated)
    migrated.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables) + ", apscheduler_jobs"
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: every test that uses it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "loyalty.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_template_url")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


# --- the application under test ---


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, outbox_backoff_base_seconds=1.0, outbox_max_attempts=3)


@pytest.fixture
def billing() -> InMemoryBillingGateway:
    return InMemoryBillingGateway()


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.fixture
def app(
    settings: Settings, clock: FrozenClock, billing: InMemoryBillingGateway, mailer: InMemoryMailer
) -> Iterator[FastAPI]:
    application = create_app(settings, clock=clock, billing=billing, mailer=mailer)
    yield application
    application.state.runtime.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def runtime(client: TestClient):  # type: ignore[no-untyped-def]
    """The running app's runtime (engine, clock, registries), after start-up."""
    return client.app.state.runtime  # type: ignore[attr-defined]


@dataclass
class Keys:
    by_role: dict[Role, str]

    def headers(self, role: Role | str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[Role(role)]}"}


@pytest.fixture
def keys(client: TestClient, clock: FrozenClock) -> Keys:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    created: dict[Role, str] = {}
    with session_scope(runtime.engine, write=True) as session:
        for role in Role:
            _, key = auth.create_api_key(session, name=f"test {role}", role=role, now=clock.now())
            created[role] = key
    return Keys(created)


@pytest.fixture
def admin(keys: Keys) -> dict[str, str]:
    return keys.headers(Role.ADMIN)


@pytest.fixture
def make_customer(client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, object]]:
    def make(external_id: str = "acme", **traits: object) -> dict[str, object]:
        response = client.put(f"/v1/customers/{external_id}", json=traits, headers=admin)
        assert response.status_code in (200, 201), response.text
        body: dict[str, object] = response.json()
        return body

    return make


# --- a real server on loopback, for concurrency ---


@dataclass
class LiveServer:
    url: str

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by uvicorn in a thread on a free loopback port (stopped after the test)."""
    port = pg.free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=20)


# --- a real browser: Debian's Chromium driven by Playwright (no browser download) ---

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
