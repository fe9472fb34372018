"""HTTP for customers: upsert, read, list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime

from loyalty_engine.customers import service
from loyalty_engine.customers.models import LifecycleStage
from loyalty_engine.customers.schemas import CustomerPage, CustomerRead, CustomerUpsert
from loyalty_engine.http import NowDep, UnitOfWorkDep, errors

router = APIRouter(prefix="/v1/customers", tags=["customers"])
# The same rule as an event's customer_id (no "/", no whitespace): events must be able to name it.
ExternalIdPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[^/\s]+$", description="Your customer id.")
]


@router.put("/{external_id}", response_model=CustomerRead, responses=errors(400, 409, 413, 422))
def upsert_customer(
    external_id: ExternalIdPath,
    body: CustomerUpsert,
    uow: UnitOfWorkDep,
    now: NowDep,
    response: Response,
) -> CustomerRead:
    """Create or update a customer. Traits not in the body keep their value; `null` clears one.
    The loyalty stage cannot be set here (409): rules reach it, checking its preconditions."""
    with uow() as session:
        customer, created = service.upsert_customer(
            session, external_id=external_id, changes=body, now=now
        )
        response.status_code = 201 if created else 200
        return service.to_read(customer)


@router.get("/{external_id}", response_model=CustomerRead, responses=errors(404))
def get_customer(external_id: ExternalIdPath, uow: UnitOfWorkDep) -> CustomerRead:
    with uow() as session:
        return service.to_read(service.get_customer(session, external_id=external_id))


@router.get("", response_model=CustomerPage, responses=errors(422))
def list_customers(
    uow: UnitOfWorkDep,
    plan: str | None = None,
    role: str | None = None,
    industry: str | None = None,
    country: str | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    email: str | None = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Search name, company, email, id.")
    ] = None,
    updated_since: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    filters = service.CustomerFilters(
        plan=plan,
        role=role,
        industry=industry,
        country=country,
        lifecycle_stage=lifecycle_stage,
        email=email,
        q=q,
        updated_since=updated_since,
    )
    with uow() as session:
        rows, next_cursor = service.list_customers(
            session, filters=filters, cursor=cursor, limit=limit
        )
        return CustomerPage(data=[service.to_read(c) for c in rows], next_cursor=next_cursor)
