"""HTTP for segments (create, edit, archive, count, members, preview, audit) and for declared
custom traits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from loyalty_engine.audit import history
from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.db import session_scope
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.rules.routes import actor
from loyalty_engine.segments import declarations, service
from loyalty_engine.segments.models import CustomTraitDeclaration, Segment, TraitKind
from loyalty_engine.segments.schemas import (
    AuditRead,
    CustomTraitPut,
    CustomTraitRead,
    MemberPage,
    SegmentCount,
    SegmentCreate,
    SegmentPreview,
    SegmentRead,
    SegmentUpdate,
)

router = APIRouter(prefix="/v1", tags=["segments"])
TraitNamePath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="The name under `custom_traits` (letters, digits and _).",
    ),
]


def _read(segment: Segment) -> SegmentRead:
    return SegmentRead(
        key=segment.key,
        name=segment.name,
        description=segment.description,
        condition=segment.condition,
        archived=segment.archived_at is not None,
        created_by=segment.created_by,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
        archived_at=segment.archived_at,
    )


@router.get("/segments", response_model=list[SegmentRead], responses=errors())
def list_segments(uow: UnitOfWorkDep, archived: bool = False) -> list[SegmentRead]:
    """Segments by key; archived ones too with `archived=true`."""
    with uow() as session:
        return [_read(s) for s in service.list_segments(session, include_archived=archived)]


@router.post("/segments", response_model=SegmentRead, status_code=201, responses=errors(409, 422))
def create_segment(
    body: SegmentCreate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> SegmentRead:
    """Save a segment. Its condition must translate to SQL: every problem is reported at once."""
    with uow() as session:
        return _read(service.create_segment(session, body=body, actor=actor(principal), now=now))


@router.post("/segments/preview", response_model=SegmentCount, responses=errors(422))
def preview_segment(body: SegmentPreview, runtime: RuntimeDep, now: NowDep) -> SegmentCount:
    """How many customers a condition not saved yet holds for, now. Writes nothing."""
    # A read transaction, though the method is POST: on SQLite a write transaction would hold
    # the one writer's lock for the whole count.
    with session_scope(runtime.engine, write=False) as session:
        count = service.preview_count(session, condition=body.condition, now=now)
        return SegmentCount(segment=None, count=count, as_of=now)


@router.get("/segments/{key}", response_model=SegmentRead, responses=errors(404))
def get_segment(key: str, uow: UnitOfWorkDep) -> SegmentRead:
    with uow() as session:
        return _read(service.get_segment(session, key=key))


@router.patch("/segments/{key}", response_model=SegmentRead, responses=errors(404, 409, 422))
def update_segment(
    key: str, body: SegmentUpdate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> SegmentRead:
    with uow() as session:
        segment = service.update_segment(
            session, key=key, changes=body, actor=actor(principal), now=now
        )
        return _read(segment)


@router.post("/segments/{key}/archive", response_model=SegmentRead, responses=errors(404, 409))
def archive_segment(
    key: str, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> SegmentRead:
    """Switch a segment off (kept for history); refused while rules are scoped to it."""
    with uow() as session:
        return _read(service.archive_segment(session, key=key, actor=actor(principal), now=now))


@router.get("/segments/{key}/count", response_model=SegmentCount, responses=errors(404, 409))
def count_members(key: str, uow: UnitOfWorkDep, now: NowDep) -> SegmentCount:
    """How many customers are in the segment now (counted in SQL)."""
    with uow() as session:
        count = service.count_members(session, key=key, now=now)
        return SegmentCount(segment=key, count=count, as_of=now)


@router.get("/segments/{key}/members", response_model=MemberPage, responses=errors(404, 409, 422))
def list_members(
    key: str,
    uow: UnitOfWorkDep,
    now: NowDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MemberPage:
    """The customers in the segment now, in creation order."""
    with uow() as session:
        rows, next_cursor = service.list_members(
            session, key=key, now=now, cursor=cursor, limit=limit
        )
        return MemberPage(data=rows, next_cursor=next_cursor)


@router.get("/segments/{key}/audit", response_model=list[AuditRead], responses=errors(404))
def segment_audit(key: str, uow: UnitOfWorkDep) -> list[AuditRead]:
    with uow() as session:
        service.get_segment(session, key=key)
        entries = history(session, subject_type="segment", subject_id=key)
        return [AuditRead.model_validate(e.model_dump()) for e in entries]


def _trait(declaration: CustomTraitDeclaration) -> CustomTraitRead:
    return CustomTraitRead(
        name=declaration.name,
        kind=TraitKind(declaration.kind),
        description=declaration.description,
        created_at=declaration.created_at,
        updated_at=declaration.updated_at,
    )


@router.get("/custom-traits", response_model=list[CustomTraitRead], responses=errors())
def list_custom_traits(uow: UnitOfWorkDep) -> list[CustomTraitRead]:
    """Declared custom traits: conditions compare them by kind, and segments read them in SQL."""
    with uow() as session:
        return [_trait(d) for d in declarations.list_declarations(session)]


@router.put("/custom-traits/{name}", response_model=CustomTraitRead, responses=errors(409, 422))
def declare_custom_trait(
    name: TraitNamePath,
    body: CustomTraitPut,
    uow: UnitOfWorkDep,
    principal: PrincipalDep,
    now: NowDep,
    response: Response,
) -> CustomTraitRead:
    """Declare a custom trait's kind, or change it (refused while segments read the trait).
    A value of another kind reads as missing."""
    with uow() as session:
        declaration, created = declarations.declare_trait(
            session, name=name, body=body, actor=actor(principal), now=now
        )
        response.status_code = 201 if created else 200
        return _trait(declaration)
