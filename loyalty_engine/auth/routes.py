"""HTTP for API keys, customer tokens and whoami."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Body

from loyalty_engine.auth import service
from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    CustomerTokenCreate,
    CustomerTokenRead,
    WhoAmI,
)
from loyalty_engine.customers import service as customers
from loyalty_engine.errors import ValidationFailed, problem
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/auth/whoami", response_model=WhoAmI, responses=errors())
def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        kind=principal.kind,
        role=principal.role,
        api_key_prefix=principal.api_key_prefix,
        customer_id=principal.customer_external_id,
    )


@router.get("/api-keys", response_model=list[ApiKeyRead], responses=errors())
def list_api_keys(uow: UnitOfWorkDep, include_revoked: bool = False) -> list[ApiKeyRead]:
    with uow() as session:
        rows = service.list_api_keys(session, include_revoked=include_revoked)
        return [ApiKeyRead.model_validate(r) for r in rows]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, responses=errors(422))
def create_api_key(body: ApiKeyCreate, uow: UnitOfWorkDep, now: NowDep) -> ApiKeyCreated:
    """Create a key. The response holds the whole key, once."""
    with uow() as session:
        row, key = service.create_api_key(session, name=body.name, role=body.role, now=now)
        return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, responses=errors(404, 409))
def revoke_api_key(key_id: str, uow: UnitOfWorkDep, now: NowDep) -> ApiKeyRead:
    """Revoke a key by id or prefix; it stops working at once."""
    with uow() as session:
        return ApiKeyRead.model_validate(service.revoke_api_key(session, key=key_id, now=now))


@router.post(
    "/customers/{external_id}/tokens",
    response_model=CustomerTokenRead,
    status_code=201,
    responses=errors(404, 422),
)
def create_customer_token(
    external_id: str,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    now: NowDep,
    body: CustomerTokenCreate | None = Body(default=None),
) -> CustomerTokenRead:
    """A short-lived token that reads and acts for this one customer (for the portal)."""
    settings = runtime.settings
    ttl = (
        body.ttl_seconds if body and body.ttl_seconds else None
    ) or settings.customer_token_ttl_seconds
    if ttl > settings.customer_token_max_ttl_seconds:
        raise ValidationFailed(
            "ttl_seconds too long",
            details=[
                problem(
                    "$.ttl_seconds",
                    f"at most {settings.customer_token_max_ttl_seconds} seconds",
                    "too_large",
                )
            ],
        )
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
    token, expires_at = service.issue_customer_token(
        secret=runtime.secret_key, customer=customer, now=now, ttl=timedelta(seconds=ttl)
    )
    return CustomerTokenRead(token=token, customer_id=customer.external_id, expires_at=expires_at)
