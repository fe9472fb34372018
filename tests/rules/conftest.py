"""The official JSON Logic suite (read from ../shared beside the project), JSON equality, and a
one-row-per-case table on both databases for running conditions through SQL."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert

from loyalty_engine.db import json_type, make_engine
from tests.conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "conformance" / "jsonlogic-tests.json"
SUITE_SIZE = 278

Case = tuple[Any, Any, Any]  # rule, data, expected


def _load() -> list[Case]:
    if not SUITE.exists():
        return []
    cases = [entry for entry in json.loads(SUITE.read_text()) if not isinstance(entry, str)]
    return [(rule, data, expected) for rule, data, expected in cases]


CASES = _load()


def suite_missing() -> None:
    """Skip where the shared folder is absent (a user's clone); under CI that is a failure."""
    reason = f"the JSON Logic conformance suite is not at {SUITE} (it lives in ../shared)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def case_params() -> list[Any]:
    """One pytest param per case (id: its position in the suite), or one that skips/fails."""
    if not CASES:
        return [pytest.param(None, id="suite-missing")]
    return [pytest.param((i, case), id=f"case{i:03d}") for i, case in enumerate(CASES)]


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: 1 == 1.0, true != 1, NaN equals NaN, tuples are arrays."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module", params=BACKENDS)
def sql_connection(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Connection]:
    """A connection to SQLite or PostgreSQL for SELECTs over a temporary table (module-wide)."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("rules-sql")
        url = f"sqlite:///{folder / 'rules.db'}"
    else:
        url = request.getfixturevalue("pg_template_url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
            connection.rollback()
    finally:
        engine.dispose()
        if request.param == "sqlite":
            shutil.rmtree(folder, ignore_errors=True)


def case_table(connection: Connection, rows: list[Any]) -> Table:
    """A temporary table `jsonlogic_data(id, data)` holding one JSON value per row."""
    metadata = MetaData()
    table = Table(
        "jsonlogic_data",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("data", json_type()),
        prefixes=["TEMPORARY"],
    )
    metadata.create_all(connection)
    if rows:
        connection.execute(insert(table), [{"id": i, "data": row} for i, row in enumerate(rows)])
    return table
