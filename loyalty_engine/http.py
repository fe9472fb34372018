"""FastAPI dependencies shared by every router: the runtime, the request's session, the clock."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


UnitOfWork = Callable[[], AbstractContextManager[Session]]


def get_unit_of_work(request: Request) -> UnitOfWork:
    """The request's one session, opened by the endpoint: `with uow() as session: ...`.

    It commits when the block ends, inside the endpoint's own thread and before the response.
    (A yield dependency would commit in a second trip to the thread pool; with SQLite's single
    writer, a commit waiting for a free thread behind blocked writers can starve.)
    """
    runtime = get_runtime(request)
    write = request.method not in READ_METHODS
    return lambda: session_scope(runtime.engine, write=write)


def get_now(request: Request) -> datetime:
    return get_runtime(request).clock.now()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
NowDep = Annotated[datetime, Depends(get_now)]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "Not permitted",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid payload",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its error statuses, documented with the error envelope."""
    every = sorted({401, 403, *statuses})
    return {s: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[s]} for s in every}
