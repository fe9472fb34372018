"""Customer facts two ways that agree: Python values for rules, SQL over `customers` (segments)."""

# `customer_facts` turns a customer row into the `customer` fact object; `customer_resolver` gives
# the same facts as expressions over the customers table. Both read a missing trait as a missing
# fact (so `var` defaults apply), instants as epoch seconds, and a declared custom trait only when
# it holds its declared kind (anything else reads as missing, in both).

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table

from loyalty_engine.rules.coerce import exact
from loyalty_engine.rules.facts import CUSTOMER_TRAITS, Kind
from loyalty_engine.rules.sqldialect import INTEGRAL_DIGITS, epoch_of, json_scalar
from loyalty_engine.rules.sqlvalue import BOOL, NUMBER, STRING, Resolver, SqlFact

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Declared custom trait kinds that translate to SQL, and the JSON type each reads.
_CUSTOM_SQL = {Kind.STRING: STRING, Kind.NUMBER: NUMBER, Kind.INTEGER: NUMBER, Kind.BOOLEAN: BOOL}
_TRAIT_SQL = {Kind.STRING: STRING, Kind.INTEGER: NUMBER, Kind.INSTANT: NUMBER}


def epoch_seconds(moment: datetime | date) -> int:
    """Whole seconds since 1970-01-01 UTC, rounded down; a date counts from its midnight UTC."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: facts are aware UTC instants")
    return (moment - _EPOCH).days * 86_400 + (moment - _EPOCH).seconds


def customer_facts(
    values: Mapping[str, Any], *, custom_traits: Mapping[str, Kind] | None = None
) -> dict[str, Any]:
    """The `customer` fact object of a customer row (column name to value).

    Traits that are NULL are left out, instants become epoch seconds, and `custom` holds the
    custom traits (a declared one only if it holds its declared kind).
    """
    facts: dict[str, Any] = {}
    for name, kind in CUSTOMER_TRAITS.items():
        value = values.get(name)
        if value is None:
            continue
        if kind == Kind.INSTANT:
            facts[name] = epoch_seconds(value)
        elif kind == Kind.INTEGER:
            facts[name] = exact(int(value))
        else:
            facts[name] = str.__str__(value) if isinstance(value, str) else str(value)
    declared = custom_traits or {}
    custom = {}
    for name, value in (values.get("custom_traits") or {}).items():
        declared_kind = declared.get(name)
        if declared_kind is None or declared_kind not in _CUSTOM_SQL:
            custom[name] = value
        elif _holds(declared_kind, value):
            numeric = declared_kind in (Kind.NUMBER, Kind.INTEGER)
            custom[name] = exact(value) if numeric else value
    facts["custom"] = custom
    return facts


def _holds(kind: Kind, value: Any) -> bool:
    if kind == Kind.STRING:
        return isinstance(value, str)
    if kind == Kind.BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == Kind.INTEGER:  # written without a fraction, exact as a double (as SQL reads it)
        return isinstance(value, int) and abs(value) < 10**INTEGRAL_DIGITS
    return isinstance(value, (int, float))


def customer_resolver(
    customers: Table, *, now: datetime, custom_traits: Mapping[str, Kind] | None = None
) -> Resolver:
    """Facts as SQL over `customers` (the table of loyalty_engine.customers.models.Customer):
    the typed trait columns, declared custom traits from the JSON column, and `now`."""
    declared = custom_traits or {}
    now_seconds = epoch_seconds(now)

    def resolve(name: str) -> SqlFact | None:
        if name == "now":
            return SqlFact.constant(now_seconds)
        head, _, trait = name.partition(".")
        if head != "customer":
            return None
        kind = CUSTOMER_TRAITS.get(trait)
        if kind is not None:
            column = customers.c[trait]
            expr = epoch_of(column) if kind == Kind.INSTANT else column
            sql_kind = _TRAIT_SQL[kind]
            return SqlFact(
                expr, sql_kind, integral=sql_kind == NUMBER, nullable=bool(column.nullable)
            )
        custom = trait.removeprefix("custom.")
        declared_kind = declared.get(custom)
        if trait.startswith("custom.") and declared_kind in _CUSTOM_SQL:
            sql_kind, integral = _CUSTOM_SQL[declared_kind], declared_kind == Kind.INTEGER
            found = json_scalar(customers.c.custom_traits, (custom,), sql_kind, integral=integral)
            return SqlFact(found, sql_kind, integral=integral)
        return None

    return resolve
