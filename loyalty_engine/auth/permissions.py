"""Who may call which route: default deny. A route missing here is refused to everyone,
and `tests/auth/test_permissions.py` walks the app's routes so none is forgotten."""

from __future__ import annotations

from loyalty_engine.auth.models import Role
from loyalty_engine.auth.principal import CUSTOMER

ADMIN, MARKETER, BILLING, INGEST, SUPPORT = (r.value for r in Role)
STAFF_READ = frozenset({ADMIN, MARKETER, SUPPORT})
EVERY_KEY = frozenset(r.value for r in Role)
CONFIGURE = frozenset({ADMIN, MARKETER})

# (method, path template) -> the grants allowed. CUSTOMER marks routes a customer token may use,
# and only for its own customer (the `external_id` path parameter must be theirs, else 404).
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/v1/auth/whoami"): EVERY_KEY | {CUSTOMER},
    ("GET", "/v1/api-keys"): frozenset({ADMIN}),
    ("POST", "/v1/api-keys"): frozenset({ADMIN}),
    ("DELETE", "/v1/api-keys/{key_id}"): frozenset({ADMIN}),
    ("GET", "/v1/customers"): STAFF_READ,
    ("GET", "/v1/customers/{external_id}"): STAFF_READ | {BILLING, CUSTOMER},
    ("PUT", "/v1/customers/{external_id}"): frozenset({ADMIN, INGEST, BILLING, SUPPORT}),
    ("POST", "/v1/customers/{external_id}/tokens"): frozenset({ADMIN, BILLING}),
    ("GET", "/v1/customers/{external_id}/events"): STAFF_READ,
    ("GET", "/v1/events"): STAFF_READ,
    ("POST", "/v1/events"): frozenset({ADMIN, INGEST}),
    ("GET", "/v1/outbox"): frozenset({ADMIN, SUPPORT}),
    ("POST", "/v1/outbox/{message_id}/retry"): frozenset({ADMIN}),
    ("GET", "/v1/rules"): STAFF_READ,
    ("POST", "/v1/rules"): CONFIGURE,
    ("GET", "/v1/rules/{key}"): STAFF_READ,
    ("PATCH", "/v1/rules/{key}"): CONFIGURE,
    ("POST", "/v1/rules/{key}/activate"): CONFIGURE,
    ("POST", "/v1/rules/{key}/archive"): CONFIGURE,
    ("GET", "/v1/rules/{key}/versions"): STAFF_READ,
    ("GET", "/v1/rules/{key}/audit"): STAFF_READ,
    ("POST", "/v1/rules/dry-run"): STAFF_READ,
    ("POST", "/v1/rules/backtest"): STAFF_READ,
    ("GET", "/v1/segments"): STAFF_READ,
    ("POST", "/v1/segments"): CONFIGURE,
    ("POST", "/v1/segments/preview"): STAFF_READ,
    ("GET", "/v1/segments/{key}"): STAFF_READ,
    ("PATCH", "/v1/segments/{key}"): CONFIGURE,
    ("POST", "/v1/segments/{key}/archive"): CONFIGURE,
    ("GET", "/v1/segments/{key}/count"): STAFF_READ,
    ("GET", "/v1/segments/{key}/members"): STAFF_READ,
    ("GET", "/v1/segments/{key}/audit"): STAFF_READ,
    ("GET", "/v1/custom-traits"): STAFF_READ,
    ("PUT", "/v1/custom-traits/{name}"): CONFIGURE,
    ("GET", "/v1/customers/{external_id}/decisions"): STAFF_READ,
    ("GET", "/v1/milestones"): STAFF_READ,
    ("POST", "/v1/milestones"): CONFIGURE,
    ("GET", "/v1/milestones/{key}"): STAFF_READ,
    ("PATCH", "/v1/milestones/{key}"): CONFIGURE,
    ("POST", "/v1/milestones/{key}/archive"): CONFIGURE,
    ("GET", "/v1/milestones/{key}/audit"): STAFF_READ,
    ("GET", "/v1/customers/{external_id}/milestones"): STAFF_READ | {CUSTOMER},
    ("POST", "/v1/customers/{external_id}/milestones/{key}/grant"): frozenset({ADMIN, SUPPORT}),
    ("GET", "/v1/customers/{external_id}/balances"): STAFF_READ | {BILLING, CUSTOMER},
    ("GET", "/v1/billing/status"): STAFF_READ | {BILLING},
    ("GET", "/v1/billing/transfers"): STAFF_READ | {BILLING},
    ("POST", "/v1/billing/transfers/{transfer_id}/retry"): frozenset({ADMIN, SUPPORT}),
    ("POST", "/v1/billing/transfers/{transfer_id}/return"): frozenset({ADMIN, SUPPORT}),
    ("GET", "/v1/customers/{external_id}/ledger"): STAFF_READ | {BILLING, CUSTOMER},
    ("POST", "/v1/customers/{external_id}/adjustments"): frozenset({ADMIN, SUPPORT}),
    ("GET", "/v1/analytics/liability"): STAFF_READ | {BILLING},
    ("GET", "/v1/tier-program"): STAFF_READ,
    ("PUT", "/v1/tier-program"): CONFIGURE,
    ("GET", "/v1/customers/{external_id}/tier"): STAFF_READ | {BILLING, CUSTOMER},
    ("GET", "/v1/renewal-discounts"): STAFF_READ | {BILLING},
    ("GET", "/v1/rewards"): STAFF_READ,
    ("POST", "/v1/rewards"): CONFIGURE,
    ("GET", "/v1/rewards/{key}"): STAFF_READ,
    ("PATCH", "/v1/rewards/{key}"): CONFIGURE,
    ("GET", "/v1/customers/{external_id}/rewards"): STAFF_READ | {CUSTOMER},
    ("POST", "/v1/customers/{external_id}/rewards/{key}/redemptions"): frozenset(
        {ADMIN, SUPPORT, CUSTOMER}
    ),
    ("GET", "/v1/customers/{external_id}/reward-redemptions"): STAFF_READ | {CUSTOMER},
    ("POST", "/v1/reward-redemptions/{redemption_id}/cancel"): frozenset({ADMIN, SUPPORT}),
    ("POST", "/v1/reward-redemptions/{redemption_id}/retry"): frozenset({ADMIN, SUPPORT}),
    ("PUT", "/v1/renewal-discounts"): CONFIGURE,
    ("GET", "/v1/billing/renewal-quote"): STAFF_READ | {BILLING},
    ("POST", "/v1/billing/renewal-applications"): frozenset({ADMIN, BILLING}),
    ("POST", "/v1/customers/{external_id}/redemptions"): frozenset(
        {ADMIN, BILLING, SUPPORT, CUSTOMER}
    ),
}

# Routes outside /v1 that need no credentials.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/static-offline-docs",
    }
)


# Routes under /v1 authenticated by their caller's signature instead of a credential (each checks
# it itself, before anything is written).
SIGNED_PATHS = frozenset({"/v1/billing/stripe/webhook"})


def allowed(method: str, path: str) -> frozenset[str]:
    """The grants allowed on a route; empty (deny) when the table has no decision."""
    return PERMISSIONS.get((method, path), frozenset())
