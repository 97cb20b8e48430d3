"""Invoice and statement PDFs rendered by the real WeasyPrint, read back with pdftotext, and the cache."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from omnidesk.billing import documents
from omnidesk.billing import service as bs
from omnidesk.billing.models import DocumentCache
from omnidesk.customers import service as cs
from omnidesk.errors import PermissionDenied
from omnidesk.auth import Actor

TODAY = dt.date.today()
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def invoice(db, admin):
    c = cs.create_customer(db, admin, name="Harbour Cafe Pty Ltd", currency="AUD", account_type="business")
    cs.add_site(db, admin, c.id, name="Main", address_line_1="12 Wharf Road", city="Sydney", state="NSW",
                postcode="2000", country="AU", latitude="-33.8688", longitude="151.2093")
    bs.add_transaction(db, admin, c.id, title="Fibre 100 monthly", retail_cost="50.00", tax_percentage="10")
    bs.add_transaction(db, admin, c.id, title="Static IP address", retail_cost="15.00", tax_percentage="10",
                       description="1 address, 203.0.113.7")
    bs.add_transaction(db, admin, c.id, kind="credit", title="Outage credit", retail_cost="5.00", credit_type="cash")
    return bs.generate_invoice(db, admin, c.id, start=TODAY - dt.timedelta(days=14), end=TODAY, due=TODAY)


def test_the_invoice_pdf_shows_the_number_each_line_the_tax_and_the_total(db, admin, invoice, tmp_path):
    doc = documents.invoice_pdf(db, admin, invoice.id)
    assert doc.pdf.startswith(b"%PDF") and doc.filename == f"Invoice_{invoice.id:05d}.pdf"
    shown = pdf_text(doc.pdf, tmp_path)
    assert invoice.number in shown
    assert "Harbour Cafe Pty Ltd" in shown and "12 Wharf Road" in shown
    for line in ("Fibre 100 monthly", "$50.00", "$5.00 (10%)", "$55.00",
                 "Static IP address", "$15.00", "$1.50 (10%)", "$16.50",
                 "Outage credit", "-$5.00"):
        assert line in shown, line
    assert "Subtotal" in shown and "$60.00" in shown
    assert "$6.50" in shown            # tax
    assert "$66.50" in shown            # total = 60.00 + 6.50
    assert "PAID" not in shown and "VOID" not in shown


def test_a_cached_pdf_is_served_without_rendering_again(db, admin, invoice):
    first = documents.invoice_pdf(db, admin, invoice.id)
    renders = documents.renders_so_far()
    second = documents.invoice_pdf(db, admin, invoice.id)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.pdf == first.pdf and documents.renders_so_far() == renders
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(DocumentCache)) == 1


def test_a_template_change_renders_again(db, admin, invoice, tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(documents.TEMPLATES_DIR, folder)
    documents.set_setting(db, admin, "invoice.templates_dir", str(folder))
    before = documents.invoice_pdf(db, admin, invoice.id)
    template = folder / "default_invoice.html"
    template.write_text(template.read_text().replace("How to pay", "Ways to pay us"))
    after = documents.invoice_pdf(db, admin, invoice.id)
    assert after.from_cache is False and after.content_key != before.content_key
    assert "WAYS TO PAY US" in pdf_text(after.pdf, tmp_path)  # the label is upper-cased by CSS
    with db.read() as s:  # the stale render of this invoice is gone
        assert s.scalars(select(DocumentCache.content_key)).all() == [after.content_key]


def test_a_payment_changes_the_pdf_and_stamps_it_paid(db, admin, invoice, tmp_path):
    unpaid = documents.invoice_pdf(db, admin, invoice.id)
    bs.record_payment(db, admin, invoice.id, method="bank_transfer", reference="BT-5521")
    paid = documents.invoice_pdf(db, admin, invoice.id)
    assert paid.from_cache is False and paid.content_key != unpaid.content_key
    shown = pdf_text(paid.pdf, tmp_path)
    assert re.search(r"Status +Paid", shown) and "PAID" in shown and "BT-5521" in shown and f"Payment for Invoice {invoice.number}" in shown


def test_a_void_invoice_still_downloads_stamped_void(db, admin, invoice, tmp_path):
    bs.void_invoice(db, admin, invoice.id)
    shown = pdf_text(documents.invoice_pdf(db, admin, invoice.id).pdf, tmp_path)
    assert "VOID" in shown and invoice.number in shown


def test_branding_and_the_payment_qr_come_from_the_settings(db, admin, invoice, tmp_path):
    documents.set_setting(db, admin, "company.name", "Southern Cross Mobile")
    documents.set_setting(db, admin, "company.bank_details", ["BSB 062-000", "Account 1234 5678"])
    documents.set_setting(db, admin, "invoice.payment_url", "https://pay.example.net/i/{invoice_number}")
    doc = documents.invoice_pdf(db, admin, invoice.id)
    shown = pdf_text(doc.pdf, tmp_path)
    assert "Southern Cross Mobile" in shown and "BSB 062-000" in shown
    assert f"https://pay.example.net/i/{invoice.number}" in shown
    path = tmp_path / "qr.pdf"
    path.write_bytes(doc.pdf)
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True).stdout
    assert len(images.strip().splitlines()) >= 3  # header lines + the QR image


def test_rendering_works_from_a_worker_thread(db, admin, invoice):
    result = {}
    worker = threading.Thread(target=lambda: result.update(doc=documents.invoice_pdf(db, admin, invoice.id)))
    worker.start()
    worker.join(60)
    assert result["doc"].pdf.startswith(b"%PDF")


def test_the_statement_lists_debits_credits_and_the_running_balance(db, admin, invoice, tmp_path):
    bs.record_payment(db, admin, invoice.id, method="cash", amount="20.00")
    doc = documents.statement_pdf(db, admin, invoice.customer_id, TODAY - dt.timedelta(days=30), TODAY)
    shown = pdf_text(doc.pdf, tmp_path)
    assert "STATEMENT" in shown and "Harbour Cafe Pty Ltd" in shown
    assert "Fibre 100 monthly" in shown and "$55.00" in shown and "Outage credit" in shown
    assert re.search(r"Payment for Invoice +INV-\S+ +\$20.00 +\$46.50", shown)  # credit, running balance
    assert re.search(r"Closing balance +\$46.50", shown)  # 66.50 - 20.00


def test_old_and_unused_cached_pdfs_are_purged(db, admin, invoice):
    documents.invoice_pdf(db, admin, invoice.id)
    assert documents.purge_cache(db, admin) == 0
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE invoice_pdf_cache SET last_accessed = now() - interval '31 days'"))
    assert documents.purge_cache(db, admin) == 1
    assert documents.invoice_pdf(db, admin, invoice.id).from_cache is False


def test_downloading_needs_the_view_invoice_permission(db, invoice):
    clerk = Actor(user_id=None, username="clerk", permissions=frozenset({"view_customer_transaction"}))
    with pytest.raises(PermissionDenied, match="needs the view_customer_invoice permission"):
        documents.invoice_pdf(db, clerk, invoice.id)


def test_the_default_invoice_is_one_a4_page_and_a_long_one_repeats_its_column_headings(db, admin, invoice, tmp_path):
    path = tmp_path / "short.pdf"
    path.write_bytes(documents.invoice_pdf(db, admin, invoice.id).pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "595.276 x 841.89" in info  # A4 in points

    for n in range(60):
        bs.add_transaction(db, admin, invoice.customer_id, title=f"Call bundle {n:02d}", retail_cost="1.00")
    long = bs.generate_invoice(db, admin, invoice.customer_id, start=TODAY, end=TODAY)
    pages = pdf_text(documents.invoice_pdf(db, admin, long.id).pdf, tmp_path).split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    assert all("Description" in p for p in pages)
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "Call bundle 59" in pages[-1]
