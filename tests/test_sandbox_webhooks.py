"""Webhooks the sandbox sends: bodies per Codat-Webhooks.json, Standard Webhooks signatures,
retries, duplicates, drops, legacy bodies, delivery auth, connection events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.openapi_schemas import validate, validate_webhook
from tests.sandbox_support import Received, Receiver, account_ids, client_for, direct_cost

WRITE_EVENTS = ["directCosts.write.successful", "directCosts.write.unsuccessful",
                "chartOfAccounts.write.successful", "chartOfAccounts.write.unsuccessful"]
CONNECTION_EVENTS = ["connection.created", "connection.connected", "connection.disconnected", "connection.reconnected"]


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def receiver(shared_receiver: Receiver, sb: Sandbox) -> Iterator[Receiver]:
    """The module's receiver, emptied; torn down after the sandbox so no stale delivery leaks in."""
    shared_receiver.reset()
    yield shared_receiver
    sb.shutdown()
    shared_receiver.reset()


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02, retry_schedule=(0, 0.05, 0.1, 0.2)))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def push(sb: Sandbox, client: httpx.Client, body: dict[str, Any], data_type: str = "directCosts") -> str:
    url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/{data_type}"
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()["pushOperationKey"]


def verified(message: Received, secret: str) -> dict[str, Any]:
    """Verify the Standard Webhooks signature on the raw bytes and return the parsed body."""
    body = Webhook(secret).verify(message.body, message.headers)
    assert message.headers["webhook-id"].startswith("msg_")
    assert abs(int(message.headers["webhook-timestamp"]) - time.time()) < 60
    return body


def test_successful_direct_cost_webhook(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    key = push(sb, client, direct_cost(sb))
    (message,) = receiver.wait_for(1)
    event = verified(message, consumer["secret"])
    validate_webhook(event, "directCosts.write.successful", strict=True)
    assert event["eventType"] == "directCosts.write.successful"
    payload = event["payload"]
    operation = sb.push_operations[key]
    assert payload["id"] == key and payload["status"] == "Success" and payload["type"] == "Create"
    assert payload["record"]["id"] == operation["changes"][0]["recordRef"]["id"] == sb.ledger()[0]["id"]
    assert payload["connectionId"] == sb.connection_id
    assert payload["referenceCompany"]["id"] == sb.company_id
    assert payload["requestedOnDate"] == operation["requestedOnUtc"]
    assert payload["completedOnDate"] == operation["completedOnUtc"]
    assert message.headers["content-type"] == "application/json"
    assert "authorization" not in message.headers


def test_signature_fails_with_another_secret_or_a_changed_body(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    push(sb, client, direct_cost(sb))
    (message,) = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(message.body, message.headers)
    consumer_secret = sb.consumer_secret(next(iter(sb.state.consumers)))
    with pytest.raises(WebhookVerificationError):
        Webhook(consumer_secret).verify(message.body.replace(b"Success", b"Failed!"), message.headers)


@pytest.mark.parametrize(("note", "status"), [("[sandbox:timeout]", "TimedOut"), (None, "Failed")])
def test_unsuccessful_direct_cost_webhook(sb: Sandbox, client: httpx.Client, receiver: Receiver,
                                          note: str | None, status: str) -> None:
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    body = direct_cost(sb, note=note) if note else direct_cost(sb, totalAmount=99)
    key = push(sb, client, body)
    (message,) = receiver.wait_for(1)
    event = verified(message, consumer["secret"])
    validate_webhook(event, "directCosts.write.unsuccessful", strict=True)
    assert event["eventType"] == "directCosts.write.unsuccessful"
    assert event["payload"]["status"] == status and event["payload"]["id"] == key
    assert "record" not in event["payload"]  # details live on GET /push/{key}


def test_account_push_webhook_carries_the_new_record_id(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    key = push(sb, client, {"nominalCode": "4712", "name": "Subscriptions", "fullyQualifiedCategory": "Expense.Overhead"},
               "accounts")
    (message,) = receiver.wait_for(1)
    event = verified(message, consumer["secret"])
    validate_webhook(event, "chartOfAccounts.write.successful", strict=True)
    record_id = event["payload"]["record"]["id"]
    assert record_id == sb.push_operations[key]["changes"][0]["recordRef"]["id"]
    assert record_id in [a["id"] for a in sb.accounts()]
    assert record_id != account_ids(sb)["429"]


def test_only_subscribed_event_types_are_sent(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.add_webhook_consumer(receiver.url("ok"), ["directCosts.write.successful"])
    sb.add_webhook_consumer(receiver.url("bad"), ["directCosts.write.unsuccessful"])
    sb.add_webhook_consumer(receiver.url("disabled"), WRITE_EVENTS, disabled=True)
    push(sb, client, direct_cost(sb))
    push(sb, client, direct_cost(sb, totalAmount=1))
    assert sb.wait_idle(5)
    paths = sorted(m.path for m in receiver.delivered)
    assert paths == ["/bad", "/ok"]


def test_company_tags_filter(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.add_webhook_consumer(receiver.url("tagged"), ["company.created"], company_tags=["workspace:42"])
    sb.add_webhook_consumer(receiver.url("all"), ["company.created"])
    created = client.post("/companies", json={"name": "Tagged", "tags": {"workspace": "42"}}).json()
    client.post("/companies", json={"name": "Untagged"})
    assert sb.wait_idle(5)
    tagged = [json.loads(m.body) for m in receiver.delivered if m.path == "/tagged"]
    assert [e["payload"]["id"] for e in tagged] == [created["id"]]
    assert len([m for m in receiver.delivered if m.path == "/all"]) == 2
    for event in tagged:
        validate_webhook(event, "company.created", strict=True)


def test_retries_after_500_keep_the_webhook_id(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    receiver.statuses = [500, 503]
    push(sb, client, direct_cost(sb))
    attempts = receiver.wait_for(3, successful=False)
    assert sb.wait_idle(5)
    assert [a.status for a in attempts] == [500, 503, 200]
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    bodies = [verified(a, consumer["secret"]) for a in attempts]  # each attempt is signed afresh
    assert bodies[0] == bodies[2]
    log = sb.deliverer.log
    assert [a.status_code for a in log.attempts] == [500, 503, 200]
    assert log.delivered == [(attempts[0].headers["webhook-id"], consumer["id"])]


def test_delivery_is_abandoned_after_the_schedule(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.retry_schedule = (0, 0.02, 0.02)
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    receiver.default_status = 500
    push(sb, client, direct_cost(sb))
    assert sb.wait_idle(5)
    assert len(receiver.all_received) == 3 and receiver.delivered == []
    assert [pair[1] for pair in sb.deliverer.log.abandoned] == [consumer["id"]]


def test_unreachable_consumer_is_retried_then_abandoned(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.retry_schedule = (0, 0.02)
    sb.add_webhook_consumer("http://127.0.0.1:9/closed", WRITE_EVENTS)
    push(sb, client, direct_cost(sb))
    assert sb.wait_idle(10)
    errors = [a.error for a in sb.deliverer.log.attempts]
    assert len(errors) == 2 and all(errors)


def test_deleting_a_consumer_cancels_pending_retries(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.retry_schedule = (0, 0.3, 0.3)
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    receiver.default_status = 500
    push(sb, client, direct_cost(sb))
    receiver.wait_for(1, successful=False)
    assert client.delete(f"/webhooks/{consumer['id']}").status_code == 204
    assert sb.wait_idle(5)
    assert len(receiver.all_received) == 1


def test_duplicate_share_sends_the_same_message_twice(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.duplicate_share = 1.0
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    push(sb, client, direct_cost(sb))
    first, second = receiver.wait_for(2)
    assert sb.wait_idle(5)
    assert len(receiver.delivered) == 2
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verified(first, consumer["secret"]) == verified(second, consumer["secret"])


def test_drop_share_never_delivers(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.drop_share = 1.0
    sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    key = push(sb, client, direct_cost(sb))
    assert sb.wait_idle(5)
    assert receiver.all_received == [] and len(sb.deliverer.log.dropped) == 1
    assert sb.push_operations[key]["status"] == "Success"  # the write itself happened


def test_drop_and_duplicate_shares_are_partial_and_seeded(receiver: Receiver) -> None:
    def run() -> tuple[int, int]:
        sandbox = Sandbox(SandboxConfig(push_delay=0.0, seed=11, drop_share=0.3, duplicate_share=0.3))
        try:
            sandbox.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
            with client_for(sandbox) as http:
                for _ in range(20):
                    push(sandbox, http, direct_cost(sandbox))
            assert sandbox.wait_idle(10)
            return len(sandbox.deliverer.log.dropped), len(sandbox.deliverer.log.duplicated)
        finally:
            sandbox.shutdown()

    dropped, duplicated = run()
    assert 0 < dropped < 20 and 0 < duplicated < 20
    assert run() == (dropped, duplicated)


def test_shuffle_still_delivers_everything(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.shuffle = True
    consumer = sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    keys = {push(sb, client, direct_cost(sb)) for _ in range(8)}
    receiver.wait_for(8)
    assert sb.wait_idle(5)
    assert {verified(m, consumer["secret"])["payload"]["id"] for m in receiver.delivered} == keys


def test_delivery_authorization_header(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.delivery_authorization = "Bearer sandbox-token"
    sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    push(sb, client, direct_cost(sb))
    (message,) = receiver.wait_for(1)
    assert message.headers["authorization"] == "Bearer sandbox-token"


def test_slow_consumer_does_not_block_requests(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    receiver.delay = 1.0
    sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS)
    push(sb, client, direct_cost(sb))
    receiver.wait_for(1, successful=False)
    started = time.monotonic()
    assert client.get("/companies").status_code == 200
    push(sb, client, direct_cost(sb))
    assert time.monotonic() - started < 0.7
    assert sb.deliverer.active >= 1


# -- connections ----------------------------------------------------------------------------------

def test_connection_webhooks(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    consumer = sb.add_webhook_consumer(receiver.url(), CONNECTION_EVENTS)
    sb.set_connection_status(sb.company_id, sb.connection_id, "Deauthorized")
    receiver.wait_for(1)
    sb.set_connection_status(sb.company_id, sb.connection_id, "Linked")
    receiver.wait_for(2)
    patched = client.patch(f"/companies/{sb.company_id}/connections/{sb.connection_id}", json={"status": "Unlinked"})
    assert patched.status_code == 200
    receiver.wait_for(3)  # deliveries run concurrently: wait before the next change to keep the order
    created = client.post(f"/companies/{sb.company_id}/connections", json={"platformKey": "gbol"}).json()
    receiver.wait_for(4)
    sb.set_connection_status(sb.company_id, created["id"], "Linked")
    events = [verified(m, consumer["secret"]) for m in receiver.wait_for(5)]
    for event in events:
        validate_webhook(event, event["eventType"], strict=True)
    summary = [(e["eventType"], e["payload"]["connection"]["status"]) for e in events]
    assert summary == [
        ("connection.disconnected", "Deauthorized"),
        ("connection.reconnected", "Linked"),
        ("connection.disconnected", "Unlinked"),
        ("connection.created", "PendingAuth"),
        ("connection.connected", "Linked"),
    ]
    deauthorized = events[0]["payload"]["connection"]
    assert deauthorized["dataConnectionErrors"][0]["status"] == "Active"
    assert events[1]["payload"]["connection"]["dataConnectionErrors"][0]["status"] == "Resolved"
    assert events[0]["payload"]["referenceCompany"]["id"] == sb.company_id
    assert len({e["id"] for e in events}) == 5


# -- legacy ---------------------------------------------------------------------------------------

def test_legacy_bodies_are_unsigned_and_carry_authorization(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.legacy_webhooks = True
    sb.config.delivery_authorization = "Basic dXNlcjpwYXNz"
    sb.add_webhook_consumer(receiver.url(), WRITE_EVENTS + ["connection.disconnected"])
    key = push(sb, client, direct_cost(sb, note="[sandbox:timeout]"))
    receiver.wait_for(1)
    sb.set_connection_status(sb.company_id, sb.connection_id, "Deauthorized")
    push_message, connection_message = receiver.wait_for(2)
    for message in (push_message, connection_message):
        assert message.headers["authorization"] == "Basic dXNlcjpwYXNz"
        assert not {"webhook-id", "webhook-signature", "webhook-timestamp"} & set(message.headers)

    legacy_push = json.loads(push_message.body)
    validate(legacy_push, "Codat-Webhooks.json", "PushOperationStatusChangedWebhook", strict=True)
    assert legacy_push["RuleType"] == "Push Operation Status Changed()"
    assert legacy_push["Data"] == {"dataType": "directCosts", "status": "TimedOut", "pushOperationKey": key}
    assert legacy_push["CompanyId"] == sb.company_id and legacy_push["DataConnectionId"] == sb.connection_id
    assert legacy_push["RuleId"] == next(iter(sb.state.consumers))
    assert set(legacy_push) == {"ClientId", "ClientName", "CompanyId", "DataConnectionId", "RuleId", "RuleType",
                                "AlertId", "Message", "Data"}

    legacy_connection = json.loads(connection_message.body)
    validate(legacy_connection, "Codat-Webhooks.json", "ConnectionStatusChangedWebhook", strict=True)
    assert legacy_connection["RuleType"] == "DataConnectionStatusChanged"
    assert legacy_connection["Data"] == {"dataConnectionId": sb.connection_id, "newStatus": "Deauthorized",
                                         "oldStatus": "Linked", "platformKey": "gbol"}


def test_legacy_event_names_subscribe_too(sb: Sandbox, client: httpx.Client, receiver: Receiver) -> None:
    sb.config.legacy_webhooks = True
    sb.add_webhook_consumer(receiver.url(), ["PushOperationStatusChanged"])
    push(sb, client, direct_cost(sb))
    (message,) = receiver.wait_for(1)
    assert json.loads(message.body)["Data"]["status"] == "Success"
