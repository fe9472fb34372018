"""Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.

Checked against our injected clock, both ways: a timestamp older than the tolerance is a replay,
one newer than it is forged or from a broken clock. Two secrets may be configured (rotation)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from loyalty_engine.errors import BadRequest


class SignatureRejected(BadRequest):
    code = "signature_rejected"


class SignatureMissing(SignatureRejected):
    code = "signature_missing"


class SignatureMalformed(SignatureRejected):
    code = "signature_malformed"


class SignatureMismatch(SignatureRejected):
    code = "signature_mismatch"


class TimestampOutsideTolerance(SignatureRejected):
    code = "timestamp_outside_tolerance"


def verify(
    payload: bytes,
    header: str | None,
    *,
    secrets: Sequence[str],
    now: datetime,
    tolerance_seconds: int,
) -> int:
    """The signed timestamp, when the header proves `payload` came from Stripe now."""
    if not header:
        raise SignatureMissing("the Stripe-Signature header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureMalformed(f"cannot read {part.strip()!r}")
        if name == "t":
            if not value.isdigit():
                raise SignatureMalformed("t= is not a unix timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureMalformed("the Stripe-Signature header needs t= and at least one v1=")
    age = int(now.timestamp()) - timestamp
    if abs(age) > tolerance_seconds:
        when = "old" if age > 0 else "far in the future"
        raise TimestampOutsideTolerance(
            f"the signature's timestamp is {abs(age)} s {when} (tolerance {tolerance_seconds} s)",
        )
    signed = f"{timestamp}.".encode() + payload
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return timestamp
    raise SignatureMismatch("no v1 signature matches the payload with a configured secret")
