"""`loyalty billing ...`: reconcile with the billing system, pull Stripe's customers and
subscriptions, process stored Stripe webhooks, and a live smoke test against a test-mode key."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope

billing_app = typer.Typer(
    help="Billing: reconcile, sync from Stripe, process webhooks, smoke-test a Stripe key.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from loyalty_engine.cli import _runtime as runtime

    return runtime(settings)


@billing_app.command("reconcile")
def reconcile_command(
    customer: Annotated[
        list[str] | None, typer.Option(help="Only these billing customer ids (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare the credits we applied with the billing system's balance transactions; exit 1
    on drift."""
    from loyalty_engine.billing.reconcile import reconcile
    from rewards.transfers import record_outcomes

    runtime = _runtime(Settings())
    try:
        with session_scope(runtime.engine, write=True) as session:
            record_outcomes(session, now=runtime.clock.now())
        with (
            session_scope(runtime.engine, write=False) as session,
            Progress(console=err, transient=True, disable=as_json) as progress,
        ):
            task = progress.add_task("reconciling", total=None)
            report = reconcile(
                session,
                runtime.billing,
                billing_customer_ids=customer,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        runtime.engine.dispose()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        out.print(
            f"{report.gateway}: {report.customers} customers, {report.transfers} transfers, "
            f"{report.matched} matched, {len(report.drift)} drift"
        )
        if report.findings:
            table = Table("kind", "billing customer", "transfer", "expected", "found", "message")
            for f in report.findings:
                table.add_row(
                    f.kind,
                    f.billing_customer_id,
                    str(f.transfer_id or ""),
                    str(f.expected if f.expected is not None else ""),
                    str(f.found if f.found is not None else ""),
                    f.message,
                )
            out.print(table)
    if report.drift:
        raise typer.Exit(1)


@billing_app.command("check")
def check_command(
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="LOYALTY_STRIPE_API_KEY", help="A Stripe TEST-mode secret key (sk_test_...)."
        ),
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency of the 1-unit credit.")] = "usd",
) -> None:
    """Live smoke test against Stripe test mode: a throwaway customer gets a 1-unit credit that is
    then taken back; checks idempotency and Stripe's record; deletes the customer."""
    from loyalty_engine.billing.check import LiveKeyRefused, smoke_test
    from loyalty_engine.billing.stripe_gateway import StripeGateway, make_client

    settings = Settings()
    key = api_key or settings.stripe_api_key
    if not key:
        err.print("[red]error:[/red] no Stripe key: pass --api-key or set LOYALTY_STRIPE_API_KEY")
        raise typer.Exit(2)
    client = make_client(
        key, api_base=settings.stripe_api_base, timeout_seconds=settings.stripe_timeout_seconds
    )
    gateway = StripeGateway(client, writes_per_second=settings.stripe_max_writes_per_second)

    def show(step: object) -> None:
        ok, name, detail = step.ok, step.name, step.detail  # type: ignore[attr-defined]
        mark = "[green]ok[/green]  " if ok else "[red]FAIL[/red]"
        out.print(f"{mark} {name}" + (f"  ({detail})" if detail else ""))

    try:
        steps = smoke_test(gateway, api_key=key, currency=currency.lower(), report=show)
    except LiveKeyRefused as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not all(step.ok for step in steps):
        raise typer.Exit(1)


@billing_app.command("sync")
def sync_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Pull Stripe's customers and subscriptions (paginated): link customers and fill their
    plan, MRR, currency and renewal date. Safe to repeat."""
    from dataclasses import asdict

    from loyalty_engine.billing.stripe_gateway import StripeGateway
    from loyalty_engine.billing.sync import sync_from_stripe

    settings = Settings()
    if not settings.stripe_api_key:
        err.print("[red]error:[/red] set LOYALTY_STRIPE_API_KEY to sync from Stripe")
        raise typer.Exit(2)
    runtime = _runtime(settings)
    try:
        assert isinstance(runtime.billing, StripeGateway)
        with Progress(console=err, transient=True, disable=as_json) as progress:
            tasks = {
                "customers": progress.add_task("customers", total=None),
                "subscriptions": progress.add_task("subscriptions", total=None),
            }
            report = sync_from_stripe(
                runtime,
                runtime.billing.client,
                progress=lambda what, done: progress.update(tasks[what], completed=done),
            )
    finally:
        runtime.engine.dispose()
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    out.print(
        f"customers: {report.customers} ({report.linked} linked, {report.unmatched} unmatched); "
        f"subscriptions: {report.subscriptions} ({report.updated} changed, "
        f"{report.skipped} of customers not linked)"
    )


@billing_app.command("process-webhooks")
def process_webhooks_command() -> None:
    """Process the stored Stripe webhook events now (the scheduler does it every 5 seconds)."""
    from loyalty_engine.billing.inbox.service import process_pending

    runtime = _runtime(Settings())
    try:
        report = process_pending(runtime)
    finally:
        runtime.engine.dispose()
    out.print(
        f"{report.claimed} events: {report.processed} processed, {report.ignored} ignored, "
        f"{report.unlinked} waiting for their customer, {report.failed} failed"
    )
    if report.failed:
        raise typer.Exit(1)
