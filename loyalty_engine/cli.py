"""The `loyalty` command: serve, worker, scheduler, migrate, demo, keys, outbox, bench, backtest."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from loyalty_engine import migrations
from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.cli_billing import billing_app
from loyalty_engine.config import Settings
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.errors import LoyaltyError
from loyalty_engine.outbox.models import OutboxStatus

app = typer.Typer(
    help="Loyalty engine: loyalty and referral programs for B2B SaaS.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="The outbox of side effects: list, retry dead messages.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(outbox_app, name="outbox")
app.add_typer(billing_app, name="billing")  # commands in loyalty_engine/cli_billing.py
err = Console(stderr=True, soft_wrap=True)  # never wrap an error line in two


def _settings() -> Settings:
    return Settings()


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    return make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def _require_migrated(settings: Settings) -> None:
    engine = _engine(settings)
    try:
        if not migrations.is_current(engine):
            err.print(f"[red]error:[/red] {migrations.not_migrated_message(engine)}")
            raise typer.Exit(1)
    finally:
        engine.dispose()


@contextmanager
def _session(settings: Settings, *, write: bool) -> Iterator[Session]:
    """One unit of work for a short command; its engine's connections are closed afterwards."""
    engine = _engine(settings)
    try:
        with session_scope(engine, write=write) as session:
            yield session
    finally:
        engine.dispose()


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="API processes.")] = 1,
    with_worker: Annotated[bool, typer.Option(help="Run the outbox worker in-process.")] = True,
    with_scheduler: Annotated[bool, typer.Option(help="Run the scheduler in-process.")] = True,
) -> None:
    """Serve the API (with the outbox worker and the scheduler, unless told otherwise)."""
    import uvicorn

    settings = _settings()
    _require_migrated(settings)
    os.environ["LOYALTY_SERVE_WORKER"] = "1" if with_worker else "0"
    os.environ["LOYALTY_SERVE_SCHEDULER"] = "1" if with_scheduler else "0"
    uvicorn.run(
        "loyalty_engine.app:app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


def _run_until_signal(target: object) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    target.run_forever(stop)  # type: ignore[attr-defined]


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from loyalty_engine.app import build_runtime, prepare
    from loyalty_engine.billing.factory import gateway_from_settings
    from loyalty_engine.clock import SystemClock
    from loyalty_engine.messaging.memory import InMemoryMailer

    runtime = build_runtime(
        settings,
        clock=SystemClock(),
        billing=gateway_from_settings(settings),
        mailer=InMemoryMailer(),
    )
    prepare(runtime)
    return runtime


@app.command()
def worker() -> None:
    """Deliver outbox messages only (run as many as you like on PostgreSQL)."""
    from loyalty_engine.outbox.worker import OutboxWorker

    settings = _settings()
    _logging(settings)
    _require_migrated(settings)
    _run_until_signal(OutboxWorker(_runtime(settings)))


@app.command()
def scheduler() -> None:
    """Run the scheduler only; of several such processes exactly one leads at a time."""
    from loyalty_engine.app import JOBS
    from loyalty_engine.scheduler import SchedulerService

    settings = _settings()
    _logging(settings)
    _require_migrated(settings)
    _run_until_signal(SchedulerService(_runtime(settings), JOBS))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    settings = _settings()
    engine = _engine(settings)
    try:
        before, after = migrations.upgrade(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{where}: already at revision {after}")
    else:
        typer.echo(f"{where}: migrated from {before or 'empty'} to {after}")


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1, help="How many demo customers.")] = 200,
    months: Annotated[int, typer.Option(min=1, max=36, help="Months of history.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
) -> None:
    """Load demo customers and their events once (a second run changes nothing)."""
    from loyalty_engine.demo import load_demo

    settings = _settings()
    _require_migrated(settings)
    runtime = _runtime(settings)
    try:
        outcome = load_demo(runtime, customers=customers, months=months, seed=seed)
    finally:
        runtime.engine.dispose()
    typer.echo(outcome.summary)
    if outcome.admin_key:
        typer.echo("A demo admin API key (shown once; keep it):")
        typer.echo(outcome.admin_key)


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, marketer, billing, ingest or support.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    if not name.strip():
        err.print("[red]error:[/red] --name must not be empty: say who or what uses the key")
        raise typer.Exit(2)
    settings = _settings()
    _require_migrated(settings)
    from loyalty_engine.clock import SystemClock

    with _session(settings, write=True) as session:
        row, key = auth.create_api_key(session, name=name, role=role, now=SystemClock().now())
    typer.echo(f"Created API key {row.prefix} ({row.role}) named {row.name!r}. It is shown once:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List API keys (prefixes only; keys are never stored)."""
    settings = _settings()
    _require_migrated(settings)
    with _session(settings, write=False) as session:
        rows = auth.list_api_keys(session, include_revoked=all_)
    table = Table("id", "prefix", "role", "name", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r.id),
            r.prefix,
            r.role,
            r.name,
            r.created_at.isoformat(timespec="seconds"),
            r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "",
        )
    Console(width=160).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (lk_...).")],
) -> None:
    """Revoke an API key: it stops working at once."""
    from loyalty_engine.clock import SystemClock

    settings = _settings()
    _require_migrated(settings)
    try:
        with _session(settings, write=True) as session:
            row = auth.revoke_api_key(session, key=key, now=SystemClock().now())
    except LoyaltyError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    typer.echo(f"Revoked {row.prefix} ({row.name}).")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        OutboxStatus | None, typer.Option(help="Only messages in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List outbox messages, newest first."""
    from loyalty_engine.outbox import service

    settings = _settings()
    _require_migrated(settings)
    with _session(settings, write=False) as session:
        rows, _ = service.list_messages(
            session,
            status=status,
            kind=None,
            cursor=None,
            limit=limit,
        )
    table = Table("id", "kind", "status", "attempts", "next attempt", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            str(r.attempts),
            r.next_attempt_at.isoformat(timespec="seconds"),
            (r.last_error or "")[:60],
        )
    Console(width=160).print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Message ids; all dead ones with --all.")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Retry every dead message.")] = False,
) -> None:
    """Put dead-lettered messages back in the queue with a fresh attempt count."""
    from loyalty_engine.clock import SystemClock
    from loyalty_engine.outbox import service

    if not ids and not all_dead:
        err.print("[red]error:[/red] name message ids, or pass --all")
        raise typer.Exit(2)
    settings = _settings()
    _require_migrated(settings)
    with _session(settings, write=True) as session:
        count = service.retry_dead(
            session, message_ids=None if all_dead else ids, now=SystemClock().now()
        )
    typer.echo(f"Requeued {count} dead message(s).")


BENCH_DATABASE_HELP = (
    "A PostgreSQL server to run on (scratch databases are created there, then "
    "dropped); by default SQLite in a temporary folder."
)


@app.command()
def bench(
    scenario: Annotated[
        str, typer.Argument(help="Scenario: ingest, rules, segments, reads or redeem.")
    ] = "ingest",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    events: Annotated[int, typer.Option(min=1000, help="Events in the batch phase.")] = 100_000,
    singles: Annotated[
        int, typer.Option(min=100, help="Requests in the single-event phase.")
    ] = 5_000,
    rules: Annotated[
        int, typer.Option(min=0, help="Active rules during `ingest` (0: the bare event path).")
    ] = 0,
    customers: Annotated[
        int,
        typer.Option(
            min=10, help="Customers for `segments` (and `reads`/`redeem`, at most 10,000)."
        ),
    ] = 1_000_000,
    requests: Annotated[
        int, typer.Option(min=100, help="Requests in `reads` and `redeem`.")
    ] = 20_000,
    database_url: Annotated[str | None, typer.Option(help=BENCH_DATABASE_HELP)] = None,
) -> None:
    """Measure a scenario against its physical baseline (see benchmarks/)."""
    from benchmarks import run_scenario

    try:
        report = run_scenario(
            scenario,
            events=events,
            singles=singles,
            rules=rules,
            customers=customers,
            requests=requests,
            show_progress=not as_json,
            database_url=database_url,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    import json

    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print_json(json.dumps(report))
    sys.stdout.flush()


@app.command()
def backtest(
    rules_file: Annotated[
        str,
        typer.Argument(
            help="JSON: one rule or a list (drafts as POST /v1/rules takes them, "
            "or saved rule keys)."
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start, inclusive: YYYY-MM-DD (UTC) or an ISO instant; "
            "default 30 days before --until.",
        ),
    ] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive (default: now).")] = None,
    event_type: Annotated[str | None, typer.Option(help="Only events of this type.")] = None,
    compare: Annotated[
        bool, typer.Option(help="Beside the active rules and the decisions recorded.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL.")] = None,
) -> None:
    """Replay a period's stored events through rules (drafts or saved): what they would have
    matched and granted, by month and segment, beside the active rules. Writes nothing."""
    import json

    from loyalty_engine.app import build_runtime
    from loyalty_engine.billing.memory import InMemoryBillingGateway
    from loyalty_engine.clock import SystemClock
    from loyalty_engine.messaging.memory import InMemoryMailer
    from loyalty_engine.rules import backtest_cli

    settings = _settings() if database_url is None else Settings(database_url=database_url)
    try:
        items = backtest_cli.read_rules_file(rules_file)
        start, end = backtest_cli.instant(since, "--from"), backtest_cli.instant(until, "--until")
    except backtest_cli.BadInput as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _require_migrated(settings)
    runtime = build_runtime(
        settings, clock=SystemClock(), billing=InMemoryBillingGateway(), mailer=InMemoryMailer()
    )
    try:
        with backtest_cli.progress_bar() as progress:
            report = backtest_cli.backtest(
                runtime,
                items=items,
                since=start,
                until=end,
                event_type=event_type,
                compare_with_active=compare,
                progress=progress,
            )
    except LoyaltyError as exc:
        err.print("[red]error:[/red]", end=" ")
        err.print("\n".join(backtest_cli.problem_lines(exc)), markup=False)
        raise typer.Exit(1) from exc
    finally:
        runtime.engine.dispose()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console(width=200)
    for table in backtest_cli.summary_tables(report):
        console.print(table)
    for caveat in report["caveats"]:
        console.print(f"note: {caveat}", markup=False)
