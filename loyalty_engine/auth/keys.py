"""API key material: generation and hashing (pure)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "lk_"
_PREFIX_CHARS = 8


@dataclass(frozen=True)
class NewKey:
    key: str
    prefix: str
    secret_hash: str


def generate_key() -> NewKey:
    """`lk_<8 readable chars>_<43 secret chars>`: 256 bits of randomness after the prefix."""
    prefix = KEY_PREFIX + secrets.token_hex(_PREFIX_CHARS // 2)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, secret_hash=hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str | None:
    """The readable prefix of a well-formed key, or None."""
    size = len(KEY_PREFIX) + _PREFIX_CHARS
    head = key[:size]
    if not head.startswith(KEY_PREFIX) or key[size : size + 1] != "_" or len(key) < size + 20:
        return None
    return head


def matches(key: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), secret_hash)
