"""HTTP for tiers: the program (read, replace) and a customer's tier with progress."""

from __future__ import annotations

from fastapi import APIRouter

from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.customers import service as customers
from loyalty_engine.errors import NotFound
from loyalty_engine.http import NowDep, UnitOfWorkDep, errors
from loyalty_engine.rules.routes import actor
from rewards.tiers import service
from rewards.tiers.models import TierProgram
from rewards.tiers.schemas import CustomerTierRead, TierProgramFields, TierProgramRead

router = APIRouter(prefix="/v1", tags=["tiers"])


class NoTierProgram(NotFound):
    code = "no_tier_program"

    def __init__(self) -> None:
        super().__init__("no tier program is set up: PUT /v1/tier-program creates one")


@router.get("/tier-program", response_model=TierProgramRead, responses=errors(404))
def get_tier_program(uow: UnitOfWorkDep) -> TierProgramRead:
    with uow() as session:
        program = service.get_program(session)
        if program is None:
            raise NoTierProgram()
        return _read(program)


@router.put("/tier-program", response_model=TierProgramRead, responses=errors(422))
def put_tier_program(
    body: TierProgramFields, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> TierProgramRead:
    """Create or replace the tier program. Customers move on their next event or at the next
    review; a downgrade still waits for the end of the window they qualified in."""
    with uow() as session:
        return _read(service.put_program(session, body=body, actor=actor(principal), now=now))


@router.get("/customers/{external_id}/tier", response_model=CustomerTierRead, responses=errors(404))
def get_customer_tier(external_id: str, uow: UnitOfWorkDep, now: NowDep) -> CustomerTierRead:
    """The customer's tier, its benefits, what it took, and the way to the next tier."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        program = service.get_program(session)
        if program is None:
            raise NoTierProgram()
        assert customer.id is not None
        return service.describe(
            session, program=program, customer_id=customer.id, external_id=external_id, now=now
        )


def _read(program: TierProgram) -> TierProgramRead:
    return TierProgramRead.model_validate(
        {
            **service.program_content(program),
            "version": program.version,
            "updated_at": program.updated_at,
        }
    )
