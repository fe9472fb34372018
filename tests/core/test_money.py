"""Integer money: basis points round down, splits always add up to the whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.money import (
    apply_bps_floor,
    normalize_currency,
    per_unit_floor,
    split_largest_remainder,
)


def test_bps_rounds_down() -> None:
    assert apply_bps_floor(999, 1_500) == 149  # 149.85 -> 149
    assert apply_bps_floor(10_000, 10_000) == 10_000
    assert apply_bps_floor(0, 2_500) == 0


def test_per_unit_rounds_down() -> None:
    assert per_unit_floor(12_345, per=100) == 123
    assert per_unit_floor(99, per=100) == 0
    assert per_unit_floor(1_000, per=100, unit=5) == 50
    with pytest.raises(ValueError, match="positive"):
        per_unit_floor(10, per=0)


@pytest.mark.parametrize("bad", [1.5, True, "10"])
def test_floats_and_lookalikes_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        apply_bps_floor(bad, 100)  # type: ignore[arg-type]


def test_currency_codes() -> None:
    assert normalize_currency(" USD ") == "usd"
    for bad in ("us", "dollars", "u5d", ""):
        with pytest.raises(ValueError, match="ISO 4217"):
            normalize_currency(bad)


def test_split_example() -> None:
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert split_largest_remainder(10, [0, 5, 5]) == [0, 5, 5]
    with pytest.raises(ValueError, match="not all zero"):
        split_largest_remainder(10, [0, 0])


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
        sum
    ),
)
def test_split_always_sums_to_total_and_stays_within_one_of_fair_share(
    total: int, weights: list[int]
) -> None:
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        fair_floor = total * weight // weight_sum
        assert fair_floor <= part <= fair_floor + 1


@given(
    amount=st.integers(min_value=0, max_value=10**15),
    bps=st.integers(min_value=0, max_value=10_000),
)
def test_discount_never_exceeds_exact_value(amount: int, bps: int) -> None:
    discount = apply_bps_floor(amount, bps)
    assert discount * 10_000 <= amount * bps < (discount + 1) * 10_000
