"""The read models the window reads through CoreAPI: plain frozen values, never a SQLModel row,
money as Decimal (issue #13). No Qt here: these are the core's queries."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from codatdesk.core_api import (
    NEEDS_YOU,
    ConnectionInfo,
    DeliveryRecord,
    ExpenseDetails,
    ExpenseRecord,
    HistoryEntry,
    OperationRecord,
)
from codatdesk.engine import read_models, read_models_mapping
from codatdesk.importer import ensure_company
from codatdesk.states import ExpenseStatus, Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Connection, Expense, PushOperation, ReferenceRecord, WebhookDelivery
from tests.ui.helpers import add_expenses

PLAIN = (ExpenseDetails, ExpenseRecord, OperationRecord, HistoryEntry, DeliveryRecord)


def _pushed_once(db) -> int:
    (expense_id,) = add_expenses(db, "c1", 1)
    with session_scope(db) as session:
        expense = session.get(Expense, expense_id)
        session.add(PushOperation(key="k1", company_id="c1", connection_id="conn", data_type="directCosts",
                                  expense_id=expense_id, status="Failed", status_code=400,
                                  validation_errors_json='[{"message": "Account archived"}]'))
        expense.push_operation_key = "k1"
        change_status(session, expense, Trigger.PUSH_SENT, Cause.user("ann"), detail="")
        session.add(WebhookDelivery(delivery_id="d1", event_type="directCosts.write.unsuccessful", body=b"{}",
                                    verdict="applied", expense_id=expense_id, push_operation_key="k1"))
    return expense_id


def _fields_are_plain(value: object) -> None:
    """Nothing reachable from a read model is a store row (a session could lazy-load or write it)."""
    from sqlmodel import SQLModel

    assert not isinstance(value, SQLModel), type(value)
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            _fields_are_plain(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            _fields_are_plain(item)


def test_details_are_frozen_plain_values_with_decimal_money(db):
    expense_id = _pushed_once(db)
    details = read_models.expense_details(db, expense_id)
    assert details is not None
    _fields_are_plain(details)
    e = details.expense
    assert (e.status, e.total, e.push_operation_key) == (ExpenseStatus.IN_PROGRESS, Decimal("12.50"), "k1")
    assert isinstance(e.net, Decimal) and isinstance(e.expense_date, dt.date)
    assert [(op.key, op.has_reasons) for op in details.operations] == [("k1", True)]
    assert [(h.from_status, h.to_status, h.cause_ref) for h in details.history] == [
        (ExpenseStatus.NOT_PUSHED.value, ExpenseStatus.IN_PROGRESS.value, "ann")]
    assert [d.delivery_id for d in details.deliveries] == ["d1"]
    assert details.company_name == "Company c1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.total = Decimal(0)  # type: ignore[misc]  # the point: a view cannot change what it shows
    assert read_models.expense_details(db, expense_id + 99) is None


def test_deliveries_carry_their_expenses_words_and_come_oldest_first(db):
    expense_id = _pushed_once(db)
    with session_scope(db) as session:
        session.add(WebhookDelivery(delivery_id="d2", event_type="other", body=b"{}", verdict="ignored"))
    first, second = read_models.deliveries(db)
    assert (first.delivery_id, first.expense_id, first.supplier_name, first.total, first.currency) == (
        "d1", expense_id, "Supplier 0000", Decimal("12.50"), "GBP")
    assert (second.delivery_id, second.expense_id, second.supplier_name, second.total) == ("d2", None, None, None)
    assert read_models.deliveries(db, after_id=first.inbox_id) == [second]
    assert read_models.deliveries(db, after_id=second.inbox_id, inbox_ids=[first.inbox_id]) == [first]


def test_connections_say_which_is_chosen_and_list_one_not_seen_yet(db):
    with session_scope(db) as session:
        ensure_company(session, "c1", "Acme")
        ensure_company(session, "c2", "Other")
        session.add(Connection(id="conn-a", company_id="c1", platform_name="Xero", status="Deauthorized",
                               errors_json='[{"errorMessage": "token revoked"}]'))
    infos = read_models.connections(db, {"c1": "conn-a", "c2": "conn-new"})
    assert infos == [
        ConnectionInfo("c1", "Acme", "conn-a", "Xero", "Deauthorized", None, None, "token revoked", True),
        ConnectionInfo("c2", "Other", "conn-new", "", "not checked yet", None, None, "", True),
    ]
    assert not infos[0].ok
    assert [i.chosen for i in read_models.connections(db, {})] == [False]


def test_mapping_overview_counts_the_lists_and_explains_each_value(db):
    add_expenses(db, "c1", 2)
    read_at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    with session_scope(db) as session:
        session.add_all([
            ReferenceRecord(company_id="c1", data_type="accounts", codat_id="a-429", code="429", name="General",
                            extra_json='{"status": "Active"}', fetched_at=read_at - dt.timedelta(hours=1)),
            ReferenceRecord(company_id="c1", data_type="taxRates", codat_id="t-1", code="INPUT2", name="VAT",
                            fetched_at=read_at),
        ])
    overview = read_models_mapping.mapping_overview(db, "c1")
    assert overview.list_counts == {"accounts": 1, "taxRates": 1}
    assert overview.lists_read_at == read_at  # the newest list read, aware like every stored time
    assert overview.create_suppliers is False
    rows = {(r.kind, r.local_value): r for r in overview.rows}
    assert rows[("account", "429")].codat_id == "a-429" and rows[("account", "429")].used_by == 2
    assert rows[("supplier", "Supplier 0000")].outcome == NEEDS_YOU  # no supplier list read
    _fields_are_plain(overview)
    assert [c.codat_id for c in read_models_mapping.mapping_candidates(db, "c1", "account")] == ["a-429"]
