"""The official suite through the SQL translation, on SQLite and on PostgreSQL."""

# Each case's data is one row of a temporary table, in a JSON column. The resolver reads a fact
# from it as a typed value, the type taken from the case's data: that is how segments read facts
# too (each fact has a declared type), so it tests the operators, not the data's types. A case runs
# as written (constant parts fold in Python, so they test folding) and "lifted": every literal
# operand moved into the row as a fact, so the operators run in SQL on columns. Cases whose
# operators have no faithful translation must be refused, never answered wrongly.

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Connection, Table, select
from sqlalchemy.sql.elements import False_, True_

from loyalty_engine.rules import (
    ConditionInvalid,
    Resolver,
    SqlFact,
    compile_sql,
    compile_sql_value,
    jsonlogic,
    parse,
)
from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.sqldialect import json_scalar
from loyalty_engine.rules.sqlvalue import BOOL, NUMBER, STRING
from tests.rules.conftest import CASES, case_params, case_table, same_json, suite_missing

LIFTED = 10_000  # row id offset of the lifted variants
_KINDS = {bool: BOOL, int: NUMBER, float: NUMBER, str: STRING, type(None): NUMBER}
_KEEP_OPERANDS = {"var": 0, "missing": 0, "missing_some": 0, "substr": 1, "/": 1, "%": 1}
_SCOPED = {"map", "filter", "all", "some", "none", "reduce"}


def data_resolver(table: Table, data: Any) -> Resolver:
    """Facts from the row's JSON, each typed by the value this case's data holds there."""

    def resolve(name: str) -> SqlFact | None:
        segments = () if name == "" else tuple(name.split("."))
        value, path = data, []
        for segment in segments:
            if isinstance(value, list) and segment.isdigit():
                index = int(segment)
                path.append(index)
                value = value[index] if index < len(value) else None
            else:
                path.append(segment)
                value = value.get(segment) if isinstance(value, dict) else None
        kind = _KINDS.get(type(value))
        if kind is None:  # arrays and objects have no SQL kind
            return None
        integral = type(value) is int  # as a trait declared integer
        found = json_scalar(table.c.data, tuple(path), kind, integral=integral)
        return SqlFact(found, kind, integral=integral)

    return resolve


def lift(rule: Any, data: Any) -> tuple[Any, Any] | None:
    """The rule with each literal operand read from the data instead (None: data not an object)."""
    if data is not None and not isinstance(data, dict):
        return None
    facts = dict(data or {})

    def walk(node: Any, lifting: bool, in_body: bool) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((op, raw),) = node.items()
            operands = raw if isinstance(raw, list) else [raw]
            lifted = [
                walk(arg, not in_body and _liftable(op, i), in_body or _is_body(op, i))
                for i, arg in enumerate(operands)
            ]
            return {op: lifted if isinstance(raw, list) else lifted[0]}
        if lifting and (node is None or isinstance(node, (bool, int, float, str))):
            name = f"_l{len(facts)}"
            facts[name] = node
            return {"var": name}
        return node

    return walk(rule, False, False), facts


def _is_body(op: str, index: int) -> bool:
    """The body of map/filter/...: it runs on each item, not on the row."""
    return op in _SCOPED and index == 1


def _liftable(op: str, index: int) -> bool:
    if _is_body(op, index):
        return False
    keep = _KEEP_OPERANDS.get(op)
    return keep is None or index < keep


@pytest.fixture(scope="module")
def suite_rows(sql_connection: Connection) -> tuple[Connection, Table]:
    rows: dict[int, Any] = {}
    for i, (rule, data, _) in enumerate(CASES):
        rows[i] = data
        lifted = lift(rule, data)
        if lifted is not None:
            rows[LIFTED + i] = lifted[1]
    table = case_table(sql_connection, [])
    if rows:
        sql_connection.execute(
            table.insert(), [{"id": key, "data": value} for key, value in rows.items()]
        )
    return sql_connection, table


def run_case(
    connection: Connection, table: Table, row: int, rule: Any, data: Any, expected: Any
) -> str:
    """'value' or 'truth' when SQL gave the expected answer, 'refused' when it declined."""
    node = parse(rule)
    resolver = data_resolver(table, data)
    try:
        compiled = compile_sql_value(node, resolver)
    except ConditionInvalid:
        compiled = None
    if compiled is not None:
        raw = connection.execute(select(compiled.expression()).where(table.c.id == row))
        got = compiled.decode(raw.scalar_one())
        assert same_json(got, expected), f"{json.dumps(rule)} on {json.dumps(data)}: {got!r}"
        return "value" if compiled.value.expr is not None else "constant"
    try:
        condition = compile_sql(node, resolver)
    except ConditionInvalid:
        return "refused"
    holds = connection.execute(select(condition).where(table.c.id == row)).scalar_one()
    assert bool(holds) == truthy(expected), f"{json.dumps(rule)} on {json.dumps(data)}"
    return "constant" if isinstance(condition, (True_, False_)) else "truth"


@pytest.mark.parametrize("numbered", case_params())
def test_sql_gives_the_expected_answer_or_refuses(
    numbered: Any, suite_rows: tuple[Connection, Table]
) -> None:
    if numbered is None:
        suite_missing()
    i, (rule, data, expected) = numbered
    connection, table = suite_rows
    run_case(connection, table, i, rule, data, expected)
    lifted = lift(rule, data)
    if lifted is not None:
        assert same_json(jsonlogic.apply(*lifted), expected)  # lifting keeps the meaning
        run_case(connection, table, LIFTED + i, lifted[0], lifted[1], expected)


def test_most_of_the_suite_goes_through_sql(suite_rows: tuple[Connection, Table]) -> None:
    """How many cases SQL answers (reported by `pytest -rP`); a drop means a lost translation."""
    if not CASES:
        suite_missing()
    connection, table = suite_rows
    written: dict[str, int] = {"value": 0, "constant": 0, "truth": 0, "refused": 0}
    lifted_counts = dict.fromkeys(written, 0)
    for i, (rule, data, expected) in enumerate(CASES):
        written[run_case(connection, table, i, rule, data, expected)] += 1
        lifted = lift(rule, data)
        if lifted is not None:
            outcome = run_case(connection, table, LIFTED + i, lifted[0], lifted[1], expected)
            lifted_counts[outcome] += 1
    dialect = connection.dialect.name
    print(f"{dialect}: as written {written}; lifted {lifted_counts}")
    answered = len(CASES) - written["refused"]
    assert answered >= 200, written
    assert written["value"] + written["truth"] >= 25, written  # cases that read the row
    assert lifted_counts["value"] + lifted_counts["truth"] >= 100, lifted_counts
