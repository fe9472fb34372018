"""The official JSON Logic suite through the Python compiler and through the explain interpreter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.rules import evaluate, jsonlogic, parse
from tests.rules.conftest import CASES, SUITE_SIZE, case_params, same_json, suite_missing


@pytest.mark.parametrize("numbered", case_params())
def test_compiled_python_gives_the_expected_value(numbered: Any) -> None:
    if numbered is None:
        suite_missing()
    _, (rule, data, expected) = numbered
    got = jsonlogic.apply(rule, data)
    assert same_json(got, expected), f"{json.dumps(rule)} on {json.dumps(data)}: {got!r}"


@pytest.mark.parametrize("numbered", case_params())
def test_explain_interpreter_gives_the_expected_value(numbered: Any) -> None:
    if numbered is None:
        suite_missing()
    _, (rule, data, expected) = numbered
    decision = evaluate(parse(rule), data)
    assert same_json(decision.value, expected), f"{json.dumps(rule)}: {decision.value!r}"


def test_the_suite_is_the_official_one_whole() -> None:
    if not CASES:
        suite_missing()
    assert len(CASES) == SUITE_SIZE


def test_compiled_function_can_be_called_again_with_other_data() -> None:
    rule = {"if": [{"var": "x"}, ["apr"], []]}
    compiled = jsonlogic.compile(rule)
    first = compiled({"x": True})
    first.append("tampered")  # a caller changing a result must not change the rule
    assert compiled({"x": True}) == ["apr"]
    assert compiled({"x": False}) == []
