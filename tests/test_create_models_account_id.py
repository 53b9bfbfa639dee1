"""A created account whose Success names no id: codatdesk queues a chartOfAccounts sync and finds
the account by its code in the re-read chart of accounts (Codat serves pushed records only after a
sync: codat-docs docs/using-the-api/push.md)."""

from __future__ import annotations

import pytest

from codatdesk.codat import CodatClient
from codatdesk.engine.created_lookup import find_account_id, with_record_id
from codatdesk.engine.results import OperationResult
from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.conftest import wait_until


@pytest.fixture
def sb():
    box = Sandbox(SandboxConfig(push_delay=0.05))
    yield box
    box.shutdown()


@pytest.fixture
def client(sb):
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=sb.transport(), sleep=lambda s: None) as c:
        yield c


def test_a_success_without_the_id_finds_the_account_by_code_after_a_sync(sb, client):
    # Without the sync on completion (Codat's allowSyncOnPushComplete=false), as a bulk push sends it.
    answer = client._push(sb.company_id, sb.connection_id, "accounts", "chartOfAccounts", {
        "nominalCode": "486", "name": "Software", "fullyQualifiedCategory": "Expense.Overhead"},
        {"allowSyncOnPushComplete": "false"}, None, False)
    key = answer["pushOperationKey"]
    wait_until(lambda: sb.push_operations[key]["status"] == "Success", 10, message="account created")
    assert not any(a.get("nominalCode") == "486" for a in client.list_accounts(sb.company_id))  # not synced yet
    without_id = OperationResult(key=key, status="Success", data_type="chartOfAccounts", has_details=True)
    found = with_record_id(client, sb.company_id, "486", without_id, delays=(0.0,))
    (created,) = [a for a in sb.accounts() if a["nominalCode"] == "486"]
    assert found.record_id == created["id"]


def test_nothing_is_guessed_when_the_code_is_not_found_once_or_is_shared():
    class Client:
        def __init__(self):
            self.queued = []

        def queue_sync(self, company_id, data_type):
            self.queued.append(data_type)
            return {}

        def list_accounts(self, company_id):
            return [{"id": "a1", "nominalCode": "485"}, {"id": "a2", "nominalCode": "485"}]

    result = OperationResult(key="k", status="Success", data_type="chartOfAccounts", has_details=True)
    client = Client()
    assert with_record_id(client, "co", "486", result, delays=(0.0, 0.0)).record_id is None
    assert with_record_id(client, "co", "485", result, delays=(0.0,)).record_id is None
    assert client.queued == ["chartOfAccounts", "chartOfAccounts"]
    failed = OperationResult(key="k", status="Failed", data_type="chartOfAccounts")
    assert with_record_id(client, "co", "486", failed) is failed
    assert find_account_id([{"id": "x", "nominalCode": "486 "}, {"id": "y", "nominalCode": "486",
                                                               "metadata": {"isDeleted": True}}], "486") == "x"


def test_reading_the_push_operation_falls_back_to_the_chart_of_accounts(db):
    """The engine's read of a Success without the id (fetch_details_now) hands the applier the id
    found by code, so the dependents go on instead of failing."""
    from codatdesk.engine.pusher import PushEngine
    from codatdesk.events import EventBus
    from codatdesk.importer import ensure_company
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import PushOperation

    with session_scope(db) as session:
        ensure_company(session, "co", "Co")
        session.add(PushOperation(key="k1", company_id="co", connection_id="conn", data_type="chartOfAccounts",
                                  creates_code="486", status="Success"))

    class Client:
        def get_push_operation(self, company_id, key):
            return {"pushOperationKey": key, "dataType": "chartOfAccounts", "status": "Success", "changes": None,
                    "statusCode": 200}

        def queue_sync(self, company_id, data_type):
            return {}

        def list_accounts(self, company_id):
            return [{"id": "acc-486", "nominalCode": "486"}]

    submitted = []
    engine = PushEngine(db, EventBus(), Client, connection_for=lambda c: "conn", key_stored=lambda k: None,
                        submit_result=lambda company, result, cause: submitted.append(result))
    engine.fetch_details_now("co", "k1")
    assert [(r.key, r.status, r.record_id) for r in submitted] == [("k1", "Success", "acc-486")]


def test_a_supplier_created_without_its_id_is_found_by_name_after_a_suppliers_sync():
    class Client:
        def __init__(self):
            self.queued = []

        def queue_sync(self, company_id, data_type):
            self.queued.append(data_type)
            return {}

        def list_suppliers(self, company_id):
            return [{"id": "s1", "supplierName": "Acme"}, {"id": "s2", "supplierName": "Nobody Ltd"}]

    client = Client()
    result = OperationResult(key="k", status="Success", data_type="suppliers", has_details=True)
    assert with_record_id(client, "co", "nobody ltd", result, delays=(0.0,)).record_id == "s2"
    assert client.queued == ["suppliers"]
