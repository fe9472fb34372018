"""Check: conditions against the fact schema, every problem at once, each with a suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_engine.rules import (
    ConditionInvalid,
    Fact,
    Kind,
    check,
    parse,
    rule_schema,
    segment_schema,
    valid_condition,
)

SCHEMA = rule_schema(custom_traits={"nps": Kind.INTEGER})


def found(logic: Any) -> list[tuple[str, str, str | None]]:
    return [(p.path, p.message, p.suggestion) for p in check(parse(logic), SCHEMA)]


def test_a_condition_over_known_facts_has_no_problem() -> None:
    logic = {
        "and": [
            {"==": [{"var": "customer.plan"}, "enterprise"]},
            {">=": [{"var": "event.properties.amount_minor"}, 10000]},
            {"in": ["reports", {"var": "customer.segments"}]},
            {"<": [{"-": [{"var": "now"}, {"var": "customer.signup_at"}]}, 30 * 86400]},
            {">": [{"var": "customer.balances.points"}, 500]},
            {"==": [{"var": "customer.custom.region"}, "emea"]},
            {"some": [{"var": "event.properties.items"}, {">": [{"var": "qty"}, 1]}]},
            {"missing": ["customer.email"]},
        ]
    }
    assert found(logic) == []


def test_an_unknown_fact_is_reported_with_the_closest_name() -> None:
    assert found({"==": [{"var": "customer.palns"}, "x"]}) == [
        ("$.==[0].var", "unknown fact customer.palns", "did you mean customer.plan?")
    ]
    problem = check(parse({"var": "customer.palns"}), SCHEMA)[0]
    assert str(problem) == "$.var: unknown fact customer.palns; did you mean customer.plan?"


def test_names_under_a_family_are_suggested_too() -> None:
    assert found({"var": ["custmer.custom.region"]}) == [
        ("$.var[0]", "unknown fact custmer.custom.region", "did you mean customer.custom.region?")
    ]


def test_every_problem_is_reported_at_once() -> None:
    logic = {
        "or": [
            {"var": "evnt.type"},
            {"+": [{"var": "customer.plan"}, 1]},
            {"in": ["x", {"var": "customer.seats"}]},
            {"var": "customer.plan.tier"},
            {"var": ""},
            {"var": [{"cat": ["customer.", "plan"]}]},
            {"missing": ["customer.emial"]},
        ]
    }
    problems = found(logic)
    assert [p[0] for p in problems] == [
        "$.or[0].var",
        "$.or[1].+[0]",
        "$.or[2].in[1]",
        "$.or[3].var",
        "$.or[4].var",
        "$.or[5]",
        "$.or[6].missing[0]",
    ]
    assert problems[0][2] == "did you mean event.type?"
    assert problems[1][1] == "customer.plan is text: '+' needs numbers"
    assert problems[2][1] == "customer.seats is a number: 'in' looks in text or a list"
    assert problems[3][1] == "customer.plan is text: it has no field 'tier'"
    assert problems[4][1] == "this reads every fact at once"
    assert "computed" in problems[5][1]
    assert problems[6][2] == "did you mean customer.email?"


@pytest.mark.parametrize(
    ("logic", "message"),
    [
        ({">": [{"var": "customer.plan"}, 5]}, "customer.plan is text, 5 a number"),
        (
            {"==": [{"var": "customer.seats"}, "ten"]},
            "'ten' is not a number, so '==' with a number",
        ),
        ({"===": [{"var": "customer.seats"}, "10"]}, "'===' is always false"),
        ({"==": [{"var": "customer.segments"}, "vip"]}, "customer.segments is a list"),
        ({"map": [{"var": "customer.plan"}, 1]}, "customer.plan is text: 'map' goes over a list"),
        ({"%": [{"var": "customer.custom.nps"}, "x"]}, "'x' is text"),
    ],
)
def test_operands_of_the_wrong_kind_are_reported(logic: Any, message: str) -> None:
    problems = found(logic)
    assert len(problems) == 1, problems
    assert message in problems[0][1]


def test_numeric_text_and_unknown_kinds_are_not_reported() -> None:
    assert found({">": [{"var": "customer.seats"}, "5"]}) == []
    assert found({"==": [{"var": "event.properties.plan"}, 5]}) == []
    assert found({"+": [{"var": "customer.custom.score"}, 1]}) == []


def test_inside_map_var_reads_the_item_and_inside_reduce_current_or_accumulator() -> None:
    assert found({"map": [{"var": "customer.segments"}, {"var": "anything"}]}) == []
    problems = found({"reduce": [{"var": "customer.segments"}, {"var": "customer.plan"}, 0]})
    assert problems == [
        (
            "$.reduce[1].var",
            "inside reduce, var reads 'current' (the item) or 'accumulator'",
            'e.g. {"var": "current.qty"}',
        )
    ]


def test_a_segment_cannot_read_the_event() -> None:
    problems = check(parse({"==": [{"var": "event.type"}, "x"]}), segment_schema())
    assert [p.message for p in problems] == ["unknown fact event.type"]


def test_domains_add_their_facts() -> None:
    schema = SCHEMA.with_facts(Fact("referral.count", Kind.INTEGER, "referrals made"))
    assert check(parse({">": [{"var": "referral.count"}, 2]}), schema) == []


def test_valid_condition_raises_every_problem_as_a_422() -> None:
    with pytest.raises(ConditionInvalid) as raised:
        valid_condition({"and": [{"var": "customer.palns"}, {"var": "evnt.type"}]}, SCHEMA)
    assert raised.value.status_code == 422
    assert [d["path"] for d in raised.value.details] == ["$.and[0].var", "$.and[1].var"]
    assert raised.value.details[0]["suggestion"] == "did you mean customer.plan?"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("customer.balances.EUR", "did you mean customer.balances.eur?"),
        (
            "customer.balances.euros",
            "balances are customer.balances.points or a currency, e.g. .eur",
        ),
        ("customer.custom.my-trait", "custom trait names are letters, digits and _, not starting"),
    ],
)
def test_a_name_a_family_cannot_hold_says_how_its_members_are_named(
    name: str, suggestion: str
) -> None:
    ((_, message, hint),) = found({"var": name})
    assert message == f"unknown fact {name}"
    assert hint is not None
    assert hint.startswith(suggestion)


def test_event_properties_may_have_any_name() -> None:
    assert found({"var": "event.properties.amount-minor"}) == []
