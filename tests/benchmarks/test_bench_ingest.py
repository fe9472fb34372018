"""`loyalty bench ingest` runs end to end on a tiny load and reports every figure it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run_scenario
from benchmarks.load import percentile

LOYALTY = str(Path(sys.executable).parent / "loyalty")


def test_unknown_scenarios_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="ingest"):
        run_scenario("nope", events=1000, singles=100, show_progress=False, database_url=None)


def test_percentile_is_nearest_rank() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert (percentile(ordered, 50), percentile(ordered, 99), percentile(ordered, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([], 99) == 0.0


def test_a_tiny_run_prints_one_json_object_with_its_baseline_and_targets() -> None:
    result = subprocess.run(
        [LOYALTY, "bench", "ingest", "--json", "--events", "1000", "--singles", "100"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["batch"]["events_accepted"] == 1000
    assert report["single"]["events_accepted"] == 100
    assert report["single_paced"]["errors"] == 0
    assert report["baseline"]["rows"] == 1000
    assert report["ratio"] == round(
        report["batch"]["events_per_s"] / report["baseline"]["rows_per_s"], 3
    )
    assert set(report["targets"]) >= {"batch_events_per_s", "ratio", "single_p99_ms"}
    assert all(isinstance(t["target_met"], bool) for t in report["targets"].values())
