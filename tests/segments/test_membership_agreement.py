"""Python membership at event time equals SQL membership (count and members), on both databases:
for generated segments over generated customers, and for the segments the product documents.

Both sides go through the product's own paths: SQL through `count_members`/`list_members` (the
functions behind /count and /members), Python through the rules engine's `customer_facts` with
the segment catalog as fact provider and the declared traits as its cache reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from loyalty_engine.customers.models import Customer
from loyalty_engine.rules.actions import ActionRegistry
from loyalty_engine.rules.customer_facts import epoch_seconds
from loyalty_engine.rules.engine import RuleCatalog, RulesEngine
from loyalty_engine.rules.errors import ConditionInvalid
from loyalty_engine.rules.fold import fold
from loyalty_engine.rules.parse import parse
from loyalty_engine.segments.catalog import SegmentCatalog
from loyalty_engine.segments.declarations import DeclaredTraits
from loyalty_engine.segments.membership import membership_filter
from loyalty_engine.segments.models import CustomTraitDeclaration, Segment
from loyalty_engine.segments.ranges import instant_range
from loyalty_engine.segments.service import count_members, list_members
from tests.rules import segment_strategies as generated

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
DECLARATIONS = CustomTraitDeclaration.__table__  # type: ignore[attr-defined]
SEGMENTS = Segment.__table__  # type: ignore[attr-defined]
NOW = generated.NOW
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
STORED: dict[str, Any] = {
    **dict.fromkeys(["role", "seats", "plan", "signup_at", "subscription_started_at"]),
    "renewal_on": None,
    "created_at": CREATED,
    "updated_at": CREATED,
    "trait_times": {},
    "custom_traits": {},
    "lifecycle_stage": "awareness",
}


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """One transaction, rolled back: nothing a test writes stays."""
    with Session(bind=engine) as session:
        yield session
        session.rollback()


def store(session: Session, rows: list[dict[str, Any]], segments: dict[str, Any]) -> None:
    """The declared traits of the strategies, these customers and these segments."""
    session.execute(
        insert(DECLARATIONS),
        [
            {
                "name": name,
                "kind": str(kind),
                "description": "",
                "created_at": CREATED,
                "updated_at": CREATED,
            }
            for name, kind in generated.DECLARED.items()
        ],
    )
    customers = [{**STORED, "external_id": f"c{i:02d}", **row} for i, row in enumerate(rows)]
    session.execute(insert(CUSTOMERS), customers)
    session.execute(
        insert(SEGMENTS),
        [
            {
                "key": key,
                "name": key,
                "description": "",
                "condition": condition,
                "created_by": "t",
                "created_at": CREATED,
                "updated_at": CREATED,
            }
            for key, condition in segments.items()
        ],
    )


def in_python(session: Session, now: datetime) -> dict[str, list[str]]:
    """Each customer's segments as the rules engine sees them at event time."""
    engine = RulesEngine(
        RuleCatalog(ActionRegistry()),
        facts=[SegmentCatalog().segment_facts],
        declared_kinds=DeclaredTraits().kinds,
    )
    rows = session.execute(select(CUSTOMERS.c.id, CUSTOMERS.c.external_id)).all()
    external = {int(pk): str(external_id) for pk, external_id in rows}
    facts = engine.customer_facts(session, list(external), now)
    return {external[i]: f["segments"] for i, f in facts.items()}


def in_sql(session: Session, key: str, now: datetime) -> list[str]:
    members, cursor = [], None
    while True:
        page, cursor = list_members(session, key=key, now=now, cursor=cursor, limit=3)
        members += [c.id for c in page]
        if cursor is None:
            break
    assert count_members(session, key=key, now=now) == len(members)
    return members


def test_python_and_sql_membership_agree_on_generated_segments(engine: Engine) -> None:
    outcomes = {"compared": 0, "refused": 0}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(rows=generated.customers(), logic=generated.conditions(3))
    def agree(rows: list[dict[str, Any]], logic: Any) -> None:
        try:
            membership_filter(parse(logic), now=NOW, custom_traits=generated.DECLARED)
        except ConditionInvalid:
            outcomes["refused"] += 1
            return
        with Session(bind=engine) as session:
            store(session, rows, {"s": logic})
            python = sorted(c for c, keys in in_python(session, NOW).items() if "s" in keys)
            assert python == in_sql(session, "s", NOW), json.dumps(logic)
            session.rollback()
        outcomes["compared"] += 1

    agree()
    assert outcomes["compared"] >= 0.5 * sum(outcomes.values()), outcomes


DAY = 86_400
DOCUMENTED = {
    "high-adoption": {">=": [{"var": "customer.custom.nps"}, 9]},
    "administrators": {"==": [{"var": "customer.role"}, "admin"]},
    "year-one": {
        "<": [{"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]}, 365 * DAY]
    },
    "renewing-soon": {
        "and": [
            {"!": {"missing": ["customer.renewal_on"]}},
            {"<=": [{"-": [{"var": "customer.renewal_on"}, {"var": "now"}]}, 30 * DAY]},
        ]
    },
    "beta-growth": {
        "and": [
            {"var": "customer.custom.beta"},
            {"in": [{"var": "customer.plan"}, ["growth", "scale"]]},
            {">=": [{"var": "customer.seats"}, 10]},
        ]
    },
}
PEOPLE = [
    {
        "role": "admin",
        "subscription_started_at": NOW - timedelta(days=364, hours=23),
        "custom_traits": {"nps": 9},
    },
    {
        "role": "admin",
        "subscription_started_at": NOW - timedelta(days=365),
        "custom_traits": {"nps": "10"},
    },
    {
        "role": "member",
        "renewal_on": (NOW + timedelta(days=30)).date(),
        "custom_traits": {"nps": 9.5, "beta": True},
    },
    {
        "plan": "growth",
        "seats": 10,
        "renewal_on": (NOW + timedelta(days=31)).date(),
        "custom_traits": {"beta": True},
    },
    {"plan": "scale", "seats": 9, "custom_traits": {"beta": "yes"}},
    {
        "plan": "growth",
        "seats": 40,
        "subscription_started_at": NOW + timedelta(days=2),
        "custom_traits": {"beta": False},
    },
]


@pytest.mark.parametrize("days_later", [0, 1, 400])
def test_the_documented_segments_agree_as_time_passes(session: Session, days_later: int) -> None:
    store(session, PEOPLE, DOCUMENTED)
    now = NOW + timedelta(days=days_later)
    python = in_python(session, now)
    for key in DOCUMENTED:
        assert sorted(c for c, keys in python.items() if key in keys) == in_sql(
            session, key, now
        ), key
    if days_later == 0:
        assert python == {
            "c00": ["administrators", "high-adoption", "year-one"],
            "c01": ["administrators"],  # exactly a year: no longer year one; nps is text
            "c02": ["renewing-soon"],  # nps 9.5 is not an integer, as declared: missing
            "c03": ["beta-growth"],
            "c04": [],
            "c05": ["year-one"],  # subscribes in two days; beta is false
        }


INSTANTS = ["signup_at", "subscription_started_at", "renewal_on"]
BOUNDS = [0, 1, 59, 86_400, 30 * DAY, 365 * DAY, -DAY, 1_700_000_000]


@st.composite
def instant_bounds(draw: st.DrawFn) -> tuple[Any, list[dict[str, Any]]]:
    """A bound on an instant trait relative to now, and customers on either side of it."""
    trait = draw(st.sampled_from(INSTANTS))
    fact = {"var": f"customer.{trait}"}
    bound = draw(st.sampled_from(BOUNDS))
    shape = draw(st.sampled_from(["now - x", "x - now", "x"]))
    left = {"now - x": {"-": [{"var": "now"}, fact]}, "x - now": {"-": [fact, {"var": "now"}]}}
    expression = left.get(shape, fact)
    op = draw(st.sampled_from(["<", "<=", ">", ">="]))
    literal = draw(st.sampled_from([bound, float(bound), {"*": [bound, 1]}]))
    logic = {op: [literal, expression] if draw(st.booleans()) else [expression, literal]}
    # where the trait sits when the condition is on its edge, give or take a little
    edge = {"now - x": -bound, "x - now": bound}.get(shape, bound - epoch_seconds(NOW))
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 5)) == 0:
            rows.append({})
            continue
        seconds = edge + draw(st.sampled_from([-86_401, -2, -1, 0, 1, 2, 86_399, 86_400]))
        micro = draw(st.sampled_from([0, 1, 500_000, 999_999]))
        at = NOW + timedelta(seconds=seconds, microseconds=micro)
        rows.append({trait: at.date() if trait == "renewal_on" else at})
    return logic, rows


def test_instant_bounds_translate_to_column_ranges_that_agree_with_python(engine: Engine) -> None:
    @settings(max_examples=200, deadline=None, database=None)
    @given(case=instant_bounds())
    def agree(case: tuple[Any, list[dict[str, Any]]]) -> None:
        logic, rows = case
        folded = fold(parse(logic))
        assert instant_range(folded, CUSTOMERS, now_seconds=epoch_seconds(NOW)) is not None
        with Session(bind=engine) as session:
            store(session, rows, {"s": logic})
            python = sorted(c for c, keys in in_python(session, NOW).items() if "s" in keys)
            assert python == in_sql(session, "s", NOW), (logic, rows)
            session.rollback()

    agree()


def test_other_shapes_take_the_general_translation() -> None:
    now = epoch_seconds(NOW)
    for logic in (
        {"<": [{"-": [{"var": "now"}, {"var": "customer.signup_at"}]}, 0.5]},  # not whole
        {"<": [{"-": [{"var": "now"}, {"var": "customer.seats"}]}, 5]},  # not an instant
        {"<": [{"var": ["customer.signup_at", 5]}, 5]},  # a default
        {"<": [{"var": "customer.signup_at"}, 5, 9]},  # between
        {"<": [{"var": "customer.signup_at"}, 10**15]},  # beyond the calendar
        {"==": [{"var": "customer.signup_at"}, 5]},
    ):
        assert instant_range(fold(parse(logic)), CUSTOMERS, now_seconds=now) is None, logic
