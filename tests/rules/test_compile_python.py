"""Compile to Python: generated source, safe by construction, agreeing with the interpreter."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from loyalty_engine.rules import LimitExceeded, compile_python, evaluate, jsonlogic, parse
from loyalty_engine.rules.pycompile import generate
from tests.rules import strategies
from tests.rules.conftest import same_json

# Everything the generated source may contain: its own names, keywords and punctuation.
_TOKEN = re.compile(
    r"_[a-zA-Z]+\d*|data|def|return|try|except|AttributeError|get|if|else|not|and|or|is|in"
    r"|None|True|False"
    r"|str|list|__class__|[ \n():=,.\[\]!<>']+|\d+"
)


def outcome(function: Any, data: Any) -> Any:
    try:
        return ("value", function(data))
    except LimitExceeded:
        return ("limit", None)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=strategies.rules(), data=strategies.data())
def test_compiled_code_agrees_with_the_interpreter(rule: Any, data: Any) -> None:
    node = parse(rule)
    try:
        compiled = compile_python(node)
    except LimitExceeded:
        return  # a constant part over the budget is refused at compile time, as it should be
    kind, value = outcome(compiled, data)
    expected_kind, expected = outcome(lambda d: evaluate(node, d).value, data)
    assert kind == expected_kind
    assert same_json(value, expected), (value, expected)


@settings(max_examples=200, deadline=None)
@given(rule=strategies.rules())
def test_generated_source_holds_no_text_from_the_condition(rule: Any) -> None:
    generated = generate(parse(rule))
    leftover = _TOKEN.sub("", generated.source)
    assert leftover == "", leftover


def test_condition_text_that_looks_like_python_stays_text() -> None:
    hostile = "'); __import__('os').system('touch /tmp/pwned'); ('"
    rule = {"cat": [hostile, {"var": hostile}, {"if": [{"var": "x"}, hostile, "__class__"]}]}
    generated = generate(parse(rule))
    assert hostile not in generated.source
    assert "__import__" not in generated.source
    assert jsonlogic.apply(rule, {"x": 1}) == hostile + hostile  # cat reads a missing fact as ""


def test_the_generated_function_reaches_no_builtins() -> None:
    compiled = jsonlogic.compile({"==": [{"var": "x"}, 1]})
    assert compiled.__globals__["__builtins__"] == {}  # type: ignore[attr-defined]


def test_constant_parts_are_folded_into_one_literal() -> None:
    generated = generate(parse({"<": [{"var": "age"}, {"*": [60, 60, 24, 30]}]}))
    assert 2_592_000 in generated.constants.values()
    assert "_mul" not in generated.source


def test_a_fact_read_twice_is_read_once() -> None:
    generated = generate(parse({"or": [{"==": [{"var": "a.b"}, 1]}, {"==": [{"var": "a.b"}, 2]}]}))
    assert generated.source.count("_lookup(") == 1


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        ({"==": [{"var": "x"}, 1]}, {"x": True}, True),  # true == 1 loosely
        ({"===": [{"var": "x"}, 1]}, {"x": True}, False),
        ({">=": [{"var": "x"}, 1]}, {"x": "2"}, True),
        ({">=": [{"var": "x"}, 1]}, {"x": float("nan")}, False),
        ({"in": ["a", {"var": "x"}]}, {"x": ("a",)}, True),
        ({"in": ["a", {"var": "x"}]}, {"x": ""}, False),
        ({"in": [{"var": "x"}, ["a", "b"]]}, {"x": ["a"]}, False),
        ({"in": [{"var": "x"}, [1, 2]]}, {"x": True}, False),
        ({"in": [{"var": "x"}, [1, 2]]}, {"x": 2.0}, True),
        ({"==": [{"var": "x.0"}, "a"]}, {"x": ["a"]}, True),
        ({"==": [{"var": "x.y"}, None]}, {"x": None}, True),
    ],
)
def test_shortcuts_for_common_shapes_keep_the_semantics(
    rule: Any, data: Any, expected: Any
) -> None:
    assert jsonlogic.apply(rule, data) is expected
    assert evaluate(parse(rule), data).value is expected


def test_long_operand_lists_and_deep_nesting_compile() -> None:
    wide_and = {"and": [{"var": f"k{i}"} for i in range(990)]}
    assert jsonlogic.apply(wide_and, {f"k{i}": i + 1 for i in range(990)}) == 990
    wide_if: list[Any] = []
    for i in range(390):
        wide_if += [{"==": [{"var": "n"}, i]}, i * 2]
    assert jsonlogic.apply({"if": [*wide_if, -1]}, {"n": 389}) == 778
    deep: Any = {"var": "x"}
    for i in range(31):
        deep = {"if": [{"var": "c"}, deep, i]} if i % 2 else {"+": [deep, 1]}
    assert jsonlogic.apply(deep, {"c": True, "x": 5}) == 21


def test_loops_over_data_are_bounded_by_the_step_budget() -> None:
    nested = jsonlogic.compile({"map": [{"var": "xs"}, {"map": [{"var": "ys"}, 1]}]})
    rows = [{"ys": list(range(1000))}] * 1000
    with pytest.raises(LimitExceeded):
        nested({"xs": rows})
    assert nested({"xs": rows[:10]}) == [[1] * 1000] * 10


def test_a_growing_accumulator_is_bounded_too() -> None:
    doubling = {"reduce": [{"var": "xs"}, {"merge": [{"var": "accumulator"}] * 2}, [1]]}
    with pytest.raises(LimitExceeded):
        jsonlogic.apply(doubling, {"xs": list(range(40))})
    scanning = {
        "reduce": [
            {"var": "xs"},
            {"if": [{"in": [-1, {"var": "accumulator"}]}, 0, {"var": "accumulator"}]},
            {"var": "big"},
        ]
    }
    with pytest.raises(LimitExceeded):
        jsonlogic.apply(scanning, {"xs": list(range(10_000)), "big": list(range(100_000))})
