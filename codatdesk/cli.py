"""Command line: ``codatdesk [--demo] [--data-dir DIR] [COMMAND [--data-dir DIR] ...]``.

Without a command the desktop window opens. Heavy modules (Qt, uvicorn) are
imported only by the commands that need them, so ``list`` and ``import`` start fast.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from codatdesk import __version__, paths
from codatdesk.version import DataFromNewerVersion

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

JSON_FORMAT_VERSION = 1

PUSH_EXIT_CODES = """\
exit codes:
  0  every expense asked for was sent and (unless --no-wait) reached Push complete,
     or nothing matched --all-ready / --retry-failed
  1  something asked for was not sent (each reason is printed once, with its count
     and the expense ids) or ended Push failed / Timed out
  2  bad usage, e.g. nothing asked for (no ID, --all-ready or --retry-failed)
  3  still waiting for Codat at --wait-timeout (wins over 1: the outcome is not known yet)"""

SERVE_EXIT_CODES = """\
exit codes:
  0  stopped cleanly (Ctrl-C or SIGTERM)
  2  could not start: a webhook credential the listener requires is missing (see --without-secret),
     the keyring cannot be read, another serve of this data folder runs, or the port is taken"""

# The inbox's verdicts (codatdesk.engine.records.VERDICTS, listed here so --help needs no database import).
DELIVERY_VERDICTS = ("pending", "applied", "parked", "duplicate", "stale", "ignored", "unusable", "dropped",
                     "rejected")

DATA_DIR_HELP = "keep every file of this run in DIR (default: $CODATDESK_HOME, else the user data dir)"
DATABASE_HELP = ("use this database for this run: postgresql://USER@HOST/DB, a team's (default: the setting "
                 "database.url or $CODATDESK_DATABASE_URL, else the file in the data dir)")


# The sandbox's common knobs as flags: (flag, SandboxConfig field, type, help); any other field: --set FIELD=JSON.
# Kept here, not in codatdesk.sandbox: importing the sandbox would cost every command 0.2 s.
SANDBOX_KNOB_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--push-delay", "push_delay", float, "seconds until a push operation completes (default 1)"),
    ("--timeout-share", "timeout_share", float, "share of pushes that end TimedOut, 0..1 (Outcome unknown)"),
    ("--error-rate", "error_rate", float, "share of Codat requests answered 500/503 before doing anything"),
    ("--throttle-rate", "throttle_rate", float, "share of Codat requests answered 429 with Retry-After: 1"),
    ("--latency", "latency", float, "seconds added to every Codat request"),
    ("--push-drop-rate", "push_drop_rate", float,
     "share of push answers lost after the push took effect (the client must recover it)"),
    ("--webhook-drop-share", "drop_share", float, "share of webhook messages never delivered"),
    ("--webhook-duplicate-share", "duplicate_share", float, "share of webhook messages delivered twice"),
    ("--seed", "seed", int, "random seed for repeatable runs (default 0)"),
)


def add_sandbox_knob_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``codatdesk sandbox`` flags for SandboxConfig's knobs (defaults: SandboxConfig's own)."""
    for flag, field, kind, help_text in SANDBOX_KNOB_FLAGS:
        metavar = "N" if kind is int else "SECONDS" if field in ("push_delay", "latency") else "SHARE"
        parser.add_argument(flag, type=kind, default=None, metavar=metavar, help=help_text)
    parser.add_argument("--no-webhooks", action="store_true",
                        help="deliver no webhook at all (push results only by polling GET /push/{key})")
    parser.add_argument("--shuffle", action="store_true", help="jitter completions and deliveries (out of order)")
    parser.add_argument("--set", dest="knobs", action="append", default=[], metavar="FIELD=VALUE",
                        help="any other knob, VALUE as JSON, e.g. --set stall_seconds=5 --set "
                             "'retry_schedule=[0,1]' (all knobs: README, or GET /_sandbox/config)")


def sandbox_config_from_args(args: argparse.Namespace):  # -> SandboxConfig, imported late
    """A SandboxConfig from the flags; ValueError names the bad knob."""
    changes: dict[str, Any] = {}
    for flag, field, _kind, _help in SANDBOX_KNOB_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            changes[field] = value
    if args.no_webhooks:
        changes["drop_share"] = 1.0
    if args.shuffle:
        changes["shuffle"] = True
    for knob in args.knobs:
        name, sep, raw = knob.partition("=")
        if not sep:
            raise ValueError(f"--set {knob!r}: write FIELD=VALUE, e.g. --set error_rate=0.2")
        try:
            changes[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[name.strip()] = raw  # a bare word, e.g. --set push_drop_mode=timeout
    from codatdesk.sandbox import SandboxConfig

    config = SandboxConfig()
    config.update(changes)
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codatdesk",
        description="Push expenses to accounting software through Codat and watch them land.",
    )
    parser.add_argument("--version", action="version", version=f"codatdesk {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
    parser.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    parser.add_argument("--demo", action="store_true",
                        help="open the window against a built-in Codat sandbox with sample expenses")
    parser.add_argument("--self-test", action="store_true", help="check this installation and exit")
    # Every command also takes --data-dir after its name (`codatdesk list --data-dir D`). SUPPRESS keeps a
    # value given before the command: a subparser that saw no --data-dir sets nothing, not None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS, help=DATA_DIR_HELP)
    common.add_argument("--database", metavar="URL", default=argparse.SUPPRESS, help=DATABASE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = functools.partial(sub.add_parser, parents=[common])

    add("gui", help="open the desktop window (the default)")

    p = add("serve", help="run the webhook listener, push engine and reconciliation headless",
            epilog=SERVE_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, help="listener port (overrides the setting listener.port)")
    p.add_argument("--without-secret", action="store_true",
                   help="start although a credential the listener requires is missing (deliveries get 401 until "
                        "it is stored in the keyring); without it serve refuses to start")

    p = add("sandbox", help="run the local Codat sandbox (an emulator of Codat's API and webhooks)")
    p.add_argument("--port", type=int, default=8780, help="port on 127.0.0.1 (default 8780)")
    add_sandbox_knob_arguments(p)

    p = add("import", help="import expenses from a CSV or Excel (.xlsx) file (all or nothing)")
    p.add_argument("file", help="CSV or .xlsx file; columns are listed in the README")
    p.add_argument("--receipts", metavar="FOLDER",
                   help="attach the files in FOLDER named by an expense's reference (R-17.pdf -> reference R-17)")
    p.add_argument("--number-format", metavar="LOCALE",
                   help="the file's number format as a locale, e.g. en_GB (1,234.56), de_DE (1.234,56), "
                        "fr_FR (1 234,56), de_CH (1'234.56), en_IN (12,34,567.89); default: detected from the file")
    p.add_argument("--encoding", help="the CSV file's encoding, e.g. cp1252 (default: detected)")
    p.add_argument("--company", help="company id to import into (default: the configured company)")

    p = add("push", help="push expenses to Codat", epilog=PUSH_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="expense ids to push")
    p.add_argument("--all-ready", action="store_true", help="push every expense that is not pushed yet")
    p.add_argument("--retry-failed", action="store_true",
                   help="push again every failed expense (not those of unknown outcome: they may be in the ledger)")
    p.add_argument("--again-anyway", action="store_true",
                   help="push the given expenses of unknown outcome (Codat timed out) again, although each may "
                        "already be in the ledger: this risks a duplicate")
    p.add_argument("--no-wait", action="store_true", help="return once the pushes are sent")
    p.add_argument("--wait-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="seconds to wait for final states (default 300)")

    p = add("list", help="print the expenses")
    p.add_argument("--status", help="only this status, e.g. 'Push failed' or push-failed")
    p.add_argument("--company", help="only this company id")
    p.add_argument("--json", action="store_true",
                   help="stable JSON output for scripts (see README); amounts as plain 1234.50")

    p = add("history", help="an expense's status history: when, from, to, why, who, which event")
    p.add_argument("expense_id", type=int, metavar="ID", help="the expense's id (see `codatdesk list`)")
    p.add_argument("--json", action="store_true", help="stable JSON output for scripts (see README)")

    p = add("deliveries", help="the webhook inbox: each delivery's verdict (applied, parked, stale, dropped...)")
    p.add_argument("--verdict", choices=DELIVERY_VERDICTS, metavar="V",
                   help="only this verdict: " + ", ".join(DELIVERY_VERDICTS))
    p.add_argument("--limit", type=int, default=50, metavar="N", help="the newest N deliveries (default 50)")
    p.add_argument("--json", action="store_true", help="stable JSON output for scripts (see README)")

    p = add("reconcile", help="check every operation in progress with Codat once")

    p = add("refresh", help="re-read Codat's reference lists and create models and print what was read")
    p.add_argument("--company", help="company id (default: the configured company)")

    p = add("suppliers", help="whether codatdesk may create suppliers the ledger lacks (before their expenses)")
    p.add_argument("--create", choices=("on", "off"), help="on: create a missing supplier first; off (default): "
                   "block the expense until the supplier is mapped")
    p.add_argument("--company", help="company id (default: the configured company)")

    p = add("route", help="how the company's expenses reach Codat: directCosts (default) or expenses")
    p.add_argument("route", nargs="?", metavar="ROUTE", help="directCosts or expenses (omit to show the route)")
    p.add_argument("--company", help="company id (default: the configured company)")

    p = add("expenses", help="the company's Expenses route set-up: its configuration in Codat (defaults)")
    p.add_argument("action", choices=("config",), help="config: show, or set with the options below")
    p.add_argument("--bank", help="default bank account: nominal code, name or Codat id (from Codat's lists)")
    p.add_argument("--supplier", help="default supplier: name or Codat id (from Codat's lists)")
    p.add_argument("--customer", help="default customer: Codat id")
    p.add_argument("--company", help="company id (default: the configured company)")

    p = add("register-webhook", help="create Codat's webhook consumer for this listener")
    p.add_argument("--url", help="public webhook URL (default: the tunnel's, or the local listener for a sandbox)")

    p = add("rates", help="the company's currency rates for foreign-currency expenses (Codat's currencyRate)",
            description="A rate is units of the company's base currency for 1 unit of CURRENCY (Codat's "
                        "currencyRate: base amount = amount x rate), e.g. `rates set EUR 0.85` in a GBP company. "
                        "An expense uses its own currency_rate, else the latest rate valid on its date.")
    p.add_argument("action", choices=("list", "set"), nargs="?", default="list", help="list (default) or set")
    p.add_argument("currency", nargs="?", help="ISO 4217 code of the expenses' currency, e.g. EUR (set)")
    p.add_argument("rate", nargs="?", help="base-currency units per 1 CURRENCY, in your number format (set)")
    p.add_argument("--from", dest="valid_from", metavar="DATE", help="valid from this date, YYYY-MM-DD (default today)")
    p.add_argument("--company", help="company id (default: the configured company)")
    p.add_argument("--json", action="store_true", help="list as JSON (rates as exact strings)")

    p = add("team", help="team mode: one shared PostgreSQL and one server (docs/team.md)")
    p.add_argument("action", choices=("init", "invite"),
                   help="init URL: check, upgrade and set up the team database (the server's computer); "
                        "invite NAME: create a colleague's login and print what they enter")
    p.add_argument("target", metavar="URL|NAME", help="the database URL (init) or the colleague's login (invite)")
    p.add_argument("--reset-password", action="store_true", help="invite: give an existing login a new password")

    p = add("settings", help="show or change settings; store credentials in the keyring")
    p.add_argument("action", nargs="?", choices=("show", "set", "set-secret"), default="show",
                   help="show (default); set KEY VALUE; set-secret NAME (value read from stdin or a prompt)")
    p.add_argument("key", nargs="?", help="setting key (see `codatdesk settings`) or secret name: "
                   "api_key, webhook_signing_secrets, webhook_basic, webhook_bearer, ngrok_authtoken, database_password")
    p.add_argument("value", nargs="?", help="the new value (set)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A team server's intake process (webhooks/intake_process.CHILD_ARGUMENT; not imported here: it loads the listener).
    if list(sys.argv[1:] if argv is None else argv)[:1] == ["_intake"]:
        from codatdesk.webhooks.intake_process import child_main

        return child_main()
    args = build_parser().parse_args(argv)
    if args.data_dir:
        paths.set_data_dir(args.data_dir)
    from codatdesk.team.store_url import use_database

    use_database(args.database)
    from codatdesk.logging_setup import setup_logging

    command = args.command or "gui"
    setup_logging(console=command not in ("gui",) or args.self_test)
    if args.self_test:
        from codatdesk.selftest import run_self_test

        return run_self_test()
    handler = {
        "gui": _cmd_gui, "serve": _cmd_serve, "sandbox": _cmd_sandbox, "import": _cmd_import,
        "push": _cmd_push, "list": _cmd_list, "reconcile": _cmd_reconcile, "settings": _cmd_settings,
        "rates": _cmd_rates, "refresh": _cmd_refresh, "suppliers": _cmd_suppliers,
        "route": _cmd_route, "expenses": _cmd_expenses,
        "register-webhook": _cmd_register_webhook, "history": _cmd_history, "deliveries": _cmd_deliveries,
        "team": _cmd_team,
    }[command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `codatdesk list | head`
        sys.stderr.close()
        return 0
    except (UserFacingError, DataFromNewerVersion) as exc:
        print(f"codatdesk: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from codatdesk.team.errors import USER_FACING

        if isinstance(exc, USER_FACING):
            print(f"codatdesk: {exc}", file=sys.stderr)
            return 2
        raise


class UserFacingError(Exception):
    """An error whose message is the whole story for the user (no traceback)."""


def _cmd_gui(args: argparse.Namespace) -> int:
    try:
        from codatdesk.ui.app import run_gui
    except ImportError as exc:  # the desktop part is optional for headless installs
        raise UserFacingError(f"the desktop window cannot start: {exc}") from None
    return run_gui(demo=args.demo)


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from codatdesk.sandbox.cli import run_sandbox

    try:
        config = sandbox_config_from_args(args)
    except ValueError as exc:
        raise UserFacingError(f"sandbox: {exc}") from None
    return run_sandbox(args.port, config=config)


def _open_store() -> Engine:
    from codatdesk.team.schema import open_store

    return open_store(upgrades=False)  # a shared database is upgraded by its server only (docs/team.md)


def _cmd_team(args: argparse.Namespace) -> int:
    from codatdesk.team.setup import init_team_database, invite_text

    if args.action == "init":
        for line in init_team_database(args.target).lines():
            print(line)
        return 0
    print(invite_text(args.target, reset_password=args.reset_password))
    return 0


def _default_company(engine, explicit: str | None) -> str:
    if explicit:
        return explicit
    from codatdesk.importer import LOCAL_COMPANY_ID
    from codatdesk.settings import Settings

    return Settings().get("codat.company_id") or LOCAL_COMPANY_ID


def _cmd_import(args: argparse.Namespace) -> int:
    from codatdesk.amounts import number_format
    from codatdesk.importer import import_file

    fmt = None
    if args.number_format:
        try:
            fmt = number_format(args.number_format)
        except ValueError as exc:
            raise UserFacingError(str(exc)) from None
    engine = _open_store()
    report = import_file(engine, args.file, _default_company(engine, args.company), number_format=fmt,
                         encoding=args.encoding, receipts_folder=args.receipts)
    if report.errors:
        print(report.summary(), file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    print(report.summary())
    for line in report.receipts.lines() if report.receipts else []:
        print(f"  {line}")
    return 0


def expense_to_json(expense) -> dict:
    """The documented ``list --json`` shape of one expense (amounts as exact strings)."""
    return {
        "id": expense.id,
        "company_id": expense.company_id,
        "date": expense.expense_date.isoformat(),
        "supplier": expense.supplier_name,
        "supplier_id": expense.supplier_id,
        "description": expense.description,
        "account_code": expense.account_code,
        "account_name": expense.account_name,
        "account_id": expense.account_id,
        "bank_account": expense.bank_account_code,
        "tax_code": expense.tax_code,
        "net": format(expense.net, "f"),
        "tax": format(expense.tax, "f"),
        "total": format(expense.total, "f"),
        "currency": expense.currency,
        "currency_rate": format(expense.currency_rate, "f") if expense.currency_rate is not None else None,
        "reference": expense.reference,
        "status": str(expense.status.value if hasattr(expense.status, "value") else expense.status),
        "push_operation_key": expense.push_operation_key,
        "status_detail": expense.status_detail,
        "updated_at": expense.updated_at.isoformat(),
    }


def _cmd_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from codatdesk.states import ExpenseStatus
    from codatdesk.store.models import Expense

    engine = _open_store()
    query = select(Expense).order_by(Expense.id)
    if args.status:
        try:
            query = query.where(Expense.status == ExpenseStatus.parse(args.status))
        except ValueError as exc:
            raise UserFacingError(str(exc)) from None
    if args.company:
        query = query.where(Expense.company_id == args.company)
    with Session(engine) as session:
        expenses = session.exec(query).all()
    if args.json:
        json.dump({"format": JSON_FORMAT_VERSION, "expenses": [expense_to_json(e) for e in expenses]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not expenses:
        print("no expenses")
        return 0
    from codatdesk.amounts import environment_format, format_amount

    fmt = environment_format()  # amounts as this locale writes them, exact to each currency's decimals
    print(f"{'ID':>5}  {'DATE':10}  {'SUPPLIER':22}  {'TOTAL':>16}  {'STATUS':17}  DETAIL")
    for e in expenses:
        total = f"{format_amount(e.total, e.currency, fmt)} {e.currency}"
        print(f"{e.id:>5}  {e.expense_date.isoformat():10}  {e.supplier_name[:22]:22}  {total:>16}  "
              f"{e.status.value:17}  {e.status_detail[:60]}")
    return 0


def _cmd_rates(args: argparse.Namespace) -> int:
    import datetime as dt

    from codatdesk.amounts import environment_format
    from codatdesk.engine import currency
    from codatdesk.money import MoneyError

    engine = _open_store()
    company_id = _default_company(engine, args.company)
    if args.action == "set":
        if not args.currency or not args.rate:
            raise UserFacingError("usage: codatdesk rates set CURRENCY RATE [--from YYYY-MM-DD]")
        try:
            valid_from = dt.date.fromisoformat(args.valid_from) if args.valid_from else dt.date.today()
        except ValueError:
            raise UserFacingError(f"bad date {args.valid_from!r}; use YYYY-MM-DD") from None
        try:
            rate = currency.parse_rate(args.rate, environment_format())
            entry = currency.set_rate(engine, company_id, args.currency, rate, valid_from)
        except MoneyError as exc:
            raise UserFacingError(str(exc)) from None
        print(f"{entry.currency} from {entry.valid_from.isoformat()}: 1 {entry.currency} = "
              f"{format(entry.rate, 'f')} in the company's base currency")
        return 0
    rates = currency.list_rates(engine, company_id)
    if args.json:
        json.dump({"format": JSON_FORMAT_VERSION, "company_id": company_id, "rates": [
            {"currency": r.currency, "rate": format(r.rate, "f"), "valid_from": r.valid_from.isoformat()}
            for r in rates]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rates:
        print("no rates")
        return 0
    print(f"{'CURRENCY':8}  {'VALID FROM':10}  RATE (base currency per 1 unit)")
    for r in rates:
        print(f"{r.currency:8}  {r.valid_from.isoformat():10}  {format(r.rate, 'f')}")
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    from codatdesk import secrets
    from codatdesk.settings import REGISTRY, SettingError, Settings

    settings = Settings()
    if args.action == "set":
        if not args.key or args.value is None:
            raise UserFacingError("usage: codatdesk settings set KEY VALUE")
        try:
            if args.key == "database.url":
                from codatdesk.team.store_url import keep_database_url

                keep_database_url(settings, args.value)  # a password goes to the keyring, not the file
            else:
                settings.set(args.key, args.value)
        except SettingError as exc:
            raise UserFacingError(str(exc)) from None
        print(f"{args.key} = {settings.get(args.key)!r}")
        return 0
    if args.action == "set-secret":
        names = (secrets.API_KEY, secrets.WEBHOOK_SECRETS, secrets.WEBHOOK_BASIC, secrets.WEBHOOK_BEARER,
                 secrets.NGROK_AUTHTOKEN, secrets.DATABASE_PASSWORD)
        if args.key not in names:
            raise UserFacingError("name one of: " + ", ".join(names))
        if sys.stdin.isatty():
            import getpass

            value = getpass.getpass(f"{secrets.describe(args.key)}: ")
        else:
            value = sys.stdin.readline().strip()
        try:
            if args.key == secrets.WEBHOOK_SECRETS:
                secrets.add_signing_secret(value)  # keeps the previous one during a rotation
            else:
                secrets.put(args.key, value)
        except secrets.KeyringProblem as exc:
            raise UserFacingError(str(exc)) from None
        print(f"stored the {secrets.describe(args.key)} in the keyring ({secrets.backend_name()})")
        return 0
    print(f"settings file: {settings.path}")
    for setting in REGISTRY:
        print(f"{setting.key:32} = {settings.get(setting.key)!r:30}  # {setting.doc} [env {setting.env_name}]")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from codatdesk.engine.headless import serve

    return serve(port=args.port, without_secret=args.without_secret)


def _cmd_push(args: argparse.Namespace) -> int:
    from codatdesk.engine.headless import push_command

    if args.again_anyway and (args.all_ready or args.retry_failed or not args.ids):
        raise UserFacingError("--again-anyway takes expense ids (ID...) and nothing else: name each expense "
                              "you have checked is not in the ledger")
    return push_command(ids=args.ids, all_ready=args.all_ready, retry_failed=args.retry_failed,
                        wait=not args.no_wait, wait_timeout=args.wait_timeout, again_anyway=args.again_anyway)


def _cmd_register_webhook(args: argparse.Namespace) -> int:
    from codatdesk.codat import CodatError
    from codatdesk.engine.core import Core
    from codatdesk.settings import Settings

    settings = Settings()
    url = args.url
    if not url:
        public = settings.get("tunnel.public_url") or (
            f"https://{settings.get('tunnel.hostname')}" if settings.get("tunnel.hostname") else "")
        base = public.rstrip("/") if public else f"http://127.0.0.1:{settings.get('listener.port')}"
        url = base + settings.get("listener.path")
    core = Core(settings, _open_store(), listen=False)
    try:
        consumer = core.register_webhook(url)
    except CodatError as exc:
        raise UserFacingError(f"Codat refused the registration: {exc}") from None
    print(f"webhook consumer {consumer.get('id')} -> {consumer.get('url')}")
    print("Codat shows its signing secret only in the Portal (the sandbox prints it): store it with\n"
          "  codatdesk settings set-secret webhook_signing_secrets")
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from codatdesk.codat import CodatError
    from codatdesk.engine import create_models
    from codatdesk.engine.core import Core
    from codatdesk.settings import Settings

    core = Core(Settings(), _open_store(), listen=False)
    try:
        company_id = _default_company(core.db, args.company)
        connection_id = core.connection_for(company_id)
        status = core.pusher.verify_connection(company_id, connection_id)  # also stores the ledger's name
        try:
            counts = core.refresh_reference_data(company_id)
        except CodatError as exc:
            raise UserFacingError(f"Codat's lists could not be read: {exc.message}") from None
        print(f"read from Codat for company {company_id} (connection {connection_id or 'none chosen'}, "
              f"{status}):")
        for data_type, count in counts.items():
            print(f"  {data_type}: {count} record(s)")
        with Session(core.db) as session:
            models = create_models.Models.load(session, company_id, connection_id)
        for line in create_models.describe(models):
            print(f"  {line}")
        return 0
    finally:
        core.pusher.shutdown()


def _cmd_suppliers(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from codatdesk.engine import suppliers
    from codatdesk.store.models import Company

    engine = _open_store()
    company_id = _default_company(engine, args.company)
    if args.create is not None:
        suppliers.set_supplier_creation(engine, company_id, args.create == "on")
    with Session(engine) as session:
        company = session.get(Company, company_id)
        allowed = bool(company and company.create_suppliers)
    print(f"company {company_id}: codatdesk " + ("creates a supplier the ledger lacks before its expense" if allowed
                                                 else "does not create suppliers (an unknown supplier blocks its expense)"))
    return 0


def _cmd_route(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from codatdesk import routes

    engine = _open_store()
    company_id = _default_company(engine, args.company)
    if args.route is not None:
        try:
            routes.set_route(engine, company_id, routes.parse_route(args.route))
        except (ValueError, LookupError) as exc:
            raise UserFacingError(str(exc)) from exc
    with Session(engine) as session:
        route = routes.company_route(session, company_id)
    print(f"company {company_id}: pushes as {routes.label(route)} ({route})")
    return 0


def _cmd_expenses(args: argparse.Namespace) -> int:
    from codatdesk.codat import CodatError
    from codatdesk.engine.core import Core
    from codatdesk.engine.expenses_config import ConfigProblem
    from codatdesk.settings import Settings

    core = Core(Settings(), _open_store(), listen=False)
    try:
        company_id = _default_company(core.db, args.company)
        try:
            if args.bank or args.supplier or args.customer:
                config = core.set_expenses_config(company_id, bank_account=args.bank, supplier=args.supplier,
                                                  customer=args.customer)
            else:
                config = core.expenses_config(company_id)
        except ConfigProblem as exc:
            raise UserFacingError(str(exc)) from None
        except CodatError as exc:
            raise UserFacingError(f"Codat's Expenses configuration could not be read or saved: {exc.message}") from None
        print(f"company {company_id}: Expenses configuration")
        print(f"  bank account: {config.bank_account_label or config.bank_account_id or '(none)'}")
        print(f"  supplier:     {config.supplier_label or config.supplier_id or '(none)'}")
        print(f"  customer:     {config.customer_id or '(none)'}")
        return 0
    finally:
        core.pusher.shutdown()


def _print_json(document: dict) -> None:
    json.dump({"format": JSON_FORMAT_VERSION, **document}, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _cmd_history(args: argparse.Namespace) -> int:
    from codatdesk.engine.records import expense_history

    history = expense_history(_open_store(), args.expense_id)
    if history is None:
        raise UserFacingError(f"no expense {args.expense_id} (see `codatdesk list`)")
    if args.json:
        _print_json({"expense": history.to_json()})
        return 0
    print(f"expense {history.expense_id}: {history.supplier}, {history.date}, {history.total} {history.currency}"
          f" - now {history.status}" + (f" ({history.status_detail})" if history.status_detail else ""))
    if not history.changes:
        print("no status change yet")
    for change in history.changes:
        print(f"{change.at}  {change.from_status} -> {change.to_status}")
        print(f"    {change.trigger}, by {change.who}")
        if change.why:
            print(f"    why: {change.why}")
        if change.cause_kind == "webhook" and change.cause_ref:
            print(f"    event: webhook delivery {change.cause_ref}"
                  + (f" ({change.event_type})" if change.event_type else " (body no longer kept)"))
        elif change.cause_ref and change.cause_kind in ("reconciliation", "engine"):
            print(f"    event: {change.cause_ref}")
    return 0


def _cmd_deliveries(args: argparse.Namespace) -> int:
    from codatdesk.engine.records import NOT_STORED, VERDICTS, deliveries

    if args.limit < 1:
        raise UserFacingError("--limit takes a number of deliveries, 1 or more")
    if args.verdict in NOT_STORED:
        if args.json:
            _print_json({"verdict": args.verdict, "stored": False, "meaning": NOT_STORED[args.verdict],
                         "deliveries": []})
        else:
            print(f"{args.verdict}: {NOT_STORED[args.verdict]}")
        return 0
    entries, counts = deliveries(_open_store(), verdict=args.verdict, limit=args.limit)
    if args.json:
        _print_json({"counts": counts, "deliveries": [vars(e) for e in entries]})
        return 0
    total = sum(counts.values())
    print(f"inbox: {total} deliver{'y' if total == 1 else 'ies'}"
          + (" (" + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda i: -i[1])) + ")"
             if counts else ""))
    if not entries:
        print("no delivery" + (f" with the verdict {args.verdict}" if args.verdict else " received yet"))
        return 0
    id_width = max(len("DELIVERY ID"), *(len(e.delivery_id) for e in entries))  # whole: it is what you grep for
    print(f"{'RECEIVED':25}  {'VERDICT':9}  {'EVENT':32}  {'EXPENSE':>7}  {'DELIVERY ID':{id_width}}  WHY")
    for e in entries:
        expense = str(e.expense_id) if e.expense_id is not None else "-"
        print(f"{e.received_at:25}  {e.verdict:9}  {(e.event_type or '-')[:32]:32}  {expense:>7}  "
              f"{e.delivery_id:{id_width}}  {e.detail}")
    print("verdicts: " + "; ".join(f"{v}: {VERDICTS.get(v, '')}" for v in dict.fromkeys(e.verdict for e in entries)))
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from codatdesk.engine.headless import reconcile_command

    return reconcile_command()


if __name__ == "__main__":
    raise SystemExit(main())
