"""Customer facts: the fact schema matches the customers table; Python facts and SQL agree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Date, Integer, String

from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.db import UTCDateTime
from loyalty_engine.rules import (
    CUSTOMER_TRAITS,
    ConditionInvalid,
    Kind,
    customer_facts,
    customer_resolver,
    epoch_seconds,
    segment_schema,
    valid_segment_condition,
)

TABLE = Customer.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DECLARED = {"score": Kind.NUMBER, "nps": Kind.INTEGER, "beta": Kind.BOOLEAN, "tier": Kind.STRING}
RESOLVER = customer_resolver(TABLE, now=NOW, custom_traits=DECLARED)


def test_every_typed_trait_column_is_a_fact_of_its_kind() -> None:
    kinds = {String: Kind.STRING, Integer: Kind.INTEGER, BigInteger: Kind.INTEGER}
    kinds |= {UTCDateTime: Kind.INSTANT, Date: Kind.INSTANT}
    internal = {"id", "custom_traits", "trait_times", "created_at", "updated_at"}
    columns = {c.name: kinds[type(c.type)] for c in TABLE.columns if c.name not in internal}
    assert columns == CUSTOMER_TRAITS


def test_instants_are_whole_seconds_since_1970_rounded_down() -> None:
    assert epoch_seconds(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert epoch_seconds(datetime(2026, 3, 2, 9, 0, 0, 999_999, tzinfo=UTC)) == 1_772_442_000
    assert epoch_seconds(date(2026, 3, 2)) == 1_772_409_600
    later = datetime(2026, 3, 2, 10, 0, tzinfo=UTC) - timedelta(hours=1)
    assert epoch_seconds(later.astimezone(UTC)) == 1_772_442_000
    with pytest.raises(ValueError, match="naive"):
        epoch_seconds(datetime(2026, 3, 2))  # noqa: DTZ001 (the point of the test)


def test_a_customer_row_becomes_the_customer_fact_object() -> None:
    row: dict[str, Any] = {
        "external_id": "acme",
        "plan": "pro",
        "seats": 12,
        "email": None,
        "signup_at": datetime(1970, 1, 2, tzinfo=UTC),
        "renewal_on": date(1970, 1, 3),
        "lifecycle_stage": LifecycleStage.LOYALTY,
        "custom_traits": {"score": "95", "nps": 9.0, "beta": True, "tier": "gold", "x": [1]},
    }
    facts = customer_facts(row, custom_traits=DECLARED)
    assert facts == {
        "external_id": "acme",
        "plan": "pro",
        "seats": 12,
        "signup_at": 86_400,
        "renewal_on": 172_800,
        "lifecycle_stage": "loyalty",
        # declared traits only when they hold their kind: score is text, nps a fraction
        "custom": {"beta": True, "tier": "gold", "x": [1]},
    }
    assert type(facts["lifecycle_stage"]) is str


def test_the_resolver_reads_columns_declared_custom_traits_and_now() -> None:
    assert RESOLVER("now") is not None
    assert RESOLVER("now").const == epoch_seconds(NOW)  # type: ignore[union-attr]
    plan = RESOLVER("customer.plan")
    assert plan is not None
    assert (plan.kind, plan.nullable) == ("string", True)
    stage = RESOLVER("customer.lifecycle_stage")
    assert stage is not None
    assert stage.nullable is False
    nps = RESOLVER("customer.custom.nps")
    assert nps is not None
    assert (nps.kind, nps.integral) == ("number", True)
    for unreadable in ("customer.custom.undeclared", "customer.segments", "event.type", "customer"):
        assert RESOLVER(unreadable) is None


def test_a_segment_refuses_what_sql_cannot_do_each_at_its_path() -> None:
    logic = {
        "and": [
            {"in": ["vip", {"var": "customer.segments"}]},
            {"some": [{"var": "customer.milestones"}, {"==": [{"var": ""}, "onboarded"]}]},
            {">": [{"var": "customer.plan"}, 5]},
            {"==": [{"var": "customer.custom.undeclared"}, 1]},
            {"var": "customer.palns"},
        ]
    }
    with pytest.raises(ConditionInvalid) as raised:
        valid_segment_condition(logic, segment_schema(DECLARED), RESOLVER)
    found = [(d["path"], d["type"], d["message"]) for d in raised.value.details]
    assert found == [
        ("$.and[2]", "type", found[0][2]),
        ("$.and[4].var", "fact", "unknown fact customer.palns"),
        ("$.and[0].in[1]", "sql_fact", "customer.segments cannot be read in SQL"),
        ("$.and[1].some[0]", "sql_fact", "customer.milestones cannot be read in SQL"),
        ("$.and[1]", "sql", "'some' works on arrays, which have no SQL form here"),
        ("$.and[2]", "sql", found[5][2]),
        ("$.and[3].==[0]", "sql_fact", "customer.custom.undeclared cannot be read in SQL"),
    ]
    assert "text" in found[0][2]
    assert "text into a number" in found[5][2]
    assert raised.value.details[2]["suggestion"].startswith("segments run in SQL")
