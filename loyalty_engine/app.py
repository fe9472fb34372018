"""The application shell: `create_app(settings, *, clock, billing, mailer) -> FastAPI`."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from loyalty_engine import __version__, migrations
from loyalty_engine.analytics import routes as analytics_routes
from loyalty_engine.auth import routes as auth_routes
from loyalty_engine.auth.dependencies import authorize
from loyalty_engine.auth.middleware import AuthenticationMiddleware
from loyalty_engine.auth.service import ensure_instance_secret
from loyalty_engine.billing import alerts as billing_alerts
from loyalty_engine.billing.delivery import register_billing_deliveries
from loyalty_engine.billing.gateway import BillingGateway
from loyalty_engine.billing.inbox import routes as stripe_webhook_routes
from loyalty_engine.billing.inbox.jobs import INBOX_JOBS
from loyalty_engine.clock import Clock
from loyalty_engine.config import Settings
from loyalty_engine.customers import routes as customer_routes
from loyalty_engine.customers.actions import register_customer_actions
from loyalty_engine.customers.traits import TraitReactor
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.errors import LoyaltyError, json_path
from loyalty_engine.events import routes as event_routes
from loyalty_engine.events.schemas import EventBatchIn
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.limits import BodySizeLimit
from loyalty_engine.messaging.delivery import register_email_delivery
from loyalty_engine.messaging.mailer import Mailer
from loyalty_engine.metrics import OUTBOX_MESSAGES, MetricsMiddleware
from loyalty_engine.milestones import (
    MilestoneAnnouncer,
    MilestoneCatalog,
    MilestoneReactor,
    milestone_facts,
    publisher,
    register_milestone_actions,
)
from loyalty_engine.milestones import routes as milestone_routes
from loyalty_engine.outbox import routes as outbox_routes
from loyalty_engine.outbox import service as outbox
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.rules import routes as rule_routes
from loyalty_engine.rules.builtin_actions import register_engine_actions
from loyalty_engine.rules.engine import Emitter, RuleCatalog, RulesEngine
from loyalty_engine.runtime import Runtime, install
from loyalty_engine.scheduler import CORE_JOBS, SchedulerService
from loyalty_engine.segments import routes as segment_routes
from loyalty_engine.segments.catalog import SegmentCatalog
from loyalty_engine.segments.declarations import DeclaredTraits
from loyalty_engine.webhooks.actions import register_webhook_actions
from loyalty_engine.webhooks.delivery import register_webhook_delivery
from loyalty_engine.webhooks.signing import derived_secret
from rewards import routes as ledger_routes
from rewards import transfer_routes
from rewards.actions import register_reward_actions
from rewards.catalog import routes as catalog_routes
from rewards.facts import balance_facts
from rewards.fast import FAST_ROUTES
from rewards.jobs import REWARD_JOBS
from rewards.renewals import routes as renewal_routes
from rewards.renewals.actions import register_renewal_actions
from rewards.renewals.jobs import RENEWAL_JOBS
from rewards.renewals.reactor import RenewalInvoiceReactor
from rewards.tiers import routes as tier_routes
from rewards.tiers.jobs import TIER_JOBS
from rewards.tiers.reactor import TierReactor
from rewards.tiers.service import TierCatalog
from rewards.transfer_jobs import TRANSFER_JOBS

log = logging.getLogger(__name__)
# The periodic jobs of a scheduler leader: the core's and each domain's.
JOBS = [*CORE_JOBS, *REWARD_JOBS, *TIER_JOBS, *RENEWAL_JOBS, *TRANSFER_JOBS, *INBOX_JOBS]


def build_runtime(
    settings: Settings, *, clock: Clock, billing: BillingGateway, mailer: Mailer
) -> Runtime:
    """Engine, registries and gateways: everything a process needs, API or not."""
    engine = make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.db_pool_size,
    )
    runtime = Runtime(settings=settings, engine=engine, clock=clock, billing=billing)
    runtime.reactors.register(TraitReactor(), TraitReactor.event_types)
    register_engine_actions(runtime.actions)
    register_customer_actions(
        runtime.actions, main_features_milestone=settings.main_features_milestone
    )
    register_milestone_actions(runtime.actions)
    register_reward_actions(runtime.actions)
    register_renewal_actions(runtime.actions)
    segments = SegmentCatalog()  # customer.segments at event time, as the SQL counts them
    tiers = TierCatalog()
    runtime.rules = RulesEngine(
        RuleCatalog(runtime.actions),
        facts=[segments.segment_facts, tiers.facts, balance_facts, milestone_facts],
        emit=_emitter(runtime, "rules"),
        declared_kinds=DeclaredTraits().kinds,
    )
    # Every event type: the rules decide what concerns them; then tiers measure what was earned.
    # Milestones count and achieve first, so the event's rules read customer.milestones and
    # customer.renewals as they now are; milestone_achieved follows once those rules decided.
    runtime.reactors.register(MilestoneReactor(MilestoneCatalog(), runtime.rules.customer_facts))
    runtime.reactors.register(runtime.rules)
    runtime.reactors.register(MilestoneAnnouncer(publisher(runtime)))
    runtime.reactors.register(TierReactor(tiers, emit=_emitter(runtime, "tiers")))
    # Stripe's invoice.upcoming (as invoice_upcoming) puts the renewal discount on the invoice.
    renewal_invoices = RenewalInvoiceReactor(runtime.rules.customer_facts)
    runtime.reactors.register(renewal_invoices, renewal_invoices.event_types)
    register_billing_deliveries(
        runtime.deliveries,
        billing,
        engine=engine,
        now=clock.now,
        pause_probe_seconds=settings.billing_pause_probe_seconds,
    )
    register_email_delivery(runtime.deliveries, mailer)
    register_webhook_actions(runtime.actions)
    register_webhook_delivery(
        runtime.deliveries,
        secret=lambda: settings.webhook_secret or derived_secret(runtime.secret_key),
        clock=clock,
    )
    return runtime


def _emitter(runtime: Runtime, source: str) -> Emitter:
    """Follow-ups (of rule actions, tier changes) go through ingest too, one level deeper."""

    def emit(
        session: Session, events: list[tuple[str, str, dict[str, Any], str]], depth: int
    ) -> None:
        ingest_internal(
            session,
            events=[InternalEvent(*event) for event in events],
            source=source,
            reactors=runtime.reactors,
            now=runtime.clock.now(),
            depth=depth,
        )

    return emit


def prepare(runtime: Runtime) -> None:
    """Refuse an unmigrated database; load the token secret."""
    if not migrations.is_current(runtime.engine):
        raise RuntimeError(migrations.not_migrated_message(runtime.engine))
    if runtime.settings.secret_key:
        runtime.secret_key = runtime.settings.secret_key
    else:
        with session_scope(runtime.engine, write=True) as session:
            runtime.secret_key = ensure_instance_secret(session, now=runtime.clock.now())
    install(runtime)


def create_app(
    settings: Settings,
    *,
    clock: Clock,
    billing: BillingGateway,
    mailer: Mailer,
    run_worker: bool = False,
    run_scheduler: bool = False,
) -> FastAPI:
    runtime = build_runtime(settings, clock=clock, billing=billing, mailer=mailer)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare(runtime)
        background = _Background(runtime, worker=run_worker, scheduler=run_scheduler)
        background.start()
        try:
            yield
        finally:
            background.stop()

    # FastAPIOffline serves the /docs and /redoc assets itself: no CDN, nothing fetched at run time.
    app = FastAPIOffline(
        title="Loyalty engine",
        version=__version__,
        lifespan=lifespan,
        description="Loyalty and referral program engine for B2B SaaS.",
    )
    app.state.runtime = runtime
    routers = (auth_routes, customer_routes, event_routes, outbox_routes, rule_routes)
    domains = (segment_routes, milestone_routes, ledger_routes, tier_routes)
    programs = (renewal_routes, catalog_routes, analytics_routes, transfer_routes)
    for module in (*routers, *domains, *programs):
        # Every /v1 route passes the gate: authentication, then the default-deny permission table.
        app.include_router(module.router, dependencies=[Depends(authorize)])
    # Authenticated by Stripe's signature, checked in the route (auth.permissions.SIGNED_PATHS).
    app.include_router(stripe_webhook_routes.router)
    _add_probes(app, runtime)
    _add_error_handlers(app)
    # Outermost last: metrics see every answer; authentication runs before anything reads a body.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthenticationMiddleware, runtime=runtime, fast_routes=FAST_ROUTES)
    app.add_middleware(MetricsMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class _Background:
    """The outbox worker and the scheduler, as threads of the serving process."""

    def __init__(self, runtime: Runtime, *, worker: bool, scheduler: bool) -> None:
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        if worker:
            target = OutboxWorker(runtime).run_forever
            self.threads.append(
                threading.Thread(
                    target=target, args=(self.stop_event,), name="outbox-worker", daemon=True
                )
            )
        if scheduler:
            target = SchedulerService(runtime, JOBS).run_forever
            self.threads.append(
                threading.Thread(
                    target=target, args=(self.stop_event,), name="scheduler", daemon=True
                )
            )

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)


def _add_probes(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", tags=["probes"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"])
    def readyz() -> JSONResponse:
        """Readiness: the database answers and its schema is current. Open billing alerts (e.g.
        Stripe refusing our key) are listed too; they do not make the instance unready, since
        it still serves everything else."""
        checks: dict[str, Any] = {}
        open_alerts: list[dict[str, str]] = []
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = migrations.current_revision(runtime.engine)
            head = migrations.head_revision(runtime.engine)
            checks["migrations"] = (
                "ok" if current == head else f"at {current or 'none'}, expected {head}"
            )
            if current == head:
                with session_scope(runtime.engine, write=False) as session:
                    open_alerts = [
                        {"source": f"billing:{a.gateway}", "kind": a.kind, "message": a.message}
                        for a in billing_alerts.open_alerts(session)
                    ]
        except Exception as exc:  # readiness reports any failure instead of raising it
            checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values()) and len(checks) == 2
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks, "alerts": open_alerts},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text format."""
        with session_scope(runtime.engine, write=False) as session:
            for status, count in outbox.counts_by_status(session).items():
                OUTBOX_MESSAGES.labels(status=status).set(count)
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoyaltyError)
    async def loyalty_error(_: Request, exc: LoyaltyError) -> JSONResponse:
        return JSONResponse(exc.envelope(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e["type"] == "json_invalid" for e in errs):
            body = {
                "code": "malformed_json",
                "message": "the request body is not valid JSON",
                "details": [{"path": "$", "message": str(errs[0].get("ctx", {}).get("error", ""))}],
            }
            return JSONResponse({"error": body}, status_code=400)
        details = [{"path": _where(e["loc"]), "message": e["msg"], "type": e["type"]} for e in errs]
        message = "; ".join(f"{d['path']}: {d['message']}" for d in details[:5])
        body = {"code": "validation_failed", "message": message, "details": details}
        return JSONResponse({"error": body}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"code": code, "message": str(exc.detail), "details": None}
        return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {
            "code": "internal_error",
            "message": "internal error; it has been logged",
            "details": None,
        }
        return JSONResponse({"error": body}, status_code=500)


def _where(loc: tuple[Any, ...]) -> str:
    """`("body", "events", 3)` -> `$.events[3]`; `("query", "limit")` -> `query.limit`."""
    if loc and loc[0] == "body":
        return json_path(list(loc[1:]))
    return ".".join(str(part) for part in loc)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    batch = EventBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(batch.pop("$defs", {}))
    components["EventBatchIn"] = batch
    app.openapi_schema = schema
    return schema


def app_from_env() -> FastAPI:
    """The factory `loyalty serve` hands to uvicorn (also once per process with --workers)."""
    import os

    from loyalty_engine.billing.factory import gateway_from_settings
    from loyalty_engine.clock import SystemClock
    from loyalty_engine.messaging.memory import InMemoryMailer

    settings = Settings()
    return create_app(
        settings,
        clock=SystemClock(),
        billing=gateway_from_settings(settings),
        mailer=InMemoryMailer(),
        run_worker=os.environ.get("LOYALTY_SERVE_WORKER", "1") == "1",
        run_scheduler=os.environ.get("LOYALTY_SERVE_SCHEDULER", "1") == "1",
    )
