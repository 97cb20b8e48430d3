"""Invoice e-mail through an outbox and Mailjet's Send API v3.1, faked at the HTTP boundary."""

from __future__ import annotations

import base64
import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import select

from omnidesk.billing import mail
from omnidesk.billing import service as bs
from omnidesk.billing.models import EmailOutbox
from omnidesk.customers import service as cs
from omnidesk.errors import ServiceError

TODAY = dt.date.today()


class FakeMailjet:
    """Answers POST /v3.1/send like Mailjet: 200 with Messages[].To[].MessageUUID, or the queued failure."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.failures: list[int] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            status = self.failures.pop(0)
            return httpx.Response(status, json={"ErrorIdentifier": "f987d9c2", "StatusCode": status,
                                                "ErrorMessage": "Service temporarily unavailable"})
        messages = json.loads(request.content)["Messages"]
        return httpx.Response(200, json={"Messages": [
            {"Status": "success", "CustomID": m["CustomID"],
             "To": [{"Email": t["Email"], "MessageUUID": f"1ab23cd4-5678-90ef-{n:04d}", "MessageID": 70650219165 + n,
                     "MessageHref": f"https://api.mailjet.com/v3/REST/message/{70650219165 + n}"}
                    for n, t in enumerate(m["To"])], "Cc": [], "Bcc": []} for m in messages]})


@pytest.fixture
def mailjet():
    fake = FakeMailjet()
    sender = mail.MailjetSender("mj_key", "mj_secret", from_email="billing@example.net", from_name="OmniDesk Billing",
                                template_ids={mail.INVOICE_TEMPLATE: 4711}, transport=httpx.MockTransport(fake.handle))
    yield fake, sender
    sender.close()


def invoice_for(db, admin, *, contact_type="billing"):
    c = cs.create_customer(db, admin, name="Mail Customer", currency="GBP")
    if contact_type:
        cs.add_contact(db, admin, c.id, contact_type=contact_type, first_name="Pat", last_name="Lee",
                       email="pat@example.org")
    bs.add_transaction(db, admin, c.id, title="Plan", retail_cost="45.00")
    return bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)


def test_a_failed_send_is_kept_and_retried_until_it_goes(db, admin, mailjet):
    fake, sender = mailjet
    inv = invoice_for(db, admin)
    mail.queue_invoice_email(db, admin, inv.id)
    fake.failures = [503]
    assert mail.send_due_emails(db, admin, sender) == mail.SendReport(0, 1, 0)
    with db.read() as s:
        row = s.scalar(select(EmailOutbox))
        assert (row.status, row.attempts) == ("pending", 1) and "503" in row.last_error
        retry_at = row.next_attempt_at
    assert mail.send_due_emails(db, admin, sender) == mail.SendReport(0, 0, 0)  # not due yet
    assert mail.send_due_emails(db, admin, sender, now=retry_at) == mail.SendReport(1, 0, 0)
    with db.read() as s:
        row = s.scalar(select(EmailOutbox))
        assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, "1ab23cd4-5678-90ef-0000")

    request = fake.requests[-1]
    assert request.url.path == "/v3.1/send"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"mj_key:mj_secret").decode()
    [message] = json.loads(request.content)["Messages"]
    assert message["TemplateID"] == 4711 and message["TemplateLanguage"] is True
    assert message["To"] == [{"Email": "pat@example.org", "Name": "Pat Lee"}]
    assert message["Variables"]["invoice_number"] == inv.number and message["Variables"]["total_amount"] == "£45.00"
    [attachment] = message["Attachments"]
    assert attachment["Filename"] == f"Invoice_{inv.id:05d}.pdf"
    assert base64.b64decode(attachment["Base64Content"]).startswith(b"%PDF")


def test_with_no_billing_contact_the_primary_contact_gets_it(db, admin, mailjet):
    inv = invoice_for(db, admin, contact_type="primary")
    mail.queue_invoice_email(db, admin, inv.id)
    with db.read() as s:
        assert s.scalar(select(EmailOutbox.recipients))[0]["Email"] == "pat@example.org"


def test_a_customer_without_an_address_is_refused_before_anything_is_queued(db, admin):
    inv = invoice_for(db, admin, contact_type=None)
    with pytest.raises(ServiceError, match="has no billing or primary contact with an e-mail address"):
        mail.queue_invoice_email(db, admin, inv.id)
    with db.read() as s:
        assert s.scalar(select(EmailOutbox)) is None
