"""Messaging: the mailer protocol, its in-memory implementation, the email outbox kind."""

from loyalty_engine.messaging.mailer import EmailMessage, Mailer, MailError
from loyalty_engine.messaging.memory import InMemoryMailer

__all__ = ["EmailMessage", "InMemoryMailer", "MailError", "Mailer"]
