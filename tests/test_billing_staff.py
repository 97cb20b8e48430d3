"""Billing as signed-in staff (PostgreSQL enforcing their permissions), not as the built-in admin:
what migration 0011 grants is enough for Finance to post rated calls and send the outbox, and the
Billing tab shows each role what it may do."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import httpx
import pytest
from sqlalchemy import select

from omnidesk.billing import mail
from omnidesk.billing import service as bs
from omnidesk.billing.models import EmailOutbox
from omnidesk.customers import service as cs
from omnidesk.rating import importer
from omnidesk.rating import service as rating
from security_helpers import signed_in

TODAY = dt.date.today()


def mailjet_ok(request: httpx.Request) -> httpx.Response:
    [message] = json.loads(request.content)["Messages"]
    return httpx.Response(200, json={"Messages": [{"Status": "success", "CustomID": message["CustomID"],
                                                   "To": [{"Email": message["To"][0]["Email"], "MessageUUID": "u-1",
                                                           "MessageID": 1}], "Cc": [], "Bcc": []}]})


def test_finance_posts_rated_calls_and_sends_the_outbox_under_its_own_grants(db, admin):
    c = cs.create_customer(db, admin, name="Acme", account_type="business", currency="USD")
    cs.change_status(db, admin, c.id, "active")
    cs.add_contact(db, admin, c.id, contact_type="billing", first_name="Pat", last_name="Lee", email="pat@example.org")
    rating.create_rate_plan(db, admin, name="Standard", currency="USD", billing_increment=60, minimum_duration=60)
    importer.import_rates(db, admin, "Standard", b"prefix,rate\n44,0.60\n")
    rating.assign_rate_plan(db, admin, c.id, "Standard")
    importer.import_cdrs(db, admin, (f"call_id,call_start,caller,called_number,duration,customer_id,disposition\n"
                                     f"c1,{TODAY} 08:00:00,+15550100,447700900123,90,{c.id},answered\n").encode())
    finance, _ = signed_in(db, admin, "fin", ["Finance"])

    posted = rating.post_rated_calls(finance.db, finance.actor)
    assert (posted.calls, posted.amount) == (1, D("1.20"))
    inv = bs.generate_invoice(finance.db, finance.actor, c.id, start=TODAY, end=TODAY)
    assert inv.total == D("1.20")
    mail.queue_invoice_email(finance.db, finance.actor, inv.id)
    sender = mail.MailjetSender("k", "s", from_email="billing@example.net", from_name="Billing",
                                template_ids={mail.INVOICE_TEMPLATE: 1}, transport=httpx.MockTransport(mailjet_ok))
    assert mail.send_outbox(finance.db, finance.actor, sender) == mail.SendReport(1, 0, 0)
    with db.read() as s:
        assert s.scalar(select(EmailOutbox.status)) == "sent"


def test_support_sees_billing_but_not_its_actions_and_may_not_queue_mail(qtbot, db, admin, settled_gui):
    from omnidesk.errors import PermissionDenied
    from omnidesk.ui.billing.workspace import BillingView

    c = cs.create_customer(db, admin, name="Acme", currency="USD")
    bs.add_transaction(db, admin, c.id, title="Plan", retail_cost="10.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    support, _ = signed_in(db, admin, "sue", ["Support"])
    view = BillingView(support.db, support.actor)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.invoices.model.count == 1 and view.transactions.model.count == 1, timeout=10_000)
    assert view.transactions.add_button.isHidden() and view.transactions.void_button.isHidden()
    assert view.invoices.generate_button.isHidden()
    with pytest.raises(PermissionDenied):
        mail.queue_invoice_email(support.db, support.actor, inv.id)


def test_the_billing_tab_says_so_to_a_role_without_billing(qtbot, db, admin, settled_gui):
    from PySide6.QtWidgets import QLabel

    from omnidesk.ui.main_window import MainWindow

    creator, _ = signed_in(db, admin, "bea", ["Broadcast Creator"])
    window = MainWindow()
    qtbot.addWidget(window)
    window.attach(creator.db, creator.actor, live=False)
    page = window.tabs.widget(window.TABS.index("Billing"))
    assert window.billing is None
    assert "Billing is not part of your role" in [label.text() for label in page.findChildren(QLabel)]
