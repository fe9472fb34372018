"""The `/v1` gate's second half: the default-deny permission table, and customer ownership."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loyalty_engine.auth.errors import MissingCredentials, NotPermitted
from loyalty_engine.auth.permissions import allowed
from loyalty_engine.auth.principal import Principal
from loyalty_engine.customers.errors import CustomerNotFound

# Declared so that OpenAPI shows the scheme; the credential itself was checked by
# AuthenticationMiddleware before routing.
bearer = HTTPBearer(auto_error=False, description="An API key (`lk_...`) or a customer token.")


async def authorize(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The permission table's decision for the authenticated caller on this route."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # only if the middleware is missing: never serve unauthenticated
        raise MissingCredentials("send `Authorization: Bearer <API key or customer token>`")
    route_path = request.scope["route"].path
    grants = allowed(request.method, route_path)
    if principal.grant not in grants:
        raise NotPermitted(
            f"{principal.grant} may not {request.method} {route_path}",
            details={"grant": principal.grant},
        )
    if principal.is_customer:
        _check_own_customer(request, principal)
    return principal


def _check_own_customer(request: Request, principal: Principal) -> None:
    """A customer token sees only its own customer: any other id is simply not found."""
    external_id = request.path_params.get("external_id")
    if external_id is not None and external_id != principal.customer_external_id:
        raise CustomerNotFound(external_id)


PrincipalDep = Annotated[Principal, Depends(authorize)]
