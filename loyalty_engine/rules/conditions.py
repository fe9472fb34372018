"""Validate a condition before it is saved: parse, check, and for segments the SQL translation."""

# Each raises ConditionInvalid with every problem at once, or gives the parsed condition to keep
# (compile it with `compile_python` or `compile_sql`).

from __future__ import annotations

from typing import Any

from loyalty_engine.rules.check import check
from loyalty_engine.rules.errors import ConditionInvalid, Problem
from loyalty_engine.rules.facts import FactSchema
from loyalty_engine.rules.nodes import Node
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.sqlcompile import check_sql
from loyalty_engine.rules.sqlvalue import Resolver


def valid_condition(logic: Any, schema: FactSchema) -> Node:
    """A rule's condition: JSON Logic that reads only facts of `schema`, rightly used."""
    node = parse(logic)
    problems = check(node, schema)
    if problems:
        raise ConditionInvalid(problems)
    return node


def valid_segment_condition(logic: Any, schema: FactSchema, resolver: Resolver) -> Node:
    """A segment's condition: as a rule's, and every part of it must translate to SQL."""
    node = parse(logic)
    problems = check(node, schema)
    problems += [p for p in check_sql(node, resolver) if not _said(p, problems)]
    if problems:
        raise ConditionInvalid(problems)
    return node


def _said(sql: Problem, found: list[Problem]) -> bool:
    """A fact SQL cannot read because the schema does not know it is reported once."""
    return sql.type == "sql_fact" and any(p.path.startswith(sql.path) for p in found)
