"""Recording and reading audit entries (in the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.audit.diff import diff
from loyalty_engine.audit.models import AuditEntry


def record(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    action: str,
    actor: str,
    before: Any,
    after: Any,
    now: datetime,
) -> AuditEntry:
    entry = AuditEntry(
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        actor=actor,
        diff=diff(before, after),
        at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def history(session: Session, *, subject_type: str, subject_id: str) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(
            col(AuditEntry.subject_type) == subject_type, col(AuditEntry.subject_id) == subject_id
        )
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    )
    return list(session.execute(stmt).scalars())
