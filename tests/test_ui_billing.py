"""The Billing tab and its dialogs on the real database, offscreen: lists with filters and stats, the
Generate invoice preview (exclude a row → totals and button change; generate → the gapless number),
payments moving the invoice's state, refusals shown in the dialog with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import func, select

from omnidesk.billing import service as bs
from omnidesk.billing.models import EmailOutbox
from omnidesk.customers import service as cs
from omnidesk.db.models import BillingTransaction, Invoice
from omnidesk.ui import inspection
from omnidesk.ui.billing.generate import GenerateInvoiceDialog
from omnidesk.ui.billing.invoice_detail import InvoiceDialog
from omnidesk.ui.billing.workspace import BillingView

pytestmark = pytest.mark.usefixtures("settled_gui")
TODAY = dt.date.today()


def visible_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def answer(qtbot, label: str) -> None:
    qtbot.waitUntil(lambda: len(visible_boxes()) == 1, timeout=5_000)
    next(b for b in visible_boxes()[0].buttons() if b.text() == label).click()


def customer(db, admin, name="Harbour Cafe", currency="USD"):
    return cs.create_customer(db, admin, name=name, currency=currency)


def charge(db, admin, c, title, amount, *, tax="0", days_ago=0):
    return bs.add_transaction(db, admin, c.id, title=title, retail_cost=amount, tax_percentage=tax,
                              transaction_date=TODAY - dt.timedelta(days=days_ago))


def shown(panel) -> list[str]:
    """The first column of every row on the panel's current page."""
    model = panel.model
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def wait_loaded(qtbot, panel) -> None:
    assert inspection.settle(10)
    qtbot.waitUntil(lambda: panel.model.count is not None, timeout=5_000)


@pytest.fixture
def view(qtbot, db, admin):
    v = BillingView(db, admin, load=False)
    qtbot.addWidget(v)
    v.resize(1200, 700)
    v.show()
    return v


def test_the_billing_tab_lists_filters_sorts_and_pages_transactions(qtbot, db, admin, view):
    a, b = customer(db, admin), customer(db, admin, "Blue Fern Ltd")
    old = charge(db, admin, a, "Installation fee", "75.00", tax="10", days_ago=40)
    plan = charge(db, admin, a, "Monthly plan", "45.00", tax="10")
    dup = charge(db, admin, b, "Duplicate router", "99.00")
    bs.void_transaction(db, admin, dup.id)
    credit = bs.add_transaction(db, admin, b.id, kind="credit", title="Outage credit", retail_cost="10",
                                credit_type="cash")
    invoice = bs.generate_invoice(db, admin, a.id, start=TODAY, end=TODAY)
    panel = view.transactions
    view.start()
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(credit.id), str(plan.id), str(old.id)], "newest first, the void one hidden"
    assert panel.count_label.text() == "3 transactions"
    assert panel.stats.texts()[0] == "Total: $110.00 (3 transactions)"  # 75 + 45 - 10, before tax
    assert panel.stats.texts()[1] == "Uninvoiced: $65.00 (2 transactions)"
    row = panel.model.rows[1]
    assert (row.invoice_number, panel.model.index(1, panel.model.columns.index(
        next(c for c in panel.model.columns if c.title == "Amount"))).data()) == (invoice.number, "$49.50")

    panel.void_filter.setCurrentIndex(1)  # Void
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(dup.id)]
    panel.void_filter.setCurrentIndex(0)
    panel.invoiced_filter.setCurrentIndex(1)  # Not invoiced
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(credit.id), str(old.id)]
    panel.reset_filters()
    panel.dates.set_values(TODAY - dt.timedelta(days=45), TODAY - dt.timedelta(days=30))
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(old.id)]
    panel.reset_filters()
    panel.search.setText("monthly")
    qtbot.waitUntil(lambda: shown(panel) == [str(plan.id)], timeout=5_000)
    panel.search.setText(invoice.number)
    qtbot.waitUntil(lambda: shown(panel) == [str(plan.id)], timeout=5_000)
    panel.search.clear()
    qtbot.waitUntil(lambda: len(shown(panel)) == 3, timeout=5_000)

    amount = next(i for i, c in enumerate(panel.model.columns) if c.title == "Amount")
    panel.table.sortByColumn(amount, Qt.SortOrder.AscendingOrder)
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(credit.id), str(plan.id), str(old.id)]  # -10.00, 49.50, 82.50
    panel.table.sortByColumn(amount, Qt.SortOrder.DescendingOrder)
    wait_loaded(qtbot, panel)
    assert shown(panel) == [str(old.id), str(plan.id), str(credit.id)]

    panel.model.page_size = 2
    panel.apply_filters()
    panel.model.reload()
    wait_loaded(qtbot, panel)
    assert panel.page_label.text() == "Page 1 of 2" and len(shown(panel)) == 2
    panel.next_button.click()
    wait_loaded(qtbot, panel)
    assert panel.page_label.text() == "Page 2 of 2" and shown(panel) == [str(credit.id)]
    assert not panel.next_button.isEnabled() and panel.previous_button.isEnabled()


def test_the_invoice_list_filters_by_paid_state_and_shows_the_stats(qtbot, db, admin, view):
    a, b = customer(db, admin), customer(db, admin, "Blue Fern Ltd")
    charge(db, admin, a, "Plan", "1500.00")
    charge(db, admin, b, "Plan", "45.00")
    paid = bs.generate_invoice(db, admin, a.id, start=TODAY, end=TODAY)
    unpaid = bs.generate_invoice(db, admin, b.id, start=TODAY, end=TODAY)
    bs.record_payment(db, admin, paid.id, method="cash")
    panel = view.invoices
    view.start()
    wait_loaded(qtbot, panel)
    assert shown(panel) == [unpaid.number, paid.number]
    assert panel.stats.texts()[:2] == ["Total invoices: $1.5k (2 invoices)", "Unpaid: $45.00 (1 invoice)"]
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("paid"))
    wait_loaded(qtbot, panel)
    assert shown(panel) == [paid.number]
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("open"))
    wait_loaded(qtbot, panel)
    assert shown(panel) == [unpaid.number]
    panel.reset_filters()
    panel.search.setText("blue fern")
    qtbot.waitUntil(lambda: shown(panel) == [unpaid.number], timeout=5_000)


def test_generate_invoice_previews_excludes_and_creates_the_next_number(qtbot, db, admin):
    c = customer(db, admin)
    setup = charge(db, admin, c, "Setup", "50.00", tax="10", days_ago=3)
    month = charge(db, admin, c, "Monthly service", "45.00", tax="10", days_ago=1)
    disputed = charge(db, admin, c, "Disputed call", "12.00")
    too_old = charge(db, admin, c, "Last month's plan", "45.00", days_ago=20)
    other = customer(db, admin, "Other")
    charge(db, admin, other, "x", "1.00")
    first = bs.generate_invoice(db, admin, other.id, start=TODAY, end=TODAY)

    dialog = GenerateInvoiceDialog(None, db, admin, c.id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    assert dialog.period() == (TODAY - dt.timedelta(days=14), TODAY, TODAY)
    assert not dialog.customer.isEnabled(), "the customer's own page fixes the customer"
    assert [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())] == \
        [str(setup.id), str(month.id), str(disputed.id)], "only uninvoiced rows in the period"
    assert (dialog.subtotal.text(), dialog.tax.text(), dialog.total.text()) == ("$107.00", "$9.50", "$116.50")
    assert dialog.generate_button.text() == "Invoice 3 transactions"

    dialog.set_included(disputed.id, False)
    assert (dialog.subtotal.text(), dialog.tax.text(), dialog.total.text()) == ("$95.00", "$9.50", "$104.50")
    assert dialog.generate_button.text() == "Invoice 2 transactions"

    with qtbot.waitSignal(dialog.generated, timeout=10_000) as made:
        dialog.generate_button.click()
    invoice = made.args[0]
    assert invoice.number == f"INV-{TODAY.year}-{int(first.number[-6:]) + 1:06d}"
    assert (invoice.total, [t.id for t in invoice.lines]) == (D("104.50"), [setup.id, month.id])
    assert [t.id for t in bs.list_transactions(db, admin, c.id, invoiced=False, newest_first=False)] == \
        [too_old.id, disputed.id]


def test_a_negative_total_is_refused_in_the_dialog_and_nothing_is_written(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "20.00")
    bs.add_transaction(db, admin, c.id, kind="credit", title="Goodwill credit", retail_cost="50", credit_type="cash")
    dialog = GenerateInvoiceDialog(None, db, admin, c.id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    assert dialog.total.text() == "-$30.00"
    assert dialog.message.isVisible() and "credits exceed charges" in dialog.message.text(), "said before the click"
    dialog.message.hide()
    dialog.generate_button.click()
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=10_000)
    assert "credits exceed charges" in dialog.message.text() and "-$30.00" in dialog.message.text()
    assert dialog.isVisible(), "the dialog stays open with what the user chose"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 0
        assert s.scalar(select(func.count()).select_from(BillingTransaction)
                        .where(BillingTransaction.invoice_id.is_not(None))) == 0


def open_invoice(qtbot, db, admin, invoice_id) -> InvoiceDialog:
    dialog = InvoiceDialog(None, db, admin, invoice_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.invoice is not None, timeout=10_000)
    return dialog


def test_recording_payments_moves_the_invoice_to_partially_paid_then_paid(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "100.00", tax="10")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    assert dialog.status.text() == "Unpaid" and dialog.fields["outstanding"].text() == "$110.00"
    assert not dialog.refund_button.isEnabled()

    pay = dialog.record_payment()
    pay.method.setCurrentIndex(pay.method.findData("bank_transfer"))
    pay.amount.setText("40.00")
    pay.reference.setText("BT-20931")
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        pay.save_button.click()
    assert dialog.status.text() == "Partially paid" and dialog.fields["outstanding"].text() == "$70.00"
    assert dialog.payments.rowCount() == 1 and dialog.payments.item(0, 4).text() == "BT-20931"
    assert not dialog.void_button.isEnabled(), "a part-paid invoice is not voided"

    pay = dialog.record_payment()
    assert pay.amount.text() == "70.00"
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        pay.save_button.click()
    assert dialog.status.text() == "Paid" and dialog.fields["outstanding"].text() == "$0.00"
    assert not dialog.pay_button.isEnabled()
    assert bs.get_invoice(db, admin, inv.id).status == "paid"


def test_a_payment_in_the_wrong_currency_is_refused_and_nothing_is_written(qtbot, db, admin):
    c = customer(db, admin, currency="GBP")
    charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    pay = dialog.record_payment()
    pay.currency.setText("USD")
    pay.save_button.click()
    qtbot.waitUntil(lambda: pay.general_error.isVisible(), timeout=10_000)
    assert "is in GBP; a payment in USD cannot be recorded" in pay.general_error.text()
    assert pay.isVisible()
    pay.amount.setText("31.00")
    assert pay.error_text("amount") == "Only £30.00 is outstanding." and not pay.save_button.isEnabled()
    pay.reject()
    view = bs.get_invoice(db, admin, inv.id)
    assert (view.status, view.paid_amount, view.payments) == ("unpaid", D("0.00"), ())


def test_void_asks_then_releases_and_a_paid_invoice_offers_no_void(qtbot, db, admin):
    c = customer(db, admin)
    t = charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    dialog.void_button.click()
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        answer(qtbot, "Void invoice")
    assert dialog.status.text() == "Void" and dialog.invoice.title.startswith("Void: ")
    assert not dialog.void_button.isEnabled() and not dialog.pay_button.isEnabled()
    assert bs.get_transaction(db, admin, t.id).invoice_id is None


def test_e_mail_queues_in_the_outbox_and_a_missing_address_is_said(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    dialog.email_button.click()
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=10_000)
    assert "has no billing or primary contact with an e-mail address" in dialog.message.text()
    assert inspection.settle(10)  # the reload after the refusal
    cs.add_contact(db, admin, c.id, contact_type="billing", first_name="Pat", last_name="Lee", email="pat@example.org")
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.email_button.click()
    assert not dialog.message.isVisible()
    with db.read() as s:
        row = s.scalar(select(EmailOutbox))
        assert (row.invoice_id, row.status, row.recipients[0]["Email"]) == (inv.id, "pending", "pat@example.org")


def test_open_pdf_renders_on_a_worker_and_writes_the_file(qtbot, db, admin, monkeypatch):
    opened = []
    monkeypatch.setattr("omnidesk.ui.billing.invoice_detail.QDesktopServices.openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    with qtbot.waitSignal(dialog.pdf_ready, timeout=30_000) as ready:
        dialog.open_pdf_button.click()
    path = ready.args[0]
    assert opened == [path] and path.endswith(inv.filename)
    assert open(path, "rb").read(5) == b"%PDF-"


def test_the_customer_detail_has_a_billing_sub_tab_for_that_customer_only(qtbot, db, admin):
    from omnidesk.ui.customers.detail import CustomerDetailView

    a, b = customer(db, admin, currency="GBP"), customer(db, admin, "Blue Fern Ltd")
    mine = charge(db, admin, a, "Plan", "45.00")
    charge(db, admin, b, "Someone else's plan", "99.00")
    detail = CustomerDetailView(db, admin)
    qtbot.addWidget(detail)
    detail.resize(1000, 700)
    detail.show()
    with qtbot.waitSignal(detail.loaded, timeout=10_000):
        detail.show_customer(a.id)
    detail.tabs.setCurrentWidget(detail.billing)
    panel = detail.billing.transactions
    wait_loaded(qtbot, panel)
    assert detail.tabs.tabText(detail.tabs.indexOf(detail.billing)) == "Billing"
    assert shown(panel) == [str(mine.id)] and panel.model.rows[0].currency == "GBP"
    assert not any(c.title == "Customer" for c in panel.model.columns)
    qtbot.waitUntil(lambda: panel.stats.texts()[1] == "Uninvoiced: £45.00 (1 transaction)", timeout=5_000)

    add = panel.add_transaction()
    add.kind.setCurrentIndex(add.kind.findData("credit"))
    assert add.tax.isHidden() and not add.credit_type.isHidden(), "a credit has a type and no tax"
    add.title_edit.setText("Outage credit")
    add.amount.setText("10")
    assert add.total.text() == "-£10.00"
    with qtbot.waitSignal(detail.loaded, timeout=10_000):  # the customer reloads too (its open counts)
        add.save_button.click()
    qtbot.waitUntil(lambda: len(shown(panel)) == 2, timeout=10_000)
    assert panel.model.rows[0].title == "Outage credit" and panel.model.rows[0].retail_cost == D("-10.00")


def test_adding_a_transaction_system_wide_asks_whose_and_an_unknown_customer_is_refused(qtbot, db, admin, view):
    c = customer(db, admin)
    view.start()
    panel = view.transactions
    wait_loaded(qtbot, panel)
    add = panel.add_transaction()
    add.title_edit.setText("Installation fee")
    add.amount.setText("75.00")
    add.tax.setText("10")
    assert not add.save_button.isEnabled(), "no customer yet"
    add.customer.setText("999")
    add.save_button.click()
    qtbot.waitUntil(lambda: add.general_error.isVisible(), timeout=10_000)
    assert add.general_error.text() == "There is no customer 999."
    assert bs.count_transactions(db, admin) == 0
    add.customer.setText(str(c.id))
    with qtbot.waitSignal(add.saved, timeout=10_000):
        add.save_button.click()
    qtbot.waitUntil(lambda: len(shown(panel)) == 1, timeout=10_000)
    assert (panel.model.rows[0].customer_name, panel.model.rows[0].total) == ("Harbour Cafe", D("82.50"))


def test_refund_above_the_paid_amount_and_of_a_cash_payment_are_refused_with_nothing_written(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    bs.record_payment(db, admin, inv.id, method="cash")
    dialog = open_invoice(qtbot, db, admin, inv.id)
    assert dialog.refund_button.isEnabled() and not dialog.void_button.isEnabled()
    refund = dialog.refund()
    refund.amount.setText("30.01")
    assert refund.error_text("amount") == "At most the $30.00 paid." and not refund.save_button.isEnabled()
    refund.amount.setText("30.00")
    refund.save_button.click()
    qtbot.waitUntil(lambda: refund.general_error.isVisible(), timeout=10_000)
    assert "was paid by Cash; cash, POS and bank-transfer payments are not refunded here" in refund.general_error.text()
    refund.reject()
    view = bs.get_invoice(db, admin, inv.id)
    assert (view.status, view.refund_reference, len(view.payments)) == ("paid", None, 1)


def test_the_this_month_card_compares_with_last_month():
    from omnidesk.ui.billing.stats import trend

    assert trend(D("150"), D("100")) == ("up", "▲ 50% on last month")
    assert trend(D("50"), D("100")) == ("down", "▼ 50% on last month")
    assert trend(D("100"), D("100")) == ("flat", "► no change on last month")
    assert trend(D("10"), D("0")) == ("up", "▲ new this month")


def test_system_wide_cards_never_add_up_different_currencies(qtbot, db, admin, view):
    usd_a, usd_b = customer(db, admin), customer(db, admin, "Blue Fern Ltd")
    gbp = customer(db, admin, "Thames Ltd", currency="GBP")
    charge(db, admin, usd_a, "Plan", "40.00")
    charge(db, admin, usd_b, "Plan", "60.00")
    charge(db, admin, gbp, "Plan", "1000.00")
    view.start()
    qtbot.waitUntil(lambda: view.transactions.stats.cards[0].count.text() != "", timeout=10_000)
    assert view.transactions.stats.texts()[0] == "Total · USD accounts: $100.00 (2 transactions)"
    assert view.transactions.count_label.text() == "3 transactions", "the list itself shows every currency"
    qtbot.waitUntil(lambda: len(view.transactions.model.rows) == 3, timeout=10_000)  # the page loads on its own
    assert [t.currency for t in view.transactions.model.rows].count("GBP") == 1


def test_a_charge_added_at_another_workstation_appears_without_a_refresh(qtbot, db, admin):
    from omnidesk.ui.live import LiveUpdates

    c = customer(db, admin)
    live = LiveUpdates.for_database(db)
    view = BillingView(db, admin, live=live)
    qtbot.addWidget(view)
    live.start()
    try:
        qtbot.waitUntil(lambda: live.listening and view.transactions.model.count == 0, timeout=10_000)
        added = charge(db, admin, c, "Installation fee", "75.00")  # as another workstation would
        qtbot.waitUntil(lambda: shown(view.transactions) == [str(added.id)], timeout=10_000)
        qtbot.waitUntil(lambda: view.transactions.stats.texts()[1] == "Uninvoiced: $75.00 (1 transaction)",
                        timeout=5_000)
    finally:
        live.stop()


def test_generate_from_the_billing_tab_asks_for_the_customer(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "45.00")
    dialog = GenerateInvoiceDialog(None, db, admin, None)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.customer.isEnabled() and dialog.empty.text() == "Choose the customer to invoice (their ID)."
    assert dialog.generate_button.text() == "Nothing to invoice" and not dialog.generate_button.isEnabled()
    dialog.customer.setValue(999)
    qtbot.waitUntil(lambda: dialog.empty.text() == "There is no customer 999.", timeout=10_000)
    dialog.customer.setValue(c.id)
    qtbot.waitUntil(lambda: dialog.generate_button.text() == "Invoice 1 transaction", timeout=10_000)
    assert dialog.customer_name.text() == "Harbour Cafe" and dialog.total.text() == "$45.00"


def test_a_customer_typed_after_the_preview_is_never_invoiced_from_the_old_preview(qtbot, db, admin):
    first, second = customer(db, admin), customer(db, admin, "Blue Fern Ltd")
    charge(db, admin, first, "Plan", "45.00")
    charge(db, admin, second, "Plan", "60.00")
    dialog = GenerateInvoiceDialog(None, db, admin, None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.customer.setValue(first.id)
    qtbot.waitUntil(lambda: dialog.generate_button.isEnabled(), timeout=10_000)
    dialog.customer.setValue(second.id)  # and Enter at once, before the new preview is back
    assert not dialog.generate_button.isEnabled()
    dialog.generate()
    qtbot.waitUntil(lambda: dialog.preview is not None and dialog.preview.customer_id == second.id, timeout=10_000)
    assert inspection.settle(10)
    assert bs.list_invoices(db, admin, customer_id=first.id) == [], "nothing was invoiced for the first customer"
    assert dialog.customer_name.text() == "Blue Fern Ltd" and dialog.total.text() == "$60.00"


def test_the_customer_billing_sub_tab_reads_only_when_it_is_shown(qtbot, db, admin):
    from omnidesk.ui.customers.detail import CustomerDetailView

    c = customer(db, admin)
    charge(db, admin, c, "Plan", "45.00")
    detail = CustomerDetailView(db, admin)
    qtbot.addWidget(detail)
    detail.show()
    with qtbot.waitSignal(detail.loaded, timeout=10_000):
        detail.show_customer(c.id)
    assert inspection.settle(10)
    assert detail.billing.transactions.model.count is None, "not read while another sub-tab is shown"
    detail.tabs.setCurrentWidget(detail.billing)
    wait_loaded(qtbot, detail.billing.transactions)
    assert detail.billing.transactions.model.count == 1


def test_rows_invoiced_elsewhere_meanwhile_are_refused_and_the_message_stays(qtbot, db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "20.00")
    dialog = GenerateInvoiceDialog(None, db, admin, c.id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    other = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)  # another workstation was quicker
    dialog.generate_button.click()
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=10_000)
    assert "no longer uninvoiced in this period" in dialog.message.text()
    assert [i.number for i in bs.list_invoices(db, admin)] == [other.number], "no second invoice, no gap"


def test_save_pdf_as_writes_the_chosen_file(qtbot, db, admin, monkeypatch, tmp_path):
    c = customer(db, admin)
    charge(db, admin, c, "Plan", "30.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    dialog = open_invoice(qtbot, db, admin, inv.id)
    target = tmp_path / "chosen.pdf"
    monkeypatch.setattr("omnidesk.ui.billing.invoice_detail.QFileDialog.getSaveFileName",
                        lambda *args: (str(target), "PDF files (*.pdf)"))
    opened = []
    monkeypatch.setattr("omnidesk.ui.billing.invoice_detail.QDesktopServices.openUrl", lambda url: opened.append(url))
    with qtbot.waitSignal(dialog.pdf_ready, timeout=30_000):
        dialog.save_pdf_button.click()
    assert target.read_bytes()[:5] == b"%PDF-" and opened == [], "saved, not opened"
