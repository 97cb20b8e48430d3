"""`omnidesk billing …` run in-process against the real database."""

from __future__ import annotations

import datetime as dt
import json
import subprocess


from omnidesk.customers import service as cs
from cli_helpers import run

TODAY = dt.date.today()


def test_charge_invoice_pay_and_pdf_from_the_shell(env, admin, capsys, tmp_path):
    c = cs.create_customer(env, admin, name="Shell Customer", currency="USD")
    code, out, _ = run(capsys, "billing", "transaction", "add", str(c.id), "--title", "Monthly plan",
                       "--amount", "50.00", "--tax", "10", "--json")
    assert code == 0 and json.loads(out)["tax_amount"] == "5.00"
    code, out, _ = run(capsys, "billing", "invoice", "generate", str(c.id), "--json")
    invoice = json.loads(out)
    assert code == 0 and invoice["number"] == f"INV-{TODAY.year}-000001" and invoice["total"] == "55.00"

    code, _, err = run(capsys, "billing", "invoice", "pay", invoice["number"], "--method", "cash", "--currency", "EUR")
    assert code == 1 and "is in USD; a payment in EUR cannot be recorded" in err
    code, out, _ = run(capsys, "billing", "invoice", "pay", invoice["number"], "--method", "bank_transfer",
                       "--reference", "BT-1", "--json")
    assert code == 0 and json.loads(out)["status"] == "paid"
    code, _, err = run(capsys, "billing", "invoice", "void", invoice["number"])
    assert code == 1 and "is paid; refund it" in err

    code, out, _ = run(capsys, "billing", "invoice", "pdf", invoice["number"], "-o", str(tmp_path), "--json")
    written = json.loads(out)
    text = subprocess.run(["pdftotext", written["file"], "-"], capture_output=True, text=True).stdout
    assert invoice["number"] in text and "Monthly plan" in text and "$55.00" in text


def test_a_bill_run_with_nothing_to_invoice_says_so(env, capsys):
    code, out, _ = run(capsys, "billing", "run", "--period", "2026-10")
    assert code == 0 and "Nothing to invoice for 2026-10" in out
