"""Safety: a hostile condition can neither run code nor hang the worker."""

# Whatever is handed to the parser, the outcome is a condition or a validation error; whatever a
# parsed condition meets as data, the outcome is a value or a bounded refusal (LimitExceeded).

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_engine.rules import (
    OPERATORS,
    ConditionInvalid,
    LimitExceeded,
    compile_python,
    evaluate,
    jsonlogic,
    parse,
)
from tests.rules import strategies

PYTHONISH = st.sampled_from(
    [
        "__import__('os').system('id')",
        "'); raise SystemExit; ('",
        "\\n    return 1\\ndef x():",
        "{0.__class__.__mro__}",
        "lambda: None",
        "__builtins__",
        "data",
        "_k1",
    ]
)
WEIRD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=4),
    st.complex_numbers(max_magnitude=2),
    st.datetimes(timezones=st.just(UTC)),
    st.frozensets(st.integers(), max_size=2),
    st.integers(min_value=-(2**3000), max_value=2**3000),
    st.text(max_size=8),
    PYTHONISH,
)


def hostile(depth: int = 6) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(sorted(OPERATORS)), PYTHONISH, st.integers(0, 3), st.none())
    return st.recursive(
        st.one_of(strategies.SCALARS, WEIRD),
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.tuples(inner, inner),
            st.dictionaries(keys, inner, min_size=0, max_size=2),
            st.builds(lambda k, v: {k: v}, st.sampled_from(sorted(OPERATORS)), inner),
        ),
        max_leaves=depth * 5,
    )


@settings(max_examples=500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(logic=hostile(), data=st.one_of(strategies.data(), hostile()))
def test_anything_parses_or_is_refused_and_runs_or_is_bounded(logic: Any, data: Any) -> None:
    try:
        node = parse(logic)
    except ConditionInvalid as invalid:
        refused = invalid
    else:
        run(node, data)
        return
    assert refused.problems
    assert all(p.path.startswith("$") for p in refused.problems)


def run(node: Any, data: Any) -> None:
    """Compile and run; only a bounded refusal, or non-JSON data named as such, may escape."""
    error: TypeError | None = None
    try:
        compile_python(node)(data)
        evaluate(node, data)
    except LimitExceeded:
        pass
    except TypeError as raised:  # data that is not JSON (a datetime, bytes) is named
        error = raised
    assert error is None or "not a JSON value" in str(error)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(rule=strategies.rules(max_leaves=30), data=strategies.data())
def test_valid_rules_on_json_data_give_a_value_or_a_bounded_refusal(rule: Any, data: Any) -> None:
    node = parse(rule)
    try:
        value = compile_python(node)(data)
    except LimitExceeded:
        return
    assert value is None or isinstance(value, (bool, int, float, str, list, dict))


def test_deep_nesting_is_refused_before_it_is_walked() -> None:
    deep: Any = {"var": "x"}
    for _ in range(100_000):
        deep = {"!": [deep]}
    started = time.monotonic()
    with pytest.raises(ConditionInvalid, match="deeper than"):
        parse(deep)
    assert time.monotonic() - started < 5


def test_a_huge_array_is_refused_at_the_node_limit() -> None:
    with pytest.raises(ConditionInvalid, match="more than 2000 parts"):
        parse({"in": [{"var": "x"}, list(range(1_000_000))]})


def test_a_condition_cannot_reach_the_file_system(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {target}')"
    for rule in (
        {"var": payload},
        {"cat": [payload, {"var": "x"}]},
        {"==": [{"var": "x"}, payload]},
        {"map": [[payload], {"cat": [{"var": ""}, payload]}]},
        {"var": [{"cat": ["__class__", ".", "__mro__"]}]},
    ):
        jsonlogic.apply(rule, {"x": payload, "__class__": 1})
    assert not target.exists()
    assert jsonlogic.apply({"var": "x.__class__"}, {"x": {}}) is None


def test_a_hostile_loop_over_large_data_is_refused_quickly() -> None:
    cross = {"some": [{"var": "xs"}, {"some": [{"var": "ys"}, {"==": [{"var": ""}, -1]}]}]}
    data = {"xs": [{"ys": list(range(10_000))} for _ in range(10_000)]}
    started = time.monotonic()
    with pytest.raises(LimitExceeded):
        jsonlogic.apply(cross, data)
    assert time.monotonic() - started < 5


def test_building_huge_text_is_refused() -> None:
    grow = {"reduce": [{"var": "xs"}, {"cat": [{"var": "accumulator"}] * 2}, "ab"]}
    with pytest.raises(LimitExceeded):
        jsonlogic.apply(grow, {"xs": list(range(64))})


def test_non_json_data_is_named() -> None:
    with pytest.raises(TypeError, match="not a JSON value: datetime"):
        jsonlogic.apply({"<": [{"var": "t"}, 5]}, {"t": datetime(2026, 1, 1, tzinfo=UTC)})
