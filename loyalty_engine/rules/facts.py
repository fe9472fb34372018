"""The fact schema: what conditions may read, by dotted name, and what kind of value each is."""

# Instants and dates are numbers: whole seconds since 1970-01-01 UTC (a date at its midnight UTC),
# so conditions can do arithmetic on them (`now - customer.signup_at < 30 * 86400`). A family
# (`customer.custom.*`) stands for every name under its prefix. Domains add their facts with
# `FactSchema.with_facts` at start-up; the engine never imports them.

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    INSTANT = "instant"  # integer seconds since 1970-01-01 UTC
    LIST = "list"
    OBJECT = "object"
    ANY = "any"

    @property
    def is_number(self) -> bool:
        return self in (Kind.NUMBER, Kind.INTEGER, Kind.INSTANT)

    @property
    def label(self) -> str:
        return {
            Kind.STRING: "text",
            Kind.INTEGER: "a number",
            Kind.NUMBER: "a number",
            Kind.INSTANT: "an instant (seconds since 1970)",
            Kind.BOOLEAN: "true or false",
            Kind.LIST: "a list",
            Kind.OBJECT: "an object",
            Kind.ANY: "any value",
        }[self]


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact a condition may read: `customer.plan`, or a family such as `customer.custom.*`."""

    name: str
    kind: Kind
    description: str = ""
    members: str = r"[^.]+"  # for a family: what a member's name looks like (a regex)
    members_hint: str = ""  # ... and the same in words

    @property
    def is_family(self) -> bool:
        return self.name.endswith(".*")

    @property
    def prefix(self) -> str:
        return self.name.removesuffix(".*")


@dataclass(frozen=True, slots=True)
class Found:
    fact: Fact
    rest: tuple[str, ...]  # segments read inside the fact's value (an object or list)

    @property
    def kind(self) -> Kind:
        return self.fact.kind if not self.rest else Kind.ANY


class FactSchema:
    def __init__(self, facts: Iterable[Fact]) -> None:
        self.facts: dict[str, Fact] = {fact.name: fact for fact in facts}

    def with_facts(self, *facts: Fact) -> FactSchema:
        return FactSchema([*self.facts.values(), *facts])

    def find(self, name: str) -> Found | None:
        """The fact `name` reads, or None. Exact names win over families; a name may go on
        into a fact that is an object, a list or any value (`event.properties.items.0.sku`)."""
        segments = tuple(name.split("."))
        for cut in range(len(segments), 0, -1):
            head, rest = ".".join(segments[:cut]), segments[cut:]
            fact = self.facts.get(head)
            if fact is not None and (not rest or fact.kind in _CONTAINERS):
                return Found(fact, rest)
            family = self.facts.get(head + ".*")
            if family is not None and rest and re.fullmatch(family.members, rest[0]):
                return Found(family, rest[1:]) if _reaches(family, rest) else None
        return None

    def scalar_prefix(self, name: str) -> Fact | None:
        """The fact a name wrongly reads into (`customer.plan.x`: plan is text, has no fields)."""
        segments = name.split(".")
        for cut in range(len(segments) - 1, 0, -1):
            fact = self.facts.get(".".join(segments[:cut]))
            if fact is not None:
                return fact
        return None

    def family_refusing(self, name: str) -> Fact | None:
        """The family `name` falls under but whose members are not so named (`custom.a-b`)."""
        for fact in self.facts.values():
            member = name.removeprefix(fact.prefix + ".").split(".")[0]
            if fact.is_family and name.startswith(fact.prefix + ".") and member:
                return None if re.fullmatch(fact.members, member) else fact
        return None

    def suggest(self, name: str) -> str | None:
        segments = name.split(".")
        candidates = []
        for fact in self.facts.values():
            if not fact.is_family:
                candidates.append(fact.name)
                continue
            fixed = len(fact.prefix.split("."))
            if len(segments) > fixed:
                candidates.append(".".join([fact.prefix, *segments[fixed:]]))
        candidates = [c for c in candidates if c != name and self.find(c) is not None]
        found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        return found[0] if found else None


_CONTAINERS = (Kind.OBJECT, Kind.LIST, Kind.ANY)


def _reaches(family: Fact, rest: tuple[str, ...]) -> bool:
    """A name under a family reads one member, or goes on inside a member that is a container."""
    return len(rest) == 1 or family.kind in _CONTAINERS


# --- the facts every installation has ---

EVENT_FACTS = (
    Fact("event.type", Kind.STRING, "the event's type, e.g. invoice_paid"),
    Fact("event.source", Kind.STRING, "where the event came from, e.g. stripe"),
    Fact("event.occurred_at", Kind.INSTANT, "when it happened"),
    Fact("event.properties.*", Kind.ANY, "a property of the event"),
)
# The typed trait columns of the customers table, by name and kind.
CUSTOMER_TRAITS: dict[str, Kind] = {
    "external_id": Kind.STRING,
    "email": Kind.STRING,
    "name": Kind.STRING,
    "company": Kind.STRING,
    "plan": Kind.STRING,
    "seats": Kind.INTEGER,
    "mrr_minor": Kind.INTEGER,
    "currency": Kind.STRING,
    "role": Kind.STRING,
    "industry": Kind.STRING,
    "country": Kind.STRING,
    "timezone": Kind.STRING,
    "signup_at": Kind.INSTANT,
    "subscription_started_at": Kind.INSTANT,
    "renewal_on": Kind.INSTANT,
    "billing_customer_id": Kind.STRING,
    "lifecycle_stage": Kind.STRING,
}
CUSTOMER_FACTS = (
    *(Fact(f"customer.{name}", kind, "a customer trait") for name, kind in CUSTOMER_TRAITS.items()),
    Fact(
        "customer.custom.*",
        Kind.ANY,
        "a custom trait",
        members=r"[A-Za-z_][A-Za-z0-9_]{0,63}",
        members_hint="custom trait names are letters, digits and _, not starting with a digit",
    ),
    Fact("customer.segments", Kind.LIST, "keys of the segments the customer is in"),
    Fact("customer.tier", Kind.STRING, "key of the customer's tier"),
    Fact(
        "customer.tier_multiplier_bps",
        Kind.INTEGER,
        "the tier's earning multiplier in basis points (absent without a tier)",
    ),
    Fact("customer.milestones", Kind.LIST, "keys of the milestones the customer reached"),
    Fact("customer.renewals", Kind.INTEGER, "how many times the customer renewed (0 if never)"),
    Fact(
        "customer.balances.*",
        Kind.INTEGER,
        "a balance: points, or a currency (lowercase ISO 4217) in minor units",
        members=r"points|[a-z]{3}",
        members_hint="balances are customer.balances.points or a currency, e.g. .eur",
    ),
)
NOW = Fact("now", Kind.INSTANT, "the time of evaluation")


def rule_schema(custom_traits: Mapping[str, Kind] | None = None) -> FactSchema:
    """What a rule's condition may read: the event, the customer, and now."""
    return FactSchema([*EVENT_FACTS, *CUSTOMER_FACTS, NOW, *_custom(custom_traits)])


def segment_schema(custom_traits: Mapping[str, Kind] | None = None) -> FactSchema:
    """What a segment's condition may read: the customer and now (there is no event)."""
    return FactSchema([*CUSTOMER_FACTS, NOW, *_custom(custom_traits)])


def _custom(custom_traits: Mapping[str, Kind] | None) -> list[Fact]:
    """Declared custom traits: a kind makes them checkable, and translatable to SQL."""
    return [
        Fact(f"customer.custom.{name}", kind, "a declared custom trait")
        for name, kind in (custom_traits or {}).items()
    ]
