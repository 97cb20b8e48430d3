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
    actor.require("update_customer_invoice", "e-mail invoices")  # the permission granted INSERT on email_outbox
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
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = None
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            errors = [e.get("ErrorMessage", "") for m in body.get("Messages", []) for e in m.get("Errors", [])]
            raise MailError(f"Mailjet answered HTTP {response.status_code}: "
                            f"{'; '.join(errors) or body.get('ErrorMessage') or response.reason_phrase}")
        try:
            result = body["Messages"][0]
        except (TypeError, KeyError, IndexError):
            # Accepted (2xx) but an answer we cannot read: count it as sent. Retrying could mail the
            # customer the same invoice again, which is worse than not knowing Mailjet's message id.
            return "unknown (Mailjet accepted it with an unreadable answer)"
        if result.get("Status") != "success":
            raise MailError(f"Mailjet did not send: {result}")
        try:
            return str(result["To"][0]["MessageUUID"])
        except (KeyError, IndexError, TypeError):
            return "unknown (Mailjet's answer named no message id)"


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
            except Exception as exc:  # noqa: BLE001 - a row that cannot go now is retried later, never blocks the rest
                if not isinstance(exc, ServiceError):
                    exc = MailError(f"{exc.__class__.__name__}: {exc}")
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


# --- the sender's configuration and state ---

ENVIRONMENT = ("MAILJET_API_KEY", "MAILJET_API_SECRET", "MAILJET_INVOICE_TEMPLATE_ID")


def sender_from_environment(db=None, environ=None) -> MailjetSender:
    """A Mailjet sender from MAILJET_API_KEY, MAILJET_API_SECRET and MAILJET_INVOICE_TEMPLATE_ID (secrets stay
    in each sending workstation's environment, not in the shared database). The From address and name are
    MAILJET_FROM_EMAIL / MAILJET_FROM_NAME, else the billing settings' company e-mail and name;
    MAILJET_API_URL points elsewhere than https://api.mailjet.com (a test server, a proxy)."""
    import os

    env = os.environ if environ is None else environ
    missing = [name for name in ENVIRONMENT if not env.get(name, "").strip()]
    if missing:
        raise MailError(f"E-mail is not configured on this workstation: set {', '.join(missing)}.")
    try:
        template_id = int(env["MAILJET_INVOICE_TEMPLATE_ID"])
    except ValueError:
        raise MailError("MAILJET_INVOICE_TEMPLATE_ID must be the number of a Mailjet template.") from None
    company = {}
    if db is not None and not (env.get("MAILJET_FROM_EMAIL") and env.get("MAILJET_FROM_NAME")):
        with db.read() as s:
            company = documents.load_settings(s)
    return MailjetSender(
        env["MAILJET_API_KEY"].strip(), env["MAILJET_API_SECRET"].strip(),
        from_email=env.get("MAILJET_FROM_EMAIL") or company.get("company.email") or "billing@example.net",
        from_name=env.get("MAILJET_FROM_NAME") or company.get("company.name") or "Billing",
        template_ids={INVOICE_TEMPLATE: template_id},
        base_url=env.get("MAILJET_API_URL") or "https://api.mailjet.com",
    )


def configured(environ=None) -> bool:
    import os

    env = os.environ if environ is None else environ
    return all(env.get(name, "").strip() for name in ENVIRONMENT)


@dataclass(frozen=True)
class OutboxState:
    pending: int
    due: int
    failed: int
    sent: int
    next_attempt_at: dt.datetime | None
    last_error: str


def outbox_state(db, actor: Actor) -> OutboxState:
    """How many e-mails wait (and are due now), were given up on, or went; the next retry and last error."""
    actor.require("view_customer_invoice", "see the e-mail outbox")
    with db.read() as s:
        counts = dict(s.execute(select(EmailOutbox.status, func.count()).group_by(EmailOutbox.status)).all())
        due = s.scalar(select(func.count()).select_from(EmailOutbox)
                       .where(EmailOutbox.status == "pending", EmailOutbox.next_attempt_at <= func.now()))
        upcoming = s.scalar(select(func.min(EmailOutbox.next_attempt_at)).where(EmailOutbox.status == "pending"))
        error = s.scalar(select(EmailOutbox.last_error).where(EmailOutbox.last_error != "")
                         .order_by(EmailOutbox.id.desc()).limit(1)) or ""
    return OutboxState(counts.get("pending", 0), due, counts.get("failed", 0), counts.get("sent", 0), upcoming, error)


def send_outbox(db, actor: Actor, sender: MailjetSender, *, batch: int = 20, now: dt.datetime | None = None
                ) -> SendReport:
    """Send everything due, `batch` rows per transaction round, until nothing due is left; failures are
    rescheduled with back-off (2, 4, 8… minutes, at most 6 h) and given up after MAX_ATTEMPTS."""
    actor.require("update_customer_invoice", "send invoice e-mail")
    sent = failed = given_up = 0
    while True:
        report = send_due_emails(db, actor, sender, now=now, limit=batch)
        sent, failed, given_up = sent + report.sent, failed + report.failed, given_up + report.given_up
        if report.sent + report.failed + report.given_up < batch:
            return SendReport(sent, failed, given_up)
