"""Limit windows (pure): which period an instant falls in, for caps and budgets.

Calendar windows (day, week, month, quarter, year) are fixed periods in UTC with a stable key;
rolling windows ("the last N days") have no key: they are counted back from `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Calendar(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    key: str
    starts_at: datetime
    ends_at: datetime


def calendar_period(unit: Calendar, at: datetime) -> Period:
    """The calendar period (in UTC) that contains `at`; weeks start on Monday (ISO)."""
    at = at.astimezone(UTC)
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    if unit is Calendar.DAY:
        return Period(day.strftime("%Y-%m-%d"), day, day + timedelta(days=1))
    if unit is Calendar.WEEK:
        start = day - timedelta(days=day.weekday())
        iso = start.isocalendar()
        return Period(f"{iso.year}-W{iso.week:02d}", start, start + timedelta(days=7))
    if unit is Calendar.MONTH:
        start = day.replace(day=1)
        return Period(start.strftime("%Y-%m"), start, add_months(start, 1))
    if unit is Calendar.QUARTER:
        first_month = (at.month - 1) // 3 * 3 + 1
        start = datetime(at.year, first_month, 1, tzinfo=UTC)
        return Period(f"{at.year}-Q{(first_month - 1) // 3 + 1}", start, add_months(start, 3))
    start = datetime(at.year, 1, 1, tzinfo=UTC)
    return Period(str(at.year), start, datetime(at.year + 1, 1, 1, tzinfo=UTC))


def rolling_start(days: int, now: datetime) -> datetime:
    """The start of a rolling window of `days` ending at `now`."""
    if days < 1:
        raise ValueError("a rolling window lasts at least one day")
    return now - timedelta(days=days)


def add_months(start: datetime, months: int) -> datetime:
    month_index = start.month - 1 + months
    return start.replace(year=start.year + month_index // 12, month=month_index % 12 + 1)
