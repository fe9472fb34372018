"""Audit log: who changed which configuration, when, and how (a JSON diff)."""

from loyalty_engine.audit.diff import diff
from loyalty_engine.audit.models import AuditEntry
from loyalty_engine.audit.service import history, record

__all__ = ["AuditEntry", "diff", "history", "record"]
