"""The e-mail outbox sender: `omnidesk billing mail send|status` and the desktop's background sender,
against a small Mailjet stand-in on loopback (real HTTP, payloads shaped like Send API v3.1)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from omnidesk.billing import mail
from omnidesk.billing import service as bs
from omnidesk.billing.models import EmailOutbox
from omnidesk.customers import service as cs
from tests.cli_helpers import run

TODAY = dt.date.today()


class MailjetStandIn:
    """POST /v3.1/send: 200 with Messages[].To[].MessageUUID, or the next queued failure status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.failures: list[int] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
                if stand_in.failures:
                    status = stand_in.failures.pop(0)
                    payload = {"ErrorIdentifier": "f987d9c2", "StatusCode": status,
                               "ErrorMessage": "Service temporarily unavailable"}
                else:
                    status = 200
                    payload = {"Messages": [{"Status": "success", "CustomID": m["CustomID"], "Cc": [], "Bcc": [],
                                             "To": [{"Email": t["Email"], "MessageUUID": f"uuid-{len(stand_in.requests)}",
                                                     "MessageID": 70650219165}
                                                    for t in m["To"]]} for m in body["Messages"]]}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mailjet(monkeypatch):
    stand_in = MailjetStandIn()
    for name, value in (("MAILJET_API_KEY", "mj_key"), ("MAILJET_API_SECRET", "mj_secret"),
                        ("MAILJET_INVOICE_TEMPLATE_ID", "4711"), ("MAILJET_API_URL", stand_in.url)):
        monkeypatch.setenv(name, value)
    yield stand_in
    stand_in.close()


def queued_invoice(db, admin, name="Mail Customer"):
    c = cs.create_customer(db, admin, name=name, currency="GBP")
    cs.add_contact(db, admin, c.id, contact_type="billing", first_name="Pat", last_name="Lee", email="pat@example.org")
    bs.add_transaction(db, admin, c.id, title="Plan", retail_cost="45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    return inv, mail.queue_invoice_email(db, admin, inv.id)


def test_mail_send_delivers_retries_after_a_failure_and_reports(env, admin, capsys, mailjet):
    inv, outbox_id = queued_invoice(env, admin)
    mailjet.failures = [503]
    code, out, _ = run(capsys, "billing", "mail", "send")
    assert code == 0 and out.startswith("0 sent, 1 to retry, 0 given up. 1 waiting (0 due now)")
    assert "Last error: Mailjet answered HTTP 503: Service temporarily unavailable" in out

    with env.transaction() as s:  # the back-off has passed
        s.execute(update(EmailOutbox).values(next_attempt_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    code, out, _ = run(capsys, "billing", "mail", "send")
    assert code == 0 and out.startswith("1 sent, 0 to retry, 0 given up. 0 waiting (0 due now), 0 given up, 1 sent")
    request = mailjet.requests[-1]
    assert request["path"] == "/v3.1/send"
    assert request["auth"] == "Basic " + base64.b64encode(b"mj_key:mj_secret").decode()
    [message] = request["body"]["Messages"]
    assert (message["TemplateID"], message["To"][0]["Email"], message["Variables"]["invoice_number"]) == \
        (4711, "pat@example.org", inv.number)
    assert base64.b64decode(message["Attachments"][0]["Base64Content"])[:5] == b"%PDF-"
    with env.read() as s:
        row = s.get(EmailOutbox, outbox_id)
        assert (row.status, row.attempts) == ("sent", 2)

    code, out, _ = run(capsys, "billing", "mail", "send")
    assert out.startswith("0 sent") and len(mailjet.requests) == 2, "nothing is sent twice"


def test_mail_send_without_configuration_says_what_to_set(env, admin, capsys, monkeypatch):
    queued_invoice(env, admin)
    for name in mail.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    code, _out, err = run(capsys, "billing", "mail", "send")
    assert code != 0
    assert "E-mail is not configured on this workstation: set MAILJET_API_KEY, MAILJET_API_SECRET, " \
           "MAILJET_INVOICE_TEMPLATE_ID." in err
    code, out, _ = run(capsys, "billing", "mail", "status")
    assert out.startswith("1 waiting (1 due now), 0 given up, 0 sent")


def test_invoice_email_queues_from_the_command_line(env, admin, capsys):
    c = cs.create_customer(env, admin, name="No Contact", currency="GBP")
    bs.add_transaction(env, admin, c.id, title="Plan", retail_cost="45.00")
    inv = bs.generate_invoice(env, admin, c.id, start=TODAY, end=TODAY)
    code, _out, err = run(capsys, "billing", "invoice", "email", inv.number)
    assert code != 0 and "has no billing or primary contact with an e-mail address" in err
    with env.read() as s:
        assert s.scalar(select(EmailOutbox)) is None


def test_the_desktop_sends_queued_mail_on_a_worker(qtbot, db, admin, mailjet, settled_gui):
    from omnidesk.ui.billing.outbox import OutboxSender

    _inv, outbox_id = queued_invoice(db, admin)
    assert OutboxSender.wanted(admin)
    sender = OutboxSender(db, admin, interval_ms=60_000)
    with qtbot.waitSignal(sender.round_done, timeout=30_000) as done:
        sender.start()
    assert done.args[0] == mail.SendReport(1, 0, 0)
    with db.read() as s:
        assert s.get(EmailOutbox, outbox_id).status == "sent"
    sender.stop()


def test_an_accepted_send_with_an_unreadable_answer_counts_as_sent_and_a_refusal_as_a_failure():
    import httpx

    def answer(status, body):
        def handler(request):
            return httpx.Response(status, content=body)
        return mail.MailjetSender("k", "s", from_email="billing@example.org", from_name="Billing",
                                  template_ids={"invoice": 4711}, transport=httpx.MockTransport(handler))

    send = dict(custom_id="outbox-1", template="invoice", recipients=[{"Email": "pat@example.org"}], variables={},
                attachments=[])
    # a retry could mail the customer the same invoice again: an accepted send is not retried
    assert answer(200, b"<html>gateway</html>").send(**send).startswith("unknown")
    with pytest.raises(mail.MailError, match="HTTP 502"):
        answer(502, b"<html>bad gateway</html>").send(**send)
