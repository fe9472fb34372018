"""`loyalty bench ingest --rules N`: N valid, active rules spread over the bench's event types,
some matching often, and a tiny run that records decisions and reports them."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import run_scenario
from benchmarks.bench_rules import rule_bodies
from benchmarks.payloads import EVENT_TYPES
from loyalty_engine.rules.actions import ActionRegistry
from loyalty_engine.rules.check import check
from loyalty_engine.rules.facts import rule_schema
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.schemas import RuleCreate
from rewards.actions import register_reward_actions


def test_a_hundred_rules_are_valid_and_spread_over_the_event_types() -> None:
    actions = ActionRegistry()
    register_reward_actions(actions)
    bodies = rule_bodies(100)

    for body in bodies:
        RuleCreate.model_validate(body)
        assert check(parse(body["condition"]), rule_schema()) == [], body["key"]
        assert actions.bind(body["actions"])[1] == [], body["key"]
    assert len({b["key"] for b in bodies}) == 100
    assert Counter(b["triggers"][0] for b in bodies) == dict.fromkeys(EVENT_TYPES, 25)
    broad = [b for b in bodies if b["name"].startswith("bench adoption")]
    assert sorted(b["triggers"][0] for b in broad) == sorted(EVENT_TYPES)  # one per type
    assert sum("limits" in b for b in bodies) >= 10
    assert any(isinstance(b["actions"][0]["params"]["points"], dict) for b in bodies)


@pytest.mark.slow
def test_a_tiny_run_with_rules_records_decisions() -> None:
    report = run_scenario("ingest", events=1_000, singles=100, rules=5, show_progress=False)

    setup = report["setup"]
    assert setup["rules"] == 5
    assert report["batch"]["events_accepted"] == 1_000
    assert setup["decisions_by_outcome"].get("applied", 0) > 0
    assert setup["decisions_recorded"] == sum(setup["decisions_by_outcome"].values())
    assert setup["decisions_per_event"] == round(
        setup["decisions_recorded"] / setup["events_stored"], 3
    )
    assert report["targets"]["batch_events_per_s"]["target"] == 5_000
