"""Webhook signatures (pure): HMAC-SHA256 over `<timestamp>.<body>`, in the header
`Loyalty-Signature: t=<unix seconds>,v1=<hex digest>` (the timestamp also alone in
`Loyalty-Timestamp`). Receivers recompute it with the shared secret and refuse old timestamps
(replays)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Loyalty-Signature"
TIMESTAMP_HEADER = "Loyalty-Timestamp"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether the header signs this body with this secret, within the tolerance of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def derived_secret(instance_secret: str) -> str:
    """The webhook key when none is configured: HMAC of the instance secret, never the secret."""
    return hmac.new(instance_secret.encode(), b"loyalty-webhooks", hashlib.sha256).hexdigest()
