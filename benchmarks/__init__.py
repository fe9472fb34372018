"""The figures that `loyalty bench` reports: each scenario against its physical baseline."""

from __future__ import annotations

from typing import Any

SCENARIOS = ("ingest", "rules", "segments")


def run_scenario(
    scenario: str,
    *,
    events: int = 100_000,
    singles: int = 5_000,
    rules: int = 0,
    customers: int = 1_000_000,
    show_progress: bool = False,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Run one scenario and return its report (one JSON-ready object).

    `database_url` names a PostgreSQL server to run on (scratch databases are created on it and
    dropped afterwards); by default the run uses SQLite in a temporary folder. `rules` is the
    number of active rules during `ingest`; `customers` the population of `segments`.
    """
    if scenario == "ingest":
        from benchmarks import ingest

        return ingest.run(
            events=events,
            singles=singles,
            show_progress=show_progress,
            database_url=database_url,
        )
    if scenario == "rules":
        from benchmarks import rules as rules_bench

        return rules_bench.run(show_progress=show_progress)
    if scenario == "segments":
        from benchmarks import segments

        return segments.run(
            customers=customers, show_progress=show_progress, database_url=database_url
        )
    raise ValueError(f"unknown scenario {scenario!r}; known scenarios: {', '.join(SCENARIOS)}")


__all__ = ["SCENARIOS", "run_scenario"]
