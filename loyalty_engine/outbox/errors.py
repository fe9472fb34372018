"""Outbox errors."""

from loyalty_engine.errors import Conflict, NotFound


class OutboxMessageNotFound(NotFound):
    code = "outbox_message_not_found"


class OutboxMessageNotDead(Conflict):
    code = "outbox_message_not_dead"
