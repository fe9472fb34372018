"""Billing alerts: a stopped billing delivery is visible in /readyz and the console, from any
process, because the alert lives in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty_engine.billing.models import BillingAlert
from loyalty_engine.db import insert_ignore

ALERTS = BillingAlert.__table__  # type: ignore[attr-defined]


def raise_alert(session: Session, *, gateway: str, kind: str, message: str, now: datetime) -> None:
    """Open (or refresh) the gateway's alert."""
    dialect = session.get_bind().dialect.name
    session.execute(
        insert_ignore(ALERTS, dialect).values(
            gateway=gateway, kind=kind, message=message, raised_at=now, cleared_at=None
        )
    )
    session.execute(
        update(ALERTS)
        .where(ALERTS.c.gateway == gateway)
        .values(kind=kind, message=message, raised_at=now, cleared_at=None)
    )


def clear_alert(session: Session, *, gateway: str, now: datetime) -> bool:
    """Close the gateway's alert; False when none was open."""
    result = session.execute(
        update(ALERTS)
        .where(ALERTS.c.gateway == gateway, ALERTS.c.cleared_at.is_(None))
        .values(cleared_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def open_alerts(session: Session) -> list[BillingAlert]:
    stmt = select(BillingAlert).where(BillingAlert.cleared_at.is_(None))  # type: ignore[union-attr]
    return list(session.execute(stmt).scalars())
