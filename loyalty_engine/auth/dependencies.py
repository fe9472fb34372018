"""The `/v1` gate: authenticate the bearer credential, then consult the permission table."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loyalty_engine.auth.errors import MissingCredentials, NotPermitted
from loyalty_engine.auth.permissions import allowed
from loyalty_engine.auth.principal import CUSTOMER, Principal
from loyalty_engine.auth.service import authenticate
from loyalty_engine.db import session_scope
from loyalty_engine.customers.errors import CustomerNotFound
from loyalty_engine.http import get_runtime

bearer = HTTPBearer(auto_error=False, description="An API key (`lk_...`) or a customer token.")


def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise MissingCredentials("send `Authorization: Bearer <API key or customer token>`")
    runtime = get_runtime(request)
    with session_scope(runtime.engine, write=False) as session:
        principal = authenticate(session, credential=credentials.credentials,
                                 secret=runtime.secret_key, now=runtime.clock.now())  # fmt: skip
    route_path = request.scope["route"].path
    grants = allowed(request.method, route_path)
    if principal.grant not in grants:
        raise NotPermitted(
            f"{principal.grant} may not {request.method} {route_path}",
            details={"grant": principal.grant},
        )
    if principal.is_customer and grants and CUSTOMER in grants:
        _check_own_customer(request, principal)
    request.state.principal = principal
    return principal


def _check_own_customer(request: Request, principal: Principal) -> None:
    """A customer token sees only its own customer: any other id is simply not found."""
    external_id = request.path_params.get("external_id")
    if external_id is not None and external_id != principal.customer_external_id:
        raise CustomerNotFound(external_id)


PrincipalDep = Annotated[Principal, Depends(authorize)]
