"""Authentication in front of routing: a `/v1` request without valid credentials is refused
before anything reads its body, so an anonymous caller learns nothing about payloads."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import anyio
import orjson
from sqlalchemy import Connection

from loyalty_engine.auth.errors import MissingCredentials
from loyalty_engine.auth.permissions import SIGNED_PATHS, allowed
from loyalty_engine.auth.principal import Principal
from loyalty_engine.auth.service import authenticate
from loyalty_engine.errors import LoyaltyError
from loyalty_engine.runtime import Runtime

PROTECTED_PREFIX = "/v1"


# Answers a hot read on the connection that authenticated it: (connection, path parameters,
# raw query string, now) -> the JSON body, or None to let the regular route answer instead.
FastHandler = Callable[[Connection, dict[str, str], bytes, datetime], bytes | None]


@dataclass(frozen=True)
class FastRoute:
    """A hot GET read answered in the authentication step: one trip to a worker thread and one
    connection instead of two, no dependency graph, no response model round trip. It answers
    only the plain success case, with the permission table's decision and the customer-token
    ownership rule applied; anything else (another customer, a bad query parameter, a missing
    customer) falls through to the route itself, which answers as it always does."""

    template: str  # the FastAPI route it stands in for, e.g. /v1/customers/{external_id}/balances
    handler: FastHandler
    method: str = "GET"

    @property
    def pattern(self) -> re.Pattern[str]:
        escaped = re.escape(self.template)  # {name} is now \{name\}: a named group
        return re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", escaped) + "$")


class AuthenticationMiddleware:
    def __init__(
        self, app: Any, *, runtime: Runtime, fast_routes: Sequence[FastRoute] = ()
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.fast = [(route, route.pattern) for route in fast_routes]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            credential = _bearer(scope)
            fast = self._fast_route(scope)
            template, body = None, None
            if fast is None:
                principal = await anyio.to_thread.run_sync(self._authenticate, credential)
            else:
                route, params = fast
                template = route.template
                principal, body = await anyio.to_thread.run_sync(
                    self._answer, route, params, scope.get("query_string", b""), credential
                )
        except LoyaltyError as error:
            await _refuse(send, error)
            return
        scope.setdefault("state", {})["principal"] = principal
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = SimpleNamespace(path=template)  # for the metrics' route label
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _fast_route(self, scope: Any) -> tuple[FastRoute, dict[str, str]] | None:
        for route, pattern in self.fast:
            if scope["method"] == route.method:
                found = pattern.match(scope["path"])
                if found is not None:
                    return route, found.groupdict()
        return None

    def _authenticate(self, credential: str) -> Principal:
        runtime = self.runtime
        # A plain connection: one indexed read needs no ORM session.
        with runtime.engine.connect() as conn:
            return authenticate(
                conn, credential=credential, secret=runtime.secret_key, now=runtime.clock.now()
            )

    def _answer(
        self, route: FastRoute, params: dict[str, str], query: bytes, credential: str
    ) -> tuple[Principal, bytes | None]:
        runtime = self.runtime
        now = runtime.clock.now()
        with runtime.engine.connect() as conn:
            principal = authenticate(
                conn, credential=credential, secret=runtime.secret_key, now=now
            )
            if principal.grant not in allowed(route.method, route.template):
                return principal, None  # the route's gate refuses it, as for any route
            own = params.get("external_id")
            if principal.is_customer and own is not None and own != principal.customer_external_id:
                return principal, None
            return principal, route.handler(conn, params, query, now)


def _protected(path: str) -> bool:
    if path in SIGNED_PATHS:
        return False
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


def _bearer(scope: Any) -> str:
    raw: bytes = dict(scope["headers"]).get(b"authorization", b"")
    header = raw.decode("latin-1").strip()
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise MissingCredentials("send `Authorization: Bearer <API key or customer token>`")
    return credential.strip()


async def _refuse(send: Any, error: LoyaltyError) -> None:
    body = orjson.dumps(error.envelope())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
