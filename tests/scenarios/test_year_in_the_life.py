"""A year in the life of one customer, with a frozen clock and the scheduled sweeps run as the
scheduler runs them: earning, a tier upgrade, a redemption, a refund reversing a partly spent
grant, lots expiring one at a time (never the whole balance), a renewal quote with the year-one
segment's discount, and a downgrade only after the qualification window and its grace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from rewards.jobs import mature_and_expire
from rewards.renewals.jobs import announce_renewals
from rewards.tiers.jobs import review_tiers
from tests.conftest import START

Make = Callable[..., dict[str, object]]
DAY = timedelta(days=1)
SETUP: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "/v1/segments",
        {
            "key": "year-one",
            "name": "Year-one customers",
            "condition": {
                "<": [
                    {"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]},
                    365 * 86_400,
                ]
            },
        },
    ),
    (
        "PUT",
        "/v1/tier-program",
        {
            "name": "Status",
            "grace_days": 30,
            "tiers": [
                {"key": "silver", "name": "Silver", "threshold": 1_000},
                {
                    "key": "gold",
                    "name": "Gold",
                    "threshold": 3_000,
                    "multiplier_bps": 15_000,
                    "renewal_discount_bps": 1_000,
                },
            ],
        },
    ),
    (
        "PUT",
        "/v1/renewal-discounts",
        {
            "policies": [
                {"key": "y1", "name": "Year one", "segment": "year-one", "discount_bps": 1_500}
            ]
        },
    ),
    (
        "POST",
        "/v1/rules",
        {
            "key": "earn",
            "name": "1 point per dollar, valid 90 days",
            "triggers": ["invoice_paid"],
            "condition": True,
            "actions": [
                {
                    "type": "award_points",
                    "params": {
                        "points": {"per": 100, "of": "event.properties.amount_minor"},
                        "expires_in_days": 90,
                    },
                }
            ],
            "activate": True,
        },
    ),
    (
        "POST",
        "/v1/rules",
        {
            "key": "refunds",
            "name": "A refund takes back the invoice's points",
            "triggers": ["invoice_refunded"],
            "condition": True,
            "actions": [
                {"type": "reverse_grants", "params": {"of_event": "event.properties.invoice_id"}}
            ],
            "activate": True,
        },
    ),
]


class Story:
    def __init__(self, client: TestClient, admin: dict[str, str], clock: FrozenClock) -> None:
        self.client, self.admin, self.clock = client, admin, clock

    def on_day(self, day: int) -> None:
        self.clock.advance(START + day * DAY - self.clock.now())

    def event(self, kind: str, key: str, **properties: Any) -> None:
        event = {
            "type": kind,
            "customer_id": "acme",
            "idempotency_key": key,
            "occurred_at": self.clock.now().isoformat(),
            "properties": properties,
        }
        response = self.client.post("/v1/events", json={"events": [event]}, headers=self.admin)
        assert response.json()["results"][0]["status"] == "accepted", response.text

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def points(self) -> int:
        balances = self.get("/v1/customers/acme/balances")["balances"]
        return int(balances[0]["available"])

    def tier(self) -> str | None:
        found = self.get("/v1/customers/acme/tier")["tier"]
        return found["key"] if found else None


def test_a_year_in_the_life_of_one_customer(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    for method, path, body in SETUP:
        response = client.request(method, path, json=body, headers=admin)
        assert response.status_code in (200, 201), response.text
    make_customer(
        "acme",
        currency="usd",
        billing_customer_id="cus_acme",
        subscription_started_at=START.isoformat(),
        renewal_on=(START + 365 * DAY).date().isoformat(),
    )
    story = Story(client, admin, clock)

    story.event("invoice_paid", "inv-1", amount_minor=120_000)  # day 0: 1,200 points
    assert (story.points(), story.tier()) == (1_200, "silver")

    story.on_day(30)
    story.event("invoice_paid", "inv-2", amount_minor=200_000)  # 2,000 points: 3,200 earned
    assert (story.points(), story.tier()) == (3_200, "gold")

    story.on_day(45)
    redeemed = client.post(
        "/v1/customers/acme/redemptions",
        json={"amount": 1_000, "reason": "conference ticket"},
        headers={**admin, "Idempotency-Key": "ticket"},
    )
    assert redeemed.status_code == 201, redeemed.text  # taken from inv-1's lot, expiring first
    assert story.points() == 2_200

    story.on_day(60)
    story.event("invoice_paid", "inv-3", amount_minor=50_000)  # 500 points at gold's 1.5x
    assert story.points() == 2_950

    story.on_day(70)
    story.event("invoice_refunded", "ref-1", invoice_id="inv-1")
    # inv-1's lot held 200 unspent (removed) and 1,000 already spent (clawed back from the rest).
    assert story.points() == 1_750
    refund = story.get("/v1/customers/acme/decisions")["data"][0]
    assert refund["results"][0]["taken"] == {"points": 1_200}
    assert refund["results"][0]["unrecovered"] == 0
    # Earned for the tier no longer counts inv-1, but a downgrade waits for the window's end.
    assert story.get("/v1/customers/acme/tier")["basis_value"] == 2_000 + 750
    assert story.tier() == "gold"

    story.on_day(121)  # inv-2's lot (1,000 left after the claw-back) expires; inv-3's does not
    assert mature_and_expire() == 1
    assert story.points() == 750
    ledger = story.get("/v1/customers/acme/ledger")["data"]
    assert [(e["kind"], e["amount"]) for e in ledger if e["kind"] == "expire"] == [
        ("expire", -1_000)
    ]

    story.on_day(340)  # the renewal is 25 days away
    assert announce_renewals() == 1
    quote = story.get("/v1/billing/renewal-quote?customer=acme")
    assert quote["discount_bps"] == 1_500  # best of year-one 15% and gold's 10%
    assert [r["discount_bps"] for r in quote["reasons"]] == [1_500, 1_000]

    story.on_day(400)  # inv-3's lot expired on day 150 (written off by this grant's catch-up)
    story.event("invoice_paid", "inv-4", amount_minor=100_000)  # still gold: 1,500 points
    assert (story.points(), story.tier()) == (1_500, "gold")
    # Gold was last qualified for on day 60 (3,950 earned), so until day 425; grace to day 455.
    assert story.get("/v1/customers/acme/tier")["qualified_until"].startswith(
        (START + 425 * DAY).date().isoformat()
    )
    story.on_day(454)
    assert review_tiers() == 0
    story.on_day(455)
    assert review_tiers() == 1
    assert story.tier() == "silver"  # 1,500 earned in the last twelve months
    history = story.get("/v1/customers/acme/tier")["history"]
    assert [(h["from_tier"], h["to_tier"]) for h in history] == [
        ("gold", "silver"),
        ("silver", "gold"),
        (None, "silver"),
    ]
