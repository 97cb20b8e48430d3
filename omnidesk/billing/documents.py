"""Invoice and statement PDFs: Jinja2 templates rendered by WeasyPrint, cached by content hash.

The cache key is the SHA-256 of everything that shapes the document: the invoice (or statement) data,
the customer's address, the branding settings, every file of the template folder and the WeasyPrint
version. Changing any of them gives a new key, so a stale PDF is never served; old rows are purged by
age and disuse. Rendering needs no Qt and no open database session, so a worker thread (or process)
can call it; renders are serialised inside one process because WeasyPrint's Pango/fontconfig layer is
not documented as thread-safe.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.billing import rules
from omnidesk.billing import service as billing
from omnidesk.billing.models import BillingSetting, DocumentCache

from omnidesk.errors import NotFound, ServiceError, ValidationError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "invoice_templates"
STAMPS = {"paid": "PAID", "void": "VOID", "refunded": "REFUNDED"}
# Touch last_accessed at most this often: a cache hit stays a single read.
ACCESS_GRANULARITY = dt.timedelta(hours=1)
PURGE_OLDER_THAN_DAYS = 90
PURGE_UNUSED_DAYS = 30

DEFAULT_SETTINGS: dict[str, Any] = {
    "company.name": "OmniDesk Telecom",
    "company.address": ["1 Exchange Street", "Sydney NSW 2000", "Australia"],
    "company.email": "billing@example.net",
    "company.phone": "",
    "company.tax_id": "",
    "company.logo": "",  # a file path or a data: URI
    "company.accent_colour": "#1F4E79",
    "company.bank_details": [],
    "company.terms": "Payment due within 30 days. Thank you for your business.",
    "invoice.template_filename": "default_invoice.html",
    "invoice.statement_template_filename": "statement.html",
    "invoice.templates_dir": "",
    # e.g. "https://pay.example.net/i/{invoice_number}?amount={amount}"; empty = no QR code
    "invoice.payment_url": "",
}
SETTING_KEYS = tuple(DEFAULT_SETTINGS)

_render_lock = threading.Lock()
_font_config = None  # one per process: building it per document cost ~15 % of a render
_renders = 0  # how many documents this process has rendered (tests and benchmarks read it)


@dataclass(frozen=True)
class Document:
    filename: str
    pdf: bytes
    content_key: str
    from_cache: bool
    render_ms: int


# --- settings ---


def load_settings(session: Session) -> dict[str, Any]:
    values = dict(DEFAULT_SETTINGS)
    values.update(dict(session.execute(select(BillingSetting.key, BillingSetting.value)).all()))
    return values


def get_settings(db, actor: Actor) -> dict[str, Any]:
    with db.read() as s:
        return load_settings(s)


def set_setting(db, actor: Actor, key: str, value: Any) -> None:
    """Change a billing setting every workstation shares (company branding, templates, payment link)."""
    actor.require("manage_settings", "change billing settings")
    if key not in DEFAULT_SETTINGS:
        raise ValidationError({"key": f"Unknown billing setting {key!r}; known: {', '.join(SETTING_KEYS)}."})
    if key == "invoice.payment_url" and value and not str(value).startswith(("https://", "http://")):
        raise ValidationError({"value": "The payment link must start with https://."})
    if key == "company.accent_colour" and not (isinstance(value, str) and len(value) == 7 and value.startswith("#")):
        raise ValidationError({"value": "The accent colour is a hex colour such as #1F4E79."})
    with db.transaction() as s:
        before = s.get(BillingSetting, key)
        old = before.value if before else DEFAULT_SETTINGS[key]
        s.execute(insert(BillingSetting).values(key=key, value=value)
                  .on_conflict_do_update(index_elements=["key"], set_={"value": value}))
        activity.record(s, actor, action="setting", entity_type="billing_setting", entity_id=None,
                        summary=f"Billing setting {key} changed", changes={key: [old, value]})


# --- template context ---


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Everything that shapes an invoice PDF, and the cached render if there is one, in one round trip:
# a cache hit is then a single query.
INVOICE_SNAPSHOT = text("""
SELECT json_build_object(
  'invoice', (SELECT row_to_json(i) FROM invoice i WHERE i.id = :id),
  'lines', (SELECT coalesce(json_agg(t ORDER BY t.transaction_date, t.id), '[]') FROM billing_transaction t
            WHERE t.invoice_id = :id),
  'party', (SELECT json_build_object(
      'customer', (SELECT json_build_object('id', c.id, 'name', c.name, 'tax_identifier', c.tax_identifier)
                   FROM customer c WHERE c.id = i.customer_id),
      'site', (SELECT row_to_json(st) FROM site st WHERE st.customer_id = i.customer_id ORDER BY st.id LIMIT 1),
      'contact', (SELECT row_to_json(ct) FROM contact ct WHERE ct.customer_id = i.customer_id
                  AND ct.contact_type IN ('billing', 'primary') ORDER BY ct.contact_type, ct.id LIMIT 1))
    FROM invoice i WHERE i.id = :id),
  'settings', (SELECT coalesce(json_object_agg(key, value), '{}') FROM billing_setting),
  'cached', (SELECT coalesce(json_agg(json_build_object('key', content_key, 'last_accessed', last_accessed)), '[]')
             FROM invoice_pdf_cache WHERE invoice_id = :id)
)::text
""")
PARTY_SNAPSHOT = text("""
SELECT json_build_object(
  'customer', (SELECT json_build_object('id', c.id, 'name', c.name, 'tax_identifier', c.tax_identifier)
               FROM customer c WHERE c.id = :id),
  'site', (SELECT row_to_json(st) FROM site st WHERE st.customer_id = :id ORDER BY st.id LIMIT 1),
  'contact', (SELECT row_to_json(ct) FROM contact ct WHERE ct.customer_id = :id
              AND ct.contact_type IN ('billing', 'primary') ORDER BY ct.contact_type, ct.id LIMIT 1)
)::text
""")


def _client(party: dict[str, Any]) -> dict[str, Any]:
    customer, site, contact = party["customer"], party.get("site"), party.get("contact")
    address = {"address_line_1": "", "address_line_2": "", "city": "", "state": "", "zip_code": "", "country": ""}
    if site:
        address = {"address_line_1": site["address_line_1"], "address_line_2": site["address_line_2"],
                   "city": site["city"], "state": site["state"], "zip_code": site["postcode"], "country": site["country"]}
    return {"id": customer["id"], "name": customer["name"], "tax_id": customer.get("tax_identifier") or "",
            "address": address, "email": (contact or {}).get("email") or "",
            "contact": f"{contact['first_name']} {contact['last_name']}".strip() if contact else ""}


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _snapshot_transaction(t: dict, number: str | None) -> billing.TransactionView:
    return billing.TransactionView(
        t["id"], t["customer_id"], t["kind"], t["title"], t["description"], Decimal(t["retail_cost"]),
        Decimal(t["wholesale_cost"]), Decimal(t["tax_percentage"]), Decimal(t["tax_amount"]),
        _date(t["transaction_date"]), t["service_id"], t["site_id"], t["invoice_id"], number, t["method"],
        t["reference"], t["void"], dt.datetime.fromisoformat(t["created_at"]))


def _snapshot_invoice(snapshot: dict) -> billing.InvoiceView:
    i = snapshot["invoice"]
    lines, payments = billing.split_linked(
        i["refund_reference"], (_snapshot_transaction(t, i["number"]) for t in snapshot["lines"]))
    return billing.InvoiceView(
        i["id"], i["number"], i["customer_id"], snapshot["party"]["customer"]["name"], i["title"], i["status"],
        i["currency"], _date(i["issue_date"]), _date(i["start_date"]), _date(i["end_date"]), _date(i["due_date"]),
        Decimal(i["subtotal"]), Decimal(i["tax_total"]), Decimal(i["total"]), Decimal(i["paid_amount"]),
        i["payment_method"], i["payment_reference"], i["refund_reference"],
        dt.datetime.fromisoformat(i["created_at"]), dt.datetime.fromisoformat(i["updated_at"]), lines, payments)


def _load_json(raw: str) -> dict:
    return json.loads(raw, parse_float=Decimal)  # money stays exact


def _company(settings: dict[str, Any]) -> dict[str, Any]:
    company = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("company.")}
    for key in ("address", "bank_details"):
        if isinstance(company.get(key), str):
            company[key] = [line for line in company[key].splitlines() if line.strip()]
    return company


def _line(t: billing.TransactionView) -> dict[str, Any]:
    return {"transaction_id": t.id, "created": dt.datetime.combine(t.transaction_date, dt.time(12)).isoformat(),
            "title": t.title, "description": t.description, "retail_cost": t.retail_cost,
            "tax_percentage": t.tax_percentage, "tax_amount": t.tax_amount, "kind": t.kind,
            "method": t.method or "", "reference": t.reference or ""}


def invoice_context(invoice: billing.InvoiceView, client: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The variables an invoice template gets (seed003-p6 B3 names, plus OmniDesk's)."""
    balance_due = invoice.outstanding
    payment_url = ""
    if settings.get("invoice.payment_url") and invoice.status in ("unpaid", "partially_paid"):
        payment_url = str(settings["invoice.payment_url"]).format(
            invoice_number=invoice.number, amount=balance_due, currency=invoice.currency, invoice_id=invoice.id)
    return {
        "invoice_id": invoice.id, "invoice_number": invoice.number, "title": invoice.title,
        "date": dt.datetime.combine(invoice.issue_date, dt.time(12)).isoformat(),
        "due_date": invoice.due_date.isoformat(), "start_date": invoice.start_date.isoformat(),
        "end_date": invoice.end_date.isoformat(), "total_amount": invoice.subtotal, "total_tax": invoice.tax_total,
        "total": invoice.total, "paid_amount": invoice.paid_amount, "balance_due": balance_due,
        "currency": invoice.currency, "status": invoice.status, "stamp": STAMPS.get(invoice.status, ""),
        "client": client, "transactions": [_line(t) for t in invoice.lines],
        "payments": [_line(t) for t in invoice.payments], "payment_url": payment_url,
        "company": _company(settings), "accent": settings.get("company.accent_colour") or "#1F4E79",
    }


def statement_context(st: billing.Statement, client: dict[str, Any], settings: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {
        "client": client, "company": _company(settings),
        "accent": settings.get("company.accent_colour") or "#1F4E79", "currency": st.currency,
        "start_date": st.start.isoformat(), "end_date": st.end.isoformat(),
        "date": dt.datetime.combine(today, dt.time(12)).isoformat(),
        "opening_balance": st.opening_balance, "closing_balance": st.closing_balance,
        "total_debits": st.total_debits, "total_credits": st.total_credits,
        "lines": [{"date": line.date.isoformat(), "transaction_id": line.transaction_id, "kind": line.kind,
                   "title": line.title, "reference": line.reference, "debit": line.debit, "credit": line.credit,
                   "balance": line.balance} for line in st.lines],
    }


# --- rendering ---


def templates_dir(settings: dict[str, Any]) -> Path:
    configured = settings.get("invoice.templates_dir")
    return Path(configured) if configured else TEMPLATES_DIR


_fingerprints: dict[tuple, str] = {}


def _template_fingerprint(folder: Path) -> str:
    """SHA-256 over the names and contents of the folder's files; re-read only when a file's stat changes."""
    entries = sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(folder)
                     if e.is_file() and not e.name.startswith("."))
    stamp = (str(folder), tuple(entries))
    if stamp not in _fingerprints:
        digest = hashlib.sha256()
        for name, _, _ in entries:
            digest.update(name.encode())
            digest.update((folder / name).read_bytes())
        _fingerprints.clear()
        _fingerprints[stamp] = digest.hexdigest()
    return _fingerprints[stamp]


def _logo_fingerprint(logo: str) -> str:
    if logo and not logo.startswith("data:") and Path(logo).is_file():
        return hashlib.sha256(Path(logo).read_bytes()).hexdigest()
    return ""


def content_key(kind: str, template: str, context: dict[str, Any], settings: dict[str, Any]) -> str:
    import weasyprint

    folder = templates_dir(settings)
    digest = hashlib.sha256()
    digest.update(json.dumps({"kind": kind, "template": template, "context": _plain(context),
                              "weasyprint": weasyprint.__version__}, sort_keys=True).encode())
    digest.update(_template_fingerprint(folder).encode())
    digest.update(_logo_fingerprint(str(settings.get("company.logo") or "")).encode())
    return digest.hexdigest()


def _qr_data_uri(data: str) -> str:
    import qrcode

    img = qrcode.make(data, border=1, box_size=6)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@jinja2.pass_context
def _money_filter(context, value) -> str:
    return rules.money(Decimal(str(value)), context.get("currency") or "USD")


_environments: dict[tuple[str, str], jinja2.Environment] = {}


def _environment(folder: Path) -> jinja2.Environment:
    """One compiled environment per template folder content (compiling costs more than filling)."""
    key = (str(folder), _template_fingerprint(folder))
    env = _environments.get(key)
    if env is None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), auto_reload=False,
                                 autoescape=jinja2.select_autoescape(("html",)), undefined=jinja2.StrictUndefined)
        env.filters["money"] = _money_filter
        env.filters["pct"] = lambda value: f"{Decimal(str(value)).normalize():f}"
        _environments.clear()
        _environments[key] = env
    return env


_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S | re.I)
_LINKED_STYLESHEET = re.compile(r"<link[^>]*stylesheet", re.I)
_stylesheets: dict[str, Any] = {}  # SHA-256 of a <style> block's text → its parsed weasyprint.CSS


def _parsed_style(html: str, folder: Path, font_config) -> tuple[str, list]:
    """(the HTML without its one <style> block, [that block parsed once per process]).

    Parsing the invoice's stylesheet was ~11 % of each render's CPU (measured: 61.5 → 54.9 ms), and a
    bill run renders thousands of documents with the same one. A template with several <style> blocks
    or linked stylesheets is left as it is, so their order can never change. Call under _render_lock."""
    import weasyprint

    blocks = _STYLE_BLOCK.findall(html)
    if len(blocks) != 1 or _LINKED_STYLESHEET.search(html):
        return html, []
    key = hashlib.sha256(f"{folder}\0{blocks[0]}".encode()).hexdigest()
    css = _stylesheets.get(key)
    if css is None:
        if len(_stylesheets) >= 8:
            _stylesheets.clear()
        css = _stylesheets[key] = weasyprint.CSS(string=blocks[0], base_url=str(folder), font_config=font_config)
    return _STYLE_BLOCK.sub("", html, count=1), [css]


def render_pdf(template: str, context: dict[str, Any], settings: dict[str, Any]) -> bytes:
    """HTML from the Jinja2 template, then PDF from WeasyPrint. Safe to call from any thread."""
    global _renders, _font_config
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    folder = templates_dir(settings)
    context = dict(context)
    if context.get("payment_url"):
        context["qr_code"] = _qr_data_uri(context["payment_url"])
    else:
        context["qr_code"] = ""
    logo = (context.get("company") or {}).get("logo") or ""
    if logo and not logo.startswith("data:"):
        context["company"] = dict(context["company"], logo=Path(logo).resolve().as_uri())
    try:
        html = _environment(folder).get_template(template).render(**context)
    except jinja2.TemplateNotFound:
        raise ServiceError(f"The invoice template {template!r} is not in {folder}; check the setting "
                           "invoice.template_filename.") from None
    except jinja2.TemplateError as exc:
        raise ServiceError(f"The invoice template {template!r} could not be filled: {exc}.") from exc
    with _render_lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        html, stylesheets = _parsed_style(html, folder, _font_config)
        pdf = weasyprint.HTML(string=html, base_url=str(folder)).write_pdf(font_config=_font_config,
                                                                           stylesheets=stylesheets)
        _renders += 1
    return pdf


def renders_so_far() -> int:
    return _renders


# --- the cache ---


def _cached(conn, key: str, last_accessed: str | dt.datetime | None = None) -> bytes | None:
    row = conn.execute(select(DocumentCache.pdf, DocumentCache.last_accessed)
                       .where(DocumentCache.content_key == key)).first()
    if row is None:
        return None
    pdf, last = row
    if last < dt.datetime.now(dt.timezone.utc) - ACCESS_GRANULARITY:
        conn.execute(update(DocumentCache).where(DocumentCache.content_key == key)
                     .values(last_accessed=dt.datetime.now(dt.timezone.utc)))
        conn.commit()
    return bytes(pdf)


def _store(db, *, key: str, kind: str, invoice_id: int | None, customer_id: int, filename: str, pdf: bytes,
           render_ms: int) -> None:
    with db.transaction() as s:
        s.execute(insert(DocumentCache).values(
            content_key=key, kind=kind, invoice_id=invoice_id, customer_id=customer_id, filename=filename, pdf=pdf,
            pdf_sha256=hashlib.sha256(pdf).hexdigest(), size_bytes=len(pdf), render_ms=render_ms,
        ).on_conflict_do_nothing(index_elements=["content_key"]))
        if invoice_id is not None:
            # Earlier renders of this invoice (before a payment, a template edit...) will never be asked for again.
            s.execute(delete(DocumentCache).where(DocumentCache.invoice_id == invoice_id,
                                                  DocumentCache.content_key != key))


def invoice_pdf(db, actor: Actor, invoice_id: int) -> Document:
    """The invoice's PDF: from the cache when nothing that shapes it changed, else rendered and cached.
    Void invoices still download, stamped VOID."""
    actor.require("view_customer_invoice", "download invoices")
    with db.engine.connect() as conn:
        snapshot = _load_json(conn.execute(INVOICE_SNAPSHOT, {"id": invoice_id}).scalar_one())
        if snapshot["invoice"] is None:
            raise NotFound(f"There is no invoice {invoice_id}.")
        view = _snapshot_invoice(snapshot)
        settings = dict(DEFAULT_SETTINGS, **snapshot["settings"])
        context = invoice_context(view, _client(snapshot["party"]), settings)
        template = settings["invoice.template_filename"]
        key = content_key("invoice", template, context, settings)
        cached = _cached(conn, key) if any(c["key"] == key for c in snapshot["cached"]) else None
    if cached is not None:
        return Document(view.filename, cached, key, True, 0)
    started = time.perf_counter()
    pdf = render_pdf(template, context, settings)
    elapsed = int((time.perf_counter() - started) * 1000)
    _store(db, key=key, kind="invoice", invoice_id=view.id, customer_id=view.customer_id, filename=view.filename,
           pdf=pdf, render_ms=elapsed)
    return Document(view.filename, pdf, key, False, elapsed)


def statement_pdf(db, actor: Actor, customer_id: int, start, end, *, today: dt.date | None = None) -> Document:
    """The customer's statement of [start, end] as a PDF (cached like invoices)."""
    st = billing.statement(db, actor, customer_id, start, end)
    today = today or dt.date.today()
    with db.engine.connect() as conn:
        party = _load_json(conn.execute(PARTY_SNAPSHOT, {"id": customer_id}).scalar_one())
        settings = dict(DEFAULT_SETTINGS, **dict(conn.execute(select(BillingSetting.key, BillingSetting.value)).all()))
        context = statement_context(st, _client(party), settings, today)
        template = settings["invoice.statement_template_filename"]
        key = content_key("statement", template, context, settings)
        cached = _cached(conn, key)
    filename = f"Statement_{customer_id:05d}_{st.start:%Y%m%d}-{st.end:%Y%m%d}.pdf"
    if cached is not None:
        return Document(filename, cached, key, True, 0)
    started = time.perf_counter()
    pdf = render_pdf(template, context, settings)
    elapsed = int((time.perf_counter() - started) * 1000)
    _store(db, key=key, kind="statement", invoice_id=None, customer_id=customer_id, filename=filename, pdf=pdf,
           render_ms=elapsed)
    return Document(filename, pdf, key, False, elapsed)


def purge_cache(db, actor: Actor, *, older_than_days: int = PURGE_OLDER_THAN_DAYS,
                unused_days: int = PURGE_UNUSED_DAYS, now: dt.datetime | None = None) -> int:
    """Drop cached PDFs created more than `older_than_days` ago or not opened for `unused_days`."""
    actor.require("manage_settings", "purge the PDF cache")
    now = now or dt.datetime.now(dt.timezone.utc)
    with db.transaction() as s:
        removed = s.execute(delete(DocumentCache).where(or_(
            DocumentCache.created_at < now - dt.timedelta(days=older_than_days),
            DocumentCache.last_accessed < now - dt.timedelta(days=unused_days),
        ))).rowcount
        if removed:
            activity.record(s, actor, action="purge", entity_type="invoice_pdf_cache", entity_id=None,
                            summary=f"{removed} cached PDFs purged")
        return removed


def clear_cache(db, actor: Actor, invoice_id: int | None = None) -> int:
    """The admin's "Clear PDF cache": every cached PDF, or one invoice's."""
    actor.require("manage_settings", "clear the PDF cache")
    with db.transaction() as s:
        stmt = delete(DocumentCache)
        if invoice_id is not None:
            stmt = stmt.where(DocumentCache.invoice_id == invoice_id)
        return s.execute(stmt).rowcount
