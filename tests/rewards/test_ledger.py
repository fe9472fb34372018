"""The pure ledger arithmetic: spend order, maturity, expiry, and reversal plans by policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.ledger import (
    Allocation,
    Lot,
    ReversalPolicy,
    Take,
    allocate_spend,
    debt_repayment,
    expired,
    matured,
    normalize_unit,
    reversal_plan,
    spend_order,
    used,
)
from tests.conftest import START

NOW = START
DAY = timedelta(days=1)


def lot(
    id_: int,
    remaining: int,
    *,
    amount: int | None = None,
    expires_in: int | None = None,
    age: int = 0,
    is_pending: bool = False,
    matures_at: datetime | None = None,
) -> Lot:
    """A lot created `age` days ago that expires in `expires_in` days (never when None)."""
    return Lot(
        id=id_,
        amount=remaining if amount is None else amount,
        remaining=remaining,
        created_at=NOW - age * DAY,
        matures_at=matures_at,
        expires_at=None if expires_in is None else NOW + expires_in * DAY,
        is_pending=is_pending,
    )


def test_a_spend_takes_the_earliest_expiring_lots_first_and_never_expiring_ones_last() -> None:
    lots = [lot(1, 50), lot(2, 30, expires_in=20), lot(3, 40, expires_in=5), lot(4, 10, age=9)]
    assert allocate_spend(lots, 60, NOW) == [Take(3, 40), Take(2, 20)]
    assert allocate_spend(lots, 75, NOW) == [Take(3, 40), Take(2, 30), Take(4, 5)]


def test_lots_that_expire_together_are_taken_oldest_first() -> None:
    lots = [lot(7, 10, expires_in=3, age=1), lot(8, 10, expires_in=3, age=2)]
    assert allocate_spend(lots, 15, NOW) == [Take(8, 10), Take(7, 5)]


def test_pending_expired_and_empty_lots_are_not_spent() -> None:
    lots = [
        lot(1, 10, is_pending=True, matures_at=NOW + DAY),
        lot(2, 10, expires_in=0),  # expires at this very instant
        lot(3, 0, amount=10),
        lot(4, 10, expires_in=1),
    ]
    assert allocate_spend(lots, 30, NOW) == [Take(4, 10)]


@given(
    remainders=st.lists(st.integers(0, 50), max_size=8),
    expiries=st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=8, max_size=8),
    amount=st.integers(1, 300),
)
def test_allocation_is_a_prefix_of_the_spend_order(
    remainders: list[int], expiries: list[int | None], amount: int
) -> None:
    lots = [lot(i, r, expires_in=expiries[i], amount=50) for i, r in enumerate(remainders)]
    takes = allocate_spend(lots, amount, NOW)
    assert sum(t.amount for t in takes) == min(amount, sum(remainders))
    ordered = [x for x in sorted(lots, key=spend_order) if x.remaining > 0]
    assert [t.lot_id for t in takes] == [x.id for x in ordered[: len(takes)]]
    # every lot but the last one touched is emptied
    assert all(t.amount == ordered[i].remaining for i, t in enumerate(takes[:-1]))


def test_matured_and_expired_pick_only_due_lots_in_order() -> None:
    held = [
        lot(1, 5, is_pending=True, matures_at=NOW),
        lot(2, 5, is_pending=True, matures_at=NOW + DAY),
        lot(3, 5, is_pending=True, matures_at=NOW - DAY),
        lot(4, 5, matures_at=NOW - DAY),  # already available
    ]
    assert [x.id for x in matured(held, NOW)] == [3, 1]
    open_lots = [lot(1, 5, expires_in=-1), lot(2, 5, expires_in=1), lot(3, 5, expires_in=-2)]
    assert [x.id for x in expired(open_lots, NOW)] == [3, 1]


def test_a_debt_is_repaid_from_a_new_lot_up_to_its_size() -> None:
    assert debt_repayment(30, lot(1, 100)) == [Take(1, 30)]
    assert debt_repayment(300, lot(1, 100)) == [Take(1, 100)]
    assert debt_repayment(0, lot(1, 100)) == []


def test_used_leaves_out_a_lots_own_expiry_and_reversal() -> None:
    allocations = [
        Allocation(1, 30, is_removal=False),
        Allocation(1, 20, is_removal=True),
        Allocation(2, 5, is_removal=False),
        Allocation(1, 7, is_removal=False),
    ]
    assert used(allocations) == {1: 37, 2: 5}


def test_reversal_removes_the_unspent_part_and_claws_back_the_spent_part() -> None:
    source = [lot(1, 40, amount=100, expires_in=10)]
    spent = [Allocation(1, 60, is_removal=False)]
    others = [lot(2, 25, expires_in=3), lot(3, 100)]
    (plan,) = reversal_plan(
        source, spent, ReversalPolicy.ALLOW_NEGATIVE, others=[*source, *others], now=NOW
    )
    assert (plan.removed, plan.clawed, plan.owed, plan.unrecovered) == (
        40,
        (Take(2, 25), Take(3, 35)),
        0,
        0,
    )
    assert plan.available_change == -100
    assert plan.takes == (Take(1, 40), Take(2, 25), Take(3, 35))


@pytest.mark.parametrize(
    ("policy", "owed", "unrecovered", "change"),
    [
        (ReversalPolicy.ALLOW_NEGATIVE, 50, 0, -80),
        (ReversalPolicy.CLAW_BACK_TO_ZERO, 0, 50, -30),
    ],
)
def test_what_cannot_be_clawed_back_is_owed_or_recorded_by_policy(
    policy: ReversalPolicy, owed: int, unrecovered: int, change: int
) -> None:
    source = [lot(1, 0, amount=100)]
    spent = [Allocation(1, 80, is_removal=False), Allocation(1, 20, is_removal=True)]
    (plan,) = reversal_plan(source, spent, policy, others=[lot(2, 30)], now=NOW)
    assert (plan.removed, plan.owed, plan.unrecovered) == (0, owed, unrecovered)
    assert plan.clawed == (Take(2, 30),)
    assert plan.available_change == change


def test_lots_of_one_source_do_not_claw_back_from_each_other() -> None:
    source = [lot(1, 0, amount=50), lot(2, 50, amount=50)]
    spent = [Allocation(1, 50, is_removal=False)]
    plans = reversal_plan(
        source, spent, ReversalPolicy.CLAW_BACK_TO_ZERO, others=[source[1], lot(3, 20)], now=NOW
    )
    assert [(p.lot_id, p.removed, p.clawed, p.unrecovered) for p in plans] == [
        (1, 0, (Take(3, 20),), 30),
        (2, 50, (), 0),
    ]


def test_a_pending_lot_is_reversed_out_of_pending() -> None:
    source = [lot(1, 70, is_pending=True, matures_at=NOW + DAY)]
    (plan,) = reversal_plan(source, [], ReversalPolicy.ALLOW_NEGATIVE, others=[], now=NOW)
    assert (plan.pending_change, plan.available_change, plan.is_noop) == (-70, 0, False)


def test_units_are_points_or_a_lowercase_currency() -> None:
    assert normalize_unit("points") == "points"
    assert normalize_unit(" USD ") == "usd"
    with pytest.raises(ValueError, match="currency"):
        normalize_unit("point")
