"""For `loyalty backtest`: reading the rules file and the period's bounds, and the report as
tables a person reads (the JSON report is the API's, unchanged)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from loyalty_engine.db import session_scope
from loyalty_engine.errors import LoyaltyError
from loyalty_engine.rules.backtest_service import (
    OnProgress,
    active_rules,
    backtest_period,
    run_backtest,
    select_rules,
)
from loyalty_engine.rules.backtest_stream import read_only
from loyalty_engine.rules.validation import rule_validator
from loyalty_engine.runtime import Runtime


class BadInput(ValueError):
    """A rules file or a date the command cannot use; the message says why."""


def read_rules_file(name: str) -> list[Any]:
    """One rule or a list: drafts as `POST /v1/rules` takes them, saved keys (`"key"` or
    `{"key", "version"}`)."""
    path = Path(name)
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from exc
    rules = found if isinstance(found, list) else [found]
    if not rules:
        raise BadInput(f"{path} holds no rules")
    return rules


def instant(text: str | None, option: str) -> datetime | None:
    """`2026-01-31` (midnight UTC) or an ISO instant with its offset (`2026-01-31T12:00Z`)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        found = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"{option}: {text!r} is not a date (YYYY-MM-DD) or an instant") from exc
    if found.tzinfo is None:
        raise BadInput(f"{option}: {text!r} needs an offset (Z or +01:00), or give a date")
    return found.astimezone(UTC)


def backtest(
    runtime: Runtime,
    *,
    items: list[Any],
    since: datetime | None,
    until: datetime | None,
    event_type: str | None,
    compare_with_active: bool,
    progress: OnProgress,
) -> dict[str, Any]:
    """The report `POST /v1/rules/backtest` gives for the same request, read-only."""
    engine = runtime.rules
    assert engine is not None, "the shell wires the rules engine at start-up"
    period = backtest_period(since, until, runtime.clock.now())
    validate = rule_validator(runtime.actions)
    with session_scope(runtime.engine, write=False) as session, read_only(session):
        rules = select_rules(session, items=items, engine=engine, validate=validate)
        active = active_rules(session, engine=engine) if compare_with_active else None
        return run_backtest(
            session,
            engine=engine,
            rules=rules,
            active=active,
            period=period,
            event_type=event_type,
            progress=progress,
        )


@contextmanager
def progress_bar() -> Iterator[OnProgress]:
    """A progress bar on stderr (stdout stays clean for `--json`)."""
    columns = (
        TextColumn("Replaying events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("backtest", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def problem_lines(error: LoyaltyError) -> list[str]:
    """An error's message, then each problem at its JSON path."""
    details = error.details if isinstance(error.details, list) else []
    found = [f"  {d['path']}: {d['message']}" for d in details if isinstance(d, dict)]
    return [error.message, *found]


COLUMNS = ("events", "matches", "applied", "capped", "over_budget", "customers", "points")


def summary_tables(report: dict[str, Any]) -> list[Table]:
    """Per rule (then the active rules), by month, and by segment (with the active rules' figures
    and the difference under each line when they were compared)."""
    period = report["period"]
    title = f"Backtest {period['from']} to {period['until']}: {report['events']} events"
    tables = [_rules_table(report, title)]
    for name in ("by_month", "by_segment"):
        table = _figures_table(name.removeprefix("by_"))
        for key, figures in report["total"][name].items():
            table.add_row(key, *_cells(figures))
            if report["active"] is not None:
                active = report["active"]["total"][name].get(key)
                table.add_row("  active", *_cells(active))
                delta = report["delta"][name][key]
                table.add_row("  tested - active", *_cells(delta, signed=True), end_section=True)
        tables.append(table)
    return tables


def _rules_table(report: dict[str, Any], title: str) -> Table:
    table = _figures_table("rule", title=title)
    for rule in report["rules"]:
        table.add_row(_label(rule), *_cells(rule))
    table.add_row("[bold]tested rules[/bold]", *_cells(report["total"]), end_section=True)
    if report["active"] is not None:
        for rule in report["active"]["rules"]:
            table.add_row(f"active: {_label(rule)}", *_cells(rule))
        table.add_row("[bold]active rules[/bold]", *_cells(report["active"]["total"]))
        table.add_row("[bold]tested - active[/bold]", *_cells(report["delta"], signed=True))
    if report["recorded"] is not None:
        recorded = {"events": None, **report["recorded"]["total"]}
        table.add_row("recorded decisions", *_cells(recorded), end_section=True)
    return table


def _figures_table(first: str, *, title: str | None = None) -> Table:
    table = Table(title=title)
    table.add_column(first, no_wrap=True)
    for column in (*COLUMNS, "credits"):
        table.add_column(column, justify="right")
    return table


def _label(rule: dict[str, Any]) -> str:
    version = f" v{rule['version']}" if rule.get("version") is not None else ""
    return f"{rule['key']}{version} ({rule['status']})"


def _cells(figures: dict[str, Any] | None, *, signed: bool = False) -> list[str]:
    if figures is None:
        return [""] * (len(COLUMNS) + 1)
    number = "{:+,}" if signed else "{:,}"
    cells = ["" if figures.get(c) is None else number.format(figures[c]) for c in COLUMNS]
    credits = ", ".join(
        f"{number.format(amount)} {unit}" for unit, amount in figures["credits"].items()
    )
    return [*cells, credits]
