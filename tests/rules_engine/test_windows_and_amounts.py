"""Limit windows and computed amounts: pure functions of their inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from loyalty_engine.rules.amounts import PerUnit, read_fact, resolve
from loyalty_engine.rules.windows import Calendar, calendar_period, rolling_start

AT = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("unit", "key", "start", "end"),
    [
        (Calendar.DAY, "2026-02-28", (2026, 2, 28), (2026, 3, 1)),
        (Calendar.WEEK, "2026-W09", (2026, 2, 23), (2026, 3, 2)),
        (Calendar.MONTH, "2026-02", (2026, 2, 1), (2026, 3, 1)),
        (Calendar.QUARTER, "2026-Q1", (2026, 1, 1), (2026, 4, 1)),
        (Calendar.YEAR, "2026", (2026, 1, 1), (2027, 1, 1)),
    ],
)
def test_calendar_periods(
    unit: Calendar, key: str, start: tuple[int, int, int], end: tuple[int, int, int]
) -> None:
    period = calendar_period(unit, AT)
    assert (period.key, period.starts_at, period.ends_at) == (
        key,
        datetime(*start, tzinfo=UTC),
        datetime(*end, tzinfo=UTC),
    )


def test_periods_are_taken_in_utc() -> None:
    berlin_new_year = datetime(2027, 1, 1, 0, 30, tzinfo=UTC) + timedelta(hours=-1)
    assert calendar_period(Calendar.YEAR, berlin_new_year).key == "2026"


@given(
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    unit=st.sampled_from(list(Calendar)),
)
def test_every_instant_lies_in_its_period(at: datetime, unit: Calendar) -> None:
    period = calendar_period(unit, at)
    assert period.starts_at <= at < period.ends_at
    assert calendar_period(unit, period.ends_at).starts_at == period.ends_at  # periods tile


def test_rolling_windows() -> None:
    assert rolling_start(30, AT) == AT - timedelta(days=30)
    with pytest.raises(ValueError, match="at least one day"):
        rolling_start(0, AT)


def test_fixed_amounts_and_per_unit_amounts_round_down() -> None:
    facts = {"event": {"properties": {"amount_minor": 12_999}}}
    assert resolve(500, facts) == 500
    per = PerUnit(per=100, of="event.properties.amount_minor")
    assert resolve(per, facts) == 129
    assert (
        resolve(PerUnit(per=100, of="event.properties.amount_minor", units=2, max=200), facts)
        == 200
    )


@pytest.mark.parametrize("value", [None, -100, True, 12.5, "100"])
def test_unusable_facts_grant_nothing(value: object) -> None:
    facts = {"event": {"properties": {"amount_minor": value}}}
    assert resolve(PerUnit(per=100, of="event.properties.amount_minor"), facts) == 0


def test_per_unit_parameters_are_checked() -> None:
    with pytest.raises(ValidationError):
        PerUnit(per=0, of="event.properties.amount_minor")
    with pytest.raises(ValidationError):
        PerUnit.model_validate({"per": 100, "of": "amount; import os"})
    with pytest.raises(ValidationError):
        PerUnit.model_validate({"per": 1.5, "of": "event.properties.x"})


def test_read_fact_walks_dotted_paths() -> None:
    facts = {"customer": {"plan": "growth", "custom": {"nps": 9}}}
    assert read_fact(facts, "customer.custom.nps") == 9
    assert read_fact(facts, "customer.missing.deeper") is None
