"""`loyalty backtest`: the same report as the API from a rules file, as JSON or as tables, with
problems at their paths and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from loyalty_engine.cli import app
from tests.rules_engine.test_backtest import CREDIT, POINTS, load_history, rows

Headers = dict[str, str]
PERIOD = ["--from", "2026-01-01", "--until", "2026-03-01T00:00:00Z"]


@pytest.fixture
def history(client: TestClient, admin: Headers) -> None:
    load_history(client, admin)


def rules_file(folder: Path, content: Any) -> str:
    path = folder / "rules.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def loyalty(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.usefixtures("history")
def test_the_json_report_matches_the_api_and_nothing_is_written(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    before = rows(engine)
    path = rules_file(tmp_path, [POINTS, CREDIT])
    result = loyalty("backtest", path, *PERIOD, "--json", "--database-url", db_url)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    total = report["total"]
    assert (total["events"], total["applied"], total["points"]) == (8, 6, 530)
    assert total["credits"] == {"usd": 500}
    assert (report["delta"]["points"], report["recorded"]["total"]["points"]) == (-20, 550)
    assert report["period"]["from"] == "2026-01-01T00:00:00+00:00"
    assert rows(engine) == before


@pytest.mark.usefixtures("history")
def test_the_summary_is_a_table_per_rule_month_and_segment(tmp_path: Path, db_url: str) -> None:
    path = rules_file(tmp_path, POINTS)  # one rule, not a list
    result = loyalty("backtest", path, *PERIOD, "--database-url", db_url)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [tested] = [line for line in lines if "growth-points (unsaved)" in line]
    assert "530" in tested
    [active] = [line for line in lines if "active: growth-points v1 (active)" in line]
    assert "550" in active
    assert any("tested - active" in line and "-20" in line for line in lines)
    assert any("2026-02" in line for line in lines)
    assert any("(no segment)" in line for line in lines)
    assert any(line.startswith("note: Limits and budgets start empty") for line in lines)


def test_a_bad_draft_is_refused_with_its_paths(tmp_path: Path, db_url: str) -> None:
    bad = {**POINTS, "condition": {"==": [{"var": "customer.palns"}, "growth"]}}
    path = rules_file(tmp_path, ["no-such-rule", bad])
    result = loyalty("backtest", path, *PERIOD, "--database-url", db_url)

    assert result.exit_code == 1
    assert "$.rules[0].key: no rule 'no-such-rule'" in result.stderr
    assert "$.rules[1].condition.==[0].var" in result.stderr


def test_unreadable_input_is_refused_before_reading_the_database(tmp_path: Path) -> None:
    path = rules_file(tmp_path, POINTS)
    dated = loyalty("backtest", path, "--from", "2026-13-01", "--database-url", "sqlite:///x")
    assert dated.exit_code == 2
    assert "--from: '2026-13-01' is not a date" in dated.stderr
    naive = loyalty(
        "backtest", path, "--until", "2026-01-01T10:00", "--database-url", "sqlite:///x"
    )
    assert "needs an offset" in naive.stderr
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    broken = loyalty("backtest", str(tmp_path / "broken.json"))
    assert broken.exit_code == 2
    assert "is not JSON" in broken.stderr
