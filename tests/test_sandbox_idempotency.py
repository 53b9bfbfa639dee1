"""The sandbox's Idempotency-Key rules (codat-docs docs/using-the-api/write-data/idempotency.md),
its push-answer drop knob and its page-overlap knob. In-process transport; no spec files read."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from codatdesk.sandbox import Sandbox, SandboxConfig
from codatdesk.sandbox.idempotency import DOCUMENTED_TTL_SECONDS
from tests.sandbox_support import client_for, direct_cost


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.05))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def push_url(sb: Sandbox, data_type: str = "directCosts") -> str:
    return f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/{data_type}"


def post(client: httpx.Client, sb: Sandbox, body: dict, key: str | None, data_type: str = "directCosts") -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(push_url(sb, data_type), json=body, headers=headers)


def test_the_default_cache_lasts_the_documented_90_minutes() -> None:
    assert DOCUMENTED_TTL_SECONDS == 90 * 60 == SandboxConfig().idempotency_ttl


def test_the_same_key_and_body_replays_the_first_answer_and_writes_once(sb: Sandbox, client: httpx.Client) -> None:
    key, body = str(uuid.uuid4()), direct_cost(sb)
    first = post(client, sb, body, key)
    assert first.status_code == 200
    assert sb.wait_idle(5)
    second = post(client, sb, body, key)
    assert second.status_code == 200
    # The first answer (Pending), not the operation's state now: the cached response is replayed.
    assert second.json() == first.json() and second.json()["status"] == "Pending"
    assert len(sb.push_operations) == 1 and len(sb.ledger()) == 1
    assert sb.idempotency.stats.replayed == 1
    # Without the header (or with a new key) the same body is a new push.
    assert post(client, sb, body, None).json()["pushOperationKey"] != first.json()["pushOperationKey"]
    assert post(client, sb, body, str(uuid.uuid4())).json()["pushOperationKey"] != first.json()["pushOperationKey"]
    assert len(sb.push_operations) == 3


def test_the_same_key_with_another_body_is_422(sb: Sandbox, client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    assert post(client, sb, direct_cost(sb, reference="A"), key).status_code == 200
    other = post(client, sb, direct_cost(sb, reference="B"), key)
    assert other.status_code == 422 and other.json()["statusCode"] == 422
    # On another endpoint it is another request too.
    account = {"nominalCode": "901", "name": "X", "fullyQualifiedCategory": "Expense.DirectCosts"}
    assert post(client, sb, account, key, "accounts").status_code == 422
    assert len(sb.push_operations) == 1


def test_the_same_key_while_the_first_request_is_in_progress_is_409(sb: Sandbox) -> None:
    sb.config.latency = 0.5  # the first request is in the handler for half a second
    key, body = str(uuid.uuid4()), direct_cost(sb)
    answers: list[httpx.Response] = []

    def send() -> None:
        with client_for(sb) as http:
            answers.append(post(http, sb, body, key))

    first = threading.Thread(target=send)
    first.start()
    from tests.conftest import wait_until

    wait_until(lambda: len(sb.idempotency) == 1, 5, message="first request in progress")
    with client_for(sb) as http:
        conflict = post(http, sb, body, key)
    first.join(5)
    assert conflict.status_code == 409 and conflict.json()["statusCode"] == 409
    assert [a.status_code for a in answers] == [200]
    assert len(sb.push_operations) == 1
    # Once the first answered, the same request gets its answer again.
    with client_for(sb) as http:
        again = post(http, sb, body, key)
    assert again.status_code == 200 and again.json() == answers[0].json()


def test_a_429_is_not_kept_so_the_same_key_is_a_fresh_attempt(sb: Sandbox, client: httpx.Client) -> None:
    key, body = str(uuid.uuid4()), direct_cost(sb)
    sb.config.throttle_rate = 1.0
    limited = post(client, sb, body, key)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert sb.push_operations == {}
    sb.config.throttle_rate = 0.0
    fresh = post(client, sb, body, key)
    assert fresh.status_code == 200 and len(sb.push_operations) == 1
    assert sb.idempotency.stats.released == 1 and sb.idempotency.stats.replayed == 0


def test_other_errors_are_kept_and_replayed(sb: Sandbox, client: httpx.Client) -> None:
    """The docs: every answer but a 429 is cached, 4xx and 5xx included."""
    key, body = str(uuid.uuid4()), direct_cost(sb)
    sb.config.error_rate = 1.0
    failed = post(client, sb, body, key)
    assert failed.status_code in (500, 503)
    sb.config.error_rate = 0.0
    replay = post(client, sb, body, key)
    assert replay.status_code == failed.status_code and replay.json() == failed.json()
    assert sb.push_operations == {}


def test_a_kept_answer_expires_after_the_ttl(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.idempotency_ttl = 0.0
    key, body = str(uuid.uuid4()), direct_cost(sb)
    assert post(client, sb, body, key).status_code == 200
    assert post(client, sb, body, key).status_code == 200
    assert len(sb.push_operations) == 2  # outside the window the key protects nothing


@pytest.mark.parametrize("value", ["not-a-guid", "12345"])
def test_a_key_that_is_not_a_guid_is_400(sb: Sandbox, client: httpx.Client, value: str) -> None:
    assert post(client, sb, direct_cost(sb), value).status_code == 400
    assert sb.push_operations == {}


def test_push_drop_rate_loses_the_answer_after_the_push_took_effect(sb: Sandbox) -> None:
    sb.config.push_drop_rate = 1.0
    key, body = str(uuid.uuid4()), direct_cost(sb)
    with client_for(sb) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            post(http, sb, body, key)
        assert len(sb.push_operations) == 1 and sb.dropped_push_answers == 1
        # Reads are not affected by the knob.
        assert http.get(f"/companies/{sb.company_id}/push").status_code == 200
        sb.config.push_drop_rate = 0.0
        replay = post(http, sb, body, key)
    assert replay.status_code == 200 and replay.json()["pushOperationKey"] == next(iter(sb.push_operations))
    assert sb.wait_idle(5) and len(sb.ledger()) == 1


def test_push_drop_mode_timeout_answers_too_late(sb: Sandbox) -> None:
    sb.config.update({"push_drop_rate": 1.0, "push_drop_mode": "timeout", "stall_seconds": 2.0})
    with client_for(sb, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            post(http, sb, direct_cost(sb), str(uuid.uuid4()))
    assert len(sb.push_operations) == 1
    with pytest.raises(ValueError):
        sb.config.update({"push_drop_mode": "sometimes"})


def test_page_overlap_repeats_records_across_pages(sb: Sandbox, client: httpx.Client) -> None:
    url = f"/companies/{sb.company_id}/data/accounts"
    everything = client.get(url, params={"pageSize": 1000}).json()["results"]
    sb.config.page_overlap = 2
    seen: list[str] = []
    page = 1
    while True:
        body = client.get(url, params={"page": page, "pageSize": 5}).json()
        seen.extend(r["id"] for r in body["results"])
        assert body["totalResults"] == len(everything)
        if "next" not in body["_links"]:
            break
        page += 1
    assert set(seen) == {r["id"] for r in everything}  # nothing skipped
    assert len(seen) > len(set(seen))  # but records repeat
