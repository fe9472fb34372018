"""The Stripe webhook inbox: signatures both ways in time, one row per event id, processing in
any order with one effect, and each handled type turned into our events."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.billing.delivery import APPLY_RENEWAL_DISCOUNT
from loyalty_engine.billing.inbox import handlers
from loyalty_engine.billing.inbox.handlers import subscription_traits
from loyalty_engine.billing.inbox.models import InboxStatus, StripeWebhookEvent
from loyalty_engine.billing.inbox.service import InboxReport, process_pending
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.runtime import Runtime
from tests.stripe_emulator.emulator import StripeEmulator

SECRET = "whsec_current"
PREVIOUS = "whsec_previous"
Make = Callable[..., dict[str, object]]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        stripe_webhook_secret=SECRET,
        stripe_webhook_secret_previous=PREVIOUS,
    )


@pytest.fixture
def emulator(clock: FrozenClock) -> Iterator[StripeEmulator]:
    # Not started: used to build Stripe-shaped events and signatures only.
    return StripeEmulator(now=lambda: int(clock.now().timestamp()))


class Webhooks:
    def __init__(self, client: TestClient, emulator: StripeEmulator, runtime: Runtime) -> None:
        self.client, self.emulator, self.runtime = client, emulator, runtime

    def post(
        self,
        event: dict[str, Any],
        *,
        secret: str = SECRET,
        at: int | None = None,
        header: str | None = None,
    ) -> Any:
        payload = json.dumps(event).encode()
        stamp = self.emulator.now() if at is None else at
        signature = self.emulator.sign(payload, secret, stamp) if header is None else header
        headers = {"Stripe-Signature": signature} if signature else {}
        return self.client.post("/v1/billing/stripe/webhook", content=payload, headers=headers)

    def send(self, type_: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        event = self.emulator.build_event(type_, obj, **kwargs)
        response = self.post(event)
        assert response.status_code == 200, response.text
        return event

    def process(self) -> InboxReport:
        return process_pending(self.runtime)

    def rows(self) -> list[StripeWebhookEvent]:
        with session_scope(self.runtime.engine, write=False) as session:
            stmt = select(StripeWebhookEvent).order_by(StripeWebhookEvent.id)  # type: ignore[arg-type]
            return list(session.execute(stmt).scalars())

    def events(self, type_: str) -> list[Event]:
        with session_scope(self.runtime.engine, write=False) as session:
            stmt = select(Event).where(Event.type == type_).order_by(Event.id)  # type: ignore[arg-type]
            return list(session.execute(stmt).scalars())


@pytest.fixture
def hooks(client: TestClient, emulator: StripeEmulator, runtime: Runtime) -> Webhooks:
    return Webhooks(client, emulator, runtime)


def subscription(
    customer: str,
    *,
    sub_id: str = "sub_1",
    price: str = "price_team",
    amount: int = 10_000,
    interval: str = "month",
    quantity: int = 1,
    period_end: datetime = datetime(2027, 3, 2, tzinfo=UTC),
    status: str = "active",
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "quantity": quantity,
                    "current_period_end": int(period_end.timestamp()),
                    "price": {
                        "id": price,
                        "object": "price",
                        "lookup_key": price.removeprefix("price_"),
                        "currency": "usd",
                        "unit_amount": amount,
                        "recurring": {"interval": interval, "interval_count": 1},
                    },
                }
            ],
        },
    }


def invoice(
    customer: str,
    *,
    invoice_id: str = "in_1",
    amount: int = 10_000,
    reason: str = "subscription_cycle",
) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "amount_paid": amount,
        "amount_due": amount,
        "currency": "usd",
        "billing_reason": reason,
        "period_end": int(datetime(2027, 3, 2, tzinfo=UTC).timestamp()),
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_1", "metadata": {}},
        },
        "payments": {
            "object": "list",
            "data": [{"payment": {"type": "payment_intent", "payment_intent": f"pi_{invoice_id}"}}],
        },
    }


# -- signatures ---------------------------------------------------------------------------------


def test_only_valid_signatures_are_accepted_and_nothing_else_is_written(
    hooks: Webhooks, emulator: StripeEmulator
) -> None:
    now = emulator.now()

    def event() -> dict[str, Any]:
        return emulator.build_event("customer.created", {"id": "cus_1", "object": "customer"})

    cases = {
        "valid": (hooks.post(event()), 200, None),
        "rotated": (hooks.post(event(), secret=PREVIOUS), 200, None),
        "wrong secret": (hooks.post(event(), secret="whsec_wrong"), 400, "signature_mismatch"),
        "stale": (hooks.post(event(), at=now - 301), 400, "timestamp_outside_tolerance"),
        "future": (hooks.post(event(), at=now + 301), 400, "timestamp_outside_tolerance"),
        "malformed": (hooks.post(event(), header="garbage"), 400, "signature_malformed"),
        "no v1": (hooks.post(event(), header=f"t={now}"), 400, "signature_malformed"),
        "missing": (hooks.post(event(), header=""), 400, "signature_missing"),
    }
    for name, (response, status, code) in cases.items():
        assert response.status_code == status, name
        if code is not None:
            assert response.json()["error"]["code"] == code, name
    assert hooks.post(event(), at=now - 299).status_code == 200  # inside the tolerance
    assert len(hooks.rows()) == 3


def test_a_signed_payload_that_is_not_a_stripe_event_is_refused(hooks: Webhooks) -> None:
    for body in ({"hello": "world"}, {"id": "evt_1", "type": "x", "created": "soon"}):
        response = hooks.post(body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "payload_invalid"
    assert hooks.rows() == []


def test_without_a_secret_the_endpoint_is_unavailable(
    client: TestClient, runtime: Runtime, emulator: StripeEmulator
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"stripe_webhook_secret": None, "stripe_webhook_secret_previous": None}
    )
    response = Webhooks(client, emulator, runtime).post({"id": "evt_1"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stripe_webhook_not_configured"


# -- once, in any order -------------------------------------------------------------------------


def test_twenty_deliveries_of_one_event_have_one_effect(
    hooks: Webhooks, make_customer: Make
) -> None:
    make_customer("acme", billing_customer_id="cus_acme")
    event = hooks.emulator.build_event("invoice.paid", invoice("cus_acme"))
    answers = [hooks.post(event).json() for _ in range(20)]
    assert answers[0] == {"received": True, "duplicate": False}
    assert all(a == {"received": True, "duplicate": True} for a in answers[1:])
    assert len(hooks.rows()) == 1
    # Stripe may also send the same invoice in another event (a retried delivery gets the same
    # id, but a resent one does not): one invoice_paid still.
    hooks.send("invoice.paid", invoice("cus_acme"))
    report = hooks.process()
    assert report.processed == 2
    [paid] = hooks.events("invoice_paid")
    assert paid.properties["amount_minor"] == 10_000
    assert paid.properties["subscription_id"] == "sub_1"
    assert paid.properties["first_paid_invoice"] is True
    assert hooks.process().claimed == 0


def test_a_shuffled_order_of_one_subscriptions_events_ends_in_the_same_state(
    hooks: Webhooks, make_customer: Make, clock: FrozenClock, client: TestClient, admin: Any
) -> None:
    start = hooks.emulator.now() - 1_000
    created = ("customer.subscription.created", subscription("X"), start)
    upgraded = (
        "customer.subscription.updated",
        subscription("X", price="price_pro", amount=30_000, quantity=2),
        start + 60,
    )
    yearly = (
        "customer.subscription.updated",
        subscription("X", price="price_pro_year", amount=240_000, interval="year", quantity=2),
        start + 120,
    )
    states = set()
    for n, order in enumerate(itertools.permutations([created, upgraded, yearly])):
        billing_id = f"cus_{n}"
        make_customer(f"c{n}", billing_customer_id=billing_id)
        for type_, obj, at in order:
            hooks.send(type_, {**obj, "customer": billing_id, "id": f"sub_{n}"}, created=at)
            hooks.process()  # each as it arrives
        body = client.get(f"/v1/customers/c{n}", headers=admin).json()
        states.add((body["plan"], body["mrr_minor"], body["currency"], body["renewal_on"]))
    assert states == {("pro_year", 40_000, "usd", "2027-03-02")}


def test_a_canceled_subscription_is_churn_and_an_older_update_cannot_revive_it(
    hooks: Webhooks, make_customer: Make, client: TestClient, admin: Any
) -> None:
    make_customer("acme", billing_customer_id="cus_acme")
    start = hooks.emulator.now() - 100
    hooks.send(
        "customer.subscription.deleted",
        subscription("cus_acme", status="canceled"),
        created=start + 10,
    )
    hooks.send("customer.subscription.updated", subscription("cus_acme"), created=start)
    hooks.process()
    body = client.get("/v1/customers/acme", headers=admin).json()
    assert (body["mrr_minor"], body["renewal_on"]) == (0, None)
    [churn] = hooks.events("subscription_canceled")
    assert churn.properties["subscription_id"] == "sub_1"


# -- linking ----------------------------------------------------------------------------------


def test_events_wait_for_their_customer_and_run_once_it_is_linked(
    hooks: Webhooks, make_customer: Make, client: TestClient, admin: Any
) -> None:
    make_customer("acme", email="ops@acme.io")
    hooks.send("invoice.paid", invoice("cus_new"))
    assert hooks.process().unlinked == 1
    assert hooks.events("invoice_paid") == []
    hooks.send(
        "customer.created",
        {"id": "cus_new", "object": "customer", "email": "OPS@acme.io", "metadata": {}},
    )
    report = hooks.process()
    assert report.processed >= 2  # the link, then the waiting invoice
    assert (
        client.get("/v1/customers/acme", headers=admin).json()["billing_customer_id"] == "cus_new"
    )
    assert len(hooks.events("invoice_paid")) == 1


def test_linking_by_metadata_wins_and_an_ambiguous_email_links_nobody(
    hooks: Webhooks, make_customer: Make, client: TestClient, admin: Any
) -> None:
    make_customer("a1", email="shared@acme.io")
    make_customer("a2", email="shared@acme.io")
    hooks.send("customer.created", {"id": "cus_a", "object": "customer", "email": "shared@acme.io"})
    hooks.send(
        "customer.updated",
        {
            "id": "cus_b",
            "object": "customer",
            "email": "x@y.io",
            "metadata": {"loyalty_customer_id": "a2"},
        },
    )
    report = hooks.process()
    assert (report.unlinked, report.processed) == (1, 1)
    assert client.get("/v1/customers/a2", headers=admin).json()["billing_customer_id"] == "cus_b"
    assert client.get("/v1/customers/a1", headers=admin).json()["billing_customer_id"] is None


def test_unknown_types_are_stored_and_ignored(hooks: Webhooks) -> None:
    hooks.send("payout.paid", {"id": "po_1", "object": "payout"})
    assert hooks.process().ignored == 1
    [row] = hooks.rows()
    assert (row.type, row.status) == ("payout.paid", InboxStatus.IGNORED)


# -- refunds and renewal discounts ------------------------------------------------------------


RULES = [
    {
        "key": "earn",
        "name": "A point per dollar paid",
        "triggers": ["invoice_paid"],
        "condition": True,
        "actions": [
            {
                "type": "award_points",
                "params": {"points": {"per": 100, "of": "event.properties.amount_minor"}},
            }
        ],
        "activate": True,
    },
    {
        "key": "refunds",
        "name": "A refund takes back the paid invoice's points",
        "triggers": ["payment_refunded"],
        "condition": True,
        "actions": [
            {"type": "reverse_grants", "params": {"of_event": "event.properties.invoice_paid_key"}}
        ],
        "activate": True,
    },
]


def points(client: TestClient, admin: Any) -> int:
    balances = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
    return next((b["available"] for b in balances if b["unit"] == "points"), 0)


@pytest.mark.parametrize("kind", ["refund", "dispute"])
def test_a_refund_or_dispute_reverses_what_the_paid_invoice_earned(
    hooks: Webhooks, make_customer: Make, client: TestClient, admin: Any, kind: str
) -> None:
    for rule in RULES:
        assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    make_customer("acme", billing_customer_id="cus_acme")
    hooks.send("invoice.paid", invoice("cus_acme", amount=50_000))
    hooks.process()
    assert points(client, admin) == 500
    charge = {
        "id": "ch_1",
        "object": "charge",
        "customer": "cus_acme",
        "payment_intent": "pi_in_1",
        "amount": 50_000,
        "amount_refunded": 50_000,
        "refunded": True,
        "currency": "usd",
    }
    if kind == "refund":
        hooks.send("charge.refunded", charge, previous_attributes={"amount_refunded": 0})
    else:
        dispute = {
            "id": "dp_1",
            "object": "dispute",
            "charge": "ch_1",
            "payment_intent": "pi_in_1",
            "amount": 50_000,
            "currency": "usd",
        }
        hooks.send("charge.dispute.created", dispute)
    hooks.process()
    [refunded] = hooks.events("payment_refunded")
    assert refunded.properties["invoice_paid_key"] == "invoice_paid:in_1"
    assert refunded.properties["reason"] == kind
    assert points(client, admin) == 0


def test_an_upcoming_invoice_and_the_renewal_rule_apply_the_discount_once(
    hooks: Webhooks, make_customer: Make, client: TestClient, admin: Any, runtime: Runtime
) -> None:
    from tests.renewals.test_renewals import YEAR_ONE

    assert client.post("/v1/segments", json=YEAR_ONE, headers=admin).status_code == 201
    policies = {
        "policies": [
            {"key": "y1", "name": "Year one", "segment": "year-one", "discount_bps": 1_500}
        ]
    }
    assert client.put("/v1/renewal-discounts", json=policies, headers=admin).status_code == 200
    rule = {
        "key": "renewal-discount",
        "name": "Discount the renewal",
        "triggers": ["renewal_upcoming"],
        "condition": True,
        "actions": [{"type": "apply_renewal_discount", "params": {}}],
        "activate": True,
    }
    assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    now = hooks.emulator.now()
    started = datetime.fromtimestamp(now, UTC) - timedelta(days=300)
    make_customer(
        "acme",
        billing_customer_id="cus_acme",
        subscription_started_at=started.isoformat(),
        renewal_on="2027-03-02",
    )
    sent = client.post(
        "/v1/events",
        json={
            "events": [{"type": "renewal_upcoming", "customer_id": "acme", "idempotency_key": "r1"}]
        },
        headers=admin,
    )
    assert sent.status_code == 200, sent.text
    upcoming = {**invoice("cus_acme"), "id": None}
    hooks.send("invoice.upcoming", upcoming)
    hooks.send("invoice.upcoming", upcoming)  # Stripe sends it again a day later
    hooks.process()
    with session_scope(runtime.engine, write=False) as session:
        messages = list(
            session.execute(
                select(OutboxMessage).where(OutboxMessage.kind == APPLY_RENEWAL_DISCOUNT)  # type: ignore[arg-type]
            ).scalars()
        )
    assert len(messages) == 1
    assert messages[0].payload["percent_off_bps"] == 1_500
    assert len(hooks.events("invoice_upcoming")) == 1


def test_a_failing_event_is_retried_later_and_the_others_go_on(
    hooks: Webhooks, make_customer: Make, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer("acme", billing_customer_id="cus_acme")
    calls = {"n": 0}
    real = handlers.HANDLERS["invoice.paid"]

    def flaky(*args: Any) -> handlers.Outcome:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database hiccup")
        return real(*args)

    monkeypatch.setitem(handlers.HANDLERS, "invoice.paid", flaky)
    hooks.send("invoice.paid", invoice("cus_acme"))
    hooks.send("payout.paid", {"id": "po_1", "object": "payout"})
    report = hooks.process()
    assert (report.failed, report.ignored) == (1, 1)
    failed = next(r for r in hooks.rows() if r.type == "invoice.paid")
    assert failed.status == InboxStatus.FAILED
    assert "database hiccup" in (failed.last_error or "")
    assert hooks.process().claimed == 0  # not before its backoff
    clock.advance(timedelta(minutes=5))
    assert hooks.process().processed == 1
    assert len(hooks.events("invoice_paid")) == 1


def test_subscription_traits_normalise_mrr_with_integers() -> None:
    yearly = subscription("c", amount=100_001, interval="year", quantity=1)
    assert subscription_traits(yearly)["mrr_minor"] == 8_333  # 100,001 / 12, rounded
    weekly = subscription("c", amount=1_000, interval="week", quantity=3)
    assert subscription_traits(weekly)["mrr_minor"] == 13_000  # 3,000 x 52 / 12
    canceled = subscription("c", status="canceled")
    assert subscription_traits(canceled)["mrr_minor"] == 0
    assert subscription_traits(canceled)["renewal_on"] is None
