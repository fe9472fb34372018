"""HTTP for the outbox: list messages, retry a dead one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loyalty_engine.http import NowDep, UnitOfWorkDep, errors
from loyalty_engine.outbox import service
from loyalty_engine.outbox.models import OutboxStatus
from loyalty_engine.outbox.schemas import OutboxMessageRead, OutboxPage

router = APIRouter(prefix="/v1/outbox", tags=["outbox"])


@router.get("", response_model=OutboxPage, responses=errors(422))
def list_outbox(
    uow: UnitOfWorkDep,
    status: OutboxStatus | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OutboxPage:
    """Outbox messages, newest first; `status=dead` lists what needs attention."""
    with uow() as session:
        rows, next_cursor = service.list_messages(
            session, status=status, kind=kind, cursor=cursor, limit=limit
        )
        return OutboxPage(
            data=[OutboxMessageRead.model_validate(r) for r in rows], next_cursor=next_cursor
        )


@router.post("/{message_id}/retry", response_model=OutboxMessageRead, responses=errors(404, 409))
def retry_message(message_id: int, uow: UnitOfWorkDep, now: NowDep) -> OutboxMessageRead:
    """Send a dead message through delivery again, with a fresh attempt count."""
    with uow() as session:
        message = service.retry_one(session, message_id=message_id, now=now)
        return OutboxMessageRead.model_validate(message)
