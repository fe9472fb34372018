"""Who is calling: an API key with a role, or a customer token for one customer."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty_engine.auth.models import Role

CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "api_key" or "customer"
    role: Role | None = None
    api_key_id: int | None = None
    api_key_prefix: str | None = None
    customer_id: int | None = None
    customer_external_id: str | None = None

    @property
    def grant(self) -> str:
        """The name the permission table uses: the key's role, or "customer"."""
        return self.role.value if self.role is not None else CUSTOMER

    @property
    def is_customer(self) -> bool:
        return self.kind == CUSTOMER
