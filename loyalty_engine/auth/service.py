"""API keys (create, list, revoke), authentication of a bearer credential, the instance secret."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.auth.errors import ApiKeyAlreadyRevoked, ApiKeyNotFound, InvalidCredentials
from loyalty_engine.auth.keys import generate_key, matches, prefix_of
from loyalty_engine.auth.models import ApiKey, InstanceSecret, Role
from loyalty_engine.auth.principal import CUSTOMER, Principal
from loyalty_engine.auth.tokens import (
    InvalidToken,
    looks_like_token,
    mint_customer_token,
    verify_customer_token,
)
from loyalty_engine.customers.models import Customer
from loyalty_engine.db import insert_ignore

TOKEN_SECRET = "customer_token_secret"


def create_api_key(session: Session, *, name: str, role: Role, now: datetime) -> tuple[ApiKey, str]:
    """A new key; the whole key is returned once and never stored."""
    material = generate_key()
    row = ApiKey(
        name=name,
        role=role,
        prefix=material.prefix,
        secret_hash=material.secret_hash,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, material.key


def list_api_keys(session: Session, *, include_revoked: bool) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)  # type: ignore[arg-type]
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    return list(session.execute(stmt).scalars())


def revoke_api_key(session: Session, *, key: str, now: datetime) -> ApiKey:
    """Revoke by id or by prefix (`lk_1a2b3c4d`)."""
    matches_key = col(ApiKey.id) == int(key) if key.isdigit() else col(ApiKey.prefix) == key
    row = session.execute(select(ApiKey).where(matches_key).with_for_update()).scalar_one_or_none()
    if row is None:
        raise ApiKeyNotFound(f"no API key {key!r}")
    if row.revoked_at is not None:
        raise ApiKeyAlreadyRevoked(
            f"API key {row.prefix} was revoked at {row.revoked_at.isoformat()}"
        )
    row.revoked_at = now
    session.flush()
    return row


# Built once: authentication runs on every request, so it binds values into ready statements
# instead of building (and hashing for the compile cache) new expressions each time.
API_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_KEY_BY_PREFIX = select(
    API_KEYS.c.id, API_KEYS.c.role, API_KEYS.c.secret_hash, API_KEYS.c.revoked_at
).where(API_KEYS.c.prefix == bindparam("prefix"))
_TOKEN_CUSTOMER = select(CUSTOMERS.c.id).where(
    CUSTOMERS.c.id == bindparam("id"), CUSTOMERS.c.external_id == bindparam("external_id")
)


def authenticate(
    db: Session | Connection, *, credential: str, secret: str, now: datetime
) -> Principal:
    """The principal behind a bearer credential, or InvalidCredentials (never saying why)."""
    if looks_like_token(credential):
        return _customer_principal(db, credential, secret, now)
    prefix = prefix_of(credential)
    if prefix is None:
        raise InvalidCredentials("invalid API key or token")
    row = db.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
    if row is None or row.revoked_at is not None or not matches(credential, row.secret_hash):
        raise InvalidCredentials("invalid API key or token")
    return Principal(kind="api_key", role=Role(row.role), api_key_id=row.id, api_key_prefix=prefix)


def _customer_principal(
    db: Session | Connection, token: str, secret: str, now: datetime
) -> Principal:
    try:
        claims = verify_customer_token(token, secret=secret, now=now)
    except InvalidToken as exc:
        raise InvalidCredentials("invalid or expired customer token") from exc
    params = {"id": claims.customer_id, "external_id": claims.customer_external_id}
    if db.execute(_TOKEN_CUSTOMER, params).first() is None:
        raise InvalidCredentials("invalid or expired customer token")
    return Principal(
        kind=CUSTOMER,
        customer_id=claims.customer_id,
        customer_external_id=claims.customer_external_id,
    )


def issue_customer_token(
    *, secret: str, customer: Customer, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    assert customer.id is not None
    return mint_customer_token(
        secret=secret,
        customer_external_id=customer.external_id,
        customer_id=customer.id,
        now=now,
        ttl=ttl,
    )


def ensure_instance_secret(session: Session, *, now: datetime) -> str:
    """The installation's token-signing secret, created once and shared by every process."""
    table = InstanceSecret.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    session.execute(
        insert_ignore(table, dialect).values(
            name=TOKEN_SECRET, value=secrets.token_urlsafe(48), created_at=now
        )
    )
    value = session.execute(select(table.c.value).where(table.c.name == TOKEN_SECRET)).scalar_one()
    return str(value)
