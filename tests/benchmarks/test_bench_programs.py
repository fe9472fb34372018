"""`loyalty bench reads|redeem` run end to end on a tiny load and report every figure they
promise (the targets are judged by the bench, not by these tests). `bench rules` and
`ingest --rules` are in test_rules_bench.py and test_ingest_rules_bench.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
