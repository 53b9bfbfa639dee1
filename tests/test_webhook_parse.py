"""parse_event against Codat's webhook shapes (Codat-Webhooks.json): current and legacy."""

from __future__ import annotations

import copy
import datetime as dt
import json
from functools import lru_cache
from typing import Any

import pytest

from codatdesk.webhooks import ConnectionEvent, IgnoredEvent, UnusableEvent, WriteResult, parse_event
from tests.openapi_schemas import openapi_dir, validate, validate_webhook

SPEC = "Codat-Webhooks.json"
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"
KEY = "c2f8847d-3047-4619-a157-6d947d8e4a73"
UTC = dt.UTC


@lru_cache(maxsize=1)
def _spec() -> dict:
    return json.loads((openapi_dir() / SPEC).read_text(encoding="utf-8"))


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def spec_examples(event_type: str) -> dict[str, dict]:
    content = _spec()["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
    return {name: copy.deepcopy(example["value"]) for name, example in content.get("examples", {}).items()}


def schema_example(schema: str) -> dict:
    return copy.deepcopy(_spec()["components"]["schemas"][schema]["examples"][0])


def write_event(event_type: str = "directCosts.write.successful", **payload_changes: Any) -> dict:
    payload = {
        "id": KEY,
        "type": "Create",
        "referenceCompany": {"id": COMPANY, "name": "Toft stores", "description": "",
                             "links": {"portal": f"https://app.codat.io/companies/{COMPANY}/summary"},
                             "tags": {"workspace": "w1"}},
        "connectionId": CONNECTION,
        "requestedOnDate": "2024-05-01T10:00:00Z",
        "completedOnDate": "2024-05-01T10:00:23.123Z",
        "status": "Success",
        "record": {"id": "dc_123"},
        "attachmentId": None,
    }
    payload.update(payload_changes)
    return {"id": "ba29118f-5406-4e59-b05c-ba307ca38d01", "eventType": event_type,
            "generatedDate": "2024-05-01T10:00:24Z", "payload": payload}


def connection_event(event_type: str = "connection.connected", status: str = "Linked", **changes: Any) -> dict:
    connection = {
        "id": CONNECTION,
        "integrationId": "bf083d72-62c7-493e-aec9-81b4dbba7e2c",
        "integrationKey": "gbol",
        "sourceId": "bdd831ce-eebd-4896-89a7-20e5ee8989ee",
        "platformName": "Sandbox",
        "linkUrl": f"https://link-api.codat.io/companies/{COMPANY}/connections/{CONNECTION}/start",
        "status": status,
        "lastSync": None,
        "created": "2024-05-01T09:00:00Z",
        "sourceType": "Accounting",
        "dataConnectionErrors": [{"statusCode": "401", "statusText": "Unauthorized",
                                  "errorMessage": "token expired", "erroredOnUtc": "2024-05-01T09:30:00Z",
                                  "status": "Active", "resolvedOnUtc": None}],
    }
    connection.update(changes)
    return {"id": "a1b2c3d4-5406-4e59-b05c-ba307ca38d01", "eventType": event_type,
            "generatedDate": "2024-05-01T10:00:24.5Z",
            "payload": {"referenceCompany": {"id": COMPANY, "name": "Toft stores"}, "connection": connection}}


# --- current write events -----------------------------------------------------------

def test_built_write_fixture_is_a_real_codat_shape_and_parses():
    document = write_event()
    validate_webhook(document, "directCosts.write.successful", strict=True)
    event = parse_event(encode(document))
    assert event == WriteResult(
        event_id="ba29118f-5406-4e59-b05c-ba307ca38d01", event_type="directCosts.write.successful",
        data_type="directCosts", push_operation_key=KEY, status="Success", record_id="dc_123",
        company_id=COMPANY, connection_id=CONNECTION,
        completed_at=dt.datetime(2024, 5, 1, 10, 0, 23, 123000, tzinfo=UTC),
        generated_at=dt.datetime(2024, 5, 1, 10, 0, 24, tzinfo=UTC), legacy=False)


@pytest.mark.parametrize("status", ["Failed", "TimedOut"])
def test_unsuccessful_write_carries_the_payload_status(status):
    document = write_event("chartOfAccounts.write.unsuccessful", status=status, record=None)
    validate_webhook(document, "chartOfAccounts.write.unsuccessful", strict=True)
    event = parse_event(encode(document))
    assert isinstance(event, WriteResult)
    assert (event.data_type, event.status, event.record_id) == ("chartOfAccounts", status, None)


def test_missing_status_defaults_by_event_type():
    for event_type, expected in (("suppliers.write.successful", "Success"), ("suppliers.write.unsuccessful", "Failed")):
        document = write_event(event_type)
        del document["payload"]["status"]
        assert parse_event(encode(document)).status == expected


WRITE_TYPES = [name for name in _spec()["webhooks"] if ".write." in name]


@pytest.mark.parametrize("event_type", WRITE_TYPES)
def test_every_spec_write_example_parses(event_type):
    examples = spec_examples(event_type)
    assert examples, f"{event_type} has no example"
    for name, document in examples.items():
        validate_webhook(document, event_type)
        event = parse_event(encode(document))
        assert isinstance(event, WriteResult), name
        payload = document["payload"]
        assert event.event_type == event_type
        assert event.data_type == event_type.split(".")[0]
        assert event.push_operation_key == payload["id"]
        assert event.status == payload["status"]
        assert event.company_id == payload["referenceCompany"]["id"]
        assert event.connection_id == payload["connectionId"]
        assert event.record_id == (payload.get("record") or {}).get("id")
        assert event.generated_at is not None and event.generated_at.tzinfo is not None
        assert event.completed_at is not None and event.completed_at.tzinfo is not None


# --- current connection events --------------------------------------------------------

@pytest.mark.parametrize("event_type,status", [
    ("connection.created", "PendingAuth"), ("connection.connected", "Linked"),
    ("connection.disconnected", "Unlinked"), ("connection.disconnected", "Deauthorized"),
    ("connection.reconnected", "Linked"), ("connection.failed", "PendingAuth"),
])
def test_built_connection_fixtures_parse(event_type, status):
    document = connection_event(event_type, status)
    validate_webhook(document, event_type, strict=True)
    event = parse_event(encode(document))
    assert isinstance(event, ConnectionEvent)
    assert (event.event_type, event.status, event.company_id, event.connection_id) == (
        event_type, status, COMPANY, CONNECTION)
    assert (event.platform_name, event.integration_key) == ("Sandbox", "gbol")
    assert event.link_url.endswith("/start")
    assert event.errors[0]["errorMessage"] == "token expired"
    assert event.generated_at == dt.datetime(2024, 5, 1, 10, 0, 24, 500000, tzinfo=UTC)
    assert not event.legacy


def test_connection_deleted_reports_deleted_whatever_the_embedded_status():
    document = connection_event("connection.deleted", "Linked")
    validate_webhook(document, "connection.deleted", strict=True)
    event = parse_event(encode(document))
    assert isinstance(event, ConnectionEvent) and event.status == "Deleted"


CONNECTION_TYPES = sorted(name for name in _spec()["webhooks"] if name.startswith("connection."))


@pytest.mark.parametrize("event_type", CONNECTION_TYPES)
def test_every_spec_connection_example_parses(event_type):
    # Codat's examples name the envelope field "type" instead of "eventType": accepted too.
    for name, document in spec_examples(event_type).items():
        validate_webhook(document, event_type)
        event = parse_event(encode(document))
        assert isinstance(event, ConnectionEvent), name
        connection = document["payload"]["connection"]
        assert event.event_type == event_type
        assert event.connection_id == connection["id"]
        assert event.company_id == document["payload"]["referenceCompany"]["id"]
        assert event.status == ("Deleted" if event_type == "connection.deleted" else connection["status"])
        assert event.platform_name == connection["platformName"]


def test_connection_without_errors_has_empty_errors():
    document = connection_event()
    del document["payload"]["connection"]["dataConnectionErrors"]
    assert parse_event(encode(document)).errors == ()


# --- ignored ---------------------------------------------------------------------------

IGNORED_TYPES = ["read.completed", "read.completed.initial", "company.created", "company.deleted",
                 "client.rateLimit.reached", "client.rateLimit.reset", "bankFeeds.sourceAccount.connected",
                 "reports.categorizedBankStatement.generate.successful"]


@pytest.mark.parametrize("event_type", IGNORED_TYPES)
def test_known_events_we_do_not_act_on_are_ignored(event_type):
    for document in spec_examples(event_type).values():
        validate_webhook(document, event_type)
        event = parse_event(encode(document))
        assert event == IgnoredEvent(event_type, document["id"])


def test_other_data_types_writes_are_still_write_results():
    event = parse_event(encode(write_event("invoices.write.successful")))
    assert isinstance(event, WriteResult) and event.data_type == "invoices"


def test_our_own_tunnel_self_test_event_is_ignored():
    body = encode({"id": "x", "eventType": "codatdesk.selftest", "generatedDate": "2024-05-01T10:00:00Z",
                   "payload": {}})
    assert parse_event(body) == IgnoredEvent("codatdesk.selftest", "x")


# --- legacy rules bodies -----------------------------------------------------------------

def test_legacy_push_status_changed_spec_example():
    document = schema_example("PushOperationStatusChangedWebhook")
    validate(document, SPEC, "PushOperationStatusChangedWebhook", strict=True)
    event = parse_event(encode(document))
    assert event == WriteResult(
        event_id=document["AlertId"], event_type="PushOperationStatusChanged", data_type="invoices",
        push_operation_key=KEY, status="Success", record_id=None, company_id=COMPANY,
        connection_id=CONNECTION, completed_at=None, generated_at=None, legacy=True)


def test_legacy_push_timed_out_spec_example():
    document = schema_example("PushOperationTimedOutWebhook")
    validate(document, SPEC, "PushOperationTimedOutWebhook", strict=True)
    event = parse_event(encode(document))
    assert isinstance(event, WriteResult)
    assert (event.status, event.push_operation_key, event.legacy) == ("TimedOut", KEY, True)
    # Only the deprecated pushOperationGuid: still usable.
    del document["Data"]["pushOperationKey"]
    assert parse_event(encode(document)).push_operation_key == KEY


def test_legacy_connection_status_changed_spec_example():
    document = schema_example("ConnectionStatusChangedWebhook")
    validate(document, SPEC, "ConnectionStatusChangedWebhook", strict=True)
    event = parse_event(encode(document))
    assert event == ConnectionEvent(
        event_id=document["AlertId"], event_type="DataConnectionStatusChanged", company_id=COMPANY,
        connection_id=CONNECTION, status="Linked", platform_name=None, integration_key="gbol",
        link_url=None, errors=(), generated_at=None, legacy=True)


@pytest.mark.parametrize("rule_type", [
    "Push Operation Status Changed()", "Push Operation Status Changed", "push operation status changed ()",
    "PushOperationStatusChanged", "  PUSH OPERATION STATUS CHANGED()  ",
])
def test_legacy_rule_type_matches_loosely(rule_type):
    document = schema_example("PushOperationStatusChangedWebhook")
    document["RuleType"] = rule_type
    event = parse_event(encode(document))
    assert isinstance(event, WriteResult) and event.legacy and event.status == "Success"


def test_legacy_older_spec_names_the_field_type():
    document = schema_example("PushOperationTimedOutWebhook")
    document["Type"] = document.pop("RuleType")
    assert parse_event(encode(document)).status == "TimedOut"
    document = schema_example("PushOperationTimedOutWebhook")
    document["RuleType"] = "PushOperationTimedOut"
    assert parse_event(encode(document)).status == "TimedOut"


def test_legacy_camel_case_field_names_are_tolerated():
    body = encode({"companyId": COMPANY, "ruleType": "Push Operation Status Changed()", "alertId": "a-1",
                   "data": {"DataType": "directCosts", "Status": "Failed", "PushOperationKey": KEY}})
    event = parse_event(body)
    assert isinstance(event, WriteResult)
    assert (event.event_id, event.company_id, event.status, event.data_type) == ("a-1", COMPANY, "Failed",
                                                                                 "directCosts")


@pytest.mark.parametrize("rule_type", ["Data sync completed", "New company synchronised", "DatasetDataChanged",
                                       "Sync Failed", "sync-complete", "ClientRateLimitReached"])
def test_legacy_rules_we_do_not_act_on_are_ignored(rule_type):
    body = encode({"CompanyId": COMPANY, "RuleType": rule_type, "AlertId": "a-2", "Data": {}})
    assert parse_event(body) == IgnoredEvent(rule_type, "a-2")


# --- unusable -----------------------------------------------------------------------------

def _without(document: dict, *path: str) -> dict:
    target = document
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return document


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "not JSON"),
    (b"", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    (b"[1, 2]", "list"),
    (b'"directCosts.write.successful"', "str"),
    (b"{}", "no eventType"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (encode({"id": "x", "eventType": "directCosts.write.successful"}), "payload"),
    (encode(_without(write_event(), "payload", "id")), "payload.id"),
    (encode({**write_event(), "payload": "oops"}), "payload"),
    (encode({"id": "x", "eventType": "something.new", "payload": {}}), "unknown event type"),
    (encode({"id": "x", "eventType": "connection.renamed", "payload": {}}), "unknown event type"),
    (encode(_without(connection_event(), "payload", "connection")), "payload.connection"),
    (encode(_without(connection_event(), "payload", "connection", "id")), "connection.id"),
    (encode(_without(connection_event(), "payload", "connection", "status")), "connection.status"),
    (encode({"RuleType": "Push Operation Status Changed()", "AlertId": "a"}), "Data"),
    (encode({"RuleType": "Push Operation Status Changed()", "Data": {"status": "Success"}}), "pushOperationKey"),
    (encode({"RuleType": "Push Operation Status Changed()", "Data": {"pushOperationKey": KEY}}), "status"),
    (encode({"RuleType": "DataConnectionStatusChanged", "Data": {"newStatus": "Linked"}}), "dataConnectionId"),
    (encode({"RuleType": "Something Else", "Data": {}}), "unknown legacy rule type"),
])
def test_unusable_bodies_raise_with_a_reason(body, reason):
    with pytest.raises(UnusableEvent) as info:
        parse_event(body)
    assert reason in info.value.reason


def test_dates_naive_means_utc_and_garbage_is_none():
    document = write_event(completedOnDate="2024-05-01T10:00:23", )
    document["generatedDate"] = "yesterday"
    event = parse_event(encode(document))
    assert event.completed_at == dt.datetime(2024, 5, 1, 10, 0, 23, tzinfo=UTC)
    assert event.generated_at is None
    document["generatedDate"] = "2024-05-01T12:00:00.1234567+02:00"
    assert parse_event(encode(document)).generated_at == dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("event_type", ["expenses.sync.successful", "expenses.sync.unsuccessful"])
def test_an_expenses_sync_event_names_its_sync_and_company(event_type):
    from codatdesk.webhooks.parse import ExpensesSyncEvent

    for document in spec_examples(event_type).values():
        validate_webhook(document, event_type)
        event = parse_event(encode(document))
        assert isinstance(event, ExpensesSyncEvent) and event.event_type == event_type
        assert event.sync_id == document["payload"]["syncId"]
        assert event.company_id == document["payload"]["referenceCompany"]["id"]
    with pytest.raises(UnusableEvent, match=r"payload\.syncId is missing"):
        parse_event(encode({"id": "x", "eventType": event_type, "payload": {}}))
