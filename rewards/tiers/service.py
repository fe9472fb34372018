"""Tier use cases: keep the program, measure customers against it, move them between tiers
(recording each change), and describe a customer's tier with the progress to the next."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from loyalty_engine import audit
from loyalty_engine.customers.models import Customer
from loyalty_engine.rules.engine import generation_of, lock_customer
from loyalty_engine.rules.service import bump_generation
from rewards.models import LotStatus, SourceKind
from rewards.postings import ACCOUNTS, LOTS
from rewards.tiers.models import (
    CustomerTier,
    QualificationWindow,
    TierBasis,
    TierChange,
    TierProgram,
)
from rewards.tiers.qualification import (
    Held,
    Level,
    Move,
    decide,
    measuring_since,
    qualified_until,
)
from rewards.tiers.schemas import (
    CustomerTierRead,
    NextTier,
    TierChangeRead,
    TierProgramFields,
    TierRead,
)

TIERS_GENERATION = "tiers"
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
HELD = CustomerTier.__table__  # type: ignore[attr-defined]
CHANGES = TierChange.__table__  # type: ignore[attr-defined]
# Grants that count as earned for tiers; adjustments and redemption refunds do not.
EARNING_SOURCES = (SourceKind.RULE, SourceKind.REFERRAL)
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    customer_id: int
    from_tier: str | None
    to_tier: str | None
    move: Move
    basis_value: int


def get_program(session: Session) -> TierProgram | None:
    return session.execute(select(TierProgram).order_by(TierProgram.id)).scalars().first()  # type: ignore[arg-type]


def put_program(
    session: Session, *, body: TierProgramFields, actor: str, now: datetime
) -> TierProgram:
    """Create or replace the tier program (a new version). Customers move on their next event
    or at the next sweep, never retroactively."""
    program = get_program(session)
    content = body.model_dump(mode="json")
    before: dict[str, Any] = {}
    if program is None:
        program = TierProgram(**content, version=1, created_at=now, updated_at=now)
        session.add(program)
    else:
        before = program_content(program)
        for name, value in content.items():
            setattr(program, name, value)
        program.version += 1
        program.updated_at = now
    session.flush()
    bump_generation(session, TIERS_GENERATION)
    audit.record(
        session,
        subject_type="tier_program",
        subject_id="tiers",
        action="edit" if before else "create",
        actor=actor,
        before=before,
        after=program_content(program),
        now=now,
    )
    return program


def program_content(program: TierProgram) -> dict[str, Any]:
    return {
        "name": program.name,
        "basis": str(program.basis),
        "window": str(program.window),
        "downgrade": str(program.downgrade),
        "grace_days": program.grace_days,
        "tiers": program.tiers,
    }


def levels(program: TierProgram) -> list[Level]:
    return [Level(t["key"], t["threshold"], t.get("multiplier_bps", 10_000)) for t in program.tiers]


def basis_values(
    session: Session, *, program: TierProgram, customer_ids: list[int], now: datetime
) -> dict[int, int]:
    """Each customer's measure on the program's basis, now (0 when there is nothing to count)."""
    values = dict.fromkeys(customer_ids, 0)
    if program.basis == TierBasis.POINTS_EARNED:
        since = measuring_since(program.window, now)
        stmt = (
            select(ACCOUNTS.c.customer_id, func.sum(LOTS.c.amount))
            .join(ACCOUNTS, ACCOUNTS.c.id == LOTS.c.account_id)
            .where(
                ACCOUNTS.c.customer_id.in_(customer_ids),
                ACCOUNTS.c.unit == "points",
                LOTS.c.source_kind.in_(EARNING_SOURCES),
                LOTS.c.status != LotStatus.REVERSED,
                LOTS.c.created_at >= since,
                LOTS.c.created_at <= now,
            )
            .group_by(ACCOUNTS.c.customer_id)
        )
        values.update({cid: int(total) for cid, total in session.execute(stmt)})
        return values
    columns = (CUSTOMERS.c.id, CUSTOMERS.c.mrr_minor, CUSTOMERS.c.subscription_started_at)
    for cid, mrr, started in session.execute(
        select(*columns).where(CUSTOMERS.c.id.in_(customer_ids))
    ):
        if program.basis == TierBasis.MRR:
            values[cid] = int(mrr or 0)
        elif started is not None and started <= now:
            values[cid] = (now - started).days
    return values


def evaluate(
    session: Session, *, program: TierProgram, customer_ids: list[int], now: datetime
) -> list[Change]:
    """Move these customers to the tier they qualify for, as the program allows; the changes."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    for customer_id in ids:  # in id order, as every sweep: no deadlocks
        lock_customer(session, customer_id)
    held = {
        row.customer_id: Held(row.tier_key, row.qualified_until)
        for row in session.execute(select(HELD).where(HELD.c.customer_id.in_(ids)))
    }
    values = basis_values(session, program=program, customer_ids=ids, now=now)
    ladder = levels(program)
    grace = timedelta(days=program.grace_days)
    changes = []
    for customer_id in ids:
        current = held.get(customer_id)
        verdict = decide(
            held=current,
            value=values[customer_id],
            levels=ladder,
            window=program.window,
            downgrade=program.downgrade,
            grace=grace,
            now=now,
        )
        if verdict.move is Move.KEEP:
            continue
        to_key = verdict.to.key if verdict.to is not None else None
        if verdict.move is Move.RENEW:
            session.execute(
                update(HELD)
                .where(HELD.c.customer_id == customer_id)
                .values(
                    qualified_until=verdict.qualified_until,
                    basis_value=values[customer_id],
                    updated_at=now,
                )
            )
            continue
        if current is not None:
            session.execute(delete(HELD).where(HELD.c.customer_id == customer_id))
        if to_key is not None:
            session.execute(
                insert(HELD).values(
                    customer_id=customer_id,
                    tier_key=to_key,
                    basis_value=values[customer_id],
                    since=now,
                    qualified_until=verdict.qualified_until,
                    updated_at=now,
                )
            )
        from_key = current.key if current is not None else None
        reason = _reason(verdict.move, program, values[customer_id])
        change_id = session.execute(
            insert(CHANGES)
            .values(
                customer_id=customer_id,
                from_tier=from_key,
                to_tier=to_key,
                basis_value=values[customer_id],
                reason=reason,
                at=now,
            )
            .returning(CHANGES.c.id)
        ).scalar_one()
        changes.append(
            Change(change_id, customer_id, from_key, to_key, verdict.move, values[customer_id])
        )
    return changes


def _reason(move: Move, program: TierProgram, value: int) -> str:
    measure = {
        TierBasis.POINTS_EARNED: f"{value} points earned ({program.window})",
        TierBasis.MRR: f"MRR of {value} minor units",
        TierBasis.TENURE_DAYS: f"{value} days of tenure",
    }[TierBasis(program.basis)]
    if move is Move.UPGRADE:
        return f"upgrade: {measure}"
    grace = f"{program.grace_days} days of grace"
    return f"downgrade after the qualification window and {grace}: {measure}"


def due_for_review(session: Session, *, program: TierProgram, now: datetime) -> list[int]:
    """Customers whose tier's qualification (plus grace) is over: candidates for a downgrade."""
    cutoff = now - timedelta(days=program.grace_days)
    stmt = (
        select(HELD.c.customer_id)
        .where(HELD.c.qualified_until <= cutoff)
        .order_by(HELD.c.customer_id)
        .limit(SWEEP_BATCH)
    )
    return list(session.execute(stmt).scalars())


@dataclass
class TierCatalog:
    """This process's copy of the tier program, reloaded when the tiers generation moves."""

    _cached: tuple[int, TierProgram | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def program(self, session: Session) -> TierProgram | None:
        generation = generation_of(session, TIERS_GENERATION)
        cached = self._cached
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._lock:
            program = get_program(session)
            if program is not None:
                session.expunge(program)  # shared across sessions and threads: read-only
            self._cached = (generation, program)
            return program

    def facts(self, session: Session, customers: dict[int, dict[str, Any]], _: datetime) -> None:
        """`customer.tier` (the key, when the customer has one) and its earning multiplier."""
        program = self.program(session)
        if program is None:
            return
        multipliers = {t["key"]: t.get("multiplier_bps", 10_000) for t in program.tiers}
        stmt = select(HELD.c.customer_id, HELD.c.tier_key).where(
            HELD.c.customer_id.in_(list(customers))
        )
        for customer_id, tier_key in session.execute(stmt):
            customers[customer_id]["tier"] = tier_key
            customers[customer_id]["tier_multiplier_bps"] = multipliers.get(tier_key, 10_000)


def describe(
    session: Session, *, program: TierProgram, customer_id: int, external_id: str, now: datetime
) -> CustomerTierRead:
    """The customer's tier, its benefits, the history, and the way to the next tier."""
    value = basis_values(session, program=program, customer_ids=[customer_id], now=now)[customer_id]
    row = session.execute(select(HELD).where(HELD.c.customer_id == customer_id)).first()
    by_key = {t["key"]: t for t in program.tiers}
    current = by_key.get(row.tier_key) if row is not None else None
    position = program.tiers.index(current) if current is not None else -1
    upcoming = program.tiers[position + 1] if position + 1 < len(program.tiers) else None
    next_tier = None
    if upcoming is not None:
        floor = current["threshold"] if current is not None else 0
        span = upcoming["threshold"] - floor
        progress = (value - floor) * 10_000 // span if span > 0 else 10_000
        next_tier = NextTier(
            tier=_tier(upcoming),
            needed=max(0, upcoming["threshold"] - value),
            threshold=upcoming["threshold"],
            progress_bps=min(10_000, max(0, progress)),
            by=qualified_until(program.window, now)
            if program.basis == TierBasis.POINTS_EARNED
            and program.window == QualificationWindow.CALENDAR_YEAR
            else None,
        )
    history = session.execute(
        select(CHANGES)
        .where(CHANGES.c.customer_id == customer_id)
        .order_by(CHANGES.c.id.desc())
        .limit(20)
    ).all()
    return CustomerTierRead(
        customer_id=external_id,
        basis=program.basis,
        basis_value=value,
        tier=_tier(current) if current is not None else None,
        since=row.since if row is not None else None,
        qualified_until=row.qualified_until if row is not None else None,
        next=next_tier,
        history=[
            TierChangeRead(
                from_tier=h.from_tier,
                to_tier=h.to_tier,
                basis_value=h.basis_value,
                reason=h.reason,
                at=h.at,
            )
            for h in history
        ],
    )


def _tier(document: dict[str, Any]) -> TierRead:
    return TierRead(
        key=document["key"],
        name=document["name"],
        multiplier_bps=document.get("multiplier_bps", 10_000),
        renewal_discount_bps=document.get("renewal_discount_bps", 0),
        perks=document.get("perks", []),
    )
