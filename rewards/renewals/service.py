"""Renewal use cases: keep the discount program, quote a customer's renewal, record what
billing applied (consuming the credits it used), and announce upcoming renewals."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from loyalty_engine import audit
from loyalty_engine.customers.models import Customer
from loyalty_engine.errors import Conflict
from loyalty_engine.events.reactors import ReactorRegistry
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.rules.engine import RulesEngine
from rewards import service as ledger
from rewards.conditions import require_known_conditions
from rewards.renewals.models import Combination, RenewalApplication, RenewalProgram
from rewards.renewals.quotes import Candidate, candidates, combine
from rewards.renewals.schemas import (
    Reason,
    RenewalApplicationCreate,
    RenewalApplicationRead,
    RenewalProgramFields,
    RenewalQuote,
)
from rewards.tiers.service import get_program as get_tier_program

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
APPLICATIONS = RenewalApplication.__table__  # type: ignore[attr-defined]
UPCOMING_EVENT = "renewal_upcoming"


class ApplicationConflict(Conflict):
    code = "renewal_application_conflict"


def get_program(session: Session) -> RenewalProgram | None:
    stmt = select(RenewalProgram).order_by(RenewalProgram.id)  # type: ignore[arg-type]
    return session.execute(stmt).scalars().first()


def put_program(
    session: Session, *, body: RenewalProgramFields, actor: str, now: datetime
) -> RenewalProgram:
    """Create or replace the policies; each must name a live segment and a tier that exists."""
    require_known_conditions(
        session,
        segments=[(f"$.policies[{i}].segment", p.segment) for i, p in enumerate(body.policies)],
        tiers=[(f"$.policies[{i}].tier", p.tier) for i, p in enumerate(body.policies)],
        what="the renewal discount program",
    )
    content = body.model_dump(mode="json")
    program = get_program(session)
    before: dict[str, Any] = {}
    if program is None:
        program = RenewalProgram(**content, version=1, updated_at=now)
        session.add(program)
    else:
        before = program_content(program)
        for name, value in content.items():
            setattr(program, name, value)
        program.version += 1
        program.updated_at = now
    session.flush()
    audit.record(
        session,
        subject_type="renewal_program",
        subject_id="renewals",
        action="edit" if before else "create",
        actor=actor,
        before=before,
        after=program_content(program),
        now=now,
    )
    return program


def program_content(program: RenewalProgram) -> dict[str, Any]:
    return {
        "combination": str(program.combination),
        "cap_bps": program.cap_bps,
        "include_tier_benefit": program.include_tier_benefit,
        "policies": program.policies,
    }


def quote(
    session: Session, *, rules: RulesEngine, customer: Customer, now: datetime
) -> RenewalQuote:
    """What the customer's next renewal should be discounted by, why, and their credit."""
    assert customer.id is not None
    facts = rules.customer_facts(session, [customer.id], now)[customer.id]
    found, combination, cap = discounts_for(session, facts)
    currency = customer.currency
    credits = facts.get("balances", {}).get(currency, 0) if currency else 0
    return RenewalQuote(
        customer_id=customer.external_id,
        renewal_on=customer.renewal_on,
        discount_bps=combine(found, combination=combination, cap_bps=cap),
        combination=combination,
        reasons=[
            Reason(discount_bps=c.discount_bps, reason=c.reason, policy=c.policy) for c in found
        ],
        currency=currency,
        credits_available_minor=max(0, int(credits)),
        as_of=now,
    )


def discounts_for(
    session: Session, facts: dict[str, Any]
) -> tuple[list[Candidate], Combination, int]:
    """The matching discounts for a customer's facts (segments, tier), and how they combine.
    Without a program, a tier's own renewal benefit still applies."""
    program = get_program(session)
    tier_key = facts.get("tier")
    tier_doc = _tier_document(session, tier_key)
    with_tier = program is None or program.include_tier_benefit
    found = candidates(
        program.policies if program is not None else [],
        segments=facts.get("segments", []),
        tier=tier_key,
        tier_benefit_bps=tier_doc.get("renewal_discount_bps", 0) if with_tier else 0,
        tier_name=tier_doc.get("name"),
    )
    if program is None:
        return found, Combination.BEST_OF, 10_000
    return found, Combination(program.combination), program.cap_bps


def _tier_document(session: Session, tier_key: str | None) -> dict[str, Any]:
    if tier_key is None:
        return {}
    program = get_tier_program(session)
    documents = {t["key"]: t for t in program.tiers} if program is not None else {}
    return documents.get(tier_key, {})


def apply_renewal(
    session: Session, *, body: RenewalApplicationCreate, customer: Customer, now: datetime
) -> RenewalApplicationRead:
    """Record what billing applied to a renewal invoice, once per invoice; the credits it used
    are spent from the ledger in the same transaction (409 when the balance cannot cover them)."""
    assert customer.id is not None
    digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode())
    request_hash = digest.hexdigest()
    # The customer's lock orders concurrent applications for one invoice: the second sees the first.
    session.execute(
        select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == customer.id).with_for_update(key_share=True)
    )
    existing = session.execute(
        select(APPLICATIONS).where(
            APPLICATIONS.c.customer_id == customer.id,
            APPLICATIONS.c.invoice_ref == body.invoice_ref,
        )
    ).first()
    if existing is not None:
        if existing.request_hash != request_hash:
            raise ApplicationConflict(
                f"invoice {body.invoice_ref!r} was already applied with other figures",
                details={"invoice_ref": body.invoice_ref},
            )
        return _read(existing, customer.external_id, replayed=True)
    entry_id = None
    if body.credits_applied_minor:
        assert body.currency is not None
        entry = ledger.spend(
            session,
            customer_id=customer.id,
            unit=body.currency,
            amount=body.credits_applied_minor,
            reason=f"renewal invoice {body.invoice_ref}",
            now=now,
            idempotency_key=f"renewal:{customer.id}:{body.invoice_ref}",
            source_ref=f"renewal:{body.invoice_ref}",
        )
        entry_id = entry.id
    session.execute(
        insert(APPLICATIONS).values(
            customer_id=customer.id,
            invoice_ref=body.invoice_ref,
            discount_bps=body.discount_bps,
            currency=body.currency,
            credits_applied_minor=body.credits_applied_minor,
            ledger_entry_id=entry_id,
            request_hash=request_hash,
            created_at=now,
        )
    )
    row = session.execute(
        select(APPLICATIONS).where(
            APPLICATIONS.c.customer_id == customer.id,
            APPLICATIONS.c.invoice_ref == body.invoice_ref,
        )
    ).one()
    return _read(row, customer.external_id, replayed=False)


def _read(row: Any, external_id: str, *, replayed: bool) -> RenewalApplicationRead:
    return RenewalApplicationRead(
        id=row.id,
        customer_id=external_id,
        invoice_ref=row.invoice_ref,
        discount_bps=row.discount_bps,
        currency=row.currency,
        credits_applied_minor=row.credits_applied_minor,
        ledger_entry_id=row.ledger_entry_id,
        created_at=row.created_at,
        replayed=replayed,
    )


def announce_upcoming(
    session: Session, *, reactors: ReactorRegistry, now: datetime, notice_days: int
) -> int:
    """A `renewal_upcoming` event for each customer renewing within `notice_days` (once per
    customer and renewal date: the idempotency key names both)."""
    today = now.date()
    horizon = today + timedelta(days=notice_days)
    rows = session.execute(
        select(CUSTOMERS.c.external_id, CUSTOMERS.c.renewal_on)
        .where(CUSTOMERS.c.renewal_on >= today, CUSTOMERS.c.renewal_on <= horizon)
        .order_by(CUSTOMERS.c.id)
    ).all()
    events = [
        InternalEvent(
            UPCOMING_EVENT,
            external_id,
            {"renewal_on": renewal_on.isoformat(), "days_left": (renewal_on - today).days},
            f"renewal-upcoming:{external_id}:{renewal_on.isoformat()}",
        )
        for external_id, renewal_on in rows
    ]
    results = ingest_internal(session, events=events, source="renewals", reactors=reactors, now=now)
    return sum(1 for r in results if r.status == "accepted")
