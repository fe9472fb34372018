"""Fold: the parts of a condition that read no data become the literal they always give."""

from __future__ import annotations

import pytest

from loyalty_engine.rules import LimitExceeded, Literal, Op, Var, parse
from loyalty_engine.rules.fold import fold


def test_constant_parts_fold_and_parts_that_read_data_stay() -> None:
    folded = fold(parse({"and": [{"<": [{"var": "age"}, {"*": [60, 60, 24]}]}, {"!": [0]}]}))
    assert isinstance(folded, Op)
    compare, negation = folded.args
    assert negation == Literal(True, "$.and[1]")
    assert isinstance(compare, Op)
    assert compare.args == (
        Var(("age",), None, "$.and[0].<[0]", "$.and[0].<[0].var"),
        Literal(86400, "$.and[0].<[1]"),
    )


def test_a_loop_over_a_literal_array_folds_even_though_its_body_reads_the_item() -> None:
    folded = fold(parse({"map": [[1, 2, 3], {"*": [{"var": ""}, 2]}]}))
    assert folded == Literal((2, 4, 6), "$")


def test_literal_arrays_fold_to_frozen_tuples() -> None:
    folded = fold(parse({"in": [{"var": "plan"}, ["pro", "enterprise"]]}))
    assert isinstance(folded, Op)
    assert folded.args[1] == Literal(("pro", "enterprise"), "$.in[1]")


def test_objects_from_reduce_are_not_folded() -> None:
    folded = fold(parse({"reduce": [[1], {"var": ""}, 0]}))
    assert isinstance(folded, Op)
    assert folded.op == "reduce"


def test_a_constant_part_over_the_budget_fails_at_compile_time() -> None:
    ten = list(range(10))
    deep = {"map": [ten, {"map": [ten, {"map": [ten, {"map": [ten, {"map": [ten, 1]}]}]}]}]}
    with pytest.raises(LimitExceeded):
        fold(parse(deep))
