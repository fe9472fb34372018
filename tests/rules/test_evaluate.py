"""Evaluate: the decision and its explain trace, which every rule fire stores as why it fired."""

from __future__ import annotations

import json

import pytest

from loyalty_engine.rules import LimitExceeded, evaluate, parse

RULE = {
    "and": [
        {"==": [{"var": "customer.plan"}, "enterprise"]},
        {">=": [{"var": "event.properties.amount_minor"}, 10000]},
        {"in": ["reports", {"var": "customer.segments"}]},
    ]
}
FACTS = {
    "customer": {"plan": "enterprise", "segments": ["reports"]},
    "event": {"type": "invoice_paid", "properties": {"amount_minor": 12500}},
}


def test_a_firing_rule_records_each_sub_condition_and_the_facts_it_read() -> None:
    decision = evaluate(parse(RULE), FACTS)
    assert decision.holds is True
    assert decision.value is True
    assert decision.facts == {
        "customer.plan": "enterprise",
        "event.properties.amount_minor": 12500,
        "customer.segments": ["reports"],
    }
    assert decision.trace is not None
    assert [(s.path, s.op, s.value) for s in decision.trace.steps] == [
        ("$.and[0]", "==", True),
        ("$.and[1]", ">=", True),
        ("$.and[2]", "in", True),
    ]


def test_and_stops_at_the_first_false_condition_and_the_trace_shows_which() -> None:
    facts = {**FACTS, "customer": {"plan": "starter", "segments": ["reports"]}}
    decision = evaluate(parse(RULE), facts)
    assert decision.holds is False
    assert decision.trace is not None
    (only,) = decision.trace.steps
    assert (only.path, only.value) == ("$.and[0]", False)
    assert only.steps[0].fact == "customer.plan"
    assert only.steps[0].value == "starter"
    assert decision.facts == {"customer.plan": "starter"}


def test_the_trace_is_json_to_store_beside_the_ledger_entry() -> None:
    decision = evaluate(parse({"if": [{"var": "x"}, ["a"], {"var": ["y", 3]}]}), {"x": 0})
    stored = json.loads(json.dumps(decision.to_json()))
    assert stored["value"] == 3
    assert stored["holds"] is True
    assert stored["facts"] == {"x": 0, "y": 3}
    trace = stored["trace"]
    assert trace["op"] == "if"
    assert [s["fact"] for s in trace["steps"]] == ["x", "y"]


def test_a_missing_fact_reads_as_null_and_a_default_is_traced() -> None:
    decision = evaluate(parse({"var": ["customer.tier", "bronze"]}), FACTS)
    assert decision.value == "bronze"
    assert decision.facts == {"customer.tier": "bronze"}


def test_map_and_friends_are_traced_as_one_step() -> None:
    rule = {"some": [{"var": "items"}, {">": [{"var": "qty"}, 1]}]}
    decision = evaluate(parse(rule), {"items": [{"qty": 1}, {"qty": 2}]})
    assert decision.holds is True
    assert decision.trace is not None
    assert decision.trace.op == "some"
    assert [s.fact for s in decision.trace.steps] == ["items"]


def test_a_literal_condition_has_no_trace() -> None:
    decision = evaluate(parse(True), {})
    assert decision.holds is True
    assert decision.trace is None


def test_evaluation_runs_under_the_step_budget() -> None:
    rule = {"map": [{"var": "xs"}, {"map": [{"var": "ys"}, 1]}]}
    rows = [{"ys": list(range(1000))}] * 1000
    with pytest.raises(LimitExceeded):
        evaluate(parse(rule), {"xs": rows})
