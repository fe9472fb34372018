"""HTTP for program analytics: liability and breakage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from loyalty_engine.analytics.liability import liability
from loyalty_engine.errors import ValidationFailed, problem
from loyalty_engine.http import NowDep, UnitOfWorkDep, errors
from loyalty_engine.rules.windows import add_months

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class OutstandingRead(BaseModel):
    unit: str
    available: int
    pending: int
    by_expiry_month: dict[str, int] = Field(
        description='Outstanding amount by the month its lots expire ("never" last).'
    )


class CohortRead(BaseModel):
    unit: str
    month: str = Field(description="The month the lots were granted.")
    granted: int
    outstanding: int = Field(description="Still available or pending.")
    used: dict[str, int] = Field(
        description="What took from these lots: spent, expired, reversed, adjusted, repaid_debt."
    )
    breakage_bps: int = Field(description="Expired over granted, in basis points (rounded down).")


class LiabilityRead(BaseModel):
    as_of: datetime
    granted_from: str
    granted_until: str
    outstanding: list[OutstandingRead]
    cohorts: list[CohortRead]


@router.get("/liability", response_model=LiabilityRead, responses=errors(422))
def get_liability(
    uow: UnitOfWorkDep,
    now: NowDep,
    unit: Annotated[str | None, Query(pattern=r"^(points|[a-z]{3})$")] = None,
    granted_from: Month | None = None,
    granted_until: Month | None = None,
) -> LiabilityRead:
    """Outstanding points and credits by expiry month, and per grant month (12 months up to the
    current one by default, `granted_until` included) the breakage: expired over granted."""
    this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    until = add_months(_month(granted_until), 1) if granted_until else add_months(this_month, 1)
    since = _month(granted_from) if granted_from else add_months(until, -12)
    if since >= until:
        raise ValidationFailed(
            "granted_from is after granted_until",
            details=[problem("query.granted_from", "must not be after granted_until")],
        )
    with uow() as session:
        found = liability(session, now=now, unit=unit, granted_from=since, granted_until=until)
    return LiabilityRead(
        as_of=found.as_of,
        granted_from=since.strftime("%Y-%m"),
        granted_until=add_months(until, -1).strftime("%Y-%m"),
        outstanding=[OutstandingRead(**vars(o)) for o in found.outstanding],
        cohorts=[
            CohortRead(
                unit=c.unit,
                month=c.month,
                granted=c.granted,
                outstanding=c.outstanding,
                used=c.used,
                breakage_bps=c.breakage_bps,
            )
            for c in found.cohorts
        ],
    )


def _month(text: str) -> datetime:
    year, month = text.split("-")
    return datetime(int(year), int(month), 1, tzinfo=UTC)
