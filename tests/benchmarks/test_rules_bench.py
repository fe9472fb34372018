"""`loyalty bench rules` compares the engine's compiled condition with a hand-written lambda and
the panzi-json-logic interpreter: the three agree before anything is timed, and the report gives
every rate and ratio it promises (the targets are judged by the bench, not by these tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import rules as rules_bench
from loyalty_engine.rules.check import check
from loyalty_engine.rules.facts import FactSchema, rule_schema
from loyalty_engine.rules.parse import parse

LOYALTY = str(Path(sys.executable).parent / "loyalty")
WAYS = ("compiled", "lambda", "panzi")


def test_the_three_ways_agree_and_the_condition_discriminates() -> None:
    facts = rules_bench.fact_objects(500)
    answers = rules_bench.agreed_answers(rules_bench.ways(), facts)
    assert 0.05 < sum(answers) / len(answers) < 0.95


def test_a_way_that_disagrees_stops_the_bench_before_timing() -> None:
    facts = rules_bench.fact_objects(200)
    wrong = {**rules_bench.ways(), "lambda": lambda f: f["customer"]["seats"] > 5}
    with pytest.raises(RuntimeError, match="lambda answers"):
        rules_bench.agreed_answers(wrong, facts)


def test_the_condition_is_one_a_marketer_could_save() -> None:
    schema: FactSchema = rule_schema()
    assert check(parse(rules_bench.CONDITION), schema) == []


def test_the_report_gives_three_rates_and_the_ratios() -> None:
    report = rules_bench.run(show_progress=False, evals=2_000, rounds=2)
    for way in WAYS:
        assert report[way]["evals_per_s"] > 0
        assert report[way]["median_evals_per_s"] <= report[way]["evals_per_s"]
    assert report["compiled_vs_lambda"] == round(
        report["compiled"]["evals_per_s"] / report["lambda"]["evals_per_s"], 3
    )
    assert report["compiled_vs_panzi"] == round(
        report["compiled"]["evals_per_s"] / report["panzi"]["evals_per_s"], 1
    )
    assert report["condition"] == rules_bench.CONDITION
    assert 0 < report["matches"] < report["fact_objects"]
    assert {"python", "cpu_count", "load_avg_1m"} <= set(report["machine"])
    assert set(report["targets"]) == {"compiled_vs_lambda", "compiled_vs_panzi"}


def test_the_command_prints_one_json_object() -> None:
    result = subprocess.run(
        [LOYALTY, "bench", "rules", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["scenario"] == "rules"
    assert all(report[way]["evals_per_s"] > 0 for way in WAYS)
