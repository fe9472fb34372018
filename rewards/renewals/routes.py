"""HTTP for renewal discounts: the program (marketers) and quotes/applications (billing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.customers import service as customers
from loyalty_engine.errors import NotFound
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.rules.routes import actor
from rewards.renewals import service
from rewards.renewals.models import RenewalProgram
from rewards.renewals.schemas import (
    RenewalApplicationCreate,
    RenewalApplicationRead,
    RenewalProgramFields,
    RenewalProgramRead,
    RenewalQuote,
)

router = APIRouter(prefix="/v1", tags=["renewals"])


class NoRenewalProgram(NotFound):
    code = "no_renewal_program"

    def __init__(self) -> None:
        super().__init__("no renewal discounts are set up: PUT /v1/renewal-discounts")


@router.get("/renewal-discounts", response_model=RenewalProgramRead, responses=errors(404))
def get_renewal_discounts(uow: UnitOfWorkDep) -> RenewalProgramRead:
    with uow() as session:
        program = service.get_program(session)
        if program is None:
            raise NoRenewalProgram()
        return _read(program)


@router.put("/renewal-discounts", response_model=RenewalProgramRead, responses=errors(422))
def put_renewal_discounts(
    body: RenewalProgramFields, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> RenewalProgramRead:
    """Replace the renewal discount policies (by segment and/or tier) and how they combine."""
    with uow() as session:
        return _read(service.put_program(session, body=body, actor=actor(principal), now=now))


@router.get("/billing/renewal-quote", response_model=RenewalQuote, responses=errors(404, 422))
def get_renewal_quote(
    customer: Annotated[str, Query(min_length=1, max_length=255, description="Customer id.")],
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> RenewalQuote:
    """The discount for the customer's renewal, every reason behind it, and their credit."""
    assert runtime.rules is not None
    with uow() as session:
        found = customers.get_customer(session, external_id=customer)
        return service.quote(session, rules=runtime.rules, customer=found, now=now)


@router.post(
    "/billing/renewal-applications",
    response_model=RenewalApplicationRead,
    status_code=201,
    responses=errors(404, 409, 422),
)
def create_renewal_application(
    body: RenewalApplicationCreate, uow: UnitOfWorkDep, now: NowDep, response: Response
) -> RenewalApplicationRead:
    """What billing applied to a renewal invoice; the credits used are spent. Once per invoice:
    the same request again answers 200 with the first result, other figures are a 409."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=body.customer_id)
        applied = service.apply_renewal(session, body=body, customer=customer, now=now)
    if applied.replayed:
        response.status_code = 200
    return applied


def _read(program: RenewalProgram) -> RenewalProgramRead:
    content = service.program_content(program)
    return RenewalProgramRead.model_validate(
        {**content, "version": program.version, "updated_at": program.updated_at}
    )
