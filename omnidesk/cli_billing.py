"""`omnidesk billing transaction|invoice|statement|wallet|run`: billing from a shell (`--json` for scripts).

Every command calls the billing service functions (omnidesk/billing/), so a refusal here is the same
message the desktop shows, and nothing is written when a command is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction, positive) -> None:
    billing = commands.add_parser("billing", help="transactions, invoices, payments, PDFs, statements, bill runs") \
        .add_subparsers(dest="billing_command", metavar="area", required=True)

    tx = billing.add_parser("transaction", help="add or void charges and credits") \
        .add_subparsers(dest="transaction_command", metavar="action", required=True)
    add = tx.add_parser("add", help="add a charge (default) or a credit (--credit TYPE)")
    add.add_argument("customer", type=positive, metavar="CUSTOMER_ID")
    add.add_argument("--title", required=True)
    add.add_argument("--amount", required=True, help="positive; a credit is stored negative")
    add.add_argument("--tax", metavar="PERCENT", help="charges only; default the product's tax (via --service)")
    add.add_argument("--credit", choices=("cash", "card", "bank_transfer"), metavar="TYPE",
                     help="make it a credit of this type: cash, card, bank_transfer")
    add.add_argument("--description", default="")
    add.add_argument("--wholesale", default="0", metavar="AMOUNT")
    add.add_argument("--service", type=positive, metavar="SERVICE_ID")
    add.add_argument("--site", type=positive, metavar="SITE_ID")
    add.add_argument("--date", metavar="YYYY-MM-DD", help="transaction date (default today)")
    add.add_argument("--json", action="store_true", help="print JSON for scripts")
    add.set_defaults(run=transaction_add)
    void = tx.add_parser("void", help="void an uninvoiced transaction")
    void.add_argument("id", type=positive, metavar="TRANSACTION_ID")
    void.add_argument("--json", action="store_true", help="print JSON for scripts")
    void.set_defaults(run=transaction_void)
    listing = tx.add_parser("list", help="a customer's transactions, newest first")
    listing.add_argument("customer", type=positive, metavar="CUSTOMER_ID")
    listing.add_argument("--uninvoiced", action="store_true")
    listing.add_argument("--limit", type=positive, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(run=transaction_list)

    inv = billing.add_parser("invoice", help="generate, show, pay, void, refund invoices and get their PDF") \
        .add_subparsers(dest="invoice_command", metavar="action", required=True)
    gen = inv.add_parser("generate", help="invoice a customer's uninvoiced transactions in a period")
    gen.add_argument("customer", type=positive, metavar="CUSTOMER_ID")
    gen.add_argument("--start", help="default today - 14 days")
    gen.add_argument("--end", help="default today")
    gen.add_argument("--due", help="default today")
    gen.add_argument("--title")
    gen.add_argument("--exclude", type=positive, nargs="*", default=[], metavar="TRANSACTION_ID")
    gen.add_argument("--preview", action="store_true", help="show what would be invoiced and write nothing")
    gen.add_argument("--json", action="store_true", help="print JSON for scripts")
    gen.set_defaults(run=invoice_generate)
    show = inv.add_parser("show", help="an invoice with its lines and payments")
    show.add_argument("invoice", metavar="ID|NUMBER")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=invoice_show)
    pay = inv.add_parser("pay", help="record a manual payment (cash, pos, bank_transfer)")
    pay.add_argument("invoice", metavar="ID|NUMBER")
    pay.add_argument("--method", required=True, choices=("cash", "pos", "bank_transfer"))
    pay.add_argument("--amount", help="default: everything outstanding")
    pay.add_argument("--currency", help="refused unless it is the invoice's")
    pay.add_argument("--reference")
    pay.add_argument("--date", metavar="YYYY-MM-DD", help="payment date (bank transfers), default today")
    pay.add_argument("--json", action="store_true", help="print JSON for scripts")
    pay.set_defaults(run=invoice_pay)
    ivoid = inv.add_parser("void", help="void an unpaid invoice (its transactions are released)")
    ivoid.add_argument("invoice", metavar="ID|NUMBER")
    ivoid.add_argument("--json", action="store_true", help="print JSON for scripts")
    ivoid.set_defaults(run=invoice_void)
    refund = inv.add_parser("refund", help="refund an invoice paid through a payment vendor (in full, once)")
    refund.add_argument("invoice", metavar="ID|NUMBER")
    refund.add_argument("--amount", help="must be the paid amount (refunds are full)")
    refund.add_argument("--json", action="store_true", help="print JSON for scripts")
    refund.set_defaults(run=invoice_refund)
    pdf = inv.add_parser("pdf", help="write the invoice's PDF (from the cache when unchanged)")
    pdf.add_argument("invoice", metavar="ID|NUMBER")
    pdf.add_argument("--output", "-o", type=Path, help="file or folder (default: Invoice_NNNNN.pdf here)")
    pdf.add_argument("--json", action="store_true", help="print JSON for scripts")
    pdf.set_defaults(run=invoice_pdf)
    email = inv.add_parser("email", help="queue the invoice for e-mail to the customer's billing contacts")
    email.add_argument("invoice", metavar="ID|NUMBER")
    email.set_defaults(run=invoice_email)

    mail = billing.add_parser("mail", help="the invoice e-mail outbox: its state, and sending what is due") \
        .add_subparsers(dest="mail_command", metavar="action", required=True)
    send = mail.add_parser("send", help="send the queued e-mails that are due through Mailjet (MAILJET_* variables)")
    send.add_argument("--watch", type=positive, metavar="SECONDS",
                      help="keep sending every SECONDS until Ctrl-C (a workstation-less sender)")
    send.add_argument("--json", action="store_true", help="print JSON for scripts")
    send.set_defaults(run=mail_send)
    mstatus = mail.add_parser("status", help="how many e-mails wait, failed or went; the next retry")
    mstatus.add_argument("--json", action="store_true", help="print JSON for scripts")
    mstatus.set_defaults(run=mail_status)

    st = billing.add_parser("statement", help="a customer's statement of a period (text, JSON or PDF)")
    st.add_argument("customer", type=positive, metavar="CUSTOMER_ID")
    st.add_argument("--start", required=True)
    st.add_argument("--end", required=True)
    st.add_argument("--pdf", type=Path, metavar="FILE", help="also write the PDF here")
    st.add_argument("--json", action="store_true", help="print JSON for scripts")
    st.set_defaults(run=statement)

    run = billing.add_parser("run", help="month-end bill run: invoice and render every customer with charges")
    run.add_argument("--period", required=True, metavar="YYYY-MM")
    run.add_argument("--workers", type=positive, default=2, help="worker processes (default 2)")
    run.add_argument("--no-pdf", action="store_true", help="invoice only; render PDFs on first download")
    run.add_argument("--json", action="store_true", help="print JSON for scripts")
    run.set_defaults(run=bill_run)


def _invoice_id(db, actor, text: str) -> int:
    from omnidesk.billing import service

    return service.find_invoice(db, actor, text).id


def _invoice_json(view) -> dict:
    data = dataclasses.asdict(view)
    data["outstanding"] = view.outstanding
    return data


def _print_invoice(view) -> None:
    from omnidesk import cli
    from omnidesk.billing import rules

    money = lambda x: rules.money(x, view.currency)  # noqa: E731
    print(f"{view.number}  {view.title}  [{view.status.replace('_', ' ')}]")
    print(f"{view.customer_name} (customer {view.customer_id}); issued {view.issue_date}, period {view.start_date} "
          f"to {view.end_date}, due {view.due_date}")
    if view.lines:
        cli._table(("ID", "Date", "Title", "Amount", "Tax"),
                   [(t.id, t.transaction_date, t.title, money(t.retail_cost),
                     rules.tax_display(t.tax_amount, t.tax_percentage, view.currency)) for t in view.lines], right=(3,))
    print(f"Subtotal {money(view.subtotal)}  Tax {money(view.tax_total)}  Total {money(view.total)}  "
          f"Paid {money(view.paid_amount)}  Outstanding {money(view.outstanding)}")
    for p in view.payments:
        print(f"  {p.transaction_date}  {p.title}  {money(p.retail_cost)}" + (f"  ref {p.reference}" if p.reference else ""))


def _done(args, view, message: str) -> int:
    from omnidesk import cli

    if args.json:
        cli._print_json(_invoice_json(view))
    else:
        print(message)
    return 0


def transaction_add(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import rules, service

    with cli._opened(settings) as (db, actor):
        t = service.add_transaction(
            db, actor, args.customer, kind="credit" if args.credit else "charge", title=args.title,
            retail_cost=args.amount, description=args.description, wholesale_cost=args.wholesale,
            tax_percentage=args.tax, service_id=args.service, site_id=args.site, transaction_date=args.date,
            credit_type=args.credit)
    if args.json:
        cli._print_json(dataclasses.asdict(t))
    else:
        print(f"Transaction {t.id} added: {t.title} {t.retail_cost} (tax {rules.tax_display(t.tax_amount, t.tax_percentage)})")
    return 0


def transaction_void(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import service

    with cli._opened(settings) as (db, actor):
        t = service.void_transaction(db, actor, args.id)
    if args.json:
        cli._print_json(dataclasses.asdict(t))
    else:
        print(f"Transaction {t.id} ({t.title}) is void.")
    return 0


def transaction_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import service

    with cli._opened(settings) as (db, actor):
        rows = service.list_transactions(db, actor, args.customer, invoiced=False if args.uninvoiced else None,
                                         limit=args.limit)
    if args.json:
        cli._print_json([dataclasses.asdict(t) for t in rows])
        return 0
    cli._table(("ID", "Date", "Kind", "Title", "Amount", "Tax", "Invoice"),
               [(t.id, t.transaction_date, t.kind, t.title, t.retail_cost, t.tax_amount, t.invoice_number or "-")
                for t in rows], right=(4, 5))
    return 0


def invoice_generate(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import rules, service

    today = dt.date.today()
    start, end, due = rules.default_period(today)
    start, end, due = args.start or start, args.end or end, args.due or due
    with cli._opened(settings) as (db, actor):
        if args.preview:
            p = service.preview_invoice(db, actor, args.customer, start, end)
            p = p.with_included(p.included - set(args.exclude))
            if args.json:
                cli._print_json({"rows": [dataclasses.asdict(r) for r in p.rows], "included": sorted(p.included),
                                 "subtotal": p.subtotal, "tax": p.tax, "total": p.total, "count": p.count})
                return 0
            cli._table(("", "ID", "Date", "Title", "Amount", "Tax"),
                       [("x" if r.id in p.included else "-", r.id, r.transaction_date, r.title, r.retail_cost,
                         r.tax_amount) for r in p.rows], right=(4, 5))
            print(f"{p.count} Transactions selected; subtotal {p.subtotal}, tax {p.tax}, total {p.total} {p.currency}")
            return 0
        view = service.generate_invoice(db, actor, args.customer, start=start, end=end, due=due, title=args.title,
                                        exclude=args.exclude)
    return _done(args, view, f"Invoice {view.number} generated: {len(view.lines)} transactions, "
                             f"{rules.money(view.total, view.currency)}.")


def invoice_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import service

    with cli._opened(settings) as (db, actor):
        view = service.find_invoice(db, actor, args.invoice)
    if args.json:
        cli._print_json(_invoice_json(view))
    else:
        _print_invoice(view)
    return 0


def invoice_pay(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import rules, service

    with cli._opened(settings) as (db, actor):
        view = service.record_payment(db, actor, _invoice_id(db, actor, args.invoice), method=args.method,
                                      amount=args.amount, currency=args.currency, reference=args.reference,
                                      payment_date=args.date)
    return _done(args, view, f"Invoice {view.number} is {view.status.replace('_', ' ')}; outstanding "
                             f"{rules.money(view.outstanding, view.currency)}.")


def invoice_void(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import service

    with cli._opened(settings) as (db, actor):
        view = service.void_invoice(db, actor, _invoice_id(db, actor, args.invoice))
    return _done(args, view, f"Invoice {view.number} is void; its transactions are uninvoiced again.")


def invoice_refund(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import payments

    with cli._opened(settings) as (db, actor):
        view = payments.refund_invoice(db, actor, _invoice_id(db, actor, args.invoice), amount=args.amount)
    return _done(args, view, f"Invoice {view.number} refunded ({view.refund_reference}).")


def invoice_pdf(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import documents

    with cli._opened(settings) as (db, actor):
        doc = documents.invoice_pdf(db, actor, _invoice_id(db, actor, args.invoice))
    target = args.output or Path(doc.filename)
    if target.is_dir():
        target = target / doc.filename
    target.write_bytes(doc.pdf)
    if args.json:
        cli._print_json({"file": str(target), "bytes": len(doc.pdf), "from_cache": doc.from_cache,
                         "render_ms": doc.render_ms, "content_key": doc.content_key})
    else:
        print(f"{target} ({len(doc.pdf):,} bytes{', from the cache' if doc.from_cache else ''})")
    return 0


def invoice_email(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import mail

    with cli._opened(settings) as (db, actor):
        invoice_id = _invoice_id(db, actor, args.invoice)
        outbox_id = mail.queue_invoice_email(db, actor, invoice_id)
    print(f"Queued as e-mail {outbox_id}; `omnidesk billing mail send` (or a running OmniDesk) sends it.")
    return 0


def _print_state(state) -> None:
    line = f"{state.pending} waiting ({state.due} due now), {state.failed} given up, {state.sent} sent"
    if state.pending and state.next_attempt_at:
        line += f"; next attempt {state.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}"
    print(line)
    if state.last_error and (state.pending or state.failed):
        print(f"Last error: {state.last_error}")


def mail_send(args, settings) -> int:
    import time

    from omnidesk import cli
    from omnidesk.billing import mail

    with cli._opened(settings) as (db, actor):
        sender = mail.sender_from_environment(db)
        try:
            while True:
                report = mail.send_outbox(db, actor, sender)
                state = mail.outbox_state(db, actor)
                if args.json:
                    cli._print_json(dict(dataclasses.asdict(report), **dataclasses.asdict(state)))
                else:
                    print(f"{report.sent} sent, {report.failed} to retry, {report.given_up} given up.", end=" ")
                    _print_state(state)
                if not args.watch:
                    break
                sys.stdout.flush()
                time.sleep(args.watch)
        except KeyboardInterrupt:
            pass
        finally:
            sender.close()
    return 0


def mail_status(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import mail

    with cli._opened(settings) as (db, actor):
        state = mail.outbox_state(db, actor)
    if args.json:
        cli._print_json(dataclasses.asdict(state))
    else:
        _print_state(state)
    return 0


def statement(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import documents, service

    with cli._opened(settings) as (db, actor):
        st = service.statement(db, actor, args.customer, args.start, args.end)
        doc = documents.statement_pdf(db, actor, args.customer, args.start, args.end) if args.pdf else None
    if doc is not None:
        args.pdf.write_bytes(doc.pdf)
    if args.json:
        cli._print_json(dataclasses.asdict(st))
        return 0
    print(f"Statement of {st.customer_name}, {st.start} to {st.end} ({st.currency})")
    cli._table(("Date", "Title", "Reference", "Debit", "Credit", "Balance"),
               [("", "Opening balance", "", "", "", st.opening_balance)]
               + [(line.date, line.title, line.reference, line.debit or "", line.credit or "", line.balance)
                  for line in st.lines], right=(3, 4, 5))
    if doc is not None:
        print(f"PDF written to {args.pdf}", file=sys.stderr)
    return 0


def bill_run(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.billing import billrun

    with cli._opened(settings) as (db, actor):
        report = billrun.run_billing(db, actor, args.period, workers=args.workers, render=not args.no_pdf)
    summary = report.as_dict()
    if args.json:
        cli._print_json(dict(summary, numbers=report.invoices, skipped_reasons=report.skipped))
        return 0
    if not report.invoices:
        print(f"Nothing to invoice for {args.period}: no customer has uninvoiced charges in it.")
        return 0
    print(f"{summary['invoices']} invoices for {args.period} ({summary['first']} to {summary['last']}) in "
          f"{summary['wall_seconds']} s; {summary['skipped']} customers skipped.")
    return 0
