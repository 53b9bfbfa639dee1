"""Hostile input: a seeded fuzzer against the webhook listener, stalling clients, the concurrency cap.

The fuzzer writes raw bytes to the socket (so broken framing and broken HTTP get through):
random methods, paths, HTTP versions, headers (signature headers with junk, wrong or
duplicated Content-Length, chunked framing good and bad, huge and odd headers), bodies
(random bytes, JSON events, deep nesting, other encodings, NUL bytes, oversized). It does
not know the signing secret: nothing it sends may be stored, change an expense, get a
5xx, or stop the listener.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
from collections import Counter

import httpx
import pytest

from codatdesk.sandbox import SandboxConfig
from tests.engine_harness import Harness
from tests.reliability.support import (
    REGISTRY,
    Stopwatch,
    count_rows,
    raw_request,
    report,
    seed_expenses,
    sign,
    sized,
    snapshot_expenses,
    status_of,
    write_event,
)

pytestmark = pytest.mark.reliability

REQUESTS = sized(2_000, 100_000)
SENDERS = 16
READ_TIMEOUT = 1.0
MAX_BODY = 16 * 1024
STALLERS = 50
PATH = "/webhooks/codat"

METHODS = ["POST"] * 12 + ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PRI", "post",
                           "P0ST", "", "POST POST", "\x00POST", "GET" * 50]
PATHS = [PATH] * 10 + [PATH + "/", PATH.upper(), "/" + PATH, PATH + "?a=1&a=2", PATH + "#x", "/webhooks/%63odat",
                       "/../webhooks/codat", PATH + "/../../etc/passwd", "*", "http://evil.example" + PATH, PATH + "%00",
                       "/webhooks/c\u00f3dat", "/" + "a" * 9000, "", "/%", "/%zz", PATH + ";x", "/\r\nX: y"]
VERSIONS = ["HTTP/1.1"] * 10 + ["HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1 extra", "HTTP", "http/1.1", ""]


def junk(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def text_junk(rng: random.Random, n: int) -> str:
    alphabet = "abcXYZ019 ,.=;:+/-_\t\"'\\{}[]\u00e9\u4e2d\u0000\u202e"
    return "".join(rng.choice(alphabet) for _ in range(n))


def fuzz_body(rng: random.Random) -> bytes:
    choice = rng.randrange(13)
    if choice == 0:
        return b""
    if choice == 1:
        return junk(rng, rng.randrange(1, 3000))
    if choice == 2:  # a plausible event: only the signature is missing or wrong
        status = rng.choice(["Success", "Failed", "TimedOut", "Pending"])
        return write_event(f"fuzz-key-{rng.randrange(40)}", status, f"evt-{rng.getrandbits(32)}")
    if choice == 3:
        depth = rng.choice([100, 10_000, 200_000])
        return b"[" * depth + b"]" * depth
    if choice == 4:
        return json.dumps({"eventType": "directCosts.write.successful", "payload": {"id": "x", "status": "Success"}}
                          ).encode("utf-16")
    if choice == 5:
        return '{"eventType": "directCosts.write.successful", "n": "\u00e9"}'.encode("latin-1")
    if choice == 6:
        return b'{"a": 1e999999, "b": -0, "c": 123456789012345678901234567890, "d": NaN}'
    if choice == 7:
        return b'{"eventType": "\x00\x00", "payload": {"id": "\x00"}}'
    if choice == 8:
        return b"x" * rng.choice([MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, MAX_BODY * 4])
    if choice == 9:
        return json.dumps({"id": "e", "eventType": "connection.disconnected", "generatedDate": "2999-01-01T00:00:00Z",
                           "payload": {"connection": {"id": "c", "status": "Unlinked"}}}).encode()
    if choice == 10:
        return b'{"RuleType": "Push Operation Status Changed()", "AlertId": "a", "Data": {"pushOperationKey": "k"}}'
    if choice == 11:
        return text_junk(rng, rng.randrange(1, 500)).encode("utf-8", "surrogatepass")
    return b'{"' + b"k" * 5000 + b'": ' + b"9" * 5000 + b"}"


def fuzz_headers(rng: random.Random, body: bytes) -> list[tuple[str, str]]:
    now = int(time.time())
    headers: list[tuple[str, str]] = []
    if rng.random() < 0.9:
        headers.append(("Host", rng.choice(["127.0.0.1", "evil.example", "", "a" * 300])))
    if rng.random() < 0.8:
        headers.append(("Connection", rng.choice(["close"] * 6 + ["keep-alive", "upgrade", "close, upgrade"])))
    if rng.random() < 0.7:
        headers.append(("Content-Type", rng.choice(["application/json", "text/plain", "application/json; charset=utf-16",
                                                     "multipart/form-data; boundary=x", text_junk(rng, 20)])))
    if rng.random() < 0.8:  # signature headers: all junk, the fuzzer has no secret
        msg_id = rng.choice([f"msg_{rng.getrandbits(40):x}", "", "x" * 500, text_junk(rng, 30), "msg_1.2.3"])
        headers.append((rng.choice(["webhook-id", "svix-id", "Webhook-ID"]), msg_id))
        headers.append((rng.choice(["webhook-timestamp", "svix-timestamp"]), rng.choice(
            [str(now), "0", "-1", "99999999999999999999", "1.5e9", "nan", "", text_junk(rng, 8), str(now + 10**6)])))
        signature = rng.choice([
            "v1," + base64.b64encode(junk(rng, 32)).decode(), "v1", "v1,", "v2,abc", "v1a," + "A" * 88,
            " ".join("v1," + base64.b64encode(junk(rng, 32)).decode() for _ in range(rng.randrange(1, 40))),
            "v1," + "=" * 100, text_junk(rng, 100), "v1," * 1000])
        headers.append((rng.choice(["webhook-signature", "svix-signature"]), signature))
    if rng.random() < 0.2:
        headers.append(("Authorization", rng.choice(["Basic " + base64.b64encode(junk(rng, 12)).decode(),
                                                      "Bearer " + text_junk(rng, 20), "Basic !!!", "Negotiate x"])))
    if rng.random() < 0.1:
        headers.append(("Expect", "100-continue"))
    if rng.random() < 0.05:
        headers.append(("Upgrade", "websocket"))
    if rng.random() < 0.05:
        headers.append(("X-Huge", "h" * rng.choice([8000, 20000, 70000])))
    if rng.random() < 0.05:
        headers.extend((f"X-Many-{i}", "v") for i in range(rng.choice([50, 150])))
    if rng.random() < 0.03:
        headers.append(("Content-Encoding", "gzip"))
    return headers


def fuzz_request(rng: random.Random) -> bytes:
    method, path, version = rng.choice(METHODS), rng.choice(PATHS), rng.choice(VERSIONS)
    body = fuzz_body(rng)
    headers = fuzz_headers(rng, body)
    framing = rng.randrange(20)
    payload = body
    if framing < 14:
        headers.append(("Content-Length", str(len(body))))
    elif framing < 16:
        headers.append(("Transfer-Encoding", "chunked"))
        cut = rng.randrange(len(body) + 1) if body else 0
        pieces = [body[:cut], body[cut:]]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"
    elif framing == 16:  # broken chunked framing
        headers.append(("Transfer-Encoding", rng.choice(["chunked", "gzip, chunked", "chunked, identity"])))
        payload = b"zz\r\n" + body[:50] + b"\r\n"
    elif framing == 17:  # lies about the length (short: the rest is read as the next request)
        headers.append(("Content-Length", str(max(0, len(body) - rng.randrange(1, 20)))))
    elif framing == 18:
        headers.append(("Content-Length", rng.choice(["-1", "abc", "1e3", " 12", "0x10", "99999999999999999999"])))
    else:  # two Content-Lengths, or both framings
        headers.append(("Content-Length", str(len(body))))
        headers.append(rng.choice([("Content-Length", str(len(body) + 1)), ("Transfer-Encoding", "chunked")]))
    head = f"{method} {path} {version}".strip() + "\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    raw = head.encode("utf-8", "surrogatepass") + b"\r\n" + payload
    if rng.random() < 0.02:  # a request cut short: the listener must time it out, not hang
        raw = raw[:rng.randrange(1, len(raw))]
    return raw


@pytest.fixture
def rig(data_dir):
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=23))
    h.settings_overrides = {"listener.read_timeout": READ_TIMEOUT, "listener.max_body_bytes": MAX_BODY}
    h.start_sandbox()
    yield h
    h.stop()


def seed_rows(core, company_id: str) -> None:
    specs = ([{"key": f"fuzz-key-{i}"} for i in range(20)]
             + [{"key": f"fuzz-key-{i}", "op_status": "Success"} for i in range(20, 30)]
             + [{"key": f"fuzz-key-{i}", "op_status": "Failed"} for i in range(30, 40)] + [{} for _ in range(10)])
    seed_expenses(core.db, company_id, specs)


def test_fuzzer(rig):
    watch = Stopwatch()
    core = rig.start_core()
    REGISTRY.secret(rig.secrets[0])
    REGISTRY.secret(rig.sandbox.api_key)
    assert core.reconciler.wait_for_run(0, 30)
    seed_rows(core, rig.sandbox.company_id)
    before = snapshot_expenses(core.db)
    changes_before = count_rows(core.db, "status_change")
    port = core.listener.port
    statuses: Counter = Counter()
    hangs: list[bytes] = []
    lock = threading.Lock()
    counter = iter(range(REQUESTS))

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            request = fuzz_request(rng)
            answer, seconds = raw_request(port, request, timeout=READ_TIMEOUT + 4)
            status = status_of(answer)
            with lock:
                statuses[status] += 1
                if status is None and seconds >= READ_TIMEOUT + 3.5:
                    hangs.append(request[:200])

    threads = [threading.Thread(target=worker, args=(1000 + i,), daemon=True) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(statuses.values()) == REQUESTS
    assert not [s for s in statuses if s is not None and s >= 500], f"5xx answers: {statuses}"
    assert not [code for code in core.listener.stats if code >= 500]
    assert not hangs, f"{len(hangs)} requests were never answered nor closed, e.g. {hangs[:2]}"
    assert core.listener.running
    assert snapshot_expenses(core.db) == before, "an expense row changed"
    assert count_rows(core.db, "status_change") == changes_before
    assert count_rows(core.db, "webhook_delivery") == 0, "the fuzzer got something stored"
    # Still serving: a genuine delivery goes through afterwards.
    body = write_event("fuzz-key-0", "Success", "evt-genuine")
    assert httpx.post(core.listener_url, content=body, headers=sign(rig.secrets[0], "msg_genuine", body),
                      timeout=10, trust_env=False).status_code == 200
    report("hostile_input", requests=REQUESTS, senders=SENDERS, statuses={str(k): v for k, v in statuses.items()},
           seconds=round(watch.seconds, 1), result="passed")


def stall(port: int, data: bytes, results: list, lock: threading.Lock) -> None:
    """Send part of a request, then nothing; time how long until the listener lets go."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT + 10) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionError):
            pass
    with lock:
        results.append((time.monotonic() - started, status_of(answer)))


def test_stalling_clients_are_released_within_the_read_timeout(rig):
    core = rig.start_core()
    port = core.listener.port
    body_stall = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                  "webhook-id: msg_stall\r\n\r\n{\"partial\":").encode()
    header_stall = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Le".encode()
    results: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=stall, args=(port, body_stall, results, lock)) for _ in range(STALLERS)]
    threads += [threading.Thread(target=stall, args=(port, header_stall, results, lock)) for _ in range(10)]
    for thread in threads:
        thread.start()
    # While they stall, a genuine delivery is still served.
    body = write_event("stall-key", "Success", "evt-stall")
    assert httpx.post(core.listener_url, content=body, headers=sign(rig.secrets[0], "msg_during_stall", body),
                      timeout=10, trust_env=False).status_code == 200
    for thread in threads:
        thread.join(READ_TIMEOUT + 15)
    assert len(results) == STALLERS + 10
    slowest = max(seconds for seconds, _ in results)
    assert slowest < READ_TIMEOUT + 1.5, f"a stalled client was held {slowest:.1f} s"
    assert Counter(status for _, status in results) == {408: STALLERS, None: 10}
    report("hostile_input_stall", stallers=STALLERS + 10, slowest_release=round(slowest, 2), result="passed")


def test_requests_beyond_the_concurrency_cap_get_503(data_dir):
    cap = 8
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=29))
    h.settings_overrides = {"listener.read_timeout": 5.0, "listener.max_concurrency": cap}
    h.start_sandbox()
    try:
        core = h.start_core()
        port = core.listener.port
        holders = []
        for _ in range(cap):  # each holds a delivery in flight: headers sent, body still coming
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{{".encode())
            holders.append(sock)
        from tests.conftest import wait_until

        wait_until(lambda: core.listener._in_flight >= cap, 5, message="the cap filled")
        body = write_event("cap-key", "Success", "evt-cap")
        answers = [httpx.post(core.listener_url, content=body, headers=sign(h.secrets[0], f"msg_cap_{i}", body),
                              timeout=10, trust_env=False) for i in range(20)]
        assert [a.status_code for a in answers] == [503] * 20
        assert all(a.headers.get("retry-after") for a in answers)
        for sock in holders:
            sock.close()
        wait_until(lambda: core.listener._in_flight == 0, 10, message="the held deliveries let go")
        again = httpx.post(core.listener_url, content=body, headers=sign(h.secrets[0], "msg_cap_after", body),
                           timeout=10, trust_env=False)
        assert again.status_code == 200
        assert count_rows(core.db, "webhook_delivery") == 1
        report("hostile_input_cap", cap=cap, over_cap=20, result="passed")
    finally:
        h.stop()
