"""JavaScript's conversions and operators as JSON Logic inherits them, beyond the official suite."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loyalty_engine.rules import jsonlogic
from loyalty_engine.rules.coerce import number_to_string, parse_float, to_number, truthy
from tests.rules.conftest import same_json


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1.5e300, "1.5e+300"),
        (math.inf, "Infinity"),
        (math.nan, "NaN"),
        (2**53, "9007199254740992"),
    ],
)
def test_numbers_become_text_as_in_javascript(number: float, text: str) -> None:
    assert number_to_string(number) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [
        (" 12\n", 12),
        ("", 0),
        ("0x1A", 26),
        ("0b101", 5),
        ("1e3", 1000),
        ("-Infinity", -math.inf),
        ("1_000", math.nan),  # Python's float() would accept these four; JavaScript does not
        ("inf", math.nan),
        ("nan", math.nan),
        ("12abc", math.nan),
    ],
)
def test_text_becomes_a_number_as_in_javascript(text: str, number: float) -> None:
    assert same_json(to_number(text), number)


def test_parse_float_reads_the_longest_numeric_prefix() -> None:
    assert parse_float("12abc") == 12
    assert parse_float("  .5x") == 0.5
    assert parse_float("1e") == 1
    assert same_json(parse_float(""), math.nan)
    assert same_json(parse_float(True), math.nan)
    assert parse_float([7, 8]) == 7


def test_truthiness_differs_from_python_for_objects_and_nan() -> None:
    assert truthy({}) is True
    assert truthy(math.nan) is False
    assert truthy([]) is False
    assert truthy("0") is True


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"==": [None, 0]}, False),
        ({"==": [None, None]}, True),
        ({"==": [[1], 1]}, True),
        ({"==": [[1, 2], "1,2"]}, True),
        ({"==": [True, "1"]}, True),
        ({"===": [1, 1.0]}, True),
        ({"===": [True, 1]}, False),
        ({"<": ["10", "9"]}, True),  # two texts compare as text
        ({"<": ["10", 9]}, False),  # otherwise as numbers
        ({"<": [None, 1]}, True),  # null is 0
        ({">": ["abc", 1]}, False),  # NaN compares false
        ({"<": ["é", "z"]}, False),  # by code point
        ({"in": ["", ""]}, False),  # json-logic-js: an empty haystack finds nothing
        ({"in": ["", "abc"]}, True),
        ({"in": [1, [True, 1.0]]}, True),
        ({"in": [1, [True]]}, False),
        ({"in": [3, "12345"]}, True),
        ({"in": [1, 12]}, False),
        ({"cat": [None, True, [1, [2, None]], 1.5, {"var": "o"}]}, "true1,2,1.5[object Object]"),
        ({"+": ["1.5", "2abc"]}, 3.5),
        ({"+": [True]}, math.nan),
        ({"-": ["3"]}, -3),
        ({"-": [None, 1]}, -1),
        ({"*": ["2"]}, 2),
        ({"/": [1, 0]}, math.inf),
        ({"/": [-1, 0]}, -math.inf),
        ({"/": [0, 0]}, math.nan),
        ({"/": [7, 2]}, 3.5),
        ({"%": [-5, 3]}, -2),
        ({"%": [5.5, 2]}, 1.5),
        ({"%": [1, 0]}, math.nan),
        ({"max": [1, "3", None]}, 3),
        ({"min": [1, "x"]}, math.nan),
        ({"substr": ["jsonlogic", 20]}, ""),
        ({"substr": ["jsonlogic", -20, 2]}, "js"),
        ({"substr": [12345, 1, -1]}, "234"),
        ({"var": "s.1"}, "b"),  # strings index like arrays
        ({"var": "l.01"}, None),  # not a canonical index
        ({"all": ["abc", True]}, False),
        ({"some": [None, True]}, False),
        ({"none": [None, True]}, True),
        ({"reduce": [None, True, 7]}, 7),
        ({"missing_some": [1, "a"]}, ["a"]),
    ],
)
def test_operators_follow_json_logic_js(rule: Any, expected: Any) -> None:
    data = {"o": {"k": 1}, "s": "abc", "l": [1, 2]}
    got = jsonlogic.apply(rule, data)
    assert same_json(got, expected), got


def test_integers_stay_exact_within_the_safe_range_and_become_floats_beyond() -> None:
    assert jsonlogic.apply({"+": [{"var": "a"}, 1]}, {"a": 2**52}) == 2**52 + 1
    assert isinstance(jsonlogic.apply({"*": [2**20, 2**20]}, None), int)
    beyond = jsonlogic.apply({"*": [{"var": "a"}, 4]}, {"a": 2**52})
    assert isinstance(beyond, float)
    assert beyond == 2.0**54
    assert jsonlogic.apply({"/": [{"var": "a"}, 2]}, {"a": 10}) == 5


def test_enum_values_in_data_read_as_their_plain_types() -> None:
    from loyalty_engine.customers.models import LifecycleStage

    stage = LifecycleStage.LOYALTY
    assert jsonlogic.apply({"==": [{"var": "s"}, "loyalty"]}, {"s": stage}) is True
    assert jsonlogic.apply({"in": [{"var": "s"}, ["loyalty", "x"]]}, {"s": stage}) is True
    assert jsonlogic.apply({"cat": [{"var": "s"}, "!"]}, {"s": stage}) == "loyalty!"


def test_data_that_is_not_json_is_an_error_not_a_guess() -> None:
    from datetime import UTC, datetime

    with pytest.raises(TypeError, match="not a JSON value: datetime"):
        jsonlogic.apply({"==": [{"var": "at"}, 1]}, {"at": datetime(2026, 1, 1, tzinfo=UTC)})
