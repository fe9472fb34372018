"""The SQL translation refuses, with a reason at each path, what it cannot translate faithfully."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from loyalty_engine.customers.models import Customer
from loyalty_engine.rules import (
    ConditionInvalid,
    Kind,
    check_sql,
    compile_sql,
    compile_sql_filter,
    compile_sql_value,
    customer_resolver,
    parse,
)

RESOLVER = customer_resolver(
    Customer.__table__,  # type: ignore[attr-defined]
    now=datetime(2026, 3, 2, tzinfo=UTC),
    custom_traits={"score": Kind.NUMBER},
)


@pytest.mark.parametrize(
    ("logic", "reason"),
    [
        ({">": [{"var": "customer.plan"}, 5]}, "turning text into a number"),
        ({"==": [{"var": "customer.plan"}, {"var": "customer.seats"}]}, "turns the text into"),
        ({"<": [{"var": "customer.plan"}, {"var": "customer.role"}]}, "two texts that may be"),
        ({"/": [100, {"var": "customer.seats"}]}, "literal divisor other than zero"),
        ({"%": [{"var": "customer.custom.score"}, 2]}, "only on whole numbers"),
        ({"cat": [{"var": "customer.custom.score"}]}, "fractional number as text"),
        ({"substr": [{"var": "customer.plan"}, {"var": "customer.seats"}]}, "literal start"),
        ({"==": [{"if": [{"var": "customer.seats"}, "x", 1]}, 1]}, "different kinds of value"),
        ({"var": [{"cat": ["customer.", "plan"]}]}, "computed"),
        ({"merge": [{"var": "customer.plan"}]}, "arrays"),
        ({"missing": [{"var": "customer.plan"}]}, "literal fact names"),
        ({"==": [{"var": "customer.tier"}, "gold"]}, "customer.tier cannot be read in SQL"),
    ],
)
def test_what_has_no_faithful_translation_is_refused_with_the_reason(
    logic: Any, reason: str
) -> None:
    problems = check_sql(parse(logic), RESOLVER)
    assert problems, logic
    assert reason in " ".join(p.message for p in problems)


def test_a_condition_that_folds_translates_to_a_constant() -> None:
    assert check_sql(parse({"==": [{"*": [2, 3]}, 6]}), RESOLVER) == []
    assert str(compile_sql(parse({"==": [{"*": [2, 3]}, 6]}), RESOLVER)) == "true"


def test_missing_translates_as_a_condition_not_as_a_list() -> None:
    node = parse({"missing": ["customer.email", "customer.plan"]})
    assert check_sql(node, RESOLVER) == []
    with pytest.raises(ConditionInvalid, match="gives a list"):
        compile_sql_value(node, RESOLVER)


def test_text_order_is_by_code_point_on_both_databases() -> None:
    condition = compile_sql(parse({"<": [{"var": "customer.plan"}, "m"]}), RESOLVER)
    assert 'COLLATE "C"' in str(condition.compile(dialect=postgresql.dialect()))
    assert "COLLATE" not in str(condition.compile(dialect=sqlite.dialect()))


def test_sql_that_would_write_itself_out_too_large_is_refused() -> None:
    value: Any = {"var": "customer.seats"}
    for _ in range(25):  # as a value, `or` repeats its operand: 2**25 copies written out
        value = {"or": [value, {"var": "customer.mrr_minor"}]}
    with pytest.raises(ConditionInvalid, match="larger than"):
        compile_sql_value(parse({"+": [value, 1]}), RESOLVER)
    assert check_sql(parse(value), RESOLVER) == []  # as a condition: plain OR, no repetition
    nested: Any = {"var": "customer.seats"}
    for _ in range(25):  # PostgreSQL's GREATEST writes its operands twice
        nested = {"max": [nested, 1]}
    assert any("larger than" in p.message for p in check_sql(parse(nested), RESOLVER))


def test_the_where_form_lets_indexes_serve_but_keeps_negations_exact() -> None:
    logic = {
        "and": [
            {"==": [{"var": "customer.plan"}, "pro"]},
            {
                "or": [
                    {"in": [{"var": "customer.role"}, ["admin"]]},
                    {"!": {"var": "customer.email"}},
                ]
            },
        ]
    }
    where = str(compile_sql_filter(parse(logic), RESOLVER).compile(dialect=postgresql.dialect()))
    assert where.startswith("customers.plan = ")  # no COALESCE around an indexed comparison
    assert "customers.role IN" in where
    assert "NOT coalesce(customers.email" in where  # under NOT, NULL must still read as false
