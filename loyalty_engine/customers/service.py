"""Customer use cases: upsert without losing traits, read, list with filters and cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.customers.errors import CustomerNotFound, LoyaltyStageByRulesOnly
from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.customers.schemas import CustomerRead, CustomerUpsert
from loyalty_engine.db import insert_ignore
from loyalty_engine.errors import ValidationFailed, problem
from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor

TYPED_TRAITS = (
    "email",
    "name",
    "company",
    "plan",
    "seats",
    "mrr_minor",
    "currency",
    "role",
    "industry",
    "country",
    "timezone",
    "signup_at",
    "subscription_started_at",
    "renewal_on",
    "billing_customer_id",
    "lifecycle_stage",
)


@dataclass(frozen=True)
class CustomerFilters:
    plan: str | None = None
    role: str | None = None
    industry: str | None = None
    country: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    email: str | None = None
    q: str | None = None
    updated_since: datetime | None = None


def upsert_customer(
    session: Session, *, external_id: str, changes: CustomerUpsert, now: datetime
) -> tuple[Customer, bool]:
    """Create or update; traits the request did not mention keep their value."""
    customer = _lock_by_external_id(session, external_id)
    created = False
    if customer is None:
        # Insert-or-ignore, then lock: two concurrent first PUTs of one id both end up updating,
        # and only the one whose insert took effect reports a creation.
        table = Customer.__table__  # type: ignore[attr-defined]
        inserted = session.execute(
            insert_ignore(table, session.get_bind().dialect.name)
            .values(
                external_id=external_id,
                custom_traits={},
                trait_times={},
                lifecycle_stage=LifecycleStage.AWARENESS,
                created_at=now,
                updated_at=now,
            )
            .returning(table.c.id)
        )
        created = inserted.scalar_one_or_none() is not None
        customer = _lock_by_external_id(session, external_id)
        assert customer is not None
    given = changes.model_dump(exclude_unset=True)
    into_loyalty = customer.lifecycle_stage != LifecycleStage.LOYALTY
    if into_loyalty and given.get("lifecycle_stage") == LifecycleStage.LOYALTY:
        raise LoyaltyStageByRulesOnly(external_id)  # restating it for a loyal customer is fine
    apply_changes(customer, dict(given))
    _check_money(customer)
    # The PUT states the traits as of now: an event older than this never overwrites them.
    customer.trait_times = {
        **customer.trait_times,
        **dict.fromkeys(trait_stamp_keys(given), stamp(now)),
    }
    customer.updated_at = now
    session.flush()
    return customer, created


STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so stamps compare as strings
# Traits that change together share one stamp: MRR means nothing in another currency.
STAMPED_AS = {"currency": "mrr_minor"}


def stamp(at: datetime) -> str:
    return at.strftime(STAMP_FORMAT)


def trait_stamp_keys(changes: dict[str, Any]) -> set[str]:
    """The `trait_times` keys that a set of changes touches."""
    keys = {STAMPED_AS.get(name, name) for name in changes if name != "custom_traits"}
    keys.update(f"custom.{k}" for k in (changes.get("custom_traits") or {}))
    return keys


def apply_changes(customer: Customer, changes: dict[str, Any]) -> None:
    """Set typed traits and merge custom traits (a custom trait set to null is removed;
    `custom_traits: null` removes them all)."""
    clears_custom = "custom_traits" in changes and changes["custom_traits"] is None
    custom = changes.pop("custom_traits", None)
    for name, value in changes.items():
        setattr(customer, name, value)
    if clears_custom:
        customer.custom_traits = {}
    if custom:
        merged = dict(customer.custom_traits)
        for key, value in custom.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        customer.custom_traits = merged


def _check_money(customer: Customer) -> None:
    if customer.mrr_minor is not None and customer.currency is None:
        raise ValidationFailed(
            "mrr_minor needs a currency",
            details=[
                problem("$.currency", "set a currency (e.g. 'usd') beside mrr_minor", "missing")
            ],
        )


def _lock_by_external_id(session: Session, external_id: str) -> Customer | None:
    stmt = select(Customer).where(col(Customer.external_id) == external_id).with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_customer(session: Session, *, external_id: str) -> Customer:
    stmt = select(Customer).where(col(Customer.external_id) == external_id)
    customer = session.execute(stmt).scalar_one_or_none()
    if customer is None:
        raise CustomerNotFound(external_id)
    return customer


def list_customers(
    session: Session, *, filters: CustomerFilters, cursor: str | None, limit: int
) -> tuple[list[Customer], str | None]:
    """A page of customers in creation order, and the cursor of the next page."""
    stmt = select(Customer).order_by(col(Customer.id)).limit(limit + 1)
    for column in ("plan", "role", "industry", "country", "lifecycle_stage"):
        value = getattr(filters, column)
        if value is not None:
            stmt = stmt.where(getattr(Customer, column) == value)
    if filters.email is not None:
        stmt = stmt.where(func.lower(Customer.email) == filters.email.lower())
    if filters.updated_since is not None:
        stmt = stmt.where(col(Customer.updated_at) >= filters.updated_since)
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        stmt = stmt.where(
            or_(
                *(
                    func.lower(getattr(Customer, c)).like(pattern, escape="\\")
                    for c in ("name", "company", "email", "external_id")
                )
            )
        )
    if cursor is not None:
        after = cursor_id(decode_cursor(cursor, ("after",)), "after")
        stmt = stmt.where(col(Customer.id) > after)
    rows = list(session.execute(stmt).scalars())
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor({"after": rows[limit - 1].id})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def to_read(customer: Customer) -> CustomerRead:
    data = {name: getattr(customer, name) for name in TYPED_TRAITS}
    return CustomerRead(
        id=customer.external_id,
        custom_traits=customer.custom_traits,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        **data,
    )
