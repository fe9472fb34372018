"""HTTP for rules: create, edit, publish, archive, versions, audit, dry run, and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from loyalty_engine.audit import history
from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.auth.principal import Principal
from loyalty_engine.customers import service as customers
from loyalty_engine.db import session_scope
from loyalty_engine.events.schemas import EventType
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.rules import service
from loyalty_engine.rules.backtest_service import (
    active_rules,
    backtest_period,
    run_backtest,
    select_rules,
)
from loyalty_engine.rules.backtest_stream import read_only
from loyalty_engine.rules.decisions import customer_decisions
from loyalty_engine.rules.dryrun import draft_rule, dry_run
from loyalty_engine.rules.engine import compile_rule
from loyalty_engine.rules.errors import InvalidRule
from loyalty_engine.rules.models import RuleVersion
from loyalty_engine.rules.schemas import (
    BacktestIn,
    DecisionRead,
    RuleCreate,
    RuleFields,
    RuleRead,
    RuleUpdate,
    RuleVersionRead,
)
from loyalty_engine.rules.validation import rule_validator

router = APIRouter(prefix="/v1", tags=["rules"])


class AuditRead(BaseModel):
    action: str
    actor: str
    diff: dict[str, Any]
    at: datetime


class DryRunEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventType
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(default=None, description="A saved rule's key (its active version,")
    version: int | None = Field(default=None, description="or this version),")
    draft: RuleFields | None = Field(default=None, description="or a rule not saved yet.")
    event: DryRunEvent
    customer_id: str | None = None


class DecisionPage(BaseModel):
    data: list[DecisionRead]
    next_cursor: str | None


def actor(principal: Principal) -> str:
    if principal.role is not None:
        return f"{principal.role.value}:{principal.api_key_prefix}"
    return f"customer:{principal.customer_external_id}"


def _version(v: RuleVersion | None) -> RuleVersionRead | None:
    if v is None:
        return None
    fields = {name: getattr(v, name) for name in RuleVersionRead.model_fields if name != "segment"}
    return RuleVersionRead.model_validate({**fields, "segment": v.segment_key})


def _read(state: service.RuleState) -> RuleRead:
    return RuleRead(
        key=state.rule.key,
        active=_version(state.active),
        draft=_version(state.draft),
        versions=state.versions,
        created_at=state.rule.created_at,
        updated_at=state.rule.updated_at,
    )


@router.get("/rules", response_model=list[RuleRead], responses=errors())
def list_rules(uow: UnitOfWorkDep) -> list[RuleRead]:
    with uow() as session:
        return [_read(s) for s in service.list_rules(session)]


@router.post("/rules", response_model=RuleRead, status_code=201, responses=errors(409, 422))
def create_rule(
    body: RuleCreate, uow: UnitOfWorkDep, runtime: RuntimeDep, principal: PrincipalDep, now: NowDep
) -> RuleRead:
    """Save a rule as a draft (or publish it at once with `activate`)."""
    validate = rule_validator(runtime.actions)
    with uow() as session:
        state = service.create_rule(
            session, body=body, actor=actor(principal), now=now, validate=validate
        )
        return _read(state)


@router.get("/rules/{key}", response_model=RuleRead, responses=errors(404))
def get_rule(key: str, uow: UnitOfWorkDep) -> RuleRead:
    with uow() as session:
        return _read(service.get_rule(session, key=key))


@router.patch("/rules/{key}", response_model=RuleRead, responses=errors(404, 409, 422))
def update_rule(
    key: str,
    body: RuleUpdate,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    now: NowDep,
) -> RuleRead:
    """Edit the draft; editing an active rule starts a new draft version (published ones never
    change). Send `activate: true` to publish the result."""
    validate = rule_validator(runtime.actions)
    with uow() as session:
        state = service.update_rule(
            session, key=key, changes=body, actor=actor(principal), now=now, validate=validate
        )
        return _read(state)


@router.post("/rules/{key}/activate", response_model=RuleRead, responses=errors(404, 409))
def activate_rule(
    key: str,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    now: NowDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> RuleRead:
    with uow() as session:
        state = service.activate(session, key=key, version=version, actor=actor(principal), now=now)
        return _read(state)


@router.post("/rules/{key}/archive", response_model=RuleRead, responses=errors(404, 409))
def archive_rule(key: str, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep) -> RuleRead:
    with uow() as session:
        return _read(service.archive(session, key=key, actor=actor(principal), now=now))


@router.get("/rules/{key}/versions", response_model=list[RuleVersionRead], responses=errors(404))
def rule_versions(key: str, uow: UnitOfWorkDep) -> list[RuleVersionRead]:
    with uow() as session:
        return [v for v in map(_version, service.list_versions(session, key=key)) if v]


@router.get("/rules/{key}/audit", response_model=list[AuditRead], responses=errors(404))
def rule_audit(key: str, uow: UnitOfWorkDep) -> list[AuditRead]:
    with uow() as session:
        service.get_rule(session, key=key)
        entries = history(session, subject_type="rule", subject_id=key)
        return [AuditRead.model_validate(e.model_dump()) for e in entries]


@router.post("/rules/dry-run", responses=errors(404, 422))
def dry_run_rule(
    body: DryRunIn, uow: UnitOfWorkDep, runtime: RuntimeDep, now: NowDep
) -> dict[str, Any]:
    """What a rule would decide for this event (and customer), with the trace. Writes nothing."""
    engine = runtime.rules
    assert engine is not None, "the shell wires the rules engine at start-up"
    with uow() as session:
        if body.draft is not None:
            problems = rule_validator(runtime.actions)(session, body.draft)
            if problems:
                raise InvalidRule("the draft is not valid", details=problems)
            rule = draft_rule(body.draft, engine)
        else:
            state = service.get_rule(session, key=body.rule or "")
            chosen = (
                service.version_of(session, state.rule, body.version)
                if body.version
                else state.active or state.draft
            )
            assert chosen is not None
            rule = compile_rule(state.rule, chosen, runtime.actions)
        customer = None
        if body.customer_id is not None:
            customer = customers.get_customer(session, external_id=body.customer_id)
        report = dry_run(
            session,
            engine=engine,
            rule=rule,
            event_type=body.event.type,
            properties=body.event.properties,
            occurred_at=body.event.occurred_at or now,
            customer=customer,
            now=now,
        )
        session.rollback()  # nothing a dry run touched is kept
        return report


@router.post("/rules/backtest", responses=errors(422))
def backtest_rules(body: BacktestIn, runtime: RuntimeDep, now: NowDep) -> dict[str, Any]:
    """Replay the period's stored events through these rules (saved or drafts): matches,
    customers, points and credits by month and segment, beside the active rules. Writes nothing."""
    engine = runtime.rules
    assert engine is not None, "the shell wires the rules engine at start-up"
    period = backtest_period(body.since, body.until, now)
    validate = rule_validator(runtime.actions)
    # A read-only session, not the request's unit of work: that one takes SQLite's write lock
    # for a POST, and would hold it for the whole replay.
    with session_scope(runtime.engine, write=False) as session, read_only(session):
        rules = select_rules(session, items=body.rules, engine=engine, validate=validate)
        active = active_rules(session, engine=engine) if body.compare_with_active else None
        return run_backtest(
            session,
            engine=engine,
            rules=rules,
            active=active,
            period=period,
            event_type=body.event_type,
        )


@router.get(
    "/customers/{external_id}/decisions", response_model=DecisionPage, responses=errors(404)
)
def list_decisions(
    external_id: str,
    uow: UnitOfWorkDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DecisionPage:
    """Every rule decision about this customer, newest first, each with the trace of why."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        rows, next_cursor = customer_decisions(
            session, customer_id=customer.id, cursor=cursor, limit=limit
        )
        return DecisionPage(
            data=[DecisionRead.model_validate(r) for r in rows], next_cursor=next_cursor
        )
