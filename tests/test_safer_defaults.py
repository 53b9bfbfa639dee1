"""Safer by default (issue #13, section 5): webhook credentials from memory, private files,
every loaded secret redacted from the logs."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from collections import Counter

import httpx
import pytest

from codatdesk import paths, secrets
from codatdesk.logging_setup import RedactingFormatter, setup_logging
from codatdesk.secrets import CachedWebhookCredentials
from codatdesk.settings import Settings
from codatdesk.store.db import open_database
from codatdesk.webhooks import (
    Inbox,
    ListenerConfig,
    Rejected,
    Verifier,
    WebhookListener,
)
from tests.test_webhook_listener import BODY, NEW_SECRET, SECRET, sign_headers

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
WEBHOOK_NAMES = {secrets.WEBHOOK_SECRETS, secrets.WEBHOOK_BASIC, secrets.WEBHOOK_BEARER}


@pytest.fixture
def keyring_reads(memory_keyring, monkeypatch) -> Counter:
    """How many times each secret was read from the keyring."""
    reads: Counter = Counter()
    original = memory_keyring.get_password

    def counted(service: str, username: str) -> str | None:
        reads[username] += 1
        return original(service, username)

    monkeypatch.setattr(memory_keyring, "get_password", counted)
    return reads


def webhook_reads(reads: Counter) -> int:
    return sum(count for name, count in reads.items() if name in WEBHOOK_NAMES)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- webhook credentials: cached, and never read for a request without credentials -----------

def test_a_request_without_credentials_is_refused_before_any_keyring_read(keyring_reads, tmp_path):
    secrets.set_signing_secrets([SECRET])
    cache = CachedWebhookCredentials()
    engine = open_database(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    listener = WebhookListener(ListenerConfig(port=0), Verifier(cache, recheck=cache.recheck), Inbox(engine),
                               lambda result: None)
    listener.start()
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            for _ in range(20):  # anyone who has the tunnel URL
                assert client.post(listener.url, content=BODY).status_code == 401
            assert webhook_reads(keyring_reads) == 0
            for number in range(20):
                response = client.post(listener.url, content=BODY, headers=sign_headers(BODY, msg_id=f"msg_{number}"))
                assert response.status_code == 200
    finally:
        listener.stop()
        engine.dispose()
    # One load (three names) for twenty genuine deliveries, not three reads each.
    assert webhook_reads(keyring_reads) == 3


def test_an_authorization_only_listener_refuses_a_request_without_the_header_unread(keyring_reads):
    secrets.put(secrets.WEBHOOK_BEARER, "portal-bearer-token")
    verifier = Verifier(CachedWebhookCredentials(), require_signature=False, authorization="bearer")
    with pytest.raises(Rejected) as refused:
        verifier.verify({"content-type": "application/json"}, BODY)
    assert refused.value.status_code == 401
    assert webhook_reads(keyring_reads) == 0
    verifier.verify({"authorization": "Bearer portal-bearer-token"}, BODY)
    assert webhook_reads(keyring_reads) == 3


def test_the_cache_reads_again_when_a_secret_is_written_or_settings_are_saved(keyring_reads, tmp_path):
    secrets.set_signing_secrets([SECRET])
    cache = CachedWebhookCredentials()
    settings = Settings(tmp_path / "settings.json", environ={})
    settings.on_saved(cache.invalidate)
    verifier = Verifier(cache, recheck=cache.recheck)
    for number in range(5):
        verifier.verify(sign_headers(BODY, msg_id=f"a{number}"), BODY)
    assert webhook_reads(keyring_reads) == 3

    secrets.add_signing_secret(NEW_SECRET)  # Settings, the CLI or the registrar rotate it
    verifier.verify(sign_headers(BODY, msg_id="b", secret=NEW_SECRET), BODY)
    assert webhook_reads(keyring_reads) == 3 + 1 + 3  # add_signing_secret reads the old list once

    settings.update({"webhook.authorization": "none"})
    verifier.verify(sign_headers(BODY, msg_id="c"), BODY)
    assert webhook_reads(keyring_reads) == 10


def test_a_secret_changed_by_another_program_is_picked_up_at_most_every_30_seconds(keyring_reads, memory_keyring):
    secrets.set_signing_secrets([SECRET])
    clock = FakeClock()
    cache = CachedWebhookCredentials(recheck_seconds=30, clock=clock)
    verifier = Verifier(cache, recheck=cache.recheck)
    verifier.verify(sign_headers(BODY, msg_id="old"), BODY)
    # Another process writes the keyring: this one's generation does not change.
    memory_keyring.store[(secrets.SERVICE, secrets.WEBHOOK_SECRETS)] = json.dumps([NEW_SECRET])
    clock.now += 5
    for number in range(10):  # forged deliveries cannot make us hammer the keyring
        with pytest.raises(Rejected):
            verifier.verify(sign_headers(BODY, msg_id=f"forged{number}", secret=NEW_SECRET), BODY)
    assert webhook_reads(keyring_reads) == 3
    clock.now += 30
    assert verifier.verify(sign_headers(BODY, msg_id="new", secret=NEW_SECRET), BODY).delivery_id == "new"
    assert webhook_reads(keyring_reads) == 6


def test_a_locked_keyring_is_not_cached(memory_keyring):
    import keyring.errors

    secrets.set_signing_secrets([SECRET])
    cache = CachedWebhookCredentials()
    memory_keyring.fail_with = keyring.errors.KeyringLocked("locked")
    verifier = Verifier(cache)
    with pytest.raises(Rejected) as refused:
        verifier.verify(sign_headers(BODY), BODY)
    assert refused.value.status_code == 503
    memory_keyring.fail_with = None
    assert verifier.verify(sign_headers(BODY), BODY).signed


# --- private files ------------------------------------------------------------------------

def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
@pytest.mark.sqlite_only  # the database file's mode; a team's PostgreSQL keeps no file here
def test_the_data_folder_database_logs_and_settings_are_private(data_dir):
    previous = os.umask(0o022)  # the usual umask: what a library would create 0755/0644
    try:
        home = paths.data_dir()
        assert home == data_dir and mode(home) == 0o700
        engine = open_database()
        engine.dispose()
        database = paths.database_path()
        assert mode(database) == 0o600
        for sidecar in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            if sidecar.exists():
                assert mode(sidecar) == 0o600
        settings = Settings()
        settings.set("listener.port", 9000)
        assert mode(paths.settings_path()) == 0o600
        setup_logging(console=False)
        logging.getLogger("codatdesk.test").warning("a line")
        log_file = paths.log_dir() / "codatdesk.log"
        assert mode(paths.log_dir()) == 0o700 and mode(log_file) == 0o600
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(log_file))
        handler.doRollover()
        assert mode(log_file) == 0o600 and mode(log_file.with_name("codatdesk.log.1")) == 0o600
    finally:
        os.umask(previous)


@posix_only
def test_a_folder_chosen_by_the_user_that_exists_keeps_its_mode(tmp_path):
    chosen = tmp_path / "shared-folder"
    chosen.mkdir(mode=0o755)
    os.chmod(chosen, 0o755)
    paths.set_data_dir(chosen)
    try:
        assert paths.data_dir() == chosen and mode(chosen) == 0o755
    finally:
        paths.set_data_dir(None)


# --- every loaded secret is redacted ------------------------------------------------------

def test_every_secret_is_redacted_once_loaded(memory_keyring):
    values = {
        secrets.API_KEY: "api-key-Zq81mX0pLw",
        secrets.WEBHOOK_BASIC: "codat-user:basic-password-77Hq",
        secrets.WEBHOOK_BEARER: "Bearer bearer-token-5Tnv2Ka",
        secrets.NGROK_AUTHTOKEN: "ngrok-token-2bR9sPq4",
    }
    signing = ["whsec_" + base64.b64encode(b"first-signing-key-32-bytes-long!").decode(),
               "whsec_" + base64.b64encode(b"second-signing-key-32-bytes-lng!").decode()]
    # Stored by another program: nothing in this process has seen them yet.
    for name, value in values.items():
        memory_keyring.store[(secrets.SERVICE, name)] = value
    memory_keyring.store[(secrets.SERVICE, secrets.WEBHOOK_SECRETS)] = json.dumps(signing)

    secrets.get(secrets.API_KEY)
    secrets.get(secrets.NGROK_AUTHTOKEN)
    secrets.webhook_credentials()

    shapes = [*values.values(), *signing, *(s.removeprefix("whsec_") for s in signing),
              "basic-password-77Hq", base64.b64encode(values[secrets.WEBHOOK_BASIC].encode()).decode(),
              "bearer-token-5Tnv2Ka"]
    formatter = RedactingFormatter("%(message)s")
    for shape in shapes:
        record = logging.LogRecord("codatdesk", logging.INFO, __file__, 1, "value=%s!", (shape,), None)
        line = formatter.format(record)
        assert shape not in line and "[redacted]" in line, line


def test_secrets_given_by_environment_are_redacted_too(monkeypatch):
    from codatdesk.logging_setup import redact

    monkeypatch.setenv("CODATDESK_WEBHOOK_BEARER", "env-bearer-token-Lq2")
    monkeypatch.setenv("CODATDESK_WEBHOOK_BASIC", "envuser:env-password-Rw9")
    secrets.webhook_credentials()
    assert redact("got env-bearer-token-Lq2 and env-password-Rw9") == "got [redacted] and [redacted]"
