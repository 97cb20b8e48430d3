"""`omnidesk rates|cdr|reports …`: rate plans, rate sheets, CDR import and rating, usage reports from a shell."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from decimal import Decimal


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date such as 2026-05-31, not {text!r}") from None


def _moment(text: str) -> dt.datetime:
    """A date or date and time; without an offset it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date or time such as 2026-05-31 or 2026-05-31T14:00, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"must be a percentage such as 40, not {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, not {text}")
    return value


def add_commands(commands: argparse._SubParsersAction, positive, non_negative) -> None:
    json_help = "print JSON for scripts"
    rates = commands.add_parser("rates", help="rate plans and their prefix rates").add_subparsers(
        dest="rates_command", metavar="action", required=True)
    plans = rates.add_parser("plans", help="list the rate plans")
    plans.add_argument("--json", action="store_true", help=json_help)
    plans.set_defaults(run=plans_list)
    create = rates.add_parser("create", help="create an empty rate plan (then import a rate sheet into it)")
    create.add_argument("name")
    create.add_argument("--currency", required=True, help="ISO 4217 code, e.g. USD")
    create.add_argument("--increment", type=positive, default=60, help="billing increment in seconds (default 60)")
    create.add_argument("--minimum", type=non_negative, default=0, help="minimum billable seconds (default 0)")
    create.add_argument("--json", action="store_true", help=json_help)
    create.set_defaults(run=plan_create)
    load = rates.add_parser("import", help="import a rate sheet (prefix,rate,description[,effective_date]) into a plan",
                            description="Every row or none: a file with a bad row imports nothing and lists every bad row.")
    load.add_argument("plan", metavar="PLAN", help="the plan's name or id")
    load.add_argument("file", metavar="FILE.csv")
    load.add_argument("--effective-date", type=_date, help="for rows without one (default: from the beginning)")
    load.add_argument("--replace", action="store_true", help="change rates the plan already has for a prefix and date")
    load.add_argument("--json", action="store_true", help=json_help)
    load.set_defaults(run=rates_import)
    show = rates.add_parser("show", help="a plan's prefix rates")
    show.add_argument("plan", metavar="PLAN")
    show.add_argument("--on", type=_date, help="only the rate in force on this day, per prefix")
    show.add_argument("--prefix", help="prefixes starting with these digits")
    show.add_argument("--limit", type=positive, default=100)
    show.add_argument("--json", action="store_true", help=json_help)
    show.set_defaults(run=rates_show)
    assign = rates.add_parser("assign", help="put a customer on a plan (or --remove them from theirs)")
    assign.add_argument("customer", type=positive, metavar="CUSTOMER_ID")
    assign.add_argument("plan", metavar="PLAN", nargs="?")
    assign.add_argument("--remove", action="store_true")
    assign.set_defaults(run=plan_assign)

    cdr = commands.add_parser("cdr", help="call detail records: import and rating").add_subparsers(
        dest="cdr_command", metavar="action", required=True)
    default_help = "plan for customers without their own (only those in its currency)"
    cdr_import = cdr.add_parser("import", help="import a CDR file and rate its calls",
                                description="Every call or none: a file with a bad row imports nothing and lists every "
                                            "bad row. Calls no plan or prefix covers are imported unrated and reported.")
    cdr_import.add_argument("file", metavar="FILE.csv")
    cdr_import.add_argument("--no-rate", action="store_true", help="import only; rate later with `omnidesk cdr rate`")
    cdr_import.add_argument("--default-plan", metavar="PLAN", help=default_help)
    cdr_import.add_argument("--json", action="store_true", help=json_help)
    cdr_import.set_defaults(run=cdr_import_run)
    rate = cdr.add_parser("rate", help="rate the calls not yet rated (or --rerate a window)")
    rate.add_argument("--default-plan", metavar="PLAN", help=default_help)
    rate.add_argument("--rerate", action="store_true", help="price already rated calls again (after a rate correction)")
    rate.add_argument("--since", type=_moment, help="calls starting at or after (UTC unless an offset is given)")
    rate.add_argument("--until", type=_moment, help="calls starting before")
    rate.add_argument("--customer", type=positive, metavar="CUSTOMER_ID")
    rate.add_argument("--post", action="store_true",
                      help="then charge the rated calls not yet charged: one charge per customer and month "
                           "(calls before --until when given)")
    rate.add_argument("--tax", metavar="PERCENT", help="tax on the posted charges (default 0)")
    rate.add_argument("--json", action="store_true", help=json_help)
    rate.set_defaults(run=cdr_rate)

    reports = commands.add_parser("reports", aliases=["report"], help="usage, ASR and low-balance reports").add_subparsers(
        dest="reports_command", metavar="report", required=True)
    today = dt.datetime.now(dt.timezone.utc).date()
    usage = reports.add_parser("usage", help="calls, minutes and cost per UTC day")
    usage.add_argument("--since", type=_date, default=today - dt.timedelta(days=30), help="first day (default 30 days ago)")
    usage.add_argument("--until", type=_date, default=today, help="last day, included (default today)")
    usage.add_argument("--customer", type=positive, metavar="CUSTOMER_ID")
    usage.add_argument("--json", action="store_true", help=json_help)
    usage.set_defaults(run=report_usage)
    asr = reports.add_parser("asr", help="answer-seizure ratio by destination prefix, busiest first")
    asr.add_argument("--since", type=_moment, help="default: 24 hours ago")
    asr.add_argument("--until", type=_moment)
    asr.add_argument("--customer", type=positive, metavar="CUSTOMER_ID")
    asr.add_argument("--digits", type=positive, help="group by the called number's first N digits, not the plan prefix")
    asr.add_argument("--below", type=_percent, help="only destinations with ASR under this percentage (e.g. 40)")
    asr.add_argument("--min-calls", type=positive, default=1)
    asr.add_argument("--limit", type=positive, default=50)
    asr.add_argument("--json", action="store_true", help=json_help)
    asr.set_defaults(run=report_asr)
    low = reports.add_parser("low-balance", help="active customers by lowest balance, with last-24h usage")
    low.add_argument("--limit", type=positive, default=20)
    low.add_argument("--json", action="store_true", help=json_help)
    low.set_defaults(run=report_low_balance)


def _rejected(exc) -> int:
    print(str(exc), file=sys.stderr)
    return 1


def plans_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import service

    with cli._opened(settings) as (db, actor):
        plans = service.list_rate_plans(db, actor)
    if args.json:
        cli._print_json([dataclasses.asdict(p) for p in plans])
        return 0
    if not plans:
        print("No rate plans yet. Create one with `omnidesk rates create NAME --currency USD --increment 6 --minimum 6`.")
        return 0
    cli._table(("ID", "Name", "Currency", "Increment", "Minimum", "Prefixes", "Rates", "Customers"),
               [(p.id, p.name, p.currency, f"{p.billing_increment} s", f"{p.minimum_duration} s", f"{p.prefixes:,}",
                 f"{p.rates:,}", f"{p.customers:,}") for p in plans], right=(0, 3, 4, 5, 6, 7))
    return 0


def plan_create(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import service

    with cli._opened(settings) as (db, actor):
        plan = service.create_rate_plan(db, actor, name=args.name, currency=args.currency,
                                        billing_increment=args.increment, minimum_duration=args.minimum)
    if args.json:
        cli._print_json(dataclasses.asdict(plan))
    else:
        print(f"Created rate plan {plan.name} (id {plan.id}, {plan.currency}, {plan.billing_increment} s increments, "
              f"{plan.minimum_duration} s minimum). Import its rates with `omnidesk rates import {plan.id} FILE.csv`.")
    return 0


def rates_import(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import importer

    with cli._opened(settings) as (db, actor):
        try:
            report = importer.import_rates(db, actor, args.plan, _path(args.file), effective_date=args.effective_date,
                                           replace=args.replace)
        except importer.ImportRejected as exc:
            return _rejected(exc)
    if args.json:
        cli._print_json(dataclasses.asdict(report))
    else:
        print(f"Imported {report.added + report.replaced:,} rates into {report.plan}: {report.added:,} new, "
              f"{report.replaced:,} replaced ({report.seconds:.2f} s).")
    return 0


def rates_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import service

    with cli._opened(settings) as (db, actor):
        plan = service.get_rate_plan(db, actor, args.plan)
        rows = service.list_rates(db, actor, args.plan, in_force_on=args.on, prefix=args.prefix, limit=args.limit)
    if args.json:
        cli._print_json({"plan": dataclasses.asdict(plan), "rates": [dataclasses.asdict(r) for r in rows]})
        return 0
    print(f"{plan.name}: {plan.currency}, {plan.billing_increment} s increments, {plan.minimum_duration} s minimum; "
          f"{plan.prefixes:,} prefixes\n")
    cli._table(("Prefix", f"Rate/min ({plan.currency})", "From", "Description"),
               [(r.prefix, format(r.rate.normalize(), "f"), "always" if r.effective_date.year == 1970
                 else r.effective_date.isoformat(), r.description) for r in rows], right=(1,))
    return 0


def plan_assign(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import service

    if args.remove == (args.plan is not None):
        print("omnidesk rates assign: give a PLAN, or --remove without one", file=sys.stderr)
        return 2
    with cli._opened(settings) as (db, actor):
        plan = service.assign_rate_plan(db, actor, args.customer, None if args.remove else args.plan)
    print(f"Customer {args.customer} is on rate plan {plan.name}." if plan else
          f"Customer {args.customer} has no rate plan of their own now.")
    return 0


def _path(text: str):
    from pathlib import Path

    return sys.stdin if text == "-" else Path(text)


def _rating_json(report) -> dict:
    data = dataclasses.asdict(report)
    data["missing_destinations"] = [{"digits": d, "calls": n} for d, n in report.missing_destinations]
    return data


def cdr_import_run(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import importer

    with cli._opened(settings) as (db, actor):
        try:
            report = importer.import_cdrs(db, actor, _path(args.file), rate=not args.no_rate,
                                          default_plan=args.default_plan)
        except importer.ImportRejected as exc:
            return _rejected(exc)
    if args.json:
        data = dataclasses.asdict(report)
        data["rating"] = _rating_json(report.rating) if report.rating else None
        cli._print_json(data)
    else:
        print(f"Imported {report.imported:,} calls (ids {report.first_id}–{report.last_id}) in {report.seconds:.1f} s.")
        print(report.rating.describe() if report.rating else "Not rated yet: run `omnidesk cdr rate`.")
    return 0


def cdr_rate(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import service

    with cli._opened(settings) as (db, actor):
        report = service.rate_cdrs(db, actor, default_plan=args.default_plan, rerate=args.rerate, since=args.since,
                                   until=args.until, customer_id=args.customer)
        posting = service.post_rated_calls(db, actor, until=args.until, customer_id=args.customer,
                                           tax_percentage=args.tax) if args.post else None
    if args.json:
        data = _rating_json(report)
        if posting is not None:
            data["posted"] = dataclasses.asdict(posting)
        cli._print_json(data)
    else:
        print(f"{report.describe()} ({report.seconds:.1f} s)")
        if posting is not None:
            print(posting.describe() + (f", {posting.amount:,.2f} in all" if posting.transactions else "") + ".")
            for reason in posting.skipped:
                print(f"  skipped {reason}")
    return 0


def report_usage(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import reports

    with cli._opened(settings) as (db, actor):
        days = reports.usage_per_day(db, actor, since=args.since, until=args.until, customer_id=args.customer)
    if args.json:
        cli._print_json([dataclasses.asdict(d) for d in days])
        return 0
    if not days:
        print(f"No calls from {args.since} to {args.until}.")
        return 0
    cli._table(("Day (UTC)", "Calls", "Answered", "Minutes", "Billable min", "Cost", "Unrated"),
               [(d.day, f"{d.calls:,}", f"{d.answered:,}", f"{d.minutes:,}", f"{d.billable_minutes:,}", f"{d.cost:,}",
                 f"{d.unrated:,}" if d.unrated else "") for d in days], right=(1, 2, 3, 4, 5, 6))
    if any(d.unrated for d in days):
        print("\nUnrated calls are not in the cost; `omnidesk cdr rate` prices them once their plan covers them.")
    return 0


def report_asr(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import reports

    since = args.since or dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24)
    with cli._opened(settings) as (db, actor):
        rows = reports.asr_by_prefix(db, actor, since=since, until=args.until, customer_id=args.customer,
                                     digits=args.digits, below=args.below, minimum_calls=args.min_calls, limit=args.limit)
    if args.json:
        cli._print_json([dataclasses.asdict(r) for r in rows])
        return 0
    if not rows:
        print("No destinations match.")
        return 0
    cli._table(("Prefix", "Destination", "Calls", "Answered", "ASR %"),
               [(r.prefix if r.prefix is not None else "(unrated)", r.description, f"{r.calls:,}", f"{r.answered:,}",
                 r.asr) for r in rows], right=(2, 3, 4))
    return 0


def report_low_balance(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.rating import reports

    with cli._opened(settings) as (db, actor):
        rows = reports.low_balance_customers(db, actor, limit=args.limit)
    if args.json:
        cli._print_json([dataclasses.asdict(r) for r in rows])
        return 0
    if not rows:
        print("No active customers.")
        return 0
    cli._table(("ID", "Customer", "Balance", "Credit limit", "Calls 24h", "Usage 24h"),
               [(r.customer_id, r.name, f"{r.balance:,.2f} {r.currency}", f"{r.credit_limit:,.2f}",
                 f"{r.calls_last_24h:,}", f"{r.usage_last_24h:,}") for r in rows], right=(0, 2, 3, 4, 5))
    print("\nBalance: credits and payments less charges (with tax) of non-void billing transactions.")
    return 0
