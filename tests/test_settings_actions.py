"""The settings screens' actions without Qt (``tests/test_layering.py`` checks the module imports none): trying a key, listing connections, rotating the signing
secret, saving. Every failure comes back as a reason and a fix, never as an exception."""

from __future__ import annotations

import json
import socket

import keyring.errors
import pytest

from codatdesk import secrets, settings_actions
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.settings import Settings
from codatdesk.settings_actions import PREVIOUS_SIGNING_SECRET, Standalone


@pytest.fixture
def sandbox():
    sb = Sandbox(SandboxConfig(push_delay=0.05, seed=1))
    server = SandboxServer(sb, port=0).start()
    yield sb, server
    server.stop()
    sb.shutdown()


@pytest.fixture
def settings(tmp_path):
    return Settings(tmp_path / "settings.json", environ={})


def stored_signing_secrets(memory_keyring) -> list[str]:
    return json.loads(memory_keyring.store[("codatdesk", secrets.WEBHOOK_SECRETS)])


def test_a_good_key_lists_the_companies_and_a_wrong_one_says_what_to_do(sandbox):
    sb, server = sandbox
    answer = settings_actions.check_api_key(server.base_url, sb.api_key)
    assert answer.ok and sb.company_id in [c["id"] for c in answer.items]
    refused = settings_actions.check_api_key(server.base_url, "wrong-key")
    assert not refused.ok and not refused.items
    assert refused.reason == "Codat refused the API key" and "HTTP 401" in refused.fix


def test_without_a_typed_key_the_stored_key_is_used(sandbox, memory_keyring):
    sb, server = sandbox
    missing = settings_actions.check_api_key(server.base_url, None)
    assert missing.reason == "No Codat API key yet" and "API key" in missing.fix
    secrets.put(secrets.API_KEY, sb.api_key)
    assert settings_actions.check_api_key(server.base_url, None).ok


def test_an_unreachable_codat_is_explained():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = settings_actions.check_api_key(f"http://127.0.0.1:{port}", "key")
    assert answer.reason == "Cannot reach Codat" and "base URL" in answer.fix


def test_only_accounting_connections_are_offered_linked_first(sandbox):
    sb, server = sandbox
    answer = Standalone(Settings(None, environ={})).list_codat_connections(server.base_url, sb.api_key,
                                                                           sb.company_id)
    assert answer.ok and answer.items[0]["id"] == sb.connection_id
    assert all(c.get("sourceType", "Accounting") == "Accounting" for c in answer.items)


def test_a_new_signing_secret_keeps_the_old_one_for_codats_rotation(memory_keyring):
    settings_actions.save_credentials({secrets.WEBHOOK_SECRETS: "whsec_old"})
    assert stored_signing_secrets(memory_keyring) == ["whsec_old"]
    settings_actions.save_credentials({secrets.WEBHOOK_SECRETS: "whsec_new"})
    assert stored_signing_secrets(memory_keyring) == ["whsec_new", "whsec_old"]
    # A typed previous secret is the one kept beside the new one.
    settings_actions.save_credentials({secrets.WEBHOOK_SECRETS: "whsec_newer", PREVIOUS_SIGNING_SECRET: "whsec_x"})
    assert stored_signing_secrets(memory_keyring) == ["whsec_newer", "whsec_x"]
    # Only the previous one typed: the current secret stays first.
    settings_actions.save_credentials({PREVIOUS_SIGNING_SECRET: "whsec_y"})
    assert stored_signing_secrets(memory_keyring) == ["whsec_newer", "whsec_y"]
    assert settings_actions.stored_secrets([secrets.WEBHOOK_SECRETS, PREVIOUS_SIGNING_SECRET, secrets.API_KEY]) == {
        secrets.WEBHOOK_SECRETS: True, PREVIOUS_SIGNING_SECRET: True, secrets.API_KEY: False}


def test_saving_writes_changed_values_and_typed_secrets(settings, memory_keyring, tmp_path):
    result = Standalone(settings).save_settings(
        {"listener.port": 9999, "listener.path": settings.get("listener.path")}, {secrets.API_KEY: "key-1"})
    assert result.ok
    assert result.changed == {"listener.port"} and result.secrets_changed == {secrets.API_KEY}
    assert memory_keyring.store[("codatdesk", "api_key")] == "key-1"
    assert json.loads((tmp_path / "settings.json").read_text())["listener.port"] == 9999


def test_a_keyring_that_refuses_leaves_the_settings_file_alone(settings, memory_keyring, tmp_path):
    memory_keyring.fail_with = keyring.errors.KeyringLocked("locked")
    result = settings_actions.save_settings(settings, {"listener.port": 9999}, {secrets.API_KEY: "key-1"})
    assert not result.ok and result.reason == "The keyring cannot be used" and "Unlock" in result.fix
    assert not (tmp_path / "settings.json").exists() or "9999" not in (tmp_path / "settings.json").read_text()
