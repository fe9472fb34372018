"""The figures that `loyalty bench` reports: each scenario against its physical baseline."""

from __future__ import annotations

from typing import Any

SCENARIOS = ("ingest", "rules", "segments", "reads", "redeem")


def run_scenario(
    scenario: str,
    *,
    events: int = 100_000,
    singles: int = 5_000,
    rules: int = 0,
    customers: int = 1_000_000,
    requests: int = 20_000,
    show_progress: bool = False,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Run one scenario and return its report (one JSON-ready object).

    `database_url` names a PostgreSQL server to run on (scratch databases are created on it and
    dropped afterwards); by default the run uses SQLite in a temporary folder. `rules` is the
    number of active rules during `ingest`; `customers` the population of `segments` (and of
    `reads` and `redeem`, capped at 10,000 there); `requests` the size of `reads` and `redeem`.
    """
    if scenario == "ingest":
        from benchmarks.ingest import run as run_ingest

        return run_ingest(
            events=events,
            singles=singles,
            rules=rules,
            show_progress=show_progress,
            database_url=database_url,
        )
    if scenario == "rules":
        from benchmarks.rules import run as run_rules

        return run_rules(show_progress=show_progress)
    if scenario == "segments":
        from benchmarks.segments import run as run_segments

        return run_segments(
            customers=customers, show_progress=show_progress, database_url=database_url
        )
    if scenario in ("reads", "redeem"):
        from benchmarks.ledger import run_reads, run_redeem

        run = run_reads if scenario == "reads" else run_redeem
        return run(
            requests=requests,
            customers=min(customers, 10_000),
            show_progress=show_progress,
            database_url=database_url,
        )
    raise ValueError(f"unknown scenario {scenario!r}; known scenarios: {', '.join(SCENARIOS)}")


__all__ = ["SCENARIOS", "run_scenario"]
