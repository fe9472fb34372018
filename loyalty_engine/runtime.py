"""What a running process shares: settings, the engine, the clock and the registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from loyalty_engine.clock import Clock
from loyalty_engine.config import Settings
from loyalty_engine.events.reactors import ReactorRegistry
from loyalty_engine.outbox.delivery import DeliveryRegistry
from loyalty_engine.rules.actions import ActionRegistry

if TYPE_CHECKING:
    from loyalty_engine.billing.gateway import BillingGateway
    from loyalty_engine.rules.engine import RulesEngine


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    reactors: ReactorRegistry = field(default_factory=ReactorRegistry)
    deliveries: DeliveryRegistry = field(default_factory=DeliveryRegistry)
    actions: ActionRegistry = field(default_factory=ActionRegistry)
    rules: RulesEngine | None = None  # wired by the shell (app.build_runtime)
    billing: BillingGateway | None = None  # wired by the shell
    secret_key: str = ""


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    """Make `runtime` the one that scheduled jobs use (they cannot receive it as an argument)."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError(
            "no runtime installed: jobs run inside `loyalty serve` or `loyalty scheduler`"
        )
    return _current
