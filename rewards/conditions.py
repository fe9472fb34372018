"""Checking the segment and tier keys a program names (renewal policies, catalog items)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from loyalty_engine.errors import ValidationFailed, problem
from loyalty_engine.segments.queries import segment_keys
from rewards.tiers.service import get_program as get_tier_program


def require_known_conditions(
    session: Session,
    *,
    segments: Iterable[tuple[str, str | None]],
    tiers: Iterable[tuple[str, str | None]],
    what: str,
) -> None:
    """Every (JSON path, key) must name a live segment or a tier of the tier program; else a 422
    listing every unknown one at its path."""
    live = {key for key, archived in segment_keys(session).items() if not archived}
    program = get_tier_program(session)
    known_tiers = {t["key"] for t in program.tiers} if program is not None else set()
    problems = [
        problem(path, f"no segment {key!r}", "unknown")
        for path, key in segments
        if key is not None and key not in live
    ]
    problems += [
        problem(path, f"no tier {key!r}", "unknown")
        for path, key in tiers
        if key is not None and key not in known_tiers
    ]
    if problems:
        raise ValidationFailed(f"{what} names unknown conditions", details=problems)
