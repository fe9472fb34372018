"""Scenario `rules`: evaluations per second of one representative rule condition, three ways in
the same run: compiled by the engine, written by hand as a Python lambda, and interpreted by
`panzi-json-logic` (a pure-Python JSON Logic interpreter; installed with the `bench` extra).

The compiled way is the engine's own path for a stored rule (`compile_python(parse(condition))`,
as `loyalty_engine.rules.engine.compile_rule` does; `jsonlogic.compile` is the same call). Each
way evaluates the same rotating set of fact objects (so no answer can be cached), after a check
that all three agree on every one of them. Each rate is the best of several rounds (the least
disturbed by the rest of the machine), with the median beside it; ratios use the best.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.environment import machine, progress
from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python

YEAR = 365 * 86_400
NOW = 1_772_000_000
# A realistic earning rule: paid plans, a big enough invoice, a team of some size, and either a
# young account or a good industry fit.
CONDITION: dict[str, Any] = {
    "and": [
        {"in": [{"var": "customer.plan"}, ["growth", "scale", "enterprise"]]},
        {">=": [{"var": "event.properties.amount_minor"}, 10_000]},
        {">": [{"var": "customer.seats"}, 5]},
        {
            "or": [
                {"<": [{"-": [{"var": "now"}, {"var": "customer.signup_at"}]}, YEAR]},
                {"==": [{"var": "customer.industry"}, "software"]},
            ]
        },
    ]
}
FACTS = 1_024
ROUNDS = 5
EVALS_PER_ROUND = 100_000
# The targets.
MIN_VS_LAMBDA = 0.3
MIN_VS_PANZI = 10.0


def by_hand(facts: dict[str, Any]) -> bool:
    """The same condition as a Python programmer would write it for these fact objects."""
    customer, event = facts["customer"], facts["event"]
    return (
        customer.get("plan") in ("growth", "scale", "enterprise")
        and event["properties"].get("amount_minor", 0) >= 10_000
        and customer.get("seats", 0) > 5
        and (
            facts["now"] - customer.get("signup_at", 0) < YEAR
            or customer.get("industry") == "software"
        )
    )


def fact_objects(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    plans = ["starter", "growth", "scale", "enterprise"]
    industries = ["software", "retail", "fintech", "media"]
    return [
        {
            "event": {
                "type": "invoice_paid",
                "properties": {"amount_minor": rng.randint(0, 40_000)},
            },
            "customer": {
                "plan": rng.choice(plans),
                "seats": rng.randint(1, 50),
                "industry": rng.choice(industries),
                "signup_at": NOW - rng.randint(0, 3 * YEAR),
            },
            "now": NOW,
        }
        for _ in range(count)
    ]


def interpreter() -> Callable[[Any, Any], Any]:
    try:
        from json_logic import jsonLogic
    except ImportError as exc:  # pragma: no cover - the bench extra is missing
        raise ValueError(
            "the `rules` bench compares with panzi-json-logic: pip install -e '.[bench]'"
        ) from exc
    return jsonLogic  # type: ignore[no-any-return]


Way = Callable[[dict[str, Any]], Any]


def ways() -> dict[str, Way]:
    """The three evaluations of CONDITION: the engine's compiled function, the lambda, panzi."""
    panzi = interpreter()
    return {
        "compiled": compile_python(parse(CONDITION)),
        "lambda": by_hand,
        "panzi": lambda data: panzi(CONDITION, data),
    }


def agreed_answers(ways: Mapping[str, Way], facts: list[dict[str, Any]]) -> list[bool]:
    """The answers (JSON Logic truthiness) every way gives on every fact object; RuntimeError
    naming the first disagreement otherwise (timing ways that disagree would mean nothing)."""
    answers = {name: [truthy(way(f)) for f in facts] for name, way in ways.items()}
    first, *others = answers
    for name in others:
        for n, (expected, got) in enumerate(zip(answers[first], answers[name], strict=True)):
            if expected != got:
                raise RuntimeError(
                    f"{name} answers {got} but {first} answers {expected} on fact object {n}: "
                    f"{facts[n]}"
                )
    return answers[first]


def run(
    *, show_progress: bool, evals: int = EVALS_PER_ROUND, rounds: int = ROUNDS
) -> dict[str, Any]:
    facts = fact_objects(FACTS)
    timed = ways()
    answers = agreed_answers(timed, facts)
    figures: dict[str, dict[str, Any]] = {}
    with progress(show=show_progress) as bar:
        for name, way in timed.items():
            count = evals // 20 if name == "panzi" else evals  # the interpreter is far slower
            task = bar.add_task(name, total=rounds)
            times = []
            for _ in range(rounds):
                times.append(_timed(way, facts, count))
                bar.advance(task)
            best = min(times)
            figures[name] = {
                "evals": count,
                "rounds": rounds,
                "ns_per_eval": round(best / count, 1),
                "evals_per_s": round(count / (best / 1e9)),
                "median_evals_per_s": round(count / (statistics.median(times) / 1e9)),
            }
    vs_lambda = figures["compiled"]["evals_per_s"] / figures["lambda"]["evals_per_s"]
    vs_panzi = figures["compiled"]["evals_per_s"] / figures["panzi"]["evals_per_s"]
    return {
        "scenario": "rules",
        "machine": machine(),
        "condition": CONDITION,
        "statistic": f"evals_per_s is the best of {rounds} rounds; ratios use it",
        "fact_objects": FACTS,
        "matches": sum(answers),
        **figures,
        "compiled_vs_lambda": round(vs_lambda, 3),
        "compiled_vs_panzi": round(vs_panzi, 1),
        "targets": {
            "compiled_vs_lambda": {"min": MIN_VS_LAMBDA, "target_met": vs_lambda >= MIN_VS_LAMBDA},
            "compiled_vs_panzi": {"min": MIN_VS_PANZI, "target_met": vs_panzi >= MIN_VS_PANZI},
        },
    }


def _timed(way: Callable[[dict[str, Any]], Any], facts: list[dict[str, Any]], count: int) -> int:
    """Nanoseconds for `count` evaluations over the rotating fact objects."""
    size = len(facts)
    started = time.perf_counter_ns()
    for n in range(count):
        way(facts[n % size])
    return time.perf_counter_ns() - started
