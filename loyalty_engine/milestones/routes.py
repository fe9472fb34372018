"""HTTP for milestones: define, edit, archive, audit; a customer's progress; staff grants."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.customers import service as customers
from loyalty_engine.customers.routes import ExternalIdPath
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.milestones import service
from loyalty_engine.milestones.announce import publisher
from loyalty_engine.milestones.models import Milestone, MilestoneAchievement
from loyalty_engine.milestones.progress import Progress, required_count
from loyalty_engine.milestones.schemas import (
    CustomerMilestonesRead,
    FractionRead,
    GrantRead,
    MilestoneCreate,
    MilestoneProgressRead,
    MilestoneRead,
    MilestoneUpdate,
    StepProgressRead,
    StepRead,
)
from loyalty_engine.rules.routes import AuditRead, actor

router = APIRouter(prefix="/v1", tags=["milestones"])


def _read(m: Milestone) -> MilestoneRead:
    steps = [StepRead.model_validate(s) for s in m.steps]
    return MilestoneRead(
        key=m.key,
        name=m.name,
        description=m.description,
        steps=steps,
        required_steps=m.required_steps,
        required_bps=m.required_bps,
        required=required_count(len(steps), steps=m.required_steps, bps=m.required_bps),
        condition=m.condition,
        manual=not steps and m.condition is None,
        archived_at=m.archived_at,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def _progress(m: Milestone, p: Progress, a: MilestoneAchievement | None) -> MilestoneProgressRead:
    names = [step["name"] for step in m.steps]
    return MilestoneProgressRead(
        milestone=m.key,
        name=m.name,
        archived=m.archived_at is not None,
        steps=[
            StepProgressRead(key=s.key, name=name, count=s.count, needed=s.needed, done=s.done)
            for s, name in zip(p.steps, names, strict=True)
        ],
        done_steps=p.done_steps,
        required_steps=p.required_steps,
        has_condition=m.condition is not None,
        progress=FractionRead(
            numerator=p.fraction.numerator,
            denominator=p.fraction.denominator,
            percent=p.fraction.percent,
        ),
        achieved=a is not None,
        achieved_at=a.achieved_at if a else None,
        achieved_by=a.achieved_by if a else None,
    )


@router.get("/milestones", response_model=list[MilestoneRead], responses=errors())
def list_milestones(uow: UnitOfWorkDep) -> list[MilestoneRead]:
    with uow() as session:
        return [_read(m) for m in service.list_milestones(session)]


@router.post(
    "/milestones", response_model=MilestoneRead, status_code=201, responses=errors(409, 422)
)
def create_milestone(
    body: MilestoneCreate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> MilestoneRead:
    """Define a milestone; customers' events count toward it from now on."""
    with uow() as session:
        milestone = service.create_milestone(session, body=body, actor=actor(principal), now=now)
        return _read(milestone)


@router.get("/milestones/{key}", response_model=MilestoneRead, responses=errors(404))
def get_milestone(key: str, uow: UnitOfWorkDep) -> MilestoneRead:
    with uow() as session:
        return _read(service.get_milestone(session, key=key))


@router.patch("/milestones/{key}", response_model=MilestoneRead, responses=errors(404, 409, 422))
def update_milestone(
    key: str, body: MilestoneUpdate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> MilestoneRead:
    """Change the definition in place (counts stay with their step keys)."""
    with uow() as session:
        milestone = service.update_milestone(
            session, key=key, changes=body, actor=actor(principal), now=now
        )
        return _read(milestone)


@router.post("/milestones/{key}/archive", response_model=MilestoneRead, responses=errors(404, 409))
def archive_milestone(
    key: str, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> MilestoneRead:
    """Stop counting toward it; customers who achieved it keep it."""
    with uow() as session:
        return _read(service.archive_milestone(session, key=key, actor=actor(principal), now=now))


@router.get("/milestones/{key}/audit", response_model=list[AuditRead], responses=errors(404))
def milestone_audit(key: str, uow: UnitOfWorkDep) -> list[AuditRead]:
    with uow() as session:
        entries = service.history(session, key=key)
        return [AuditRead.model_validate(e.model_dump()) for e in entries]


@router.get(
    "/customers/{external_id}/milestones",
    response_model=CustomerMilestonesRead,
    responses=errors(404),
)
def customer_milestones(external_id: ExternalIdPath, uow: UnitOfWorkDep) -> CustomerMilestonesRead:
    """Each milestone's progress for this customer (for progress bars) and when it was achieved."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        found = service.customer_progress(session, customer_id=customer.id)
        rows = [_progress(m, p, a) for m, p, a in found]
        achieved = sorted(r.milestone for r in rows if r.achieved)
        return CustomerMilestonesRead(customer_id=external_id, achieved=achieved, milestones=rows)


@router.post(
    "/customers/{external_id}/milestones/{key}/grant",
    response_model=GrantRead,
    responses={200: {"description": "Already achieved: nothing changed"}, **errors(404, 409)},
    status_code=201,
)
def grant_milestone(
    external_id: ExternalIdPath,
    key: str,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    now: NowDep,
    response: Response,
) -> GrantRead:
    """Achieve a milestone for a customer by hand (idempotent: 200 if they already had it)."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        made, granted = service.grant_milestone(
            session,
            customer=customer,
            key=key,
            actor=actor(principal),
            now=now,
            publish=publisher(runtime),
        )
        response.status_code = 201 if granted else 200
        return GrantRead(
            milestone=key,
            customer_id=external_id,
            granted=granted,
            achieved_at=made.achieved_at,
            achieved_by=made.achieved_by,
        )
