"""Authentication in front of routing: a `/v1` request without valid credentials is refused
before anything reads its body, so an anonymous caller learns nothing about payloads."""

from __future__ import annotations

from typing import Any

import anyio
import orjson

from loyalty_engine.auth.errors import MissingCredentials
from loyalty_engine.auth.permissions import SIGNED_PATHS
from loyalty_engine.auth.principal import Principal
from loyalty_engine.auth.service import authenticate
from loyalty_engine.errors import LoyaltyError
from loyalty_engine.runtime import Runtime

PROTECTED_PREFIX = "/v1"


class AuthenticationMiddleware:
    def __init__(self, app: Any, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            credential = _bearer(scope)
            principal = await anyio.to_thread.run_sync(self._authenticate, credential)
        except LoyaltyError as error:
            await _refuse(send, error)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _authenticate(self, credential: str) -> Principal:
        runtime = self.runtime
        # A plain connection: one indexed read needs no ORM session.
        with runtime.engine.connect() as conn:
            return authenticate(
                conn, credential=credential, secret=runtime.secret_key, now=runtime.clock.now()
            )


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
