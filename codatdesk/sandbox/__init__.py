"""Codat sandbox: a local emulator of the parts of Codat's API and webhooks codatdesk uses.

It drives the demo and all tests. Only ``cli``, the UI's demo mode and tests import it.

    from codatdesk.sandbox import SandboxConfig, Sandbox, SandboxServer
    sb = Sandbox(SandboxConfig(push_delay=0.1))
    client = httpx.Client(transport=sb.transport(), base_url="http://sandbox",
                          headers={"Authorization": "Basic " + b64encode(sb.api_key)})
    srv = SandboxServer(sb).start(); srv.base_url; srv.stop(); sb.shutdown()

Push outcome rules: see ``codatdesk.sandbox.state``. Error choices and the order of
auth/rate limiting/fault injection: see ``codatdesk.sandbox.app``. Webhook bodies, signing
and retries: see ``codatdesk.sandbox.delivery``. Knobs: ``codatdesk.sandbox.config``.
Sync for Expenses (config, mappingOptions, expense and reimbursable transactions, syncs,
receipts, ``expenses.sync.*``): ``codatdesk.sandbox.expenses`` (state, ``sb.expenses``),
``expense_rules`` (per-integration rules) and ``expenses_api`` (routes).
"""

from .config import SandboxConfig
from .core import Sandbox
from .server import SandboxServer

__all__ = ["Sandbox", "SandboxConfig", "SandboxServer"]
