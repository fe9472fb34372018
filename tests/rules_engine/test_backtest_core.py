"""The replay core without a database: limits and budgets simulated as the engine applies them,
segment scopes and active windows, and the difference of two reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loyalty_engine.events.reactors import StoredEvent
from loyalty_engine.rules.actions import ActionRegistry, Grant
from loyalty_engine.rules.backtest import Replay, RuleLabel, Simulation, difference
from loyalty_engine.rules.backtest_limits import SimulatedLimits
from loyalty_engine.rules.builtin_actions import register_engine_actions
from loyalty_engine.rules.dryrun import draft_rule
from loyalty_engine.rules.engine import CompiledRule, RuleCatalog, RulesEngine
from loyalty_engine.rules.models import Outcome
from loyalty_engine.rules.schemas import Limits, RuleFields
from rewards.actions import register_reward_actions

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
APPLIED, CAPPED, OVER = Outcome.APPLIED, Outcome.CAPPED, Outcome.OVER_BUDGET


def limits(**fields: Any) -> SimulatedLimits:
    return SimulatedLimits(Limits.model_validate(fields))


def test_a_rolling_window_frees_a_customer_once_old_grants_fall_out() -> None:
    simulated = limits(per_customer=[{"count": 2, "window": {"rolling_days": 7}}])
    days = [0, 1, 2, 7, 8, 9]
    outcomes = [simulated.decide(1, T0 + timedelta(days=d), None) for d in days]
    # Day 7 still sees day 0 and 1 (the window reaches back exactly 7 days); day 8 sees day 1.
    assert outcomes == [APPLIED, APPLIED, CAPPED, CAPPED, APPLIED, APPLIED]
    assert simulated.decide(2, T0 + timedelta(days=9), None) is APPLIED  # per customer


def test_an_amount_limit_counts_only_its_unit_and_a_lifetime_window_never_resets() -> None:
    simulated = limits(per_customer=[{"amount": 100, "unit": "points"}])
    later = T0 + timedelta(days=400)
    assert simulated.decide(1, T0, Grant("points", 60)) is APPLIED
    assert simulated.decide(1, T0, Grant("usd", 1_000)) is APPLIED  # another unit: not limited
    assert simulated.decide(1, later, Grant("points", 50)) is CAPPED  # 60 + 50 > 100
    assert simulated.decide(1, later, Grant("points", 40)) is APPLIED


def test_a_calendar_budget_refuses_what_the_period_cannot_cover_and_renews() -> None:
    simulated = limits(budget={"amount": 100, "unit": "usd", "calendar": "month"})
    february = datetime(2026, 2, 1, tzinfo=UTC)
    outcomes = [
        simulated.decide(1, T0, Grant("usd", 70)),
        simulated.decide(2, T0, Grant("usd", 40)),
        simulated.decide(3, T0, Grant("usd", 30)),
        simulated.decide(4, T0, Grant("points", 500)),
        simulated.decide(2, february, Grant("usd", 40)),
    ]
    assert outcomes == [APPLIED, OVER, APPLIED, APPLIED, APPLIED]


def test_a_capped_match_spends_no_budget() -> None:
    simulated = limits(
        per_customer=[{"count": 1}], budget={"amount": 100, "unit": "points", "calendar": "year"}
    )
    assert simulated.decide(1, T0, Grant("points", 60)) is APPLIED
    assert simulated.decide(1, T0, Grant("points", 60)) is CAPPED
    assert simulated.decide(2, T0, Grant("points", 40)) is APPLIED  # 60 + 40 = 100 fits


@pytest.fixture
def engine() -> RulesEngine:
    actions = ActionRegistry()
    register_engine_actions(actions)
    register_reward_actions(actions)
    return RulesEngine(RuleCatalog(actions))


def rule(engine: RulesEngine, key: str, **fields: Any) -> tuple[RuleLabel, CompiledRule]:
    body = {
        "name": key,
        "triggers": ["invoice_paid"],
        "actions": [{"type": "award_points", "params": {"points": 10}}],
        **fields,
    }
    compiled = draft_rule(RuleFields.model_validate(body), engine)
    return RuleLabel(key, None, key, "unsaved"), compiled


def invoice(n: int, customer: int, at: datetime) -> StoredEvent:
    return StoredEvent(n, customer, "", "invoice_paid", "test", at, {"amount_minor": 100})


def test_segment_scope_and_active_window_decide_which_events_count(engine: RulesEngine) -> None:
    scoped = rule(engine, "vip-only", segment="vip")
    windowed = rule(engine, "from-feb", active_from=datetime(2026, 2, 1, tzinfo=UTC).isoformat())
    replay = Replay(Simulation([scoped, windowed]), None)
    february = datetime(2026, 2, 10, tzinfo=UTC)
    replay.observe(invoice(1, 1, T0), {"segments": ["vip"], "custom": {}})
    replay.observe(invoice(2, 2, T0), {"segments": [], "custom": {}})
    replay.observe(invoice(3, 2, february), {"custom": {}})

    report = replay.to_json()
    vip, feb = report["rules"]
    assert (vip["events"], vip["matches"], vip["points"]) == (3, 1, 10)
    assert (feb["events"], feb["matches"], feb["customers"]) == (3, 1, 1)
    assert vip["by_segment"]["vip"]["matches"] == 1
    assert report["total"]["by_segment"]["(no segment)"]["events"] == 2
    assert list(report["total"]["by_month"]) == ["2026-01", "2026-02"]


def test_a_condition_that_exceeds_its_limits_is_counted_as_an_error(engine: RulesEngine) -> None:
    loops = {"reduce": [{"var": "event.properties.items"}, {"+": [1, {"var": "accumulator"}]}, 0]}
    heavy = rule(engine, "heavy", condition={">": [loops, 0]})
    replay = Replay(Simulation([heavy]), None)
    event = StoredEvent(1, 1, "", "invoice_paid", "test", T0, {"items": list(range(200_000))})
    replay.observe(event, {"custom": {}})
    [found] = replay.to_json()["rules"]
    assert (found["events"], found["matches"], found["errors"]) == (1, 0, 1)


def test_the_difference_treats_what_one_side_lacks_as_zero() -> None:
    a = {"points": 5, "credits": {"usd": 3}, "by_month": {"2026-01": {"points": 5, "credits": {}}}}
    b = {"points": 7, "credits": {"eur": 2}, "by_month": {"2026-02": {"points": 7, "credits": {}}}}
    assert difference(a, b) == {
        "points": -2,
        "credits": {"eur": -2, "usd": 3},
        "by_month": {
            "2026-01": {"points": 5, "credits": {}},
            "2026-02": {"points": -7, "credits": {}},
        },
    }
