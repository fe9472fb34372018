"""Parse: JSON into nodes; what is not JSON Logic is refused with the JSON path of each problem."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_engine.rules import Array, ConditionInvalid, Literal, Op, Var, parse
from loyalty_engine.rules.limits import MAX_DEPTH, MAX_NODES, MAX_STRING


def problems(logic: Any) -> list[dict[str, Any]]:
    with pytest.raises(ConditionInvalid) as raised:
        parse(logic)
    assert raised.value.status_code == 422
    details: list[dict[str, Any]] = raised.value.details
    return details


def test_a_var_with_a_literal_path_is_split_once_and_knows_where_its_name_is() -> None:
    node = parse({"and": [{"==": [1, 1]}, {"var": "customer.plan"}]})
    assert isinstance(node, Op)
    var = node.args[1]
    assert var == Var(("customer", "plan"), None, "$.and[1]", "$.and[1].var")
    assert parse({"var": ["a.b", 7]}) == Var(("a", "b"), Literal(7, "$.var[1]"), "$", "$.var[0]")


def test_var_paths_follow_javascript_string_conversion() -> None:
    assert parse({"var": 1}) == Var(("1",), None, "$", "$.var")
    assert parse({"var": 1.5}) == Var(("1", "5"), None, "$", "$.var")
    for whole in ({"var": ""}, {"var": None}, {"var": []}):
        node = parse(whole)
        assert isinstance(node, Var)
        assert node.segments == ()


def test_a_computed_var_path_stays_an_operation() -> None:
    node = parse({"var": [{"cat": ["a", ".b"]}]})
    assert isinstance(node, Op)
    assert node.op == "var"


def test_arrays_are_nodes_and_their_items_have_paths() -> None:
    node = parse({"in": ["a", ["a", {"var": "x"}]]})
    assert isinstance(node, Op)
    haystack = node.args[1]
    assert isinstance(haystack, Array)
    assert haystack.items[1] == Var(("x",), None, "$.in[1][1]", "$.in[1][1].var")


def test_unknown_operators_are_refused_with_a_suggestion() -> None:
    found = problems({"and": [{"equals": [1, 1]}, {"=": [1, 1]}, {"fitler": [[], 1]}]})
    assert [(p["path"], p["message"], p.get("suggestion")) for p in found] == [
        ("$.and[0]", "unknown operator 'equals'", "did you mean '=='?"),
        ("$.and[1]", "unknown operator '='", "did you mean '=='?"),
        ("$.and[2]", "unknown operator 'fitler'", "did you mean 'filter'?"),
    ]


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        {"or": [{"==": [1]}, {"substr": ["x"]}, {"var": "a", "extra": 1}, {"!": [{"nope": 1}]}]}
    )
    assert [p["path"] for p in found] == ["$.or[0].==", "$.or[1].substr", "$.or[2]", "$.or[3].![0]"]
    assert found[0]["message"] == "'==' takes 2 operands, got 1"
    assert found[1]["message"] == "'substr' takes 2 to 3 operands, got 1"
    assert "exactly one key" in found[2]["message"]


def test_log_is_refused_because_conditions_have_no_side_effects() -> None:
    assert "no side effects" in problems({"log": "x"})[0]["message"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ({1, 2}, "not a JSON value: set"),
        (b"bytes", "not a JSON value: bytes"),
        ("nul\x00", "NUL"),
        ("lone \ud800", "surrogate"),
    ],
)
def test_values_json_cannot_hold_are_refused(value: Any, message: str) -> None:
    found = problems({"==": [{"var": "x"}, value]})
    assert found[0]["path"] == "$.==[1]"
    assert message in found[0]["message"]


def test_integers_beyond_javascripts_safe_range_become_floats() -> None:
    node = parse(2**60)
    assert isinstance(node, Literal)
    assert node.value == float(2**60)
    assert isinstance(node.value, float)


def test_limits_stop_the_parse_at_the_first_excess() -> None:
    deep: Any = {"var": "x"}
    for _ in range(MAX_DEPTH + 5):
        deep = {"!": deep}
    found = problems(deep)
    assert [p["type"] for p in found] == ["limit"]
    assert "deeper" in found[0]["message"]
    wide = {"cat": list(range(MAX_NODES + 10))}
    assert "parts" in problems(wide)[0]["message"]
    assert "longer" in problems({"cat": ["x" * (MAX_STRING + 1)]})[0]["message"]
    assert "characters of text" in problems({"cat": ["y" * MAX_STRING] * 17})[0]["message"]


def test_nested_lists_count_toward_depth() -> None:
    nested: Any = 1
    for _ in range(MAX_DEPTH + 1):
        nested = [nested]
    assert problems(nested)[0]["type"] == "limit"
    shallow: Any = 1
    for _ in range(MAX_DEPTH - 1):
        shallow = [shallow]
    parse(shallow)
