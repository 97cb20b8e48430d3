"""The `omnidesk` command: the desktop app when run bare; database, demo-data, customer and CBC codec commands for scripts."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from omnidesk import __version__

# Service field names as the options of `customers create` call them, for validation messages.
FIELD_OPTIONS = {
    "account_type": "type",
    "payment_type": "payment",
    "credit_limit": "credit-limit",
    "contact_email": "email",
    "contact_phone": "phone",
    "contact_first_name": "first-name",
    "contact_last_name": "last-name",
}
STATE_LABELS = {
    "current": "current",
    "outdated": "outdated (run `omnidesk db upgrade`)",
    "empty": "empty (run `omnidesk db upgrade`)",
    "too_new": "too new (it was upgraded by a newer OmniDesk; this one will not open it)",
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 done, 1 refused or failed, 2 usage error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = _settings(args)
        if args.command in (None, "gui"):
            from omnidesk.ui.app import run_gui  # only here: the CLI never loads Qt otherwise

            qt_args = list(argv)
            if args.command == "gui":
                qt_args.remove("gui")
            return run_gui([sys.argv[0] if sys.argv and sys.argv[0] else "omnidesk", *qt_args], settings)
        return args.run(args, settings)
    except BrokenPipeError:
        # `omnidesk customers list | head`: the reader left; that is not an error.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush stays quiet
        return 0
    except KeyboardInterrupt:
        print("Interrupted; the command's unfinished change was not saved.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 — expected errors become a message, the rest re-raise
        message = _expected_error(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 1


def _expected_error(exc: Exception) -> str | None:
    """The message for an error a user can act on, or None for a bug (which keeps its traceback)."""
    from sqlalchemy.exc import OperationalError

    from omnidesk.cbc.cbsp import CbspDecodeError, CbspEncodeError
    from omnidesk.cbc.engine import CbcInputError as EngineInputError
    from omnidesk.cbc.json_shapes import JsonShapeError
    from omnidesk.cbc.sbcap import SbcapDecodeError, SbcapEncodeError
    from omnidesk.config import ConfigError
    from omnidesk.db.embedded import EmbeddedServerError
    from omnidesk.db.engine import SchemaOutdated, SchemaTooNew
    from omnidesk.errors import ServiceError, ValidationError, first_line

    if isinstance(exc, (CbspDecodeError, CbspEncodeError, SbcapDecodeError, SbcapEncodeError, JsonShapeError,
                        CbcInputError, EngineInputError)):
        return str(exc)
    if isinstance(exc, ValidationError):
        return "\n".join(f"{FIELD_OPTIONS.get(field, field)}: {message}" for field, message in exc.errors.items())
    if isinstance(exc, (ServiceError, ConfigError, SchemaTooNew, SchemaOutdated, EmbeddedServerError)):
        return str(exc)
    if isinstance(exc, OperationalError):
        return f"The database is not reachable ({first_line(exc.orig, 'connection failed')})."
    import psycopg

    if isinstance(exc, psycopg.OperationalError):
        return f"The database is not reachable ({first_line(exc, 'connection failed')})."
    return None


def _settings(args):
    from omnidesk.config import load_settings

    settings = load_settings()
    if args.profile:
        settings = dataclasses.replace(settings, profile=args.profile)
    return settings


# --- arguments ---


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {text}")
    return value


# Copies of the models' and the customer service's choices, so that parsing arguments (before the
# desktop app starts) does not import SQLAlchemy; tests/test_cli.py checks they stay the same.
ACCOUNT_TYPES = ("individual", "business")
PAYMENT_TYPES = ("prepaid", "postpaid")
CUSTOMER_STATUSES = ("pending", "active", "suspended", "closed")
SORT_KEYS = ("id", "name", "status", "account_type", "payment_type", "created_at")
CBC_PROTOCOLS = ("cbsp", "sbcap")  # json_shapes.PROTOCOLS; tests/test_cli_cbc.py checks they stay the same
CBSP_LAYOUTS = ("osmocom", "spec")  # -> period.RepetitionPeriodLayout.OSMOCOM / SPEC_FIGURE


def build_parser() -> argparse.ArgumentParser:
    from omnidesk.config import PROFILES

    parser = argparse.ArgumentParser(
        prog="omnidesk",
        description="OmniDesk back office. Without a command it opens the desktop application.",
    )
    parser.add_argument("--version", action="version", version=f"omnidesk {__version__}")
    parser.add_argument("--profile", choices=PROFILES, help="what the desktop application shows (default: from the config file)")
    commands = parser.add_subparsers(dest="command", metavar="command")
    gui = commands.add_parser("gui", help="open the desktop application (the same as giving no command)")
    gui.add_argument("--profile", choices=PROFILES, default=argparse.SUPPRESS, help="what the desktop application shows")

    db = commands.add_parser("db", help="the database: upgrade, status, stop").add_subparsers(
        dest="db_command", metavar="action", required=True
    )
    db.add_parser("upgrade", help="bring the database schema up to this version").set_defaults(run=db_upgrade)
    db.add_parser("status", help="which database, its schema revision and whether it fits").set_defaults(run=db_status)
    db.add_parser("stop", help="stop the embedded PostgreSQL if it is running").set_defaults(run=db_stop)

    demo = commands.add_parser(
        "demo-data", help="add realistic demo customers in bulk",
        description="Add realistic demo customers in one transaction. Large loads (20,000 or more, into a "
        "database not many times bigger) rebuild the customer indexes and lock the customer tables, so other "
        "workstations wait until they finish; 1,000,000 take about 1.5 to 3 minutes on two cores. Needs a "
        "superuser connection (the embedded database is one).",
    )
    demo.add_argument("--customers", type=_positive, required=True, metavar="N", help="how many customers to add")
    demo.add_argument("--seed", type=int, help="the same seed gives the same customers")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the database has any customer")
    demo.add_argument("--progress", action="store_true", help="report each step on stderr even when it is not a terminal")
    demo.set_defaults(run=demo_data)

    customers = commands.add_parser("customers", help="list, show and create customers").add_subparsers(
        dest="customers_command", metavar="action", required=True
    )
    listing = customers.add_parser("list", help="one page of customers, optionally searched")
    listing.add_argument("--search", default="", metavar="TEXT", help="part of a name, e-mail or phone, or a customer id")
    listing.add_argument("--status", choices=CUSTOMER_STATUSES)
    listing.add_argument("--archived", action="store_true", help="include archived customers")
    listing.add_argument("--sort", choices=SORT_KEYS, default="name")
    listing.add_argument("--desc", action="store_true", help="sort descending")
    listing.add_argument("--limit", type=_positive, default=100, metavar="N", help="page size (at most 1000)")
    listing.add_argument("--offset", type=_non_negative, default=0, metavar="N")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(run=customers_list)

    show = customers.add_parser("show", help="one customer with contacts, sites, attributes and tags")
    show.add_argument("id", type=_positive, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=customers_show)

    create = customers.add_parser("create", help="create a customer (it starts as pending)")
    create.add_argument("--name", required=True)
    create.add_argument("--type", choices=ACCOUNT_TYPES, default="individual", dest="account_type")
    create.add_argument("--payment", choices=PAYMENT_TYPES, default="prepaid", dest="payment_type")
    create.add_argument("--currency", default="GBP")
    create.add_argument("--credit-limit", default="0", metavar="AMOUNT")
    create.add_argument("--email", help="primary contact's e-mail")
    create.add_argument("--phone", help="primary contact's phone, E.164 (+447700900123)")
    create.add_argument("--first-name", help="primary contact's first name (default: the name's first word)")
    create.add_argument("--last-name", help="primary contact's last name")
    create.add_argument("--json", action="store_true", help="print JSON for scripts")
    create.set_defaults(run=customers_create)

    cbc = commands.add_parser("cbc", help="cell broadcast: peers, warnings, the centre, CBSP and SBc-AP codecs").add_subparsers(
        dest="cbc_command", metavar="action", required=True
    )
    layout_help = "CBSP Repetition Period layout: osmocom (osmo-bsc, the default) or spec (TS 48.049 figure, Wireshark)"
    encode = cbc.add_parser(
        "encode", help="a message from JSON to hex",
        description="Encode one message given as JSON (the shapes are in the README) and print its octets in hex.",
    )
    encode.add_argument("--protocol", choices=CBC_PROTOCOLS, required=True)
    encode.add_argument("--layout", choices=CBSP_LAYOUTS, help=layout_help)
    encode.add_argument("file", metavar="FILE", help="the message as JSON; - reads standard input")
    encode.set_defaults(run=cbc_encode)
    decode = cbc.add_parser(
        "decode", help="a message from hex to JSON",
        description="Decode one message from hex (spaces and colons between octets are allowed) and print it as JSON.",
    )
    decode.add_argument("--protocol", choices=CBC_PROTOCOLS, required=True)
    decode.add_argument("--layout", choices=CBSP_LAYOUTS, help=layout_help)
    decode.add_argument("hex", nargs="+", metavar="HEX", help="the message's octets in hex")
    decode.set_defaults(run=cbc_decode)
    from omnidesk import cli_billing, cli_broadcast, cli_cbc, cli_inventory, cli_provision, cli_rating, cli_users

    cli_cbc.add_commands(cbc, _positive, _non_negative)
    cli_inventory.add_commands(commands, _positive, _non_negative)
    cli_users.add_commands(commands)
    cli_billing.add_commands(commands, _positive)
    cli_rating.add_commands(commands, _positive, _non_negative)
    cli_provision.add_commands(commands, _positive)
    cli_broadcast.add_commands(commands, _positive, _non_negative)
    return parser


# --- commands ---


def _database(settings):
    """The configured database with its schema not yet checked (db status and upgrade report on it)."""
    from omnidesk.db.engine import configured_database

    return configured_database(settings, application_name="omnidesk-cli")


@contextlib.contextmanager
def _opened(settings):
    """(database, acting user) for one command; the connections are closed when it ends."""
    from omnidesk.auth import builtin_admin
    from omnidesk.db.engine import open_database

    db = open_database(settings, upgrade=True, application_name="omnidesk-cli")
    try:
        yield db, builtin_admin(db)
    finally:
        db.dispose()


def _safe_url(db) -> str:
    """The database URL without any password, readable (the socket folder is not %-encoded)."""
    from urllib.parse import unquote

    url = db.engine.url._replace(password=None)  # URL.set() cannot clear a field
    if "password" in url.query:
        url = url.difference_update_query(["password"])
    return unquote(url.render_as_string(hide_password=False))


def db_upgrade(args, settings) -> int:
    db = _database(settings)
    try:
        current, head, state = db.schema_state()
        if state == "current":
            print(f"{db.display_name} is already current (schema {head}).")
            return 0
        db.upgrade()  # refuses a schema that is too new with SchemaTooNew
        print(f"Upgraded {db.display_name} from {current or 'an empty database'} to {head}.")
        return 0
    finally:
        db.dispose()


def db_status(args, settings) -> int:
    db = _database(settings)
    try:
        current, head, state = db.schema_state()
        server = "shared" if settings.database_url else f"embedded (data folder {settings.data_dir})"
        _key_values([
            ("Database", db.display_name),
            ("URL", _safe_url(db)),
            ("Server", server),
            ("Revision", current or "none"),
            ("Head", head),
            ("State", STATE_LABELS[state]),
        ])
        return 1 if state == "too_new" else 0
    finally:
        db.dispose()


def db_stop(args, settings) -> int:
    from omnidesk.db.embedded import stop_embedded

    pgdata = settings.data_dir / "pgdata"
    if settings.database_url:
        print("OmniDesk is set to use a shared database server; there is no embedded server to stop.")
        return 0
    stopped = stop_embedded(settings.data_dir)
    print(f"Stopped the embedded PostgreSQL in {pgdata}." if stopped else f"The embedded PostgreSQL in {pgdata} is not running.")
    return 0


def demo_data(args, settings) -> int:
    from omnidesk.demo import load_demo_data

    with _opened(settings) as (db, actor):
        summary = load_demo_data(
            db, actor, args.customers, args.seed, only_if_empty=args.if_empty,
            progress=_progress(sys.stderr.isatty()) if args.progress or sys.stderr.isatty() else None,
        )
    print(summary.message)
    return 0


def _progress(terminal: bool):
    """On a terminal one line rewritten in place; otherwise a line per step (and per tenth of the rows)."""
    import time

    started = time.perf_counter()
    last = {"phase": None, "tenth": -1}

    def report(phase: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        text = f"{elapsed:6.1f} s  {phase}" + (f" {done:,} of {total:,}" if phase == "customers" else "")
        if terminal:
            print(f"\r\033[K{text}", end="\n" if phase == "commit" else "", file=sys.stderr, flush=True)
            return
        tenth = done * 10 // total if phase == "customers" and total else -1
        if phase != last["phase"] or tenth != last["tenth"]:
            print(text, file=sys.stderr, flush=True)
            last.update(phase=phase, tenth=tenth)

    return report


def customers_list(args, settings) -> int:
    from omnidesk.customers.service import count_customers, list_customers

    with _opened(settings) as (db, actor):
        rows = list_customers(
            db, actor, search=args.search, sort=args.sort, descending=args.desc, offset=args.offset,
            limit=args.limit, include_archived=args.archived, status=args.status,
        )
        if args.json:
            _print_json([dataclasses.asdict(row) for row in rows])
            return 0
        full_page = len(rows) == min(args.limit, 1000)
        total = (
            count_customers(db, actor, search=args.search, include_archived=args.archived, status=args.status)
            if full_page or args.offset else args.offset + len(rows)
        )
    _table(
        ("ID", "Name", "Type", "Status", "Payment", "Credit", "E-mail", "Phone"),
        [
            (row.id, row.name, row.account_type, row.status + (", archived" if row.archived else ""),
             row.payment_type, f"{row.credit_limit:,.2f} {row.currency}", row.email or "", row.phone or "")
            for row in rows
        ],
        right=(0, 5),
    )
    what = f"matching {args.search!r}" if args.search.strip() else ""
    if rows:
        print(f"\n{args.offset + 1:,}–{args.offset + len(rows):,} of {total:,} customers {what}".rstrip())
    else:
        print(f"No customers {what}".rstrip() + ".")
    return 0


def customers_show(args, settings) -> int:
    from omnidesk.customers.service import get_customer

    with _opened(settings) as (db, actor):
        detail = get_customer(db, actor, args.id)
    if args.json:
        _print_json(_detail_json(detail))
    else:
        _print_detail(detail)
    return 0


def customers_create(args, settings) -> int:
    from omnidesk.customers.service import create_customer

    contact = None
    if any(v is not None for v in (args.email, args.phone, args.first_name, args.last_name)):
        words = args.name.split()
        contact = {
            "first_name": args.first_name if args.first_name is not None else (words[0] if words else ""),
            "last_name": args.last_name or "",
            "email": args.email,
            "phone": args.phone,
        }
    with _opened(settings) as (db, actor):
        detail = create_customer(
            db, actor, name=args.name, account_type=args.account_type, payment_type=args.payment_type,
            currency=args.currency, credit_limit=args.credit_limit, primary_contact=contact,
        )
    if args.json:
        _print_json(_detail_json(detail))
    else:
        print(f"Created {detail.label}; it is pending until KYC approval.\n")
        _print_detail(detail)
    return 0


class CbcInputError(ValueError):
    """Input to a `cbc` command that is not a message: unreadable file, bad JSON, bad hex."""


def _cbsp_layout(args):
    """The repetition-period layout for CBSP, or None after a usage message when --layout was given for SBc-AP."""
    from omnidesk.cbc.period import RepetitionPeriodLayout

    if args.protocol != "cbsp" and args.layout is not None:
        print(f"omnidesk cbc {args.cbc_command}: error: --layout applies to CBSP only", file=sys.stderr)
        return None
    return RepetitionPeriodLayout.SPEC_FIGURE if args.layout == "spec" else RepetitionPeriodLayout.OSMOCOM


def cbc_encode(args, settings) -> int:
    from omnidesk.cbc import cbsp, sbcap
    from omnidesk.cbc.json_shapes import from_json

    layout = _cbsp_layout(args)
    if layout is None:
        return 2
    name = "standard input" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CbcInputError(f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CbcInputError(f"{name} is not JSON: {exc}.") from None
    message = from_json(data, args.protocol)
    octets = cbsp.encode(message, repetition_period_layout=layout) if args.protocol == "cbsp" else sbcap.encode(message)
    print(octets.hex())
    return 0


def cbc_decode(args, settings) -> int:
    from omnidesk.cbc import cbsp, sbcap
    from omnidesk.cbc.json_shapes import to_json

    layout = _cbsp_layout(args)
    if layout is None:
        return 2
    digits = "".join(args.hex).replace(":", "")
    digits = "".join(digits.split())
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if not digits:
        raise CbcInputError("No octets given.")
    try:
        octets = bytes.fromhex(digits)
    except ValueError:
        bad = next((c for c in digits if c not in "0123456789abcdefABCDEF"), None)
        reason = f"{bad!r} is not a hex digit" if bad else f"an odd number of hex digits ({len(digits)})"
        raise CbcInputError(f"Not hex octets: {reason}.") from None
    message = cbsp.decode(octets, repetition_period_layout=layout) if args.protocol == "cbsp" else sbcap.decode(octets)
    _print_json(to_json(message))
    return 0


# --- output ---


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=_plain, ensure_ascii=False, indent=2))


def _detail_json(detail) -> dict:
    data = dataclasses.asdict(detail)
    data["archived"] = detail.archived
    for tag, view in zip(data["tags"], detail.tags):
        tag["state"] = view.state
    return data


def _table(headers: tuple[str, ...], rows: list[tuple], *, right: tuple[int, ...] = (), indent: str = "") -> None:
    cells = [tuple(str(c) for c in row) for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values) -> str:
        return indent + "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    print(line(headers))
    for row in cells:
        print(line(row))


def _key_values(pairs: list[tuple[str, Any]], indent: str = "") -> None:
    """`key:  value` lines aligned on the longest key; empty values are left out (alignment stays)."""
    width = max(len(k) for k, _ in pairs) + 1
    for key, value in pairs:
        if value != "":
            print(f"{indent}{(key + ':').ljust(width)}  {value}")


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _print_detail(d) -> None:
    print(f"{d.label}")
    contract = ""
    if d.contract_start_date or d.contract_end_date:
        contract = f"{d.contract_start_date or '…'} to {d.contract_end_date or 'open-ended'}"
    pairs = [
        ("Type", d.account_type),
        ("Status", d.status + (f" (can become {', '.join(d.next_statuses)})" if d.next_statuses else "")),
        ("Payment", d.payment_type),
        ("Credit limit", f"{d.credit_limit:,.2f} {d.currency}"),
        ("Tax identifier", d.tax_identifier or ""),
        ("Contract", contract),
        ("KYC approved", f"{_when(d.kyc_approved_at)} by {d.kyc_approved_by}" if d.kyc_approved_at else "not yet"),
        ("Archived", _when(d.archived_at) if d.archived else "no"),
        ("Created", _when(d.created_at)),
        ("Updated", f"{_when(d.updated_at)} (version {d.version})"),
        ("Open items", f"{d.live_services} live services, {d.open_invoices} open invoices, "
                       f"{d.uninvoiced_transactions} uninvoiced transactions"),
    ]
    if d.notes:
        pairs.append(("Notes", d.notes))
    _key_values(pairs, indent="  ")

    print(f"\nContacts ({len(d.contacts)})")
    if d.contacts:
        _table(("ID", "Type", "Name", "E-mail", "Phone"),
               [(c.id, c.contact_type, c.full_name, c.email or "", c.phone or "") for c in d.contacts],
               right=(0,), indent="  ")
    print(f"\nSites ({len(d.sites)})")
    if d.sites:
        _table(
            ("ID", "Name", "Address", "Post code", "Country", "Coordinates", "Plus code"),
            [
                (s.id, s.name, ", ".join(p for p in (s.address_line_1, s.address_line_2, s.city, s.state) if p),
                 s.postcode, s.country, f"{s.latitude}, {s.longitude}" if s.latitude is not None else "", s.plus_code or "")
                for s in d.sites
            ],
            right=(0,), indent="  ",
        )
    print(f"\nAttributes ({len(d.attributes)})")
    for a in d.attributes:
        print(f"  {a.key} = {a.value}")
    print(f"\nTags ({len(d.tags)})")
    for t in d.tags:
        print(f"  {t.label}  #{t.colour}  {t.state}" + (f"  {t.link}" if t.link else ""))
