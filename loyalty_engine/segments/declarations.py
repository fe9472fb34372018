"""Declared custom traits: list, declare or change (a kind that live segments read is kept), and
this process's cache of the declared kinds, reloaded when the traits generation moves."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine import audit
from loyalty_engine.db import insert_ignore
from loyalty_engine.rules.engine import generation_of
from loyalty_engine.rules.facts import Kind
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.service import bump_generation
from loyalty_engine.segments.errors import TraitKindInUse
from loyalty_engine.segments.models import CustomTraitDeclaration
from loyalty_engine.segments.queries import (
    DECLARATIONS,
    custom_traits_read,
    declared_kinds,
    live_segments,
)
from loyalty_engine.segments.schemas import CustomTraitPut

TRAITS_GENERATION = "traits"


def list_declarations(session: Session) -> list[CustomTraitDeclaration]:
    stmt = select(CustomTraitDeclaration).order_by(col(CustomTraitDeclaration.name))
    return list(session.execute(stmt).scalars())


def declare_trait(
    session: Session, *, name: str, body: CustomTraitPut, actor: str, now: datetime
) -> tuple[CustomTraitDeclaration, bool]:
    """Create or change a declaration; whether it was created. Changing the kind of a trait that
    segments read is refused: their members would change without anyone editing them."""
    after = {"kind": str(body.kind), "description": body.description}
    found = _lock(session, name)
    if found is None:
        # Insert-or-ignore, then lock: of two concurrent first declarations, one creates and
        # the other changes what it created.
        stmt = insert_ignore(DECLARATIONS, session.get_bind().dialect.name).values(
            name=name, **after, created_at=now, updated_at=now
        )
        if session.execute(stmt.returning(DECLARATIONS.c.id)).scalar_one_or_none() is not None:
            _record(session, name, "declare", actor, {}, after, now)
            declared = _lock(session, name)
            assert declared is not None
            return declared, True
        found = _lock(session, name)
        assert found is not None
    before = _content(found)
    if found.kind != body.kind:
        readers = segments_reading(session, name)
        if readers:
            raise TraitKindInUse(
                f"custom trait {name!r} is read as {found.kind} by segments "
                f"{', '.join(readers)}: change or archive them first",
                details={"trait": name, "kind": str(found.kind), "segments": readers},
            )
    if before != after:
        found.kind, found.description, found.updated_at = body.kind, body.description, now
        session.flush()
        _record(session, name, "edit", actor, before, after, now)
    return found, False


def _lock(session: Session, name: str) -> CustomTraitDeclaration | None:
    # FOR UPDATE: a segment being saved reads the kinds FOR SHARE, so the two never cross.
    stmt = select(CustomTraitDeclaration).where(col(CustomTraitDeclaration.name) == name)
    return session.execute(stmt.with_for_update()).scalar_one_or_none()


def _record(
    session: Session,
    name: str,
    action: str,
    actor: str,
    before: dict[str, str],
    after: dict[str, str],
    now: datetime,
) -> None:
    """Audit the change; a new kind moves the traits generation (caches reload)."""
    if before.get("kind") != after["kind"]:
        bump_generation(session, TRAITS_GENERATION)
    audit.record(
        session,
        subject_type="custom_trait",
        subject_id=name,
        action=action,
        actor=actor,
        before=before,
        after=after,
        now=now,
    )


def _content(declaration: CustomTraitDeclaration) -> dict[str, str]:
    return {"kind": str(declaration.kind), "description": declaration.description}


def segments_reading(session: Session, trait: str) -> list[str]:
    """Keys of the live (not archived) segments whose condition reads the custom trait."""
    return [key for key, condition in live_segments(session) if trait in _reads(condition)]


def _reads(condition: object) -> set[str]:
    return custom_traits_read(parse(condition))


@dataclass
class DeclaredTraits:
    """This process's declared kinds, reloaded when the traits generation moves. One per
    runtime (a generation number means something only for one database)."""

    _cached: tuple[int, Mapping[str, Kind]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def kinds(self, session: Session) -> Mapping[str, Kind]:
        generation = generation_of(session, TRAITS_GENERATION)
        cached = self._cached
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._lock:
            kinds = declared_kinds(session)
            self._cached = (generation, kinds)
            return kinds
