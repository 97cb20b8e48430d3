"""Render the Billing tab, the Generate invoice dialog and an invoice offscreen to artifacts/screenshots/,
and the first page of the default invoice PDF as PNG (pdftoppm), so people can look at them."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from omnidesk.billing import documents
from omnidesk.billing import service as bs
from omnidesk.customers import service as cs
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.billing.generate import GenerateInvoiceDialog
from omnidesk.ui.billing.invoice_detail import InvoiceDialog
from omnidesk.ui.main_window import MainWindow

TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox):
            widget.close()


def saved_picture(widget, name: str) -> QImage:
    path = inspection.grab(widget, name)
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 200 and image.height() > 100, name
    assert inspection.distinct_colours(image) > 5, f"{name} is blank"
    return image


def sample(db, admin):
    """A few customers with a month of charges, credits, invoices and payments."""
    cafe = cs.create_customer(db, admin, name="Harbour Cafe Pty Ltd", currency="USD")
    fern = cs.create_customer(db, admin, name="Blue Fern Consulting", currency="USD")
    mill = cs.create_customer(db, admin, name="Old Mill Bakery", currency="USD")
    rows = [
        (cafe, "Installation fee", "75.00", "10", 12), (cafe, "Business fibre 500/50", "129.00", "10", 10),
        (cafe, "Static IP address", "15.00", "10", 10), (fern, "Mobile fleet (12 SIMs)", "540.00", "10", 9),
        (fern, "International roaming pack", "89.90", "10", 6), (mill, "Business fibre 100/20", "79.00", "10", 5),
        (mill, "Router replacement", "249.00", "10", 3), (cafe, "Calls to mobiles, October", "18.42", "10", 2),
        (fern, "Data top-up 20 GB", "35.00", "10", 1), (mill, "Calls to landlines, October", "7.15", "10", 0),
    ]
    made = [bs.add_transaction(db, admin, c.id, title=t, retail_cost=a, tax_percentage=p,
                               transaction_date=TODAY - dt.timedelta(days=d)) for c, t, a, p, d in rows]
    bs.add_transaction(db, admin, cafe.id, kind="credit", title="Service outage credit (2 days)", retail_cost="10.00",
                       credit_type="cash", transaction_date=TODAY - dt.timedelta(days=1))
    dup = bs.add_transaction(db, admin, mill.id, title="Router replacement (duplicate)", retail_cost="249.00")
    bs.void_transaction(db, admin, dup.id)
    fern_invoice = bs.generate_invoice(db, admin, fern.id, start=TODAY - dt.timedelta(days=14), end=TODAY,
                                       exclude=[made[8].id])
    bs.record_payment(db, admin, fern_invoice.id, method="bank_transfer", amount="300.00", reference="BT-88213")
    mill_invoice = bs.generate_invoice(db, admin, mill.id, start=TODAY - dt.timedelta(days=14), end=TODAY)
    bs.record_payment(db, admin, mill_invoice.id, method="pos", reference="POS-4471")
    return cafe, fern_invoice


def test_billing_tab_generate_dialog_and_invoice_screenshots(qtbot, db, admin):
    cafe, invoice = sample(db, admin)
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1360, 820)
    window.show()
    window.attach(db, admin, live=False)
    window.tabs.setCurrentWidget(window.billing)
    panel = window.billing.transactions
    assert inspection.settle(15)
    qtbot.waitUntil(lambda: panel.model.count is not None, timeout=10_000)
    assert panel.model.rowCount() == 13  # 11 charges and credits, 2 payments
    saved_picture(window, "billing_tab_transactions")
    window.billing.tabs.setCurrentWidget(window.billing.invoices)
    assert inspection.settle(15)
    saved_picture(window, "billing_tab_invoices")

    dialog = GenerateInvoiceDialog(window, db, admin, cafe.id)
    dialog.resize(820, 560)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    dialog.set_included(dialog.preview.rows[-1].id, False)
    saved_picture(dialog, "billing_generate_invoice")
    dialog.reject()

    window.tabs.setCurrentWidget(window.customers)
    window.customers.open_customer(cafe.id)
    customer_view = window.customers.detail
    qtbot.waitUntil(lambda: customer_view.detail is not None, timeout=10_000)
    customer_view.tabs.setCurrentWidget(customer_view.billing)
    assert inspection.settle(15)
    qtbot.waitUntil(lambda: customer_view.billing.transactions.model.count is not None, timeout=10_000)
    saved_picture(window, "billing_customer_sub_tab")

    detail = InvoiceDialog(window, db, admin, invoice.id)
    detail.resize(860, 600)
    detail.show()
    qtbot.waitUntil(lambda: detail.invoice is not None, timeout=10_000)
    saved_picture(detail, "billing_invoice_detail")
    detail.accept()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm (poppler-utils)")
def test_the_first_page_of_the_default_invoice_as_png(db, admin):
    _cafe, invoice = sample(db, admin)
    doc = documents.invoice_pdf(db, admin, invoice.id)
    inspection.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = inspection.SCREENSHOTS / "billing_invoice.pdf"
    pdf.write_bytes(doc.pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(inspection.SCREENSHOTS / "billing_invoice_page1")], check=True)
    image = QImage(str(inspection.SCREENSHOTS / "billing_invoice_page1.png"))
    assert image.width() > 500 and inspection.distinct_colours(image) > 5
