"""A rule's per-customer limits and budget, simulated in memory for a backtest (pure).

It answers as `engine.within_limits` does, from what the replay itself applied: events arrive in
(occurred_at, id) order and a decision counts at its event's time. Memory grows with customers
(and, in rolling windows, with the grants inside the window), never with events.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, date, datetime, time
from functools import lru_cache

from loyalty_engine.rules.actions import Grant
from loyalty_engine.rules.models import Outcome
from loyalty_engine.rules.schemas import Budget, CustomerLimit, Limits
from loyalty_engine.rules.windows import Calendar, calendar_period, rolling_start


def period_key(calendar: Calendar, at: datetime) -> str:
    """The key of the calendar period (UTC) that holds `at`."""
    return _period_key(calendar, at.astimezone(UTC).date())


@lru_cache(maxsize=4096)  # events come in time order: a replay meets few distinct days
def _period_key(calendar: Calendar, day: date) -> str:
    return calendar_period(calendar, datetime.combine(day, time(), UTC)).key


class _Usage:
    """What one per-customer limit has used, per customer, in the window of the moment."""

    def __init__(self, limit: CustomerLimit) -> None:
        self.limit = limit
        self._calendar: dict[int, tuple[str, int]] = {}  # customer -> (period key, used)
        self._rolling: dict[int, deque[tuple[datetime, int]]] = {}
        self._lifetime: dict[int, int] = {}

    def measure(self, grant: Grant | None) -> int:
        """How much an applied decision with this main grant counts against the limit."""
        if self.limit.count is not None:
            return 1
        return grant.amount if grant is not None and grant.unit == self.limit.unit else 0

    def used(self, customer_id: int, at: datetime) -> int:
        window = self.limit.window
        if window.calendar is not None:
            key, used = self._calendar.get(customer_id, ("", 0))
            return used if key == period_key(window.calendar, at) else 0
        if window.rolling_days is not None:
            since = rolling_start(window.rolling_days, at)
            grants = self._rolling.get(customer_id, deque())
            while grants and grants[0][0] < since:
                grants.popleft()
            return sum(amount for _, amount in grants)
        return self._lifetime.get(customer_id, 0)

    def add(self, customer_id: int, at: datetime, amount: int) -> None:
        window = self.limit.window
        if window.calendar is not None:
            key = period_key(window.calendar, at)
            self._calendar[customer_id] = (key, self.used(customer_id, at) + amount)
        elif window.rolling_days is not None:
            self._rolling.setdefault(customer_id, deque()).append((at, amount))
        else:
            self._lifetime[customer_id] = self._lifetime.get(customer_id, 0) + amount

    def reached(self, customer_id: int, at: datetime, grant: Grant | None) -> bool:
        used = self.used(customer_id, at)
        if self.limit.count is not None:
            return used >= self.limit.count
        if grant is None or grant.unit != self.limit.unit:
            return False
        assert self.limit.amount is not None
        return used + grant.amount > self.limit.amount


class _BudgetSpend:
    """What the rule's budget has spent in the current period (periods only move forward)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._period = ""
        self._spent = 0

    def take(self, grant: Grant | None, at: datetime) -> bool:
        """Spend the grant, or refuse when the period's budget cannot cover it."""
        if grant is None or grant.unit != self.budget.unit:
            return True
        calendar = self.budget.calendar
        period = period_key(calendar, at) if calendar is not None else "all"
        if period != self._period:
            self._period, self._spent = period, 0
        if self._spent + grant.amount > self.budget.amount:
            return False
        self._spent += grant.amount
        return True


class SimulatedLimits:
    """One rule's limits, as the engine applies them: per-customer limits first, then the budget."""

    def __init__(self, limits: Limits) -> None:
        self._usages = [_Usage(limit) for limit in limits.per_customer]
        self._budget = _BudgetSpend(limits.budget) if limits.budget is not None else None

    def decide(self, customer_id: int, at: datetime, grant: Grant | None) -> Outcome:
        """The outcome of a match whose main grant is `grant`; an applied one is counted."""
        if any(u.reached(customer_id, at, grant) for u in self._usages):
            return Outcome.CAPPED
        if self._budget is not None and not self._budget.take(grant, at):
            return Outcome.OVER_BUDGET
        for usage in self._usages:
            usage.add(customer_id, at, usage.measure(grant))
        return Outcome.APPLIED
