"""Python and SQL agree: generated conditions over generated customers, on both databases."""

# Customers are inserted into the real (migrated) customers table; each condition is compiled to
# Python (run on `customer_facts` of each row) and to SQL (run over the table), and both the value
# and the membership (truthiness) must be the same for every customer.

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, insert, select
from sqlalchemy.sql.elements import False_, True_

from loyalty_engine.customers.models import Customer
from loyalty_engine.rules import (
    ConditionInvalid,
    compile_python,
    compile_sql,
    compile_sql_filter,
    compile_sql_value,
    customer_facts,
    customer_resolver,
    epoch_seconds,
    parse,
    segment_schema,
    valid_segment_condition,
)
from loyalty_engine.rules.coerce import truthy
from tests.rules import segment_strategies as segments
from tests.rules.conftest import same_json

TABLE = Customer.__table__  # type: ignore[attr-defined]
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
STORED: dict[str, Any] = {
    **dict.fromkeys(["role", "seats", "plan", "subscription_started_at", "renewal_on"]),
    "created_at": CREATED,
    "updated_at": CREATED,
    "trait_times": {},
    "custom_traits": {},
    "lifecycle_stage": "awareness",
}
RESOLVER = customer_resolver(TABLE, now=segments.NOW, custom_traits=segments.DECLARED)


def run_both(engine: Engine, rows: list[dict[str, Any]], logic: Any) -> str:
    """Insert `rows`, compare Python and SQL for `logic`, roll back; what was compared."""
    node = parse(logic)
    try:
        membership = compile_sql(node, RESOLVER)
    except ConditionInvalid:
        return "refused"
    try:
        value = compile_sql_value(node, RESOLVER)
    except ConditionInvalid:
        value = None
    if isinstance(membership, (True_, False_)):
        return "constant"  # folded: nothing for SQL to compute
    python = compile_python(node)
    with engine.connect() as connection:
        connection.execute(insert(TABLE), [_stored(i, row) for i, row in enumerate(rows)])
        columns = [TABLE, membership.label("member")]
        if value is not None:
            columns.append(value.expression().label("value"))
        members = set()
        for found in connection.execute(select(*columns).order_by(TABLE.c.id)).mappings():
            facts = {
                "customer": customer_facts(found, custom_traits=segments.DECLARED),
                "now": epoch_seconds(segments.NOW),
            }
            expected = python(facts)
            said = f"{json.dumps(logic)} on {facts}: Python {expected!r}"
            assert bool(found["member"]) == truthy(expected), said
            if truthy(expected):
                members.add(found["id"])
            if value is not None:
                got = value.decode(found["value"])
                assert same_json(got, expected), f"{said}, SQL {got!r}"
        where = compile_sql_filter(node, RESOLVER)  # the form a segment count uses
        filtered = connection.execute(select(TABLE.c.id).where(where)).scalars()
        assert set(filtered) == members, json.dumps(logic)
        connection.rollback()
    return "membership" if value is None else "value"


def _stored(i: int, row: dict[str, Any]) -> dict[str, Any]:
    return {**STORED, **row, "external_id": f"c{i}"}


def test_python_and_sql_agree_on_generated_segments(engine: Engine) -> None:
    outcomes = {"value": 0, "membership": 0, "constant": 0, "refused": 0}

    # The engine (one database, parametrized) is set up once for all examples: each example
    # inserts its customers in a transaction that it rolls back.
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(rows=segments.customers(), logic=segments.conditions(4))
    def agree(rows: list[dict[str, Any]], logic: Any) -> None:
        outcomes[run_both(engine, rows, logic)] += 1

    agree()
    print(engine.dialect.name, outcomes)
    compared = outcomes["value"] + outcomes["membership"]
    assert compared >= 0.6 * sum(outcomes.values()), outcomes


SEGMENTS = [
    ("administrators", {"==": [{"var": "customer.role"}, "admin"]}, ["a"]),
    (
        "in their first year",
        {"<": [{"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]}, 365 * 86400]},
        ["a"],  # a missing instant reads as 0 (1970) in arithmetic, as null does in JavaScript
    ),
    # a's score is text, not the declared number: it reads as missing, in Python and in SQL
    ("high adoption", {">=": [{"var": "customer.custom.score"}, 80]}, ["b"]),
    (
        "renewing within 30 days",
        {
            "and": [
                {"!": {"missing": ["customer.renewal_on"]}},
                {"<=": [{"-": [{"var": "customer.renewal_on"}, {"var": "now"}]}, 30 * 86400]},
            ]
        },
        ["b"],
    ),
    ("plans", {"in": [{"var": ["customer.plan", "free"]}, ["free", "starter"]]}, ["c"]),
    ("odd seats", {"==": [{"%": [{"var": "customer.seats"}, 2]}, 1]}, ["a"]),
]


@pytest.mark.parametrize(("name", "logic", "members"), SEGMENTS, ids=[s[0] for s in SEGMENTS])
def test_the_segments_the_product_documents_translate(
    engine: Engine, name: str, logic: Any, members: list[str]
) -> None:
    rows = [
        {
            "external_id": "a",
            "role": "admin",
            "seats": 3,
            "plan": "pro",
            "subscription_started_at": datetime(2025, 6, 1, tzinfo=UTC),
            "custom_traits": {"score": "95"},
        },
        {
            "external_id": "b",
            "role": "user",
            "seats": 4,
            "plan": "enterprise",
            "subscription_started_at": datetime(2024, 1, 1, tzinfo=UTC),
            "renewal_on": datetime(2026, 3, 20, tzinfo=UTC).date(),
            "custom_traits": {"score": 80},
        },
        {"external_id": "c", "custom_traits": {}},
    ]
    node = valid_segment_condition(logic, segment_schema(segments.DECLARED), RESOLVER)
    condition = compile_sql_filter(node, RESOLVER)
    with engine.connect() as connection:
        stored = [{**STORED, **r} for r in rows]
        connection.execute(insert(TABLE), stored)
        found = connection.execute(
            select(TABLE.c.external_id).where(condition).order_by(TABLE.c.external_id)
        )
        assert list(found.scalars()) == members
        connection.rollback()


REGRESSIONS = [
    # SQLAlchemy wrote (NOT a) IS NOT DISTINCT FROM b without parentheses; PostgreSQL read it as
    # NOT (a IS NOT DISTINCT FROM b).
    {"==": [{"!": {"var": "customer.custom.beta"}}, {"var": "customer.custom.beta"}]},
    {"in": [{"!": {"var": "customer.custom.beta"}}, [True]]},
]


@pytest.mark.parametrize("logic", REGRESSIONS)
def test_shapes_hypothesis_once_found_disagreeing(engine: Engine, logic: Any) -> None:
    empty: dict[str, Any] = {"custom_traits": {}}
    rows = [{**empty, "lifecycle_stage": "awareness"}, {**empty, "custom_traits": {"beta": True}}]
    assert run_both(engine, rows, logic) == "value"
