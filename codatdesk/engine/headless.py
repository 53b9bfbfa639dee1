"""Headless commands: ``serve``, ``push`` and ``reconcile``.

``codatdesk push`` works by itself: it sends the pushes from its own process and,
with ``--wait`` (the default), waits until every pushed expense is final. If a
``codatdesk serve`` of the same data folder is running (it holds ``serve.lock``, see
``codatdesk.serve_lock``) the results arrive through its listener into the shared
database; otherwise this process checks Codat's push operations itself every few
seconds until they are final.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from sqlmodel import Session, select

from codatdesk import secrets, serve_lock
from codatdesk.engine.core import Core
from codatdesk.engine.pusher import PushProblem
from codatdesk.events import Notice, PushProgress
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense
from codatdesk.team.schema import open_store
from codatdesk.tunnel.registration import PORTAL_HINT

log = logging.getLogger(__name__)


def _print_notices(event) -> None:
    if isinstance(event, Notice):
        print(f"[{event.level}] {event.message}", file=sys.stderr, flush=True)
    elif isinstance(event, PushProgress) and event.finished:
        print(f"push: {event.message}", flush=True)


def missing_delivery_credentials(settings: Settings) -> list[str]:
    """The secrets the listener's settings require that neither the environment nor the keyring holds:
    with any of them missing, every webhook delivery is refused and no push is seen to finish."""
    credentials = secrets.webhook_credentials()
    missing = []
    if settings.get("webhook.require_signature") and not credentials.signing_secrets:
        missing.append(secrets.WEBHOOK_SECRETS)
    authorization = settings.get("webhook.authorization")
    if authorization == "basic" and not credentials.basic:
        missing.append(secrets.WEBHOOK_BASIC)
    if authorization == "bearer" and not credentials.bearer:
        missing.append(secrets.WEBHOOK_BEARER)
    return missing


def no_credentials_message(missing: list[str]) -> str:
    lines = [("no way to authenticate Codat's webhook deliveries: every one would be refused (401), "
              "so no push would be seen to finish. Missing:")]
    for name in missing:
        lines.append(f"  - the {secrets.describe(name)}: set {secrets.env_name(name)}, or store it in the keyring "
                     f"with `codatdesk settings set-secret {name}`")
    if secrets.WEBHOOK_SECRETS in missing:
        lines.append(f"Codat shows the signing secret in the {PORTAL_HINT}; the sandbox prints it when "
                     "`codatdesk register-webhook` creates the consumer.")
    return "\n".join(lines)


def serve(port: int | None = None, *, without_secret: bool = False) -> int:
    settings = Settings()
    if port:
        settings.set("listener.port", port, save=False)
    try:
        missing = missing_delivery_credentials(settings)
    except secrets.KeyringProblem as exc:
        print(f"codatdesk serve: the webhook credentials cannot be read: {exc}", file=sys.stderr)
        return 2
    if missing and not without_secret:
        print(f"codatdesk serve: {no_credentials_message(missing)}\n"
              "To start anyway (a new endpoint whose secret you will store next; a secret stored in the keyring "
              "is picked up within 30 s), run `codatdesk serve --without-secret`.", file=sys.stderr)
        return 2
    if missing:
        print(f"warning: {no_credentials_message(missing)}", file=sys.stderr, flush=True)
    lock = serve_lock.ServeLock()
    try:
        lock.acquire()
    except serve_lock.AlreadyServing as exc:
        print(f"codatdesk serve: {exc}", file=sys.stderr)
        return 2
    try:
        return _serve_locked(settings, lock)
    finally:
        lock.release()


def _serve_locked(settings: Settings, lock: serve_lock.ServeLock) -> int:
    if lock.replaced_stale and lock.replaced_stale.pid:
        log.info("replacing the serve.lock of pid %s, which ended without stopping cleanly", lock.replaced_stale.pid)
    store = open_store(settings, upgrades=True)  # the server upgrades a team's database
    # On a team's PostgreSQL the intake runs in its own process, beside the applier (webhooks/intake_process).
    core = Core(settings, store, intake_process=store.dialect.name == "postgresql")
    core.bus.subscribe(_print_notices)
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        print(f"\nstopping ({signal.Signals(signum).name})…", file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if core.db.dialect.name == "postgresql":
        # A standby until the leader lock says otherwise (team/server.py): its first reconciliation must not
        # run beside the active server's.
        core.reconciler.active = lambda: False
    try:
        core.start()
    except Exception as exc:  # noqa: BLE001 - any start-up failure is reported on stderr and exits, never a traceback
        print(f"codatdesk serve: {exc}", file=sys.stderr)
        core.stop()
        return 2
    from codatdesk.team.server import start_team_server

    team = start_team_server(core)  # a shared PostgreSQL: the leader lock and the desktops' push requests
    lock.publish(core.listener.port, core.listener_url or "")
    print(f"listening for Codat webhooks on {core.listener_url}", flush=True)
    print("reconciliation every "
          f"{settings.get('reconcile.interval_seconds')} s; Ctrl-C stops", flush=True)
    stop.wait()
    if team is not None:
        team.stop()
    # Stop order keeps every write whole: no new deliveries, then the pushers, then the applier.
    core.stop()
    print("stopped cleanly", file=sys.stderr)
    return 0


AGAIN_ANYWAY_WARNING = (
    "warning: --again-anyway sends expenses whose earlier push Codat reported TimedOut. Codat documents that "
    "a timed-out write may still reach the ledger, so each of them may end up in the ledger twice (a "
    "duplicate). Check the ledger first; `codatdesk reconcile` asks Codat again.")


def push_command(*, ids: list[int], all_ready: bool, retry_failed: bool, wait: bool, wait_timeout: float,
                 again_anyway: bool = False) -> int:
    """``codatdesk push``; returns an exit code as ``codatdesk.cli.PUSH_EXIT_CODES`` documents."""
    if not (ids or all_ready or retry_failed):
        print("codatdesk push: nothing to push (use ID..., --all-ready or --retry-failed)", file=sys.stderr)
        return 2
    settings = Settings()
    db = open_store(settings, upgrades=False)
    with Session(db) as session:
        chosen = list(ids)
        if all_ready:
            chosen += session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.NOT_PUSHED)).all()
        if retry_failed:
            chosen += session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.FAILED)).all()
            unknown = session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.OUTCOME_UNKNOWN)).all()
            if unknown:
                print(f"{len(unknown)} expense(s) of unknown outcome are not retried: Codat timed out on them and "
                      "they may be in the ledger already. Reconciliation settles them; to send them again "
                      "regardless, use `codatdesk push --again-anyway ID...`.", file=sys.stderr)
        chosen = list(dict.fromkeys(chosen))
        # Only the ids typed on the command line can name nothing (the flags' ids come from the database).
        named = set(session.exec(select(Expense.id).where(Expense.id.in_(set(ids))))) if ids else set()
    missing = [PushProblem(i, "no such expense") for i in dict.fromkeys(ids) if i not in named]
    absent = {p.expense_id for p in missing}
    chosen = [i for i in chosen if i not in absent]
    if not chosen and not missing:
        print("nothing to push: no expense is " + " or ".join(
            (["Not pushed"] if all_ready else []) + (["Push failed"] if retry_failed else [])))
        return 0
    if not chosen:
        print(f"push: 0 sent, {len(missing)} not sent", flush=True)
        _report_not_pushed(missing)
        return 1
    from codatdesk.team.push_command import is_team_desktop, request_pushes

    if is_team_desktop(db):  # no Codat key here: ask the team's server, as the window does
        return request_pushes(settings, db, chosen, missing, again_anyway=again_anyway, wait=wait,
                              wait_timeout=wait_timeout, report=_report_not_pushed)
    if again_anyway:
        print(AGAIN_ANYWAY_WARNING, file=sys.stderr, flush=True)
    core = Core(settings, db, listen=False)
    # Notices only: the batch's own "N sent, M not sent" does not count the ids that do not exist.
    core.bus.subscribe(lambda event: _print_notices(event) if isinstance(event, Notice) else None)
    core.applier.start()
    try:
        batch = core.push_again_anyway(chosen) if again_anyway else core.push(chosen)
        batch.wait()
        not_pushed = missing + batch.problems + batch.unsent
        blocked = {p.expense_id for p in not_pushed}
        sent = [i for i in chosen if i not in blocked]
        print(f"push: {len(sent)} sent, {len(blocked)} not sent", flush=True)
        _report_not_pushed(not_pushed)
        if not wait or not sent:
            return 1 if not_pushed else 0
        code = _wait_for_final(core, settings, sent, wait_timeout)
        return code if code or not not_pushed else 1
    finally:
        core.pusher.shutdown()
        core.applier.stop()


def _report_not_pushed(problems: list[PushProblem]) -> None:
    """One line per distinct reason, most frequent first: ``12 expenses not pushed: REASON [ids 1-12]``."""
    by_reason: dict[str, set[int]] = {}
    for problem in problems:
        by_reason.setdefault(problem.reason, set()).add(problem.expense_id)
    for reason, ids in sorted(by_reason.items(), key=lambda item: (-len(item[1]), min(item[1]))):
        label = "ids" if len(ids) > 1 else "id"
        print(f"{len(ids)} expense{'s' if len(ids) > 1 else ''} not pushed: {reason} [{label} {compact_ids(ids)}]",
              file=sys.stderr, flush=True)


def compact_ids(ids: list[int], *, max_ranges: int = 20) -> str:
    """``[1, 2, 3, 4, 5, 8, 11]`` -> ``"1-5, 8, 11"``; past ``max_ranges`` runs, ``", … (N more)"``."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs[:max_ranges]]
    hidden = sum(b - a + 1 for a, b in runs[max_ranges:])
    return ", ".join(parts) + (f", … ({hidden} more)" if hidden else "")


def _wait_for_final(core: Core, settings: Settings, ids: list[int], timeout: float) -> int:
    # Only a serve of this data folder stores the answers where this process reads them; a listener
    # on listener.port may belong to another folder, so a busy port alone proves nothing.
    serving = serve_lock.running_serve()
    served = serving is not None
    print("waiting for Codat's answers " + (
        f"(through the running `codatdesk serve`, pid {serving.pid}, port {serving.port})" if serving
        else "(no `codatdesk serve` of this data folder is running: checking Codat directly)"), flush=True)
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        with Session(core.db) as session:
            rows = session.exec(select(Expense).where(Expense.id.in_(ids))).all()
        busy = [e for e in rows if ExpenseStatus(e.status) in (ExpenseStatus.IN_PROGRESS, ExpenseStatus.WAITING)]
        if not busy:
            break
        if not served and time.monotonic() >= next_check:
            core.reconciler.run_once(threshold=0)
            core.applier.wait_idle(10)
            next_check = time.monotonic() + 3.0
        time.sleep(0.2)
    with Session(core.db) as session:
        rows = session.exec(select(Expense).where(Expense.id.in_(ids)).order_by(Expense.id)).all()
    for e in rows:
        print(f"{e.id:>5}  {e.status.value:17}  {e.supplier_name[:24]:24}  {e.status_detail[:80]}")
    busy = [e for e in rows if not ExpenseStatus(e.status).is_final and e.status != ExpenseStatus.NOT_PUSHED]
    failed = [e for e in rows if ExpenseStatus(e.status) in (ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN)]
    if any(e.status == ExpenseStatus.OUTCOME_UNKNOWN for e in rows):
        print("Outcome unknown: Codat timed out, and the expense may still reach the ledger; "
              "`codatdesk reconcile` (or a running `codatdesk serve`) keeps asking Codat.", file=sys.stderr)
    if busy:
        print(f"{len(busy)} expense(s) still waiting for Codat after {timeout:.0f} s", file=sys.stderr)
        return 3
    return 1 if failed else 0


def reconcile_command() -> int:
    core = Core(Settings(), open_store(upgrades=False), listen=False)
    core.bus.subscribe(_print_notices)
    core.applier.start()
    try:
        checked = core.reconciler.run_once(threshold=0)
        core.applier.wait_idle(30)
        print(f"checked {checked} operation(s) with Codat (in progress, outcome unknown, reasons missing)")
        return 0
    finally:
        core.pusher.shutdown()
        core.applier.stop()
