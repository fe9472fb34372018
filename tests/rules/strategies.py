"""Hypothesis strategies: JSON data, and JSON Logic rules over every operator."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from loyalty_engine.rules import OPERATORS

TEXT = st.sampled_from(["", "a", "b", "ab", "0", "1", "10", "2.5", " 1 ", "x,y", "é", "__import__"])
NAMES = st.sampled_from(["a", "b", "a.b", "items", "items.0", "n", "s", "", "missing.deep"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.sampled_from([0.5, -1.5, 2.0, 1e21, -0.0]),
    TEXT,
)


def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(["a", "b", "n", "s", "qty"]), inner, max_size=3),
        ),
        max_leaves=depth * 4,
    )


def data() -> st.SearchStrategy[Any]:
    """Mostly objects with the names rules read; sometimes any JSON value."""
    record = st.fixed_dictionaries(
        {},
        optional={
            "a": json_values(),
            "b": json_values(),
            "n": st.integers(-5, 5),
            "s": TEXT,
            "items": st.lists(json_values(2), max_size=4),
            "missing": st.none(),
        },
    )
    return st.one_of(record, record, record, json_values())


def _operation(op: str, operands: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    arity = OPERATORS[op]
    most = arity.most if arity.most is not None else arity.least + 3
    return st.lists(operands, min_size=arity.least, max_size=most).map(lambda args: {op: args})


def rules(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Valid JSON Logic rules over every operator (the right operand counts)."""
    var = st.one_of(
        NAMES.map(lambda name: {"var": name}),
        st.tuples(NAMES, SCALARS).map(lambda pair: {"var": list(pair)}),
    )
    leaves = st.one_of(SCALARS, var, var)

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        plain = [op for op in OPERATORS if op not in ("missing", "missing_some", "var")]
        return st.one_of(
            *(_operation(op, inner) for op in plain),
            inner.map(lambda test: {"var": [{"if": [test, "a.b", "items.0"]}]}),  # a computed path
            st.lists(inner, max_size=3),
            st.lists(NAMES, max_size=3).map(lambda names: {"missing": names}),
            st.tuples(st.integers(0, 3), st.lists(NAMES, max_size=3)).map(
                lambda pair: {"missing_some": list(pair)}
            ),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)
