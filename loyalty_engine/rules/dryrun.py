"""Dry runs: what a rule (saved or draft) would decide for an event, writing nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.customers.models import Customer
from loyalty_engine.events.reactors import StoredEvent
from loyalty_engine.rules.engine import CompiledRule, RulesEngine, event_facts
from loyalty_engine.rules.evaluate import evaluate
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python
from loyalty_engine.rules.schemas import Limits, RuleFields


def draft_rule(fields: RuleFields, engine: RulesEngine) -> CompiledRule:
    node = parse(fields.condition)
    bound, _ = engine.catalog.actions.bind([a.model_dump() for a in fields.actions])
    return CompiledRule(
        rule_id=0,
        version_id=0,
        key="(draft)",
        version=0,
        triggers=frozenset(fields.triggers),
        node=node,
        holds=compile_python(node),
        actions=tuple(bound),
        limits=Limits.model_validate(fields.limits.model_dump()),
        priority=fields.priority,
        stop_after_match=fields.stop_after_match,
        segment=fields.segment,
        active_from=fields.active_from,
        active_until=fields.active_until,
    )


def dry_run(
    session: Session,
    *,
    engine: RulesEngine,
    rule: CompiledRule,
    event_type: str,
    properties: dict[str, Any],
    occurred_at: datetime,
    customer: Customer | None,
    now: datetime,
) -> dict[str, Any]:
    """The decision and its trace; limits and budgets are reported as configured, not charged."""
    customer_id = customer.id if customer is not None and customer.id is not None else 0
    customer_external_id = customer.external_id if customer is not None else None
    facts_of_customer: dict[str, Any] = {"custom": {}}
    if customer_id:
        facts_of_customer = engine.customer_facts(session, [customer_id], now)[customer_id]
    event = StoredEvent(
        0, customer_id, customer_external_id or "", event_type, "dry-run", occurred_at, properties
    )
    facts = event_facts(event, facts_of_customer, now)
    explained = evaluate(rule.node, facts)
    reasons = []
    if event_type not in rule.triggers:
        reasons.append(f"the rule is not triggered by {event_type!r}")
    if not rule.in_window(occurred_at):
        reasons.append("the event is outside the rule's active window")
    if rule.segment is not None and rule.segment not in facts_of_customer.get("segments", ()):
        reasons.append(f"the customer is not in segment {rule.segment!r}")
    if not explained.holds:
        reasons.append("the condition does not hold")
    matched = not reasons
    grants = [g for g in (a.preview(facts) for a in rule.actions) if g is not None]
    return {
        "matched": matched,
        "reasons": reasons,
        "would_grant": [{"unit": g.unit, "amount": g.amount} for g in grants] if matched else [],
        "actions": [a.spec.name for a in rule.actions],
        "limits": rule.limits.model_dump(exclude_none=True),
        "decision": explained.to_json(),
        "facts": facts,
    }
