"""`loyalty bench rules|reads|redeem` and `ingest --rules` run end to end on a tiny load and
report every figure they promise (the targets are judged by the bench, not by these tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import rules as rules_bench
from benchmarks.bench_rules import rule_bodies
from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.jsonlogic import compile as compile_condition

LOYALTY = str(Path(sys.executable).parent / "loyalty")


def bench(*arguments: str) -> dict[str, Any]:
    result = subprocess.run(
        [LOYALTY, "bench", *arguments, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_three_ways_agree_on_every_fact_object() -> None:
    facts = rules_bench.fact_objects(500)
    compiled = compile_condition(rules_bench.CONDITION)
    from json_logic import jsonLogic

    answers = [truthy(compiled(f)) for f in facts]
    assert answers == [rules_bench.by_hand(f) for f in facts]
    assert answers == [truthy(jsonLogic(rules_bench.CONDITION, f)) for f in facts]
    assert 0 < sum(answers) < len(answers)  # the condition discriminates


def test_the_rules_bench_reports_three_rates_and_the_ratios() -> None:
    report = rules_bench.run(show_progress=False, evals=2_000, rounds=2)
    for way in ("compiled", "lambda", "panzi"):
        assert report[way]["evals_per_s"] > 0
    assert report["compiled_vs_lambda"] == round(
        report["compiled"]["evals_per_s"] / report["lambda"]["evals_per_s"], 3
    )
    assert set(report["targets"]) == {"compiled_vs_lambda", "compiled_vs_panzi"}


def test_bench_rule_sets_are_valid_rules_that_spread_over_the_event_types() -> None:
    bodies = rule_bodies(100)
    assert len({b["key"] for b in bodies}) == 100
    assert len({b["triggers"][0] for b in bodies}) == 4
    assert any("limits" in b for b in bodies)


@pytest.mark.slow
def test_ingest_with_rules_records_decisions() -> None:
    report = bench("ingest", "--events", "1000", "--singles", "100", "--rules", "20")
    assert report["setup"]["rules"] == 20
    assert report["setup"]["decisions_recorded"] > 0
    assert report["batch"]["events_accepted"] == 1000
    assert report["targets"]["batch_events_per_s"]["target"] == 5_000


@pytest.mark.slow
def test_reads_compare_with_the_raw_endpoint_and_redeem_proves_the_ledger() -> None:
    reads = bench("reads", "--requests", "300", "--customers", "50")
    assert reads["engine"]["errors"] == reads["raw"]["errors"] == 0
    assert reads["engine"]["requests"] == reads["raw"]["requests"] == 300
    assert reads["ratio"] > 0
    assert set(reads["targets"]) >= {"ratio_met", "p99_met_paced"}

    redeem = bench("redeem", "--requests", "300", "--customers", "50")
    assert redeem["statuses"] == {"200": 30, "201": 270}  # one call in ten replays a key
    assert redeem["ledger_check"]["ok"] is True
    assert redeem["ledger_check"]["accounts_with_problems"] == 0
