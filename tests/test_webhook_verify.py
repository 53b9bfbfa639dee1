"""Verifier: Standard Webhooks signatures, Authorization, clock window, hostile input."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from codatdesk.secrets import WebhookCredentials
from codatdesk.webhooks import ListenerError, Rejected, VerifiedDelivery, Verifier

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-endpoint-secret-32-bytes").decode()
NOW = 1_700_000_000


def creds(*secrets: str, basic: str | None = None, bearer: str | None = None) -> WebhookCredentials:
    return WebhookCredentials(tuple(secrets), basic, bearer)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    return Webhook(secret).sign(msg_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), body.decode())


def signed_headers(body: bytes, *, secret: str = SECRET, msg_id: str = "msg_1", timestamp: int = NOW,
                   prefix: str = "webhook") -> dict[str, str]:
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(timestamp),
            f"{prefix}-signature": sign(secret, msg_id, timestamp, body)}


def verifier(credentials: WebhookCredentials, **kwargs) -> Verifier:
    kwargs.setdefault("clock", lambda: float(NOW))
    return Verifier(lambda: credentials, **kwargs)


BODY = b'{"id":"e1","eventType":"directCosts.write.successful","payload":{"id":"k1"}}'


def test_known_answer_vector_from_the_svix_docs():
    body = b'{"test": 2432232314}'
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    v = verifier(creds(SECRET), clock=lambda: 1614265330.0)
    assert v.verify(headers, body) == VerifiedDelivery("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, True)
    # One byte different, or re-serialized JSON, must fail.
    with pytest.raises(Rejected) as info:
        v.verify(headers, b'{"test":2432232314}')
    assert info.value.status_code == 401 and not info.value.clock_skew


def test_valid_signature_passes_and_header_names_are_case_insensitive():
    headers = {k.upper(): v for k, v in signed_headers(BODY).items()}
    assert verifier(creds(SECRET)).verify(headers, BODY) == VerifiedDelivery("msg_1", NOW, True)


def test_svix_header_names_are_accepted():
    headers = signed_headers(BODY, prefix="svix")
    assert verifier(creds(SECRET)).verify(headers, BODY).delivery_id == "msg_1"


def test_rotation_any_secret_and_any_v1_entry_may_match():
    headers = signed_headers(BODY, secret=OTHER_SECRET)
    assert verifier(creds(SECRET, OTHER_SECRET)).verify(headers, BODY).signed
    # Sender signs with old and new key; we only know the new one.
    both = f"v1a,c29tZXRoaW5n {sign(SECRET, 'msg_1', NOW, BODY)} {sign(OTHER_SECRET, 'msg_1', NOW, BODY)}"
    headers["webhook-signature"] = both
    assert verifier(creds(OTHER_SECRET)).verify(headers, BODY).signed


def test_forged_signature_and_wrong_secret_are_401():
    forged = signed_headers(BODY)
    forged["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    for headers, secrets in ((forged, (SECRET,)), (signed_headers(BODY, secret=OTHER_SECRET), (SECRET,))):
        with pytest.raises(Rejected) as info:
            verifier(creds(*secrets)).verify(headers, BODY)
        assert info.value.status_code == 401 and not info.value.clock_skew


def test_signature_over_a_different_id_or_timestamp_fails():
    headers = signed_headers(BODY)
    for name, value in (("webhook-id", "msg_2"), ("webhook-timestamp", str(NOW + 1))):
        changed = {**headers, name: value}
        with pytest.raises(Rejected) as info:
            verifier(creds(SECRET)).verify(changed, BODY)
        assert info.value.status_code == 401


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_timestamp_outside_window_is_401_with_clock_skew(offset):
    headers = signed_headers(BODY, timestamp=NOW + offset)
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(headers, BODY)
    assert info.value.status_code == 401 and info.value.clock_skew
    assert ("future" in info.value.reason) == (offset > 0)


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_timestamp_at_the_edge_of_the_window_passes(offset):
    headers = signed_headers(BODY, timestamp=NOW + offset)
    assert verifier(creds(SECRET)).verify(headers, BODY).timestamp == NOW + offset


def test_tolerance_is_configurable():
    headers = signed_headers(BODY, timestamp=NOW - 120)
    with pytest.raises(Rejected):
        verifier(creds(SECRET), tolerance_seconds=60).verify(headers, BODY)


def test_forged_and_stale_is_not_reported_as_clock_skew():
    headers = signed_headers(BODY, timestamp=NOW - 3600)
    headers["webhook-signature"] = "v1," + base64.b64encode(b"y" * 32).decode()
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(headers, BODY)
    assert not info.value.clock_skew


@pytest.mark.parametrize("signature", ["v1", "v1 v1", "v1,", "v1,!!!notbase64", ",", "", "   ", "v2,abc"])
def test_malformed_signature_tokens_are_rejected_not_crashing(signature):
    headers = {**signed_headers(BODY), "webhook-signature": signature}
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(headers, BODY)
    assert info.value.status_code in (400, 401)


def test_a_malformed_token_next_to_a_valid_one_still_passes():
    headers = signed_headers(BODY)
    headers["webhook-signature"] = "v1 " + headers["webhook-signature"]
    assert verifier(creds(SECRET)).verify(headers, BODY).signed


def test_non_utf8_body_is_rejected():
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(signed_headers(b"{}"), b"\xff\xfe{}")
    assert info.value.status_code in (400, 401)


@pytest.mark.parametrize("timestamp", ["nan", "1.5e9", "-5", "abc", "1614265330.0", "99999999999999999999"])
def test_bad_timestamps_are_400(timestamp):
    headers = {**signed_headers(BODY), "webhook-timestamp": timestamp}
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(headers, BODY)
    assert info.value.status_code == 400


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_signature_headers_are_401(missing):
    headers = signed_headers(BODY)
    del headers[missing]
    with pytest.raises(Rejected) as info:
        verifier(creds(SECRET)).verify(headers, BODY)
    assert info.value.status_code == 401 and missing.removeprefix("webhook-") in info.value.reason


def test_bad_secrets_are_skipped_and_no_secret_is_401():
    headers = signed_headers(BODY)
    assert verifier(creds("whsec_", "not base64 at all ***", SECRET)).verify(headers, BODY).signed
    for secrets in ((), ("whsec_",)):
        with pytest.raises(Rejected) as info:
            verifier(creds(*secrets)).verify(headers, BODY)
        assert info.value.status_code == 401


def test_unavailable_credentials_are_503_so_codat_retries():
    def broken() -> WebhookCredentials:
        raise RuntimeError("keyring locked")

    with pytest.raises(Rejected) as info:
        Verifier(broken).verify(signed_headers(BODY), BODY)
    assert info.value.status_code == 503


def test_secret_change_takes_effect_without_a_new_verifier():
    current = {"creds": creds(SECRET)}
    v = Verifier(lambda: current["creds"], clock=lambda: float(NOW))
    headers = signed_headers(BODY, secret=OTHER_SECRET)
    with pytest.raises(Rejected):
        v.verify(headers, BODY)
    current["creds"] = creds(OTHER_SECRET, SECRET)
    assert v.verify(headers, BODY).signed


# --- Authorization ------------------------------------------------------------------

LEGACY = json.dumps({"CompanyId": "c1", "RuleType": "Push Operation Status Changed()",
                     "AlertId": "a9367074-b5c3-42c4-9be4-be129f43577e",
                     "Data": {"dataType": "directCosts", "status": "Success", "pushOperationKey": "k"}}).encode()


def basic(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


def test_basic_auth_legacy_delivery_is_keyed_by_alert_id():
    v = verifier(creds(basic="codat:s3cret"), require_signature=False, authorization="basic")
    result = v.verify({"Authorization": basic("codat:s3cret")}, LEGACY)
    assert result == VerifiedDelivery("a9367074-b5c3-42c4-9be4-be129f43577e", None, False)


@pytest.mark.parametrize("header", [basic("codat:wrong"), basic("codat:s3cret "), "Basic !!!", "Bearer codat:s3cret",
                                    "Basic", "", basic("codat:s3cre")])
def test_wrong_basic_auth_is_401(header):
    v = verifier(creds(basic="codat:s3cret"), require_signature=False, authorization="basic")
    with pytest.raises(Rejected) as info:
        v.verify({"Authorization": header} if header else {}, LEGACY)
    assert info.value.status_code == 401


def test_bearer_accepts_scheme_or_bare_token_and_stored_scheme():
    for stored in ("tok-123", "Bearer tok-123"):
        v = verifier(creds(bearer=stored), require_signature=False, authorization="bearer")
        assert v.verify({"authorization": "Bearer tok-123"}, LEGACY).delivery_id.startswith("a93")
        assert v.verify({"authorization": "tok-123"}, LEGACY).delivery_id.startswith("a93")


@pytest.mark.parametrize("header", ["Bearer tok-124", "Bearer", "tok-12", "Basic dG9rLTEyMw=="])
def test_wrong_bearer_is_401(header):
    v = verifier(creds(bearer="tok-123"), require_signature=False, authorization="bearer")
    with pytest.raises(Rejected) as info:
        v.verify({"authorization": header}, LEGACY)
    assert info.value.status_code == 401


def test_authorization_without_stored_credentials_is_401():
    v = verifier(creds(), require_signature=False, authorization="bearer")
    with pytest.raises(Rejected):
        v.verify({"authorization": "Bearer anything"}, LEGACY)


def test_signature_and_authorization_must_both_pass():
    v = verifier(creds(SECRET, bearer="tok"), authorization="bearer")
    headers = signed_headers(BODY)
    assert v.verify({**headers, "authorization": "Bearer tok"}, BODY).signed
    with pytest.raises(Rejected):
        v.verify({**headers, "authorization": "Bearer nope"}, BODY)
    with pytest.raises(Rejected):
        v.verify({**headers, "webhook-id": "msg_other", "authorization": "Bearer tok"}, BODY)


def test_unsigned_delivery_ids_fall_back_to_header_then_alert_id_then_body_hash():
    v = verifier(creds(bearer="tok"), require_signature=False, authorization="bearer")
    auth = {"authorization": "Bearer tok"}
    assert v.verify({**auth, "webhook-id": "msg_9"}, LEGACY).delivery_id == "msg_9"
    assert v.verify({**auth}, LEGACY).delivery_id == "a9367074-b5c3-42c4-9be4-be129f43577e"
    camel = json.dumps({"alertId": "a-camel", "ruleType": "x"}).encode()
    assert v.verify(auth, camel).delivery_id == "a-camel"
    for body in (b"not json", b"[1,2]", b'{"AlertId": 5}'):
        assert v.verify(auth, body).delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_a_listener_that_accepts_anything_is_refused():
    with pytest.raises(ListenerError):
        Verifier(lambda: creds(), require_signature=False, authorization="none")
    with pytest.raises(ValueError):
        Verifier(lambda: creds(), authorization="digest")


# --- fuzz: verify raises Rejected or returns, never anything else ----------------------

header_values = st.one_of(st.text(max_size=80), st.sampled_from(["v1", "v1,", "v1,,", "v1,AAAA", "1614265330",
                                                                 "nan", "inf", " ", "Basic", "Bearer x"]))


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp",
                         "svix-signature", "authorization"]),
        header_values, max_size=7),
    body=st.binary(max_size=200),
    mode=st.sampled_from(["none", "basic", "bearer"]),
)
def test_fuzz_verify_never_raises_anything_but_rejected(headers, body, mode):
    v = Verifier(lambda: creds(SECRET, "whsec_%%%", basic="u:p", bearer="t"), authorization=mode,
                 clock=lambda: 1614265330.0)
    try:
        result = v.verify(headers, body)
    except Rejected as rejected:
        assert rejected.status_code in (400, 401)
    else:
        assert isinstance(result, VerifiedDelivery)
