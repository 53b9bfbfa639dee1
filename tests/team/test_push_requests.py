"""Team mode: desktops ask for pushes in the shared PostgreSQL, one server claims and sends them."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from codatdesk.engine.records import expense_history
from codatdesk.events import ExpenseChanged
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus as S
from codatdesk.states import Trigger
from codatdesk.store.actor import actor_of, set_actor
from codatdesk.store.db import open_database, session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Expense, PushRequest, StatusChange
from codatdesk.team import requests
from codatdesk.team.desktop import ServerOnly, TeamDesktopCore
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started
from tests.receipt_samples import pdf_bytes, png_bytes, write


@pytest.fixture
def team(tmp_path, pg_url):
    """A server core (sandbox, listener, pushes) and a desktop core on the same PostgreSQL database."""
    with started(tmp_path, push_delay=0.05, seed=1) as h:
        h.database_url = pg_url
        server = h.start_core()
        desktop_db = open_database(pg_url)
        set_actor(desktop_db, "alice")  # as if alice's desktop logged in with her own database role
        desktop = TeamDesktopCore(Settings(tmp_path / "desktop.json", environ={}), desktop_db)
        desktop.settings.update({"codat.company_id": h.company_id})
        desktop.start()
        try:
            yield h, server, desktop
        finally:
            desktop.stop()
            desktop_db.dispose()


def _requests(db) -> list[PushRequest]:
    with Session(db) as session:
        return list(session.exec(select(PushRequest).order_by(PushRequest.id)))


def test_a_desktop_queues_and_the_server_sends_each_once(team):
    h, server, desktop = team
    h.import_rows([row(i) for i in range(1, 6)])
    ids = [e.id for e in expenses(server)]

    heard: dict[int, object] = {}
    desktop.bus.subscribe(lambda e: heard.__setitem__(e.expense_id, e.new) if isinstance(e, ExpenseChanged) else None)
    batch = desktop.push(ids)

    assert batch.problems == []
    assert {S(e.status) for e in expenses(server)} == {S.QUEUED}
    assert [r.state for r in _requests(server.db)] == ["queued"] * 5
    assert h.sandbox.push_operations == {}, "a desktop sends nothing itself"
    with Session(server.db) as session:
        change = session.exec(select(StatusChange).where(StatusChange.to_status == S.QUEUED.value)).first()
    assert change.actor == desktop.actor == "alice" and change.trigger == "push requested"
    assert desktop.pushed_by_me() == set(ids)

    loop = requests.RequestServer(server.db, server.pusher, server_id="server-1", is_leader=lambda: True)
    assert loop.run_once() == 5
    wait_until(lambda: {S(e.status) for e in expenses(server)} == {S.COMPLETE}, 20, message="all complete")
    assert [r.state for r in _requests(server.db)] == ["done"] * 5
    wait_until(lambda: all(heard.get(i) is S.COMPLETE for i in ids), 20, message="the desktop hears the results")
    assert Counter(op["dataType"] for op in h.sandbox.push_operations.values()) == {"directCosts": 5}
    assert loop.run_once() == 0, "nothing is claimed twice"
    history = expense_history(server.db, ids[0])
    by = {c.trigger: c.actor for c in history.changes}
    assert by["push requested"] == by["push sent"] == desktop.actor, "sent in the name of who asked"
    assert by["Success"] == actor_of(server.db), "the webhook's change is the server's"


def test_the_check_answers_the_desktop_before_anything_is_queued(team):
    h, server, desktop = team
    h.import_rows([row(1), row(2, tax_code="NOSUCHTAX")])
    server.refresh_reference_data(h.company_id)  # the server reads Codat's lists; the desktop reads them here
    ids = [e.id for e in expenses(server)]

    problems = desktop.check_pushable(ids)

    assert [p.expense_id for p in problems] == [ids[1]] and "NOSUCHTAX" in problems[0].reason
    batch = desktop.push(ids)
    assert [p.expense_id for p in batch.problems] == [ids[1]]
    assert [S(e.status) for e in expenses(server)] == [S.QUEUED, S.NOT_PUSHED]
    assert [r.expense_id for r in _requests(server.db)] == [ids[0]]


def test_a_desktop_has_no_codat(team):
    _h, _server, desktop = team
    assert desktop.listener is None and desktop.tunnel is None
    with pytest.raises(ServerOnly):
        desktop.refresh_reference_data()
    with pytest.raises(ServerOnly):
        desktop.client()


def test_a_desktop_leaves_receipt_uploads_to_the_server(team, monkeypatch, tmp_path):
    """The feed tells every desktop that a row completed; only the server (which holds the key) uploads its
    receipts. A desktop that tried would read the database for every completed row, and fail. The server
    looks at the completed rows together and uploads for those that have receipts."""
    h, server, desktop = team
    h.import_rows([row(i) for i in range(1, 4)])
    with_receipt, *without = [e.id for e in expenses(server)]
    server.attach_receipt(with_receipt, write(tmp_path, "taxi.png", png_bytes()))
    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(server.receipt_uploads, "_upload_logged", asked.append)
    desktop_work: list[object] = []  # what the desktop would hand its pool: recorded as the event is published
    monkeypatch.setattr(desktop.receipt_uploads, "pool",
                        lambda company: SimpleNamespace(submit=lambda *work: desktop_work.append(work)))
    for expense_id in (*without, with_receipt):
        completed = ExpenseChanged(expense_id, h.company_id, S.IN_PROGRESS, S.COMPLETE, "webhook:msg")
        desktop.bus.publish(completed)
        server.bus.publish(completed)
    assert desktop_work == []
    wait_until(lambda: asked, message="the server looked for the row's receipts")
    assert asked == [with_receipt]


def test_the_server_refuses_what_it_cannot_send_and_says_why(team):
    h, server, desktop = team
    h.import_rows([row(1)])
    expense_id = expenses(server)[0].id
    desktop.push([expense_id])
    h.sandbox.set_connection_status(h.company_id, h.connection_id, "Unlinked")

    requests.RequestServer(server.db, server.pusher, server_id="s", is_leader=lambda: True).run_once()

    expense = expenses(server)[0]
    assert S(expense.status) is S.NOT_PUSHED and "Unlinked" in expense.status_detail
    assert _requests(server.db)[0].state == "refused"
    assert h.sandbox.push_operations == {}


def test_claims_are_disjoint_under_concurrency(pg_url):
    """Four servers claiming at once (SKIP LOCKED): each request is claimed by exactly one."""
    db = open_database(pg_url)
    try:
        _queue_requests(db, 200)
        claimed: list[tuple[str, int]] = []
        lock = threading.Lock()

        def server(name: str) -> None:
            while rows := requests.claim(db, name, limit=7):
                with lock:
                    claimed.extend((name, r.id) for r in rows)

        threads = [threading.Thread(target=server, args=(f"s{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        counts = Counter(request_id for _name, request_id in claimed)
        assert len(counts) == 200 and set(counts.values()) == {1}
        assert len({name for name, _ in claimed}) > 1, "the claims were spread over the servers"
    finally:
        db.dispose()


def test_a_dead_servers_claims_are_taken_over(pg_url):
    db = open_database(pg_url)
    try:
        _queue_requests(db, 3)
        assert len(requests.claim(db, "dead-server")) == 3
        assert requests.claim(db, "new-server") == []
        assert requests.take_over(db, "new-server") == 3
        assert [r.claimed_by for r in requests.claim(db, "new-server")] == ["new-server"] * 3
    finally:
        db.dispose()


def _queue_requests(db, count: int) -> None:
    from codatdesk.importer import ensure_company
    from codatdesk.store.db import session_scope

    with session_scope(db) as session:
        ensure_company(session, "c1", "Co")
        for i in range(count):
            expense = Expense(company_id="c1", expense_date="2026-11-01", supplier_name="S", account_code="429",
                              net="1.00", tax="0.00", total="1.00", currency="GBP", source_key=f"k{i}")
            session.add(expense)
    with Session(db) as session:
        ids = list(session.exec(select(Expense.id)))
    assert len(requests.request_push(db, ids, "alice").queued) == count


def test_a_team_desktop_answers_the_window_like_the_core():
    """Every call the window makes (CoreAPI) takes the same parameters on a team desktop."""
    import inspect

    from codatdesk.core_api import CoreAPI
    from codatdesk.engine.core import Core

    for name, _wanted in inspect.getmembers(CoreAPI, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert inspect.signature(getattr(TeamDesktopCore, name)).parameters.keys() == \
            inspect.signature(getattr(Core, name)).parameters.keys(), name


def test_a_taken_over_request_whose_row_the_dead_server_sent_is_not_sent_again(team):
    """A server claimed two requests, sent one (Codat refused it: Push failed) and died. The server that takes
    over sends only the row still Push requested; the refused one waits for the person to fix it."""
    h, server, desktop = team
    h.import_rows([row(1), row(2)])
    sent_before, still_queued = [e.id for e in expenses(server)]
    assert desktop.push([sent_before, still_queued]).problems == []
    assert len(requests.claim(server.db, "dead-server")) == 2
    with session_scope(server.db) as session:  # what the dead server did before it died
        expense = session.get(Expense, sent_before)
        change_status(session, expense, Trigger.PUSH_SENT, Cause.engine("dead-server"))
        change_status(session, expense, Trigger.RESULT_FAILED, Cause.webhook("msg-1"), detail="Codat refused it")

    loop = requests.RequestServer(server.db, server.pusher, server_id="server-1", is_leader=lambda: True)
    assert loop.run_once() == 2  # took the dead server's claims over, then claimed them
    wait_until(lambda: S(next(e for e in expenses(server) if e.id == still_queued).status) is S.COMPLETE, 20,
               message="the row still requested is sent")
    wait_until(lambda: {r.state for r in _requests(server.db)} == {"done"}, 20, message="both requests closed")
    assert Counter(op["dataType"] for op in h.sandbox.push_operations.values()) == {"directCosts": 1}
    assert S(next(e for e in expenses(server) if e.id == sent_before).status) is S.FAILED


def test_the_server_sends_desktops_requests_on_the_expenses_route(team):
    """A company on Codat's Expenses route: a desktop's requests go out as expense transactions."""
    from codatdesk import routes

    h, server, desktop = team
    routes.set_route(server.db, h.company_id, routes.EXPENSES)
    server.refresh_reference_data(h.company_id)
    h.import_rows([row(1), row(2)])
    ids = [e.id for e in expenses(server)]
    assert desktop.push(ids).problems == []

    loop = requests.RequestServer(server.db, server.pusher, server_id="server-1", is_leader=lambda: True)
    assert loop.run_once() == 2
    wait_until(lambda: {S(e.status) for e in expenses(server)} == {S.COMPLETE}, 20, message="both booked")
    assert len(h.sandbox.expenses.bookings(h.company_id)) == 2
    assert [r.state for r in _requests(server.db)] == ["done"] * 2


def test_a_receipt_attached_on_a_desktop_reaches_the_ledger_and_every_desktop(team, tmp_path):
    """Each computer has its own data folder: the bytes travel through the team's database. The server uploads
    what a desktop attached, to a row it sent and to one already in the ledger; a colleague's desktop shows it."""
    from codatdesk.receipts.attach import receipts_of
    from codatdesk.receipts.files import SharedReceiptFiles

    h, server, desktop = team
    server.receipt_uploads.files = SharedReceiptFiles(tmp_path / "server-receipts", server.db)
    desktop.receipt_files = SharedReceiptFiles(tmp_path / "desktop-receipts", desktop.db)
    h.import_rows([row(1), row(2)])
    before, after = [e.id for e in expenses(server)]
    desktop.attach_receipt(before, write(tmp_path, "taxi.png", png_bytes()))
    assert desktop.push([before, after]).problems == []
    loop = requests.RequestServer(server.db, server.pusher, server_id="server-1", is_leader=lambda: True)
    assert loop.run_once() == 2
    wait_until(lambda: {S(e.status) for e in expenses(server)} == {S.COMPLETE}, 20, message="both in the ledger")
    desktop.attach_receipt(after, write(tmp_path, "hotel.pdf", pdf_bytes()))  # to a row already in the ledger

    wait_until(lambda: [r.upload_status for i in (before, after) for r in server.receipts(i)] == ["uploaded"] * 2,
               20, message="the server uploaded both")
    assert (tmp_path / "server-receipts").is_dir()  # the server fetched the bytes into its own folder to send them
    colleague = SharedReceiptFiles(tmp_path / "colleague-receipts", server.db)
    [shown] = receipts_of(server.db, colleague, after)
    assert shown.path.read_bytes() == pdf_bytes() and str(shown.path).startswith(str(tmp_path / "colleague-receipts"))


def test_a_detached_receipt_leaves_the_team_database_when_no_row_lists_it(team, tmp_path):
    from codatdesk.receipts.files import SharedReceiptFiles
    from codatdesk.store.models import ReceiptContent

    h, server, desktop = team
    desktop.receipt_files = SharedReceiptFiles(tmp_path / "desktop-receipts", desktop.db)
    h.import_rows([row(1), row(2)])
    first, second = [e.id for e in expenses(server)]
    one = desktop.attach_receipt(first, write(tmp_path, "taxi.png", png_bytes()))
    other = desktop.attach_receipt(second, write(tmp_path, "taxi-again.png", png_bytes()))  # the same bytes

    def stored() -> int:
        with Session(server.db) as session:
            return len(session.exec(select(ReceiptContent)).all())

    assert stored() == 1
    desktop.detach_receipt(one.id)
    assert stored() == 1, "the other row still lists it"
    desktop.detach_receipt(other.id)
    assert stored() == 0
