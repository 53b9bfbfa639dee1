"""The embedded listener over real loopback sockets, with a temporary SQLite inbox."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from standardwebhooks import Webhook

from codatdesk.events import DeliveryRecorded, EventBus, ListenerStateChanged, Notice
from codatdesk.secrets import WebhookCredentials
from codatdesk.store.db import open_database
from codatdesk.store.models import WebhookDelivery
from codatdesk.webhooks import (
    Inbox,
    ListenerConfig,
    ListenerError,
    Rejected,
    StoreResult,
    VerifiedDelivery,
    Verifier,
    WebhookListener,
)
from tests.conftest import wait_until

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW_SECRET = "whsec_" + base64.b64encode(b"the-rotated-endpoint-secret-32by").decode()
BODY = json.dumps({"id": "ba29118f-5406-4e59-b05c-ba307ca38d01", "eventType": "directCosts.write.successful",
                   "generatedDate": "2024-05-01T10:00:24Z",
                   "payload": {"id": "c2f8847d-3047-4619-a157-6d947d8e4a73", "status": "Success"}}).encode()
LEGACY = json.dumps({"CompanyId": "8a210b68-6988-11ed-a1eb-0242ac120002",
                     "RuleType": "Push Operation Status Changed()", "AlertId": "a9367074-b5c3-42c4-9be4-be129f43577e",
                     "Data": {"dataType": "directCosts", "status": "Success",
                              "pushOperationKey": "c2f8847d-3047-4619-a157-6d947d8e4a73"}}).encode()


def sign_headers(body: bytes, *, msg_id: str = "msg_1", secret: str = SECRET, timestamp: int | None = None,
                 prefix: str = "webhook") -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), body.decode())
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(timestamp), f"{prefix}-signature": signature,
            "content-type": "application/json", "user-agent": "Svix-Webhooks/1.0"}


class Harness:
    def __init__(self, listener: WebhookListener, engine, stored: list[StoreResult], events: list) -> None:
        self.listener = listener
        self.engine = engine
        self.stored = stored
        self.events = events
        self.client = httpx.Client(timeout=10, trust_env=False)

    def post(self, body: bytes, headers: dict[str, str], path: str | None = None) -> httpx.Response:
        url = self.listener.url if path is None else f"http://127.0.0.1:{self.listener.port}{path}"
        return self.client.post(url, content=body, headers=headers)

    def rows(self) -> list[WebhookDelivery]:
        with Session(self.engine) as session:
            return list(session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())

    def recorded(self, verdict: str | None = None) -> list[DeliveryRecorded]:
        return [e for e in self.events if isinstance(e, DeliveryRecorded) and verdict in (None, e.verdict)]


@pytest.fixture
def engine(tmp_path):
    from tests.store_kind import database_url

    engine = open_database(database_url(tmp_path / "x.sqlite3"))  # on the suite's store: PostgreSQL in its pass
    yield engine
    engine.dispose()


@pytest.fixture
def make_listener(engine) -> Iterator[Callable[..., Harness]]:
    harnesses: list[Harness] = []

    def make(*, verifier: Verifier | None = None, inbox: Inbox | None = None,
             credentials: WebhookCredentials | None = None, clock: Callable[[], float] = time.time,
             on_stored: Callable[[StoreResult], None] | None = None, start: bool = True,
             **config) -> Harness:
        credentials = credentials or WebhookCredentials((SECRET,), None, None)
        verifier = verifier or Verifier(lambda: credentials, clock=clock)
        config.setdefault("port", 0)
        stored: list[StoreResult] = []
        events: list = []
        bus = EventBus()
        bus.subscribe(events.append)

        def record(result: StoreResult) -> None:
            stored.append(result)
            if on_stored is not None:
                on_stored(result)

        listener = WebhookListener(ListenerConfig(**config), verifier, inbox or Inbox(engine), record, bus)
        harness = Harness(listener, engine, stored, events)
        harnesses.append(harness)
        if start:
            listener.start()
        return harness

    yield make
    for harness in harnesses:
        harness.client.close()
        harness.listener.stop()


def raw_exchange(port: int, data: bytes, *, limit: float = 10.0) -> tuple[bytes, float]:
    """Send ``data`` and read until the server closes; returns (response, seconds until EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(data)
        started = time.monotonic()
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received, time.monotonic() - started
            received += chunk


# --- accepted deliveries ---------------------------------------------------------------

def test_valid_signed_delivery_is_stored_then_answered_200(make_listener):
    h = make_listener()
    response = h.post(BODY, {**sign_headers(BODY), "authorization": "Bearer leaked?"})
    assert response.status_code == 200
    assert "server" not in response.headers and "date" not in response.headers
    [row] = h.rows()
    assert (row.delivery_id, row.body, row.verdict, row.event_type, row.times_received) == (
        "msg_1", BODY, "pending", "directCosts.write.successful", 1)
    stored_headers = json.loads(row.headers_json)
    assert set(stored_headers) == {"webhook-id", "webhook-timestamp", "content-type", "user-agent"}
    assert h.stored == [StoreResult(row.id, True, "pending", "msg_1", "directCosts.write.successful")]
    assert h.recorded("pending")[0].delivery_id == "msg_1"
    assert h.listener.stats == {200: 1}


def test_rotation_second_secret_is_accepted(make_listener):
    h = make_listener(credentials=WebhookCredentials((NEW_SECRET, SECRET), None, None))
    assert h.post(BODY, sign_headers(BODY, secret=SECRET)).status_code == 200
    assert h.post(BODY, sign_headers(BODY, secret=NEW_SECRET, msg_id="msg_2")).status_code == 200
    assert [r.delivery_id for r in h.rows()] == ["msg_1", "msg_2"]


def test_svix_header_names(make_listener):
    h = make_listener()
    assert h.post(BODY, sign_headers(BODY, prefix="svix", msg_id="msg_svix")).status_code == 200
    [row] = h.rows()
    assert row.delivery_id == "msg_svix" and "svix-id" in json.loads(row.headers_json)


def test_known_answer_vector_with_an_injected_clock(make_listener):
    h = make_listener(clock=lambda: 1614265330.0)
    body = b'{"test": 2432232314}'
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    assert h.post(body, headers).status_code == 200
    [row] = h.rows()
    assert (row.delivery_id, row.body, row.event_type) == ("msg_p5jXN8AQM9LWM0D4loKWxJek", body, "")


def test_replayed_id_is_200_and_counted_once(make_listener):
    h = make_listener()
    headers = sign_headers(BODY)
    assert h.post(BODY, headers).status_code == 200
    assert h.post(BODY, headers).status_code == 200
    [row] = h.rows()
    assert row.times_received == 2
    assert [r.is_new for r in h.stored] == [True, False]
    assert h.stored[1] == StoreResult(row.id, False, "pending", "msg_1", "directCosts.write.successful")
    assert [e.verdict for e in h.recorded()] == ["pending", "duplicate"]


def test_duplicate_returns_the_existing_verdict(make_listener):
    h = make_listener()
    headers = sign_headers(BODY)
    h.post(BODY, headers)
    with h.engine.begin() as conn:
        conn.execute(text("UPDATE webhook_delivery SET verdict='applied'"))
    assert h.post(BODY, headers).status_code == 200
    assert h.stored[-1].verdict == "applied" and not h.stored[-1].is_new


def test_malformed_json_validly_signed_is_stored_unusable_with_2xx(make_listener):
    h = make_listener()
    body = b'{"eventType": "directCosts.write.successful", '
    assert h.post(body, sign_headers(body)).status_code == 200
    [row] = h.rows()
    assert row.verdict == "unusable" and "not JSON" in row.verdict_detail and row.body == body
    assert h.stored[0].verdict == "unusable"


def test_legacy_body_with_basic_auth_is_keyed_by_alert_id(make_listener):
    verifier = Verifier(lambda: WebhookCredentials((), "codat:s3cret", None), require_signature=False,
                        authorization="basic")
    h = make_listener(verifier=verifier)
    auth = "Basic " + base64.b64encode(b"codat:s3cret").decode()
    assert h.post(LEGACY, {"authorization": auth, "content-type": "application/json"}).status_code == 200
    [row] = h.rows()
    assert (row.delivery_id, row.event_type) == ("a9367074-b5c3-42c4-9be4-be129f43577e",
                                                 "Push Operation Status Changed()")
    assert "authorization" not in json.loads(row.headers_json)


# --- rejected deliveries -------------------------------------------------------------------

def test_forged_signature_is_401_and_nothing_is_stored(make_listener):
    h = make_listener()
    headers = sign_headers(BODY, secret=NEW_SECRET)
    response = h.post(BODY, headers)
    assert response.status_code == 401
    assert h.rows() == [] and h.stored == []
    [event] = h.recorded("rejected")
    assert event.delivery_id == "msg_1" and "401" in event.detail
    assert h.listener.recent_rejections[-1][1:] == (401, "no matching signature")


@pytest.mark.parametrize("mode,stored,header", [
    ("basic", ("codat:s3cret", None), "Basic " + base64.b64encode(b"codat:wrong").decode()),
    ("basic", ("codat:s3cret", None), "Bearer codat:s3cret"),
    ("bearer", (None, "tok-1"), "Bearer tok-2"),
    ("bearer", (None, "tok-1"), None),
])
def test_wrong_basic_or_bearer_is_401_even_with_a_valid_signature(make_listener, mode, stored, header):
    credentials = WebhookCredentials((SECRET,), *stored)
    h = make_listener(verifier=Verifier(lambda: credentials, authorization=mode))
    headers = sign_headers(BODY)
    if header:
        headers["authorization"] = header
    assert h.post(BODY, headers).status_code == 401
    assert h.rows() == []


def test_correct_authorization_and_signature_together_pass(make_listener):
    credentials = WebhookCredentials((SECRET,), None, "tok-1")
    h = make_listener(verifier=Verifier(lambda: credentials, authorization="bearer"))
    assert h.post(BODY, {**sign_headers(BODY), "authorization": "Bearer tok-1"}).status_code == 200


def test_clock_skew_both_directions_is_401_and_warns_once(make_listener):
    h = make_listener()
    now = int(time.time())
    for index, offset in enumerate([-400, 400, -3600, 7200]):
        response = h.post(BODY, sign_headers(BODY, msg_id=f"msg_{index}", timestamp=now + offset))
        assert response.status_code == 401
        assert "window" in response.text
    assert h.rows() == []
    notices = [e for e in h.events if isinstance(e, Notice)]
    assert len(notices) == 1
    assert notices[0].topic == "clock" and notices[0].level == "warning"
    assert "clock differs from Codat's by more than 5 minutes" in notices[0].message


def test_two_skews_do_not_warn(make_listener):
    h = make_listener()
    for offset in (-400, 400):
        h.post(BODY, sign_headers(BODY, timestamp=int(time.time()) + offset))
    assert not [e for e in h.events if isinstance(e, Notice)]


def test_v1_token_without_comma_is_4xx_not_500(make_listener):
    h = make_listener()
    headers = {**sign_headers(BODY), "webhook-signature": "v1"}
    assert h.post(BODY, headers).status_code in (400, 401)


def test_non_utf8_body_is_4xx_not_500(make_listener):
    h = make_listener()
    body = b"\xff\xfe\xfd"
    headers = {"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": "v1," + base64.b64encode(b"z" * 32).decode()}
    assert h.post(body, headers).status_code in (400, 401)
    assert h.rows() == []


def test_oversized_content_length_is_413_before_reading(make_listener):
    h = make_listener(max_body_bytes=1024)
    # Only the headers are sent: the answer must not wait for a body.
    request = (f"POST {h.listener.config.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n").encode()
    response, elapsed = raw_exchange(h.listener.port, request)
    assert response.startswith(b"HTTP/1.1 413")
    assert elapsed < h.listener.config.read_timeout
    assert h.post(b"x" * 2000, sign_headers(b"x" * 2000)).status_code == 413
    assert h.rows() == []


def test_oversized_chunked_body_is_413(make_listener):
    h = make_listener(max_body_bytes=1024)
    chunk = b"a" * 600
    request = (f"POST {h.listener.config.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    request += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    response, _ = raw_exchange(h.listener.port, request)
    assert response.startswith(b"HTTP/1.1 413")
    assert h.rows() == []


def test_chunked_body_within_the_cap_is_accepted(make_listener):
    h = make_listener()
    headers = sign_headers(BODY)
    response = h.client.post(h.listener.url, content=iter([BODY[:10], BODY[10:]]), headers=headers)
    assert response.status_code == 200
    assert h.rows()[0].body == BODY


def test_stalled_body_is_released_within_read_timeout(make_listener):
    h = make_listener(read_timeout=0.5)
    request = (f"POST {h.listener.config.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
               "{\"partial\":").encode()
    response, elapsed = raw_exchange(h.listener.port, request)
    assert response.startswith(b"HTTP/1.1 408")
    assert 0.4 <= elapsed < 2.0
    assert h.rows() == []


def test_stalled_headers_are_released_within_read_timeout(make_listener):
    h = make_listener(read_timeout=0.5)
    response, elapsed = raw_exchange(h.listener.port, b"POST /webhooks/co")
    assert response == b"" and 0.4 <= elapsed < 2.0
    response, elapsed = raw_exchange(h.listener.port, b"")  # connects, sends nothing
    assert response == b"" and 0.4 <= elapsed < 2.0


def test_wrong_path_404_get_405_trailing_slash_404(make_listener):
    h = make_listener()
    headers = sign_headers(BODY)
    assert h.post(BODY, headers, path="/other").status_code == 404
    assert h.post(BODY, headers, path="/").status_code == 404
    slash = h.post(BODY, headers, path=h.listener.config.path + "/")
    assert slash.status_code == 404 and "location" not in slash.headers
    get = h.client.get(h.listener.url)
    assert get.status_code == 405 and "server" not in get.headers
    assert h.client.put(h.listener.url, content=BODY, headers=headers).status_code == 405
    assert h.rows() == []
    assert {404, 405} <= set(h.listener.stats)


def test_database_failure_is_503_so_codat_retries(make_listener, engine):
    h = make_listener()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE webhook_delivery"))
    response = h.post(BODY, sign_headers(BODY))
    assert response.status_code == 503
    assert "Traceback" not in response.text
    assert h.stored == []


def test_inbox_raising_is_503(make_listener):
    class BrokenInbox:
        def store(self, *args, **kwargs):
            raise OSError("disk I/O error")

    h = make_listener(inbox=BrokenInbox())
    assert h.post(BODY, sign_headers(BODY)).status_code == 503
    assert h.recorded("rejected")


def test_unexpected_verifier_error_is_not_a_500(make_listener):
    class ExplodingVerifier:
        def verify(self, headers, body):
            raise RuntimeError("boom")

    h = make_listener(verifier=ExplodingVerifier())
    response = h.post(BODY, sign_headers(BODY))
    assert response.status_code == 503 and "boom" not in response.text


def test_failing_on_stored_does_not_change_the_answer(make_listener):
    def explode(result: StoreResult) -> None:
        raise RuntimeError("applier queue closed")

    h = make_listener(on_stored=explode)
    assert h.post(BODY, sign_headers(BODY)).status_code == 200
    assert len(h.rows()) == 1


def test_concurrency_cap_answers_503(make_listener, engine):
    release = threading.Event()
    entered: list[str] = []

    class SlowInbox(Inbox):
        def store(self, delivery_id, *args, **kwargs):
            entered.append(delivery_id)
            release.wait(10)
            return super().store(delivery_id, *args, **kwargs)

    h = make_listener(inbox=SlowInbox(engine), max_concurrency=2)
    answers: dict[str, int] = {}

    def send(msg_id: str) -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            answers[msg_id] = client.post(h.listener.url, content=BODY,
                                          headers=sign_headers(BODY, msg_id=msg_id)).status_code

    threads = [threading.Thread(target=send, args=(f"msg_{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(entered) == 2, timeout=5, message="two deliveries in flight")
        third = h.post(BODY, sign_headers(BODY, msg_id="msg_third"))
        assert third.status_code == 503 and third.headers.get("retry-after")
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert answers == {"msg_0": 200, "msg_1": 200}
    assert h.post(BODY, sign_headers(BODY, msg_id="msg_third")).status_code == 200
    assert len(h.rows()) == 3


# --- lifecycle --------------------------------------------------------------------------------

def test_port_in_use_raises_listener_error_naming_the_port(make_listener):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        h = make_listener(port=port, start=False)
        with pytest.raises(ListenerError, match=f"port {port} on 127.0.0.1 is already in use"):
            h.listener.start()
        assert not h.listener.running


def test_only_loopback_hosts_are_allowed(make_listener):
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        h = make_listener(host=host, start=False)
        with pytest.raises(ListenerError):
            h.listener.start()


def test_accept_anything_configuration_is_refused():
    with pytest.raises(ListenerError):
        Verifier(lambda: WebhookCredentials((), None, None), require_signature=False, authorization="none")


def test_stop_joins_and_the_port_can_be_reused(make_listener):
    h = make_listener()
    port = h.listener.port
    assert h.listener.url == f"http://127.0.0.1:{port}/webhooks/codat"
    assert h.post(BODY, sign_headers(BODY)).status_code == 200  # leaves a keep-alive connection open
    started = time.monotonic()
    h.listener.stop()
    assert time.monotonic() - started < 5 and not h.listener.running
    assert not any(t.name == "webhook-listener" and t.is_alive() for t in threading.enumerate())
    again = make_listener(port=port)
    assert again.post(BODY, sign_headers(BODY, msg_id="msg_2")).status_code == 200
    statuses = [e.url for e in h.events if isinstance(e, ListenerStateChanged)]
    assert statuses == [h.listener.url, None]


def test_verified_delivery_shape_is_public():
    # Others construct these in their own tests.
    assert VerifiedDelivery("id", None, False).signed is False
    assert Rejected(401, "x").clock_skew is False


def test_inbox_same_id_from_many_threads_gives_one_row(engine):
    inbox = Inbox(engine)
    results: list[StoreResult] = []
    lock = threading.Lock()

    def store() -> None:
        result = inbox.store("msg_race", BODY, {"webhook-id": "msg_race", "webhook-signature": "v1,x",
                                                "Authorization": "Basic eA=="}, "directCosts.write.successful")
        with lock:
            results.append(result)

    threads = [threading.Thread(target=store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(results) == 8 and sum(r.is_new for r in results) == 1
    assert len({r.row_id for r in results}) == 1
    with Session(engine) as session:
        [row] = session.exec(select(WebhookDelivery)).all()
    assert row.times_received == 8
    assert json.loads(row.headers_json) == {"webhook-id": "msg_race"}


def test_inbox_batch_of_new_known_and_repeated_ids(engine):
    """One group commit holding a new delivery twice and one stored before: one row each, repeats counted,
    and each caller told whether its copy was the new one (PostgreSQL inserts the new ones in one statement)."""
    from codatdesk.webhooks.inbox import _Pending

    inbox = Inbox(engine)
    known = inbox.store("msg_known", BODY, {}, "directCosts.write.successful")

    def pending(delivery_id: str, verdict: str = "pending") -> _Pending:
        return _Pending(delivery_id, {"delivery_id": delivery_id, "event_type": f"type of {delivery_id}",
                                      "headers_json": "{}", "body": BODY, "verdict": verdict, "verdict_detail": ""})

    batch = [pending("msg_new"), pending("msg_known", "unusable"), pending("msg_new"), pending("msg_other")]
    results = inbox._write_once(batch)
    assert [(r.delivery_id, r.is_new, r.verdict) for r in results] == [
        ("msg_new", True, "pending"), ("msg_known", False, "pending"), ("msg_new", False, "pending"),
        ("msg_other", True, "pending")]
    assert results[1].row_id == known.row_id and results[0].row_id == results[2].row_id
    with Session(engine) as session:
        rows = {row.delivery_id: row for row in session.exec(select(WebhookDelivery)).all()}
    assert {d: row.times_received for d, row in rows.items()} == {"msg_known": 2, "msg_new": 2, "msg_other": 1}
    assert rows["msg_new"].id == results[0].row_id and rows["msg_new"].event_type == "type of msg_new"
    assert rows["msg_new"].received_at is not None and rows["msg_new"].body == BODY


def test_missing_signing_secret_is_401_with_a_notice_once(make_listener):
    h = make_listener(credentials=WebhookCredentials((), None, None))
    for index in range(3):
        assert h.post(BODY, sign_headers(BODY, msg_id=f"msg_{index}")).status_code == 401
    notices = [e for e in h.events if isinstance(e, Notice)]
    assert len(notices) == 1 and notices[0].topic == "webhook_secret"


def test_rejections_are_logged_once_each_without_credentials(make_listener, caplog):
    credentials = WebhookCredentials((SECRET,), None, "stored-token-value")
    h = make_listener(verifier=Verifier(lambda: credentials, authorization="bearer"))
    caplog.set_level("INFO", logger="codatdesk.webhooks")
    h.post(BODY, {**sign_headers(BODY), "authorization": "Bearer presented-token-value"})
    h.post(BODY, {**sign_headers(BODY, msg_id="msg_2", secret=NEW_SECRET), "authorization": "Bearer stored-token-value"})
    lines = [r.getMessage() for r in caplog.records if "webhook rejected" in r.getMessage()]
    assert len(lines) == 2 and "401" in lines[0] and "msg_2" in lines[1]
    text_logged = caplog.text
    for secret in ("presented-token-value", "stored-token-value", SECRET, NEW_SECRET):
        assert secret not in text_logged
