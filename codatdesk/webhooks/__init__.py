"""Webhook intake: verify raw deliveries, store them durably, parse them into events."""

from codatdesk.webhooks.inbox import Inbox, StoreResult
from codatdesk.webhooks.listener import ListenerConfig, WebhookListener
from codatdesk.webhooks.parse import ConnectionEvent, IgnoredEvent, UnusableEvent, WriteResult, parse_event
from codatdesk.webhooks.verify import ListenerError, Rejected, VerifiedDelivery, Verifier

__all__ = [
    "ConnectionEvent", "IgnoredEvent", "Inbox", "ListenerConfig", "ListenerError", "Rejected", "StoreResult",
    "UnusableEvent", "VerifiedDelivery", "Verifier", "WebhookListener", "WriteResult", "parse_event",
]
