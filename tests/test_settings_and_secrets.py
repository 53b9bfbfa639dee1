import json

import keyring.errors
import pytest

from codatdesk import secrets
from codatdesk.settings import REGISTRY, SettingError, Settings


def test_defaults_file_and_environment_override(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(path, environ={})
    assert settings.get("listener.port") == 8765
    settings.set("listener.port", "9000")
    assert json.loads(path.read_text())["listener.port"] == 9000
    assert Settings(path, environ={"CODATDESK_LISTENER_PORT": "9100"}).get("listener.port") == 9100


@pytest.mark.parametrize("key,value", [("listener.port", "-1"), ("listener.port", "http"), ("webhook.authorization", "digest"),
                                       ("push.concurrency", 11), ("webhook.require_signature", "maybe")])
def test_bad_values_are_refused_with_the_setting_named(tmp_path, key, value):
    with pytest.raises(SettingError, match=key.replace(".", r"\.")):
        Settings(tmp_path / "s.json", environ={}).set(key, value)


def test_every_setting_is_documented():
    assert all(s.doc and s.env_name.startswith("CODATDESK_") for s in REGISTRY)


def test_settings_file_holds_no_secret(tmp_path):
    assert not any("key" in s.key and "api" in s.key for s in REGISTRY)
    assert not any(word in s.key for s in REGISTRY for word in ("secret", "password", "token"))


def test_secrets_round_trip_through_the_keyring(memory_keyring):
    secrets.put(secrets.API_KEY, "k-123")
    assert secrets.require(secrets.API_KEY) == "k-123"
    assert memory_keyring.store[("codatdesk", "api_key")] == "k-123"


def test_rotation_keeps_the_old_secret_next_to_the_new(memory_keyring):
    secrets.add_signing_secret("whsec_old")
    secrets.add_signing_secret("whsec_new")
    assert secrets.signing_secrets() == ["whsec_new", "whsec_old"]
    secrets.add_signing_secret("whsec_newer")
    assert secrets.signing_secrets() == ["whsec_newer", "whsec_new"]


def test_environment_variables_serve_a_headless_server(monkeypatch):
    monkeypatch.setenv("CODATDESK_API_KEY", "env-key")
    monkeypatch.setenv("CODATDESK_WEBHOOK_SECRETS", "whsec_a, whsec_b")
    assert secrets.require(secrets.API_KEY) == "env-key"
    assert secrets.signing_secrets() == ["whsec_a", "whsec_b"]


def test_missing_secret_says_where_to_enter_it():
    with pytest.raises(secrets.SecretMissing, match="Settings"):
        secrets.require(secrets.API_KEY)


@pytest.mark.parametrize("exc,kind,words", [
    (keyring.errors.NoKeyringError("none"), "unavailable", "No usable keyring"),
    (keyring.errors.KeyringLocked("locked"), "locked", "locked"),
    (keyring.errors.InitError("dbus gone"), "failed", "refused"),
])
def test_unusable_keyrings_get_distinct_actionable_messages(exc, kind, words, memory_keyring):
    memory_keyring.fail_with = exc
    with pytest.raises(secrets.KeyringProblem) as info:
        secrets.check_backend()
    assert info.value.kind == kind and words in str(info.value)
    with pytest.raises(secrets.KeyringProblem):
        secrets.get(secrets.API_KEY)


def test_the_fail_backend_is_reported_as_unavailable_never_as_plaintext(tmp_path):
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(secrets.KeyringProblem) as info:
        secrets.put(secrets.API_KEY, "k")
    assert info.value.kind == "unavailable"
    assert not list(tmp_path.rglob("*k*.json"))


def test_a_headless_server_with_env_secrets_never_needs_a_keyring(monkeypatch):
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.setenv("CODATDESK_WEBHOOK_SECRETS", "whsec_a")
    creds = secrets.webhook_credentials()
    assert creds.signing_secrets == ("whsec_a",) and creds.basic is None and creds.bearer is None
