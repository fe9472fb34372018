"""Customer tokens: short-lived HS256 JWTs that act for exactly one customer (pure).

Expiry is checked against the injected clock, not the library's wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

AUDIENCE = "loyalty-customer"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class CustomerClaims:
    customer_external_id: str
    customer_id: int
    expires_at: datetime


class InvalidToken(Exception):
    """Tampered, malformed, foreign to this installation, or expired."""


def mint_customer_token(
    *, secret: str, customer_external_id: str, customer_id: int, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    expires_at = now + ttl
    claims = {
        "sub": customer_external_id,
        "cid": customer_id,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM), expires_at.replace(microsecond=0)


def verify_customer_token(token: str, *, secret: str, now: datetime) -> CustomerClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "cid", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(claims["exp"], int) or not isinstance(claims["cid"], int):
        raise InvalidToken("malformed claims")
    if claims["exp"] <= int(now.timestamp()):
        raise InvalidToken("token expired")
    expires_at = datetime.fromtimestamp(claims["exp"], tz=now.tzinfo)
    return CustomerClaims(str(claims["sub"]), claims["cid"], expires_at)


def looks_like_token(credential: str) -> bool:
    return credential.count(".") == 2
