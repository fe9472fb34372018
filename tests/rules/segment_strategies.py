"""Hypothesis strategies for segments: customer rows, and conditions over customer facts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from loyalty_engine.customers.models import LifecycleStage
from loyalty_engine.rules import Kind

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DECLARED = {
    "tier_name": Kind.STRING,
    "score": Kind.NUMBER,
    "nps": Kind.INTEGER,
    "beta": Kind.BOOLEAN,
}
WORDS = ["free", "pro", "enterprise", "Pro", "", "10", "9", "é", "pro ", "admin", "DE", "null"]

STRING_FACTS = [
    "customer.plan",
    "customer.role",
    "customer.country",
    "customer.email",
    "customer.lifecycle_stage",
    "customer.external_id",
    "customer.custom.tier_name",
]
INTEGRAL_FACTS = [
    "customer.seats",
    "customer.mrr_minor",
    "customer.signup_at",
    "customer.subscription_started_at",
    "customer.renewal_on",
    "customer.custom.nps",
]
NUMBER_FACTS = [*INTEGRAL_FACTS, "customer.custom.score", "now"]
BOOLEAN_FACTS = ["customer.custom.beta"]
ALL_FACTS = STRING_FACTS + NUMBER_FACTS + BOOLEAN_FACTS

_INSTANTS = st.datetimes(  # Hypothesis takes naive bounds and adds the time zone
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_QUARTERS = st.integers(-400, 400).map(lambda k: k / 4)  # exact in binary: parsed alike everywhere
_CUSTOM_VALUES = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-1000, 1000),
    _QUARTERS,
    st.booleans(),
    st.lists(st.sampled_from(WORDS), max_size=2),
)


def customers() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {
            "plan": st.none() | st.sampled_from(WORDS),
            "role": st.none() | st.sampled_from(["admin", "user", "Admin", ""]),
            "country": st.none() | st.sampled_from(["DE", "US", "FR"]),
            "email": st.none() | st.sampled_from(["a@x.io", "b@y.io"]),
            "seats": st.none() | st.integers(0, 500),
            "mrr_minor": st.none() | st.integers(0, 10**9),
            "currency": st.none() | st.sampled_from(["eur", "usd"]),
            "signup_at": st.none() | _INSTANTS,
            "subscription_started_at": st.none() | _INSTANTS,
            "renewal_on": st.none() | st.dates(date(1971, 1, 1), date(2035, 12, 31)),
            "lifecycle_stage": st.sampled_from(list(LifecycleStage)),
            "custom_traits": st.dictionaries(
                st.sampled_from([*DECLARED, "notes"]), _CUSTOM_VALUES, max_size=4
            ),
        }
    )
    return st.lists(row, min_size=1, max_size=4)


def _fact(names: list[str]) -> st.SearchStrategy[Any]:
    return st.sampled_from(names).map(lambda name: {"var": name})


STRING_LITERALS = st.sampled_from(WORDS)
NUMBER_LITERALS = st.one_of(
    st.integers(-1000, 1000), _QUARTERS, st.sampled_from([1_700_000_000, 0, 86_400])
)


def _leaf(kind: str) -> st.SearchStrategy[Any]:
    """Facts twice as often as literals: conditions that only fold to a constant test little."""
    if kind == "string":
        return st.one_of(_fact(STRING_FACTS), _fact(STRING_FACTS), STRING_LITERALS)
    if kind == "number":
        return st.one_of(_fact(NUMBER_FACTS), _fact(NUMBER_FACTS), NUMBER_LITERALS)
    return st.one_of(_fact(BOOLEAN_FACTS), _fact(BOOLEAN_FACTS), st.booleans())


def expressions(kind: str, depth: int) -> st.SearchStrategy[Any]:
    """A value of `kind` (string, number, boolean), nested up to `depth`."""
    if depth == 0:
        return _leaf(kind)
    inner = st.deferred(lambda: expressions(kind, depth - 1))
    condition = st.deferred(lambda: conditions(depth - 1))
    both = st.one_of(_leaf(kind), st.tuples(condition, inner, inner).map(lambda t: {"if": list(t)}))
    if kind == "string":
        return st.one_of(
            both,
            st.lists(
                st.one_of(inner, _fact(INTEGRAL_FACTS), st.booleans()), min_size=1, max_size=3
            ).map(lambda args: {"cat": args}),
            st.tuples(inner, st.integers(-4, 4), st.integers(-4, 4)).map(
                lambda t: {"substr": list(t)}
            ),
            st.tuples(_fact(STRING_FACTS), STRING_LITERALS).map(lambda t: {"var": list(t)}),
        )
    if kind == "number":
        return st.one_of(
            both,
            st.lists(inner, min_size=1, max_size=3).map(lambda args: {"+": args}),
            st.lists(inner, min_size=1, max_size=2).map(lambda args: {"*": args}),
            st.lists(inner, min_size=1, max_size=2).map(lambda args: {"-": args}),
            st.tuples(inner, st.sampled_from([2, -4, 0.5, 7])).map(lambda t: {"/": list(t)}),
            st.tuples(_fact(INTEGRAL_FACTS), st.sampled_from([2, -3, 7])).map(
                lambda t: {"%": list(t)}
            ),
            st.lists(inner, min_size=1, max_size=3).map(lambda args: {"max": args}),
            st.lists(inner, min_size=1, max_size=3).map(lambda args: {"min": args}),
            st.tuples(_fact(NUMBER_FACTS), NUMBER_LITERALS).map(lambda t: {"var": list(t)}),
        )
    return st.one_of(both, condition)


def conditions(depth: int = 3) -> st.SearchStrategy[Any]:
    kinds = st.sampled_from(["string", "number", "string", "number", "boolean"])
    same_kind = kinds.flatmap(
        lambda kind: st.tuples(
            expressions(kind, max(depth - 1, 0)), expressions(kind, max(depth - 1, 0))
        )
    )
    mixed = st.tuples(_leaf("number"), st.one_of(_leaf("string"), _leaf("boolean")))
    compare = st.tuples(
        st.sampled_from(["==", "!=", "===", "!==", "<", "<=", ">", ">="]),
        st.one_of(same_kind, same_kind, same_kind, mixed),
    ).map(lambda t: {t[0]: list(t[1])})
    leaves = st.one_of(
        compare,
        _fact(BOOLEAN_FACTS),
        st.tuples(_leaf("string"), st.lists(STRING_LITERALS, max_size=3)).map(
            lambda t: {"in": list(t)}
        ),
        st.tuples(_leaf("number"), st.lists(NUMBER_LITERALS, max_size=3)).map(
            lambda t: {"in": list(t)}
        ),
        st.tuples(_leaf("string"), _fact(STRING_FACTS)).map(lambda t: {"in": list(t)}),
        st.lists(st.sampled_from(ALL_FACTS), min_size=1, max_size=3).map(lambda n: {"missing": n}),
        st.tuples(st.integers(0, 3), st.lists(st.sampled_from(ALL_FACTS), max_size=3)).map(
            lambda t: {"missing_some": list(t)}
        ),
    )
    if depth == 0:
        return leaves
    inner = st.deferred(lambda: conditions(depth - 1))
    return st.one_of(
        leaves,
        leaves,
        st.lists(inner, min_size=1, max_size=3).map(lambda args: {"and": args}),
        st.lists(inner, min_size=1, max_size=3).map(lambda args: {"or": args}),
        inner.map(lambda arg: {"!": arg}),
        inner.map(lambda arg: {"!!": [arg]}),
        st.tuples(inner, inner, inner).map(lambda t: {"if": list(t)}),
    )
