"""A stateful Stripe emulator: a real HTTP server on loopback that the real `stripe` SDK talks to.

It answers the subset of Stripe's API the billing gateway uses, with Stripe's semantics and
Stripe's own object shapes (every object starts as a deep copy of the matching example in
`../shared/stripe/fixtures3.json`): customers, customer balance transactions (negative credits
the customer), coupons, prices, subscriptions with their discounts, invoices (a renewal invoice
applies the subscription's discounts, then the customer's balance; `once` discounts are used up),
charges and refunds, and events. Idempotency keys behave as Stripe's: the same key and parameters
replay the first answer (`Idempotent-Replayed: true`) with no second effect; other parameters
get an `idempotency_error`. Faults can be injected: 500, 429 (with Retry-After), a slow answer
after the effect, and a dropped answer after the effect ("Stripe succeeded, we never heard").
Webhooks: events can be signed and delivered to an endpoint as Stripe does.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import re
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2 as httpx

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"
DAY = 86_400
INTERVAL_SECONDS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}


def _templates() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


TEMPLATES = _templates()


class StripeHTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type_,
            code,
            param,
        )
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeHTTPError:
    return StripeHTTPError(
        404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


@dataclass
class Fault:
    """One injected failure: `kind` is "500", "429", "timeout" (answer after `delay` seconds;
    the effect happens) or "drop_response" (the effect happens, no answer)."""

    kind: str
    method: str = "POST"
    path_prefix: str = "/v1/"
    times: int = 1
    delay: float = 2.0
    retry_after: int = 1


@dataclass
class Faults:
    pending: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(
        self,
        kind: str,
        *,
        method: str = "POST",
        path_prefix: str = "/v1/",
        times: int = 1,
        delay: float = 2.0,
        retry_after: int = 1,
    ) -> None:
        if kind not in ("500", "429", "timeout", "drop_response"):
            raise ValueError(f"unknown fault {kind!r}")
        with self.lock:
            self.pending.append(Fault(kind, method, path_prefix, times, delay, retry_after))

    def take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.pending:
                if fault.method == method and path.startswith(fault.path_prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.pending.remove(fault)
                    return fault
        return None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    api_key: str | None
    replayed: bool
    status: int


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket encoding (`a[b][0][c]=v`) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"([^\[\]]+)|\[([^\[\]]*)\]", key)
        tokens = [a or b for a, b in parts]
        node: Any = root
        for i, token in enumerate(tokens):
            last = i == len(tokens) - 1
            token = token if token != "" else str(len(node))
            if last:
                node[token] = value
            else:
                node = node.setdefault(token, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


class StripeEmulator:
    def __init__(
        self,
        *,
        api_key: str = "sk_test_emulator",
        now: Callable[[], int] | None = None,
        seed: int = 0,
    ) -> None:
        self.api_key = api_key
        self.now = now or (lambda: int(time.time()))
        self.faults = Faults()
        self.requests: list[Request] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.balance_txns: dict[str, list[dict[str, Any]]] = {}
        self.coupons: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.discounts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._idempotent: dict[tuple[str | None, str], tuple[str, str, str, int, bytes]] = {}
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._revoked = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StripeEmulator:
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stripe-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def revoke_key(self) -> None:
        """Every request is refused as unauthenticated from now on (a rolled key)."""
        self._revoked = True

    def restore_key(self) -> None:
        self._revoked = False

    # -- test-side state ---------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "_" + "".join(self._rng.choice(alphabet) for _ in range(14))

    def customer(self, customer_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.customers[customer_id])

    def balance_transactions(self, customer_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.balance_txns.get(customer_id, []))

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        with self._lock:
            return self._render_subscription(self.subscriptions[subscription_id], expand=True)

    def customer_invoices(self, customer_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(i) for i in self.invoices.values() if i["customer"] == customer_id
            ]

    def effects(self, method: str, path_prefix: str) -> int:
        """Requests that had an effect (not replays, not refused) on paths under the prefix."""
        return sum(
            1
            for r in self.requests
            if r.method == method
            and r.path.startswith(path_prefix)
            and not r.replayed
            and r.status < 400
        )

    def add_price(
        self,
        price_id: str,
        unit_amount: int,
        *,
        currency: str = "usd",
        interval: str = "month",
        lookup_key: str | None = None,
        nickname: str | None = None,
    ) -> dict[str, Any]:
        price = copy.deepcopy(TEMPLATES["price"])
        price.update(
            id=price_id,
            unit_amount=unit_amount,
            unit_amount_decimal=str(unit_amount),
            currency=currency,
            created=self.now(),
            lookup_key=lookup_key,
            nickname=nickname,
            product=f"prod_{price_id}",
            transform_quantity=None,
        )
        price["recurring"].update(interval=interval, interval_count=1)
        with self._lock:
            self.prices[price_id] = price
        return copy.deepcopy(price)

    def add_balance_transaction(
        self,
        customer_id: str,
        amount: int,
        currency: str = "usd",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Plant a balance change directly (made outside the engine: drift to find)."""
        with self._lock:
            return copy.deepcopy(
                self._balance_transaction(
                    customer_id, amount, currency, "planted", metadata or {}, "adjustment"
                )
            )

    # -- webhooks --------------------------------------------------------------------------------

    @staticmethod
    def sign(payload: bytes, secret: str, timestamp: int) -> str:
        signed = f"{timestamp}.".encode() + payload
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={digest}"

    def build_event(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        previous_attributes: dict[str, Any] | None = None,
        created: int | None = None,
        record: bool = True,
    ) -> dict[str, Any]:
        event = copy.deepcopy(TEMPLATES["event"])
        event.update(
            id=self.new_id("evt"),
            type=type_,
            created=self.now() if created is None else created,
            api_version="2025-03-31.basil",
            data={"object": copy.deepcopy(obj)},
            pending_webhooks=1,
        )
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = copy.deepcopy(previous_attributes)
        if record:
            with self._lock:
                self.events.append(event)
        return copy.deepcopy(event)

    def deliver(
        self,
        event: dict[str, Any] | str,
        url: str,
        secret: str,
        *,
        timestamp: int | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> list[int]:
        """POST the event to the endpoint, signed as Stripe signs; the answers' status codes."""
        if isinstance(event, str):
            event = next(e for e in self.events if e["id"] == event)
        payload = json.dumps(event, separators=(",", ":")).encode()
        sent = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": self.sign(
                payload, secret, self.now() if timestamp is None else timestamp
            ),
            **(headers or {}),
        }
        with httpx.Client(timeout=30) as client:
            return [
                client.post(url, content=payload, headers=sent).status_code for _ in range(times)
            ]

    def events_of(self, type_: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.events if e["type"] == type_]

    # -- invoices: the billing cycle, driven by tests ------------------------------------------

    def create_draft_invoice(self, subscription_id: str) -> dict[str, Any]:
        """The next invoice as a draft (Stripe makes it about an hour before finalizing): it
        carries the subscription's discounts, and more can be added (`POST /v1/invoices/{id}`
        with `discounts`) until `finalize_invoice`."""
        with self._lock:
            sub = self.subscriptions[subscription_id]
            item = sub["items"]["data"][0]
            invoice = copy.deepcopy(TEMPLATES["invoice"])
            invoice.update(
                id=self.new_id("in"),
                object="invoice",
                customer=sub["customer"],
                currency=item["price"]["currency"],
                created=self.now(),
                billing_reason="subscription_cycle",
                status="draft",
                discounts=list(sub["discounts"]),
                amount_due=sum(
                    int(i["price"]["unit_amount"]) * int(i.get("quantity") or 1)
                    for i in sub["items"]["data"]
                ),
                amount_paid=0,
                parent={
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription_id,
                        "metadata": dict(sub["metadata"]),
                    },
                    "quote_details": None,
                },
                period_start=item["current_period_start"],
                period_end=item["current_period_end"],
                metadata={},
            )
            invoice.pop("subscription", None)
            self.invoices[invoice["id"]] = invoice
            self.build_event("invoice.created", invoice)
            return copy.deepcopy(invoice)

    def finalize_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Finalize a draft: its discounts, then the customer's balance, as a renewal invoice."""
        with self._lock:
            draft = self.invoices[invoice_id]
            assert draft["status"] == "draft", "only a draft is finalized"
            subscription = draft["parent"]["subscription_details"]["subscription"]
            return self.create_renewal_invoice(
                subscription, invoice_id=invoice_id, discount_ids=list(draft["discounts"])
            )

    def create_renewal_invoice(
        self,
        subscription_id: str,
        *,
        invoice_id: str | None = None,
        discount_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """The subscription's next invoice: lines from its items, its discounts, then the
        customer's balance; `once` discounts are used up; the period moves on."""
        with self._lock:
            sub = self.subscriptions[subscription_id]
            customer = self.customers[sub["customer"]]
            now = self.now()
            finalizing = invoice_id is not None
            invoice_id = invoice_id or self.new_id("in")
            lines = []
            for item in sub["items"]["data"]:
                price = item["price"]
                amount = int(price["unit_amount"]) * int(item.get("quantity") or 1)
                line = copy.deepcopy(TEMPLATES["invoice"]["lines"]["data"][0])
                line.update(
                    id=self.new_id("il"),
                    amount=amount,
                    subtotal=amount,
                    currency=price["currency"],
                    description=f"{item.get('quantity') or 1} x {price['id']}",
                    invoice=invoice_id,
                    quantity=item.get("quantity") or 1,
                    period={
                        "start": item["current_period_end"],
                        "end": item["current_period_end"] + _interval(price),
                    },
                    subscription=subscription_id,
                    discount_amounts=[],
                    discounts=[],
                )
                line["parent"] = {
                    "type": "subscription_item_details",
                    "subscription_item_details": {
                        "invoice_item": None,
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": subscription_id,
                        "subscription_item": item["id"],
                    },
                    "invoice_item_details": None,
                }
                line["pricing"] = {
                    "type": "price_details",
                    "price_details": {"price": price["id"], "product": price["product"]},
                    "unit_amount_decimal": str(price["unit_amount"]),
                }
                lines.append(line)
            subtotal = sum(line["amount"] for line in lines)
            remaining = subtotal
            discount_amounts = []
            used_once = []
            for discount_id in sub["discounts"] if discount_ids is None else discount_ids:
                discount = self.discounts[discount_id]
                coupon = self.coupons[discount["source"]["coupon"]]
                if coupon["percent_off"] is not None:  # applied in turn, on what is left
                    off = int(
                        (Decimal(remaining) * Decimal(str(coupon["percent_off"])) / 100).quantize(
                            Decimal(1), rounding=ROUND_HALF_EVEN
                        )
                    )
                else:
                    off = int(coupon["amount_off"])
                off = min(off, remaining)
                remaining -= off
                discount_amounts.append({"amount": off, "discount": discount_id})
                coupon["times_redeemed"] += 1
                if coupon["duration"] == "once":
                    used_once.append(discount_id)
                elif coupon["duration"] == "repeating":
                    discount.setdefault("_invoices", 0)
                    discount["_invoices"] += 1
                    if discount["_invoices"] >= int(coupon["duration_in_months"] or 0):
                        used_once.append(discount_id)
            total = remaining
            starting = int(customer["balance"])
            # A credit on the balance is used up to the total; a debt is added to what is due.
            applied = min(total, -starting) if starting < 0 else -starting
            amount_due = total - applied
            invoice = copy.deepcopy(TEMPLATES["invoice"])
            invoice.update(
                id=invoice_id,
                object="invoice",
                customer=sub["customer"],
                customer_email=customer.get("email"),
                customer_name=customer.get("name"),
                currency=sub["items"]["data"][0]["price"]["currency"],
                created=now,
                billing_reason="subscription_cycle",
                status="open",
                subtotal=subtotal,
                subtotal_excluding_tax=subtotal,
                total=total,
                total_excluding_tax=total,
                total_discount_amounts=discount_amounts,
                discounts=[d["discount"] for d in discount_amounts],
                starting_balance=starting,
                ending_balance=starting + applied,
                amount_due=amount_due,
                amount_paid=0,
                amount_remaining=amount_due,
                attempted=False,
                paid=False,
                lines={
                    "object": "list",
                    "data": lines,
                    "has_more": False,
                    "url": f"/v1/invoices/{invoice_id}/lines",
                },
                parent={
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription_id,
                        "metadata": dict(sub["metadata"]),
                    },
                    "quote_details": None,
                },
                period_start=sub["items"]["data"][0]["current_period_start"],
                period_end=sub["items"]["data"][0]["current_period_end"],
                metadata={},
                number=f"EMU-{len(self.invoices) + 1:04d}",
            )
            invoice.pop("subscription", None)  # moved under parent since 2025-03-31
            self.invoices[invoice_id] = invoice
            if applied:
                self._balance_transaction(
                    sub["customer"],
                    applied,
                    invoice["currency"],
                    None,
                    {},
                    "applied_to_invoice",
                    invoice=invoice_id,
                )
            previous = self._render_subscription(sub, expand=False)
            sub["discounts"] = [d for d in sub["discounts"] if d not in used_once]
            for item in sub["items"]["data"]:
                item["current_period_start"] = item["current_period_end"]
                item["current_period_end"] = item["current_period_end"] + _interval(item["price"])
            if not finalizing:
                self.build_event("invoice.created", invoice)
            self.build_event("invoice.finalized", invoice)
            self.build_event(
                "customer.subscription.updated",
                self._render_subscription(sub, expand=False),
                previous_attributes={
                    "discounts": previous["discounts"],
                    "items": previous["items"],
                },
            )
            return copy.deepcopy(invoice)

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        with self._lock:
            invoice = self.invoices[invoice_id]
            now = self.now()
            charge = copy.deepcopy(TEMPLATES["charge"])
            charge_id, intent = self.new_id("ch"), self.new_id("pi")
            charge.update(
                id=charge_id,
                amount=invoice["amount_due"],
                amount_captured=invoice["amount_due"],
                amount_refunded=0,
                refunded=False,
                captured=True,
                paid=True,
                status="succeeded",
                currency=invoice["currency"],
                customer=invoice["customer"],
                created=now,
                payment_intent=intent,
                description=f"Invoice {invoice['number']}",
                metadata={},
                refunds={"object": "list", "data": [], "has_more": False, "url": ""},
                disputed=False,
            )
            self.charges[charge_id] = charge
            invoice.update(
                status="paid",
                amount_paid=invoice["amount_due"],
                amount_remaining=0,
                attempted=True,
                paid=True,
                payments={
                    "object": "list",
                    "data": [
                        {
                            "object": "invoice_payment",
                            "id": self.new_id("inpay"),
                            "invoice": invoice_id,
                            "is_default": True,
                            "status": "paid",
                            "amount_paid": invoice["amount_due"],
                            "payment": {"type": "payment_intent", "payment_intent": intent},
                        }
                    ],
                    "has_more": False,
                    "url": f"/v1/invoice_payments?invoice={invoice_id}",
                },
                status_transitions={
                    "finalized_at": invoice["created"],
                    "marked_uncollectible_at": None,
                    "paid_at": now,
                    "voided_at": None,
                },
            )
            self.build_event("charge.succeeded", charge)
            self.build_event("invoice.paid", invoice)
            return copy.deepcopy(invoice)

    def charge_for(self, invoice_id: str) -> dict[str, Any]:
        with self._lock:
            intent = self.invoices[invoice_id]["payments"]["data"][0]["payment"]["payment_intent"]
            return copy.deepcopy(
                next(c for c in self.charges.values() if c["payment_intent"] == intent)
            )

    def dispute(self, charge_id: str) -> dict[str, Any]:
        with self._lock:
            charge = self.charges[charge_id]
            charge["disputed"] = True
            dispute = copy.deepcopy(TEMPLATES["dispute"])
            dispute.update(
                id=self.new_id("dp"),
                amount=charge["amount"],
                currency=charge["currency"],
                charge=charge_id,
                payment_intent=charge["payment_intent"],
                created=self.now(),
                status="needs_response",
                reason="fraudulent",
            )
            self.build_event("charge.dispute.created", dispute)
            return copy.deepcopy(dispute)

    # -- the HTTP side -------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str | None, api_key: str | None
    ) -> tuple[int, dict[str, str], bytes, Fault | None]:
        """Answer one request: (status, headers, body, fault to act on after the effect)."""
        headers: dict[str, str] = {"Request-Id": self.new_id("req")}
        if self._revoked or api_key != self.api_key:
            error = StripeHTTPError(
                401,
                f"Invalid API Key provided: {(api_key or '')[:8]}****",
                type_="invalid_request_error",
            )
            return self._answer(method, path, params, key, api_key, error.status, error.body())
        fault = self.faults.take(method, path)
        if fault is not None and fault.kind == "500":
            body = StripeHTTPError(500, "An unknown error occurred", type_="api_error").body()
            return self._answer(method, path, params, key, api_key, 500, body)
        if fault is not None and fault.kind == "429":
            error = StripeHTTPError(
                429,
                "Request rate limit exceeded.",
                code="rate_limit",
                headers={"Retry-After": str(fault.retry_after)},
            )
            status, _, body, _ = self._answer(method, path, params, key, api_key, 429, error.body())
            return status, {**headers, **error.headers}, body, None
        with self._lock:
            if key is not None and method == "POST":
                seen = self._idempotent.get((api_key, key))
                fingerprint = json.dumps(params, sort_keys=True)
                if seen is not None:
                    if (seen[0], seen[1], seen[2]) != (method, path, fingerprint):
                        error = StripeHTTPError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            type_="idempotency_error",
                        )
                        return self._answer(method, path, params, key, api_key, 400, error.body())
                    self._log(method, path, params, key, api_key, True, seen[3])
                    return seen[3], {**headers, "Idempotent-Replayed": "true"}, seen[4], fault
            try:
                status, body_obj = 200, self._route(method, path, params)
            except StripeHTTPError as exc:
                status, body_obj = exc.status, exc.body()
            body = json.dumps(body_obj).encode()
            if key is not None and method == "POST" and status < 500:
                self._idempotent[(api_key, key)] = (
                    method,
                    path,
                    json.dumps(params, sort_keys=True),
                    status,
                    body,
                )
            if key is not None:
                headers["Idempotency-Key"] = key
            self._log(method, path, params, key, api_key, False, status)
        return status, headers, body, fault

    def _answer(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        api_key: str | None,
        status: int,
        body: dict[str, Any],
    ) -> tuple[int, dict[str, str], bytes, Fault | None]:
        self._log(method, path, params, key, api_key, False, status)
        return status, {"Request-Id": self.new_id("req")}, json.dumps(body).encode(), None

    def _log(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        api_key: str | None,
        replayed: bool,
        status: int,
    ) -> None:
        with self._lock:
            self.requests.append(Request(method, path, params, key, api_key, replayed, status))

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p][1:]  # after "v1"
        match (method, parts):
            case ("POST", ["customers"]):
                return self._create_customer(params)
            case ("GET", ["customers"]):
                return self._list("/v1/customers", self._customers(params), params)
            case ("GET", ["customers", cid]):
                return self._get_customer(cid)
            case ("POST", ["customers", cid]):
                return self._update_customer(cid, params)
            case ("DELETE", ["customers", cid]):
                return self._delete_customer(cid)
            case ("POST", ["customers", cid, "balance_transactions"]):
                return self._create_balance_transaction(cid, params)
            case ("GET", ["customers", cid, "balance_transactions"]):
                self._live_customer(cid)
                txns = list(reversed(self.balance_txns.get(cid, [])))  # newest first
                return self._list(f"/v1/customers/{cid}/balance_transactions", txns, params)
            case ("GET", ["customers", cid, "balance_transactions", tid]):
                for txn in self.balance_txns.get(cid, []):
                    if txn["id"] == tid:
                        return txn
                raise missing("customer_balance_transaction", tid)
            case ("POST", ["coupons"]):
                return self._create_coupon(params)
            case ("GET", ["coupons", coupon_id]):
                if coupon_id not in self.coupons:
                    raise missing("coupon", coupon_id)
                return self.coupons[coupon_id]
            case ("GET", ["prices", price_id]):
                if price_id not in self.prices:
                    raise missing("price", price_id)
                return self.prices[price_id]
            case ("POST", ["subscriptions"]):
                return self._create_subscription(params)
            case ("GET", ["subscriptions"]):
                found = self._subscriptions(params)
                expand = "data.discounts" in _expand(params)
                return self._list(
                    "/v1/subscriptions",
                    [self._render_subscription(s, expand=expand) for s in found],
                    params,
                )
            case ("GET", ["subscriptions", sid]):
                return self._render_subscription(
                    self._get_subscription(sid), expand="discounts" in _expand(params)
                )
            case ("POST", ["subscriptions", sid]):
                return self._update_subscription(sid, params)
            case ("DELETE", ["subscriptions", sid]):
                return self._cancel_subscription(sid)
            case ("GET", ["invoices"]):
                invoices = [
                    i
                    for i in reversed(list(self.invoices.values()))
                    if i["customer"] == params.get("customer", i["customer"])
                    and _invoice_subscription(i)
                    == params.get("subscription", _invoice_subscription(i))
                ]
                return self._list("/v1/invoices", invoices, params)
            case ("GET", ["invoices", iid]):
                if iid not in self.invoices:
                    raise missing("invoice", iid)
                return self._render_invoice(self.invoices[iid], "discounts" in _expand(params))
            case ("POST", ["invoices", iid]):
                return self._update_invoice(iid, params)
            case ("POST", ["refunds"]):
                return self._create_refund(params)
            case ("GET", ["events"]):
                events = [
                    e for e in reversed(self.events) if e["type"] == params.get("type", e["type"])
                ]
                return self._list("/v1/events", events, params)
        raise StripeHTTPError(404, f"Unrecognized request URL ({method}: {path}).")

    # -- customers -------------------------------------------------------------------------------

    def _customers(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        found = [c for c in reversed(list(self.customers.values())) if not c.get("deleted")]
        if "email" in params:
            found = [c for c in found if c.get("email") == params["email"]]
        return found

    def _live_customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None or customer.get("deleted"):
            raise missing("customer", customer_id, "customer")
        return customer

    def _get_customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise missing("customer", customer_id)
        if customer.get("deleted"):
            return {"id": customer_id, "object": "customer", "deleted": True}
        return customer

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = copy.deepcopy(TEMPLATES["customer"])
        customer.update(
            id=self.new_id("cus"),
            created=self.now(),
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=_metadata({}, params.get("metadata")),
            balance=0,
            currency=None,
            discount=None,
            invoice_prefix=self.new_id("X")[2:10].upper(),
        )
        self.customers[customer["id"]] = customer
        self.build_event("customer.created", customer)
        return customer

    def _update_customer(self, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        customer = self._live_customer(customer_id)
        previous: dict[str, Any] = {}
        for name in ("email", "name", "description"):
            if name in params:
                previous[name] = customer.get(name)
                customer[name] = params[name] or None
        if "metadata" in params:
            previous["metadata"] = dict(customer["metadata"])
            customer["metadata"] = _metadata(customer["metadata"], params["metadata"])
        if "balance" in params:
            previous["balance"] = customer["balance"]
            customer["balance"] = int(params["balance"])
        self.build_event("customer.updated", customer, previous_attributes=previous)
        return customer

    def _delete_customer(self, customer_id: str) -> dict[str, Any]:
        customer = self._live_customer(customer_id)
        customer["deleted"] = True
        self.build_event("customer.deleted", customer)
        return {"id": customer_id, "object": "customer", "deleted": True}

    def _create_balance_transaction(
        self, customer_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._live_customer(customer_id)
        if "amount" not in params:
            raise StripeHTTPError(400, "Missing required param: amount.", param="amount")
        if "currency" not in params:
            raise StripeHTTPError(400, "Missing required param: currency.", param="currency")
        amount = _int(params["amount"], "amount")
        if amount == 0:
            raise StripeHTTPError(400, "Amount must not be zero.", param="amount")
        return self._balance_transaction(
            customer_id,
            amount,
            params["currency"].lower(),
            params.get("description"),
            _metadata({}, params.get("metadata")),
            "adjustment",
        )

    def _balance_transaction(
        self,
        customer_id: str,
        amount: int,
        currency: str,
        description: str | None,
        metadata: dict[str, str],
        type_: str,
        *,
        invoice: str | None = None,
    ) -> dict[str, Any]:
        customer = self.customers[customer_id]
        if customer["currency"] is not None and customer["currency"] != currency:
            raise StripeHTTPError(
                400,
                f"You cannot create a customer balance transaction in {currency}: the "
                f"customer's currency is {customer['currency']}.",
                param="currency",
            )
        customer["currency"] = currency
        previous = customer["balance"]
        customer["balance"] = previous + amount
        txn = copy.deepcopy(TEMPLATES["customer_balance_transaction"])
        txn.update(
            id=self.new_id("cbtxn"),
            amount=amount,
            created=self.now(),
            currency=currency,
            customer=customer_id,
            description=description,
            ending_balance=customer["balance"],
            metadata=metadata,
            type=type_,
            invoice=invoice,
        )
        self.balance_txns.setdefault(customer_id, []).append(txn)
        self.build_event("customer.updated", customer, previous_attributes={"balance": previous})
        return txn

    # -- coupons and subscriptions ------------------------------------------------------------

    def _create_coupon(self, params: dict[str, Any]) -> dict[str, Any]:
        coupon_id = params.get("id") or self.new_id("cpn")[4:12]
        if coupon_id in self.coupons:
            raise StripeHTTPError(
                400,
                "Coupon already exists.",
                code="resource_already_exists",
                param="id",
            )
        duration = params.get("duration", "once")
        if duration not in ("once", "repeating", "forever"):
            raise StripeHTTPError(400, f"Invalid duration: {duration}", param="duration")
        percent = params.get("percent_off")
        amount_off = params.get("amount_off")
        if (percent is None) == (amount_off is None):
            raise StripeHTTPError(
                400, "You must pass either percent_off or amount_off.", param="percent_off"
            )
        if percent is not None and not Decimal(0) < Decimal(percent) <= Decimal(100):
            raise StripeHTTPError(400, "Invalid percent_off", param="percent_off")
        if amount_off is not None and "currency" not in params:
            raise StripeHTTPError(400, "Missing required param: currency.", param="currency")
        if duration == "repeating" and "duration_in_months" not in params:
            raise StripeHTTPError(
                400, "Missing required param: duration_in_months.", param="duration_in_months"
            )
        coupon = copy.deepcopy(TEMPLATES["coupon"])
        coupon.update(
            id=coupon_id,
            created=self.now(),
            duration=duration,
            duration_in_months=(
                _int(params["duration_in_months"], "duration_in_months")
                if duration == "repeating"
                else None
            ),
            percent_off=float(percent) if percent is not None else None,
            amount_off=_int(amount_off, "amount_off") if amount_off is not None else None,
            currency=params.get("currency") if amount_off is not None else None,
            name=params.get("name"),
            metadata=_metadata({}, params.get("metadata")),
            redeem_by=None,
            times_redeemed=0,
            max_redemptions=None,
        )
        self.coupons[coupon_id] = coupon
        self.build_event("coupon.created", coupon)
        return coupon

    def _subscriptions(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        found = list(reversed(list(self.subscriptions.values())))
        if "customer" in params:
            found = [s for s in found if s["customer"] == params["customer"]]
        status = params.get("status")
        if status is None:
            found = [s for s in found if s["status"] != "canceled"]
        elif status != "all":
            found = [s for s in found if s["status"] == status]
        return found

    def _get_subscription(self, subscription_id: str) -> dict[str, Any]:
        if subscription_id not in self.subscriptions:
            raise missing("subscription", subscription_id)
        return self.subscriptions[subscription_id]

    def _price(self, price_id: str, param: str) -> dict[str, Any]:
        if price_id not in self.prices:
            raise missing("price", price_id, param)
        return self.prices[price_id]

    def _discount(self, sub: dict[str, Any], coupon_id: str) -> str:
        if coupon_id not in self.coupons:
            raise missing("coupon", coupon_id, "discounts[0][coupon]")
        discount = copy.deepcopy(TEMPLATES["discount"])
        discount.update(
            id=self.new_id("di"),
            customer=sub["customer"],
            subscription=sub["id"],
            start=self.now(),
            end=None,
            source={"type": "coupon", "coupon": coupon_id},
        )
        self.discounts[discount["id"]] = discount
        return str(discount["id"])

    def _apply_discounts(self, sub: dict[str, Any], wanted: Any) -> None:
        if wanted == "":
            sub["discounts"] = []
            return
        chosen: list[str] = []
        for i, entry in enumerate(wanted or []):
            if "discount" in entry:
                if entry["discount"] not in sub["discounts"]:
                    raise StripeHTTPError(
                        400,
                        f"The discount {entry['discount']} is not on this subscription.",
                        param=f"discounts[{i}][discount]",
                    )
                chosen.append(entry["discount"])
            elif "coupon" in entry:
                chosen.append(self._discount(sub, entry["coupon"]))
        sub["discounts"] = chosen

    def _create_subscription(self, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = params.get("customer")
        if not customer_id:
            raise StripeHTTPError(400, "Missing required param: customer.", param="customer")
        self._live_customer(customer_id)
        now = self.now()
        template = copy.deepcopy(TEMPLATES["subscription"])
        sub_id = self.new_id("sub")
        items = []
        for i, item in enumerate(params.get("items") or []):
            price = self._price(item["price"], f"items[{i}][price]")
            entry = copy.deepcopy(TEMPLATES["subscription"]["items"]["data"][0])
            entry.update(
                id=self.new_id("si"),
                created=now,
                price=copy.deepcopy(price),
                quantity=_int(item.get("quantity", 1), "quantity"),
                subscription=sub_id,
                current_period_start=now,
                current_period_end=now + _interval(price),
                discounts=[],
                metadata={},
            )
            entry.pop("plan", None)
            items.append(entry)
        if not items:
            raise StripeHTTPError(400, "Missing required param: items.", param="items")
        template.update(
            id=sub_id,
            customer=customer_id,
            created=now,
            start_date=now,
            billing_cycle_anchor=now,
            status="active",
            currency=items[0]["price"]["currency"],
            metadata=_metadata({}, params.get("metadata")),
            items={
                "object": "list",
                "data": items,
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            discounts=[],
            canceled_at=None,
            ended_at=None,
            cancel_at=None,
            latest_invoice=None,
        )
        self.subscriptions[sub_id] = template
        self._apply_discounts(template, params.get("discounts"))
        rendered = self._render_subscription(template, expand="discounts" in _expand(params))
        self.build_event(
            "customer.subscription.created", self._render_subscription(template, expand=False)
        )
        return rendered

    def _update_subscription(self, subscription_id: str, params: dict[str, Any]) -> dict[str, Any]:
        sub = self._get_subscription(subscription_id)
        previous = self._render_subscription(sub, expand=False)
        changed: dict[str, Any] = {}
        for i, item in enumerate(params.get("items") or []):
            target = next((it for it in sub["items"]["data"] if it["id"] == item.get("id")), None)
            if target is None:
                raise missing("subscription_item", str(item.get("id")), f"items[{i}][id]")
            if "price" in item:
                target["price"] = copy.deepcopy(self._price(item["price"], f"items[{i}][price]"))
            if "quantity" in item:
                target["quantity"] = _int(item["quantity"], "quantity")
            changed["items"] = previous["items"]
        if "discounts" in params:
            self._apply_discounts(sub, params["discounts"])
            changed["discounts"] = previous["discounts"]
        if "metadata" in params:
            sub["metadata"] = _metadata(sub["metadata"], params["metadata"])
            changed["metadata"] = previous["metadata"]
        if params.get("cancel_at_period_end") is not None:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            changed["cancel_at_period_end"] = previous["cancel_at_period_end"]
        self.build_event(
            "customer.subscription.updated",
            self._render_subscription(sub, expand=False),
            previous_attributes=changed,
        )
        return self._render_subscription(sub, expand="discounts" in _expand(params))

    def _cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        sub = self._get_subscription(subscription_id)
        if sub["status"] == "canceled":
            raise StripeHTTPError(
                400, f"No such subscription: '{subscription_id}'", code="resource_missing"
            )
        previous_status = sub["status"]
        now = self.now()
        sub.update(status="canceled", canceled_at=now, ended_at=now)
        rendered = self._render_subscription(sub, expand=False)
        self.build_event(
            "customer.subscription.deleted",
            rendered,
            previous_attributes={"status": previous_status},
        )
        return rendered

    def _render_subscription(self, sub: dict[str, Any], *, expand: bool) -> dict[str, Any]:
        rendered = copy.deepcopy(sub)
        if expand:
            rendered["discounts"] = [
                {k: v for k, v in self.discounts[d].items() if not k.startswith("_")}
                for d in sub["discounts"]
            ]
        return rendered

    def _render_invoice(self, invoice: dict[str, Any], expand: bool) -> dict[str, Any]:
        rendered = copy.deepcopy(invoice)
        if expand:
            rendered["discounts"] = [
                {k: v for k, v in self.discounts[d].items() if not k.startswith("_")}
                for d in invoice["discounts"]
            ]
        return rendered

    def _update_invoice(self, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
        if invoice_id not in self.invoices:
            raise missing("invoice", invoice_id)
        invoice = self.invoices[invoice_id]
        if "discounts" in params:
            if invoice["status"] != "draft":
                raise StripeHTTPError(
                    400,
                    f"You can only update discounts on a draft invoice; this one is "
                    f"{invoice['status']}.",
                    param="discounts",
                )
            chosen: list[str] = []
            for i, entry in enumerate(params["discounts"] or []):
                if "discount" in entry:
                    if entry["discount"] not in invoice["discounts"]:
                        raise StripeHTTPError(
                            400, "No such discount on this invoice", param=f"discounts[{i}]"
                        )
                    chosen.append(entry["discount"])
                elif "coupon" in entry:
                    if entry["coupon"] not in self.coupons:
                        raise missing("coupon", entry["coupon"], f"discounts[{i}][coupon]")
                    discount = copy.deepcopy(TEMPLATES["discount"])
                    discount.update(
                        id=self.new_id("di"),
                        customer=invoice["customer"],
                        invoice=invoice_id,
                        start=self.now(),
                        end=None,
                        source={"type": "coupon", "coupon": entry["coupon"]},
                    )
                    self.discounts[discount["id"]] = discount
                    chosen.append(discount["id"])
            invoice["discounts"] = chosen
        if "metadata" in params:
            invoice["metadata"] = _metadata(invoice["metadata"], params["metadata"])
        self.build_event("invoice.updated", invoice)
        return self._render_invoice(invoice, "discounts" in _expand(params))

    # -- refunds ---------------------------------------------------------------------------------

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id = params.get("charge")
        if charge_id is None and "payment_intent" in params:
            charge_id = next(
                (
                    c["id"]
                    for c in self.charges.values()
                    if c["payment_intent"] == params["payment_intent"]
                ),
                None,
            )
        if charge_id is None or charge_id not in self.charges:
            raise missing("charge", str(charge_id), "charge")
        charge = self.charges[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        amount = _int(params.get("amount", left), "amount")
        if amount <= 0 or amount > left:
            raise StripeHTTPError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
            )
        refund = copy.deepcopy(TEMPLATES["refund"])
        refund.update(
            id=self.new_id("re"),
            amount=amount,
            charge=charge_id,
            currency=charge["currency"],
            created=self.now(),
            payment_intent=charge["payment_intent"],
            status="succeeded",
            metadata=_metadata({}, params.get("metadata")),
            reason=params.get("reason"),
        )
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].append(refund)
        self.build_event(
            "charge.refunded",
            charge,
            previous_attributes={"amount_refunded": charge["amount_refunded"] - amount},
        )
        return refund

    # -- lists -----------------------------------------------------------------------------------

    @staticmethod
    def _list(url: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        limit = max(1, min(100, _int(params.get("limit", 10), "limit")))
        after = params.get("starting_after")
        if after is not None:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise missing("object", after, "starting_after")
            items = items[ids.index(after) + 1 :]
        return {
            "object": "list",
            "data": items[:limit],
            "has_more": len(items) > limit,
            "url": url,
        }


class _Handler(BaseHTTPRequestHandler):
    emulator: StripeEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(split.query, keep_blank_values=True)
        if method == "POST":
            pairs += parse_qsl(body, keep_blank_values=True)
        params = parse_form(pairs)
        auth = self.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        key = self.headers.get("Idempotency-Key")
        status, headers, payload, fault = self.emulator.handle(
            method, split.path, params, key, api_key
        )
        if fault is not None and fault.kind == "drop_response":
            self.close_connection = True
            return  # the effect happened; the caller never hears of it
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller went away (gave up, or was killed)


def _interval(price: dict[str, Any]) -> int:
    recurring = price.get("recurring") or {}
    return INTERVAL_SECONDS[recurring.get("interval", "month")] * int(
        recurring.get("interval_count") or 1
    )


def _expand(params: dict[str, Any]) -> list[str]:
    value = params.get("expand") or []
    return [value] if isinstance(value, str) else list(value)


def _metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update: keys merge, an empty value deletes, "" clears all."""
    if update is None:
        return dict(current)
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise StripeHTTPError(400, f"Invalid integer: {value}", param=param) from exc


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return details.get("subscription")
