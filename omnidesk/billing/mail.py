"""Invoice e-mail through Mailjet, behind an outbox table so a failed send is retried, not lost.

`queue_invoice_email` writes the e-mail to `email_outbox` in one transaction (and says at once when
the customer has no address to send to); `send_due_emails` sends what is due through Mailjet's Send API
v3.1 with the invoice PDF attached, marks each row sent, or records the error and retries later with
back-off. Any workstation (or `omnidesk worker`) may run the sender: rows are claimed with
FOR UPDATE SKIP LOCKED, so two senders never send one e-mail twice.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.billing import documents, rules
from omnidesk.billing.models import EmailOutbox
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import Contact, Customer, Invoice
from omnidesk.errors import NotFound, ServiceError

INVOICE_TEMPLATE = "api_crmCommunicationCustomerInvoice"  # the seed's Mailjet template key
MAX_ATTEMPTS = 10
ATTACHMENT_LIMIT = 15 * 1024 * 1024  # Mailjet's limit on a message with attachments


class MailError(ServiceError):
    """Mailjet refused or could not be reached; the outbox row keeps the message for a retry."""


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int
    given_up: int


def queue_invoice_email(db, actor: Actor, invoice_id: int) -> int:
    """Queue the invoice for e-mail to the customer's billing contacts (else the primary contact)."""
    actor.require("view_customer_invoice", "e-mail invoices")
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound(f"There is no invoice {invoice_id}.")
        if invoice.status == "void":
            raise ServiceError(f"Invoice {invoice.number} is void; void invoices are not e-mailed.")
        customer = s.get(Customer, invoice.customer_id)
        contacts = s.scalars(select(Contact).where(Contact.customer_id == customer.id, Contact.email.is_not(None),
                                                   Contact.contact_type == "billing").order_by(Contact.id)).all()
        if not contacts:
            contacts = s.scalars(select(Contact).where(Contact.customer_id == customer.id, Contact.email.is_not(None),
                                                       Contact.contact_type == "primary")).all()
        if not contacts:
            raise ServiceError(f"{customer.name} has no billing or primary contact with an e-mail address; add one "
                               f"before e-mailing invoice {invoice.number}.")
        row = EmailOutbox(
            customer_id=customer.id, invoice_id=invoice.id, template=INVOICE_TEMPLATE,
            recipients=[{"Email": c.email, "Name": f"{c.first_name} {c.last_name}".strip()} for c in contacts],
            variables={"customer_name": customer.name, "invoice_number": invoice.number,
                       "invoice_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                       "total_amount": rules.money(invoice.total, invoice.currency)},
        )
        s.add(row)
        flush_or_refuse(s)
        activity.record(s, actor, action="email_queued", entity_type="invoice", entity_id=invoice.id,
                        customer_id=customer.id,
                        summary=f"Invoice {invoice.number} queued for e-mail to {', '.join(c.email for c in contacts)}")
        return row.id


class MailjetSender:
    """Mailjet Send API v3.1 (POST /v3.1/send, HTTP Basic with the API key and secret)."""

    def __init__(self, api_key: str, api_secret: str, *, from_email: str, from_name: str,
                 template_ids: dict[str, int], base_url: str = "https://api.mailjet.com",
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0):
        self.from_email, self.from_name, self.template_ids = from_email, from_name, template_ids
        self._client = httpx.Client(base_url=base_url, auth=(api_key, api_secret), transport=transport, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def send(self, *, custom_id: str, template: str, recipients: list[dict], variables: dict,
             attachments: list[tuple[str, bytes]]) -> str:
        if template not in self.template_ids:
            raise MailError(f"No Mailjet template id is configured for {template}.")
        message = {
            "From": {"Email": self.from_email, "Name": self.from_name}, "To": recipients,
            "TemplateID": self.template_ids[template], "TemplateLanguage": True, "Variables": variables,
            "CustomID": custom_id,
            "Attachments": [{"ContentType": "application/pdf", "Filename": name,
                             "Base64Content": base64.b64encode(data).decode()} for name, data in attachments],
        }
        try:
            response = self._client.post("/v3.1/send", json={"Messages": [message]})
        except httpx.TransportError as exc:
            raise MailError(f"Mailjet could not be reached ({exc.__class__.__name__}).") from exc
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            errors = [e.get("ErrorMessage", "") for m in body.get("Messages", []) for e in m.get("Errors", [])]
            raise MailError(f"Mailjet answered HTTP {response.status_code}: "
                            f"{'; '.join(errors) or body.get('ErrorMessage') or response.reason_phrase}")
        result = body["Messages"][0]
        if result.get("Status") != "success":
            raise MailError(f"Mailjet did not send: {result}")
        return str(result["To"][0]["MessageUUID"])


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=min(2 ** attempts, 360))


def send_due_emails(db, actor: Actor, sender: MailjetSender, *, now: dt.datetime | None = None,
                    limit: int = 20) -> SendReport:
    """Send the outbox rows that are due; a failure is recorded and retried later, never dropped."""
    sent = failed = given_up = 0
    for _ in range(limit):
        with db.transaction() as s:
            at = now or s.scalar(select(func.now()))
            row = s.scalar(select(EmailOutbox).where(EmailOutbox.status == "pending", EmailOutbox.next_attempt_at <= at)
                           .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id).limit(1)
                           .with_for_update(skip_locked=True))
            if row is None:
                break
            try:
                attachments = []
                if row.invoice_id is not None:
                    doc = documents.invoice_pdf(db, actor, row.invoice_id)
                    if len(doc.pdf) <= ATTACHMENT_LIMIT:
                        attachments.append((doc.filename, doc.pdf))
                row.provider_message_id = sender.send(custom_id=f"outbox-{row.id}", template=row.template,
                                                      recipients=row.recipients, variables=row.variables,
                                                      attachments=attachments)
            except ServiceError as exc:
                row.attempts += 1
                row.last_error = str(exc)[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    given_up += 1
                else:
                    row.next_attempt_at = at + _backoff(row.attempts)
                    failed += 1
                continue
            row.attempts += 1
            row.status = "sent"
            row.sent_at = at
            row.last_error = ""
            activity.record(s, actor, action="email_sent", entity_type="invoice", entity_id=row.invoice_id,
                            customer_id=row.customer_id,
                            summary=f"Invoice e-mail sent to {', '.join(r['Email'] for r in row.recipients)}")
            sent += 1
    return SendReport(sent, failed, given_up)
