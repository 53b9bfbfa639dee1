"""Tunnels that make the loopback webhook listener reachable by Codat, their health, and
the webhook registration with Codat. No Qt here: everything reports through the EventBus.

    from codatdesk.tunnel import TunnelService, HealthChecker, WebhookRegistrar, TunnelState
"""

from .health import (
    SELFTEST_EVENT_TYPE,
    SELFTEST_ID_PREFIX,
    HealthChecker,
    HealthResult,
    is_selftest,
    signed_selftest,
)
from .process import Backoff
from .registration import APP_EVENT_TYPES, WebhookRegistrar, default_state_path
from .service import TunnelService
from .stack import TunnelStack, authorization_header
from .state import TunnelState
from .urls import normalize_public_url, webhook_url

__all__ = [
    "APP_EVENT_TYPES",
    "SELFTEST_EVENT_TYPE",
    "SELFTEST_ID_PREFIX",
    "Backoff",
    "HealthChecker",
    "HealthResult",
    "TunnelService",
    "TunnelStack",
    "TunnelState",
    "WebhookRegistrar",
    "authorization_header",
    "default_state_path",
    "is_selftest",
    "normalize_public_url",
    "signed_selftest",
    "webhook_url",
]
