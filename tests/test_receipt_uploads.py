"""Receipts go to the ledger after their direct cost exists, as their own tracked step (core + sandbox, loopback)."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import PushOperation, Receipt
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, statuses
from tests.receipt_samples import heic_bytes, pdf_bytes, png_bytes, write
from tests.store_kind import database_url


def receipts(core) -> list[Receipt]:
    with Session(core.db) as session:
        return list(session.exec(select(Receipt).order_by(Receipt.id)))


def uploaded_to_sandbox(harness) -> list[dict]:
    from codatdesk.sandbox.attachments import store_of

    return store_of(harness.sandbox).of(harness.company_id)


def record_id(core, expense) -> str:
    with Session(core.db) as session:
        return session.get(PushOperation, expense.push_operation_key).record_id


def push_and_complete(core, ids) -> None:
    assert core.push(ids).wait(15)
    wait_until(lambda: statuses(core) == [S.COMPLETE] * len(ids), 15, message="pushes complete")


def test_receipts_attached_before_the_push_are_uploaded_to_the_new_direct_cost(harness, tmp_path):
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    first, second = expenses(core)
    core.attach_receipt(first.id, write(tmp_path, "taxi.png", png_bytes()))
    core.attach_receipt(second.id, write(tmp_path, "hotel.pdf", pdf_bytes()))
    assert [r.upload_status for r in receipts(core)] == ["pending", "pending"]
    push_and_complete(core, [first.id, second.id])
    wait_until(lambda: [r.upload_status for r in receipts(core)] == ["uploaded", "uploaded"], 15,
               message="receipts uploaded")
    first, second = expenses(core)
    in_ledger = {(a["directCostId"], a["name"], a["content"]) for a in uploaded_to_sandbox(harness)}
    assert in_ledger == {(record_id(core, first), "taxi.png", png_bytes()),
                         (record_id(core, second), "hotel.pdf", pdf_bytes())}
    assert all(r.remote_id and r.uploaded_at for r in receipts(core))
    assert {a["id"] for a in uploaded_to_sandbox(harness)} == {r.remote_id for r in receipts(core)}


def test_a_receipt_attached_to_a_completed_expense_is_uploaded_at_once(harness, tmp_path):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    push_and_complete(core, [expense.id])
    view = core.attach_receipt(expense.id, write(tmp_path, "late.pdf", pdf_bytes()))
    wait_until(lambda: core.receipts(expense.id)[0].upload_status == "uploaded", 15, message="uploaded")
    assert [a["name"] for a in uploaded_to_sandbox(harness)] == [view.file_name]


def test_a_failed_upload_says_why_and_is_retried_without_pushing_again(harness, tmp_path):
    from codatdesk.sandbox.attachments import store_of

    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    view = core.attach_receipt(expense.id, write(tmp_path, "r.png", png_bytes()))
    store_of(harness.sandbox).refuse_next = 1
    push_and_complete(core, [expense.id])
    wait_until(lambda: core.receipts(expense.id)[0].upload_status == "failed", 15, message="upload failed")
    failed = core.receipts(expense.id)[0]
    assert "Codat refused the upload" in failed.state_text and "retry" in failed.state_text
    assert statuses(core) == [S.COMPLETE]  # the expense is in the ledger; only its receipt is not
    core.retry_receipt_upload(view.id)
    wait_until(lambda: core.receipts(expense.id)[0].upload_status == "uploaded", 15, message="retried")
    assert len(harness.sandbox.ledger(harness.company_id)) == 1  # no second direct cost
    assert len(uploaded_to_sandbox(harness)) == 1


def test_an_upload_a_crash_left_is_sent_again_under_its_key_and_lands_once(harness, tmp_path):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    push_and_complete(core, [expense.id])
    wait_until(lambda: record_id(core, expenses(core)[0]), 10, message="record id stored")
    # Another path holds the receipt back: attach it the way a crashed process left it (claimed, key stored,
    # its POST landed at Codat, the answer lost).
    from codatdesk.receipts import attach

    view = attach.attach(core.db, core.receipt_files, expense.id, write(tmp_path, "r.pdf", pdf_bytes()))
    receipt, key = core.receipt_uploads._claim(view.id, "gbol")
    core.client().upload_direct_cost_attachment(harness.company_id, harness.connection_id,
                                                record_id(core, expenses(core)[0]), receipt.file_name,
                                                receipt.media_type, pdf_bytes(), idempotency_key=key)
    harness.stop_core()
    assert receipts_status(harness, tmp_path) == "uploading"
    core = harness.start_core()  # the first reconciliation sweeps unfinished uploads
    wait_until(lambda: core.receipts(expense.id)[0].upload_status == "uploaded", 15, message="swept")
    assert len(uploaded_to_sandbox(harness)) == 1  # Codat replayed the first answer under the same key
    assert core.receipts(expense.id)[0].remote_id == uploaded_to_sandbox(harness)[0]["id"]


def receipts_status(harness, tmp_path) -> str:
    from codatdesk.store.db import open_database

    db = open_database(database_url(tmp_path / "core.sqlite3"))  # the harness's store (tests/store_kind.py)
    try:
        with Session(db) as session:
            return session.exec(select(Receipt.upload_status)).one()
    finally:
        db.dispose()


def test_a_pending_receipt_of_a_completed_expense_is_picked_up_by_reconciliation(harness, tmp_path):
    core = harness.start_core()
    # The completion's own look for receipts is lost (as in a crash): only reconciliation is left. Left in, it
    # ran in the company's pool after the attach below now and then, and was still uploading when the run ended.
    core.receipt_uploads._look_at_completed = lambda company_id: None
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    push_and_complete(core, [expense.id])
    from codatdesk.receipts import attach

    attach.attach(core.db, core.receipt_files, expense.id, write(tmp_path, "r.png", png_bytes()))  # no trigger
    runs = core.reconciler.run_soon()
    assert core.reconciler.wait_for_run(runs, 15)
    assert core.receipts(expense.id)[0].upload_status == "uploaded"


def test_a_ledger_without_attachments_refuses_before_sending_and_names_the_source(harness, tmp_path):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.attach_receipt(expense.id, write(tmp_path, "photo.heic", heic_bytes()))
    push_and_complete(core, [expense.id])
    wait_until(lambda: core.receipts(expense.id)[0].upload_status == "refused", 15, message="refused")
    text = core.receipts(expense.id)[0].state_text
    assert "Xero does not accept HEIC attachments" in text and "uploading-receipts.md" in text
    assert uploaded_to_sandbox(harness) == []


def test_the_sandbox_answers_an_upload_with_a_write_result_of_codats_shape(harness, tmp_path):
    from tests.openapi_schemas import validation_errors

    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    push_and_complete(core, [expense.id])
    wait_until(lambda: record_id(core, expenses(core)[0]), 10, message="record id stored")
    answer = core.client().upload_direct_cost_attachment(harness.company_id, harness.connection_id,
                                                         record_id(core, expenses(core)[0]), "r.png", "image/png",
                                                         png_bytes())
    assert validation_errors(answer, "Codat-Platform.json", "PushOperation", strict=True) == []
    assert answer["changes"][0]["type"] == "AttachmentUploaded"
    from codatdesk.codat import CodatError

    try:
        core.client().upload_direct_cost_attachment(harness.company_id, harness.connection_id, "no-such-cost",
                                                    "r.png", "image/png", png_bytes())
    except CodatError as exc:
        assert exc.status == 404
    else:
        raise AssertionError("an unknown direct cost must be refused")
