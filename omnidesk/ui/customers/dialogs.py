"""Create and edit dialogs for customers, contacts, sites, attributes and tags."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from omnidesk.customers import rules, service
from omnidesk.customers.service import AttributeView, ContactView, CustomerDetail, SiteView, TagView
from omnidesk.db.models import ACCOUNT_TYPES, CONTACT_TYPES, PAYMENT_TYPES
from omnidesk.ui.forms import FormDialog, OptionalDateEdit, aware, text_of, to_qdatetime
from omnidesk.ui.widgets import TagPill, humane, set_style_property

CURRENCIES = ("GBP", "EUR", "USD", "CHF", "SEK", "NOK", "DKK", "PLN", "ZAR", "KES", "NGN")


def choices(options: tuple[str, ...], current: str | None = None) -> QComboBox:
    box = QComboBox()
    for option in options:
        box.addItem(humane(option), option)
    if current is not None:
        box.setCurrentIndex(max(0, box.findData(current)))
    return box


def line(text: str | None = "", *, placeholder: str = "", max_length: int | None = None) -> QLineEdit:
    edit = QLineEdit(text or "")
    edit.setPlaceholderText(placeholder)
    if max_length:
        # A little slack so an over-long paste is reported by the rule rather than silently cut.
        edit.setMaxLength(max_length + 50)
    return edit


def notes_box(text: str = "", height: int = 70) -> QPlainTextEdit:
    box = QPlainTextEdit(text)
    box.setFixedHeight(height)
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)  # spare height goes elsewhere
    box.setTabChangesFocus(True)
    return box


# --- customer ---


class CustomerDialog(FormDialog):
    """New customer (with an optional primary contact) or edit an existing one."""

    def __init__(self, parent: QWidget | None, db, actor, detail: CustomerDetail | None = None):
        title = "New customer" if detail is None else f"Edit {detail.label}"
        super().__init__(parent, title, save_label="Create customer" if detail is None else "Save")
        self.db, self.actor, self.detail = db, actor, detail
        d = detail
        self.name = self.add_field(
            "name", "Name *", line(d.name if d else "", placeholder="Full name or company name", max_length=rules.NAME_MAX),
            lambda: rules.customer_name(self.name.text()),
        )
        self.account_type = self.add_field(
            "account_type", "Account type", choices(ACCOUNT_TYPES, d.account_type if d else "individual"),
            lambda: rules.account_type(text_of(self.account_type)),
        )
        self.payment_type = self.add_field(
            "payment_type", "Payment type", choices(PAYMENT_TYPES, d.payment_type if d else "prepaid"),
            lambda: rules.payment_type(text_of(self.payment_type)),
        )
        currency = QComboBox(editable=True)
        currency.addItems(CURRENCIES)
        currency.setCurrentText(d.currency if d else "GBP")
        currency.lineEdit().setMaxLength(3)
        self.currency = self.add_field("currency", "Currency", currency, lambda: rules.currency(self.currency.currentText()))
        self.credit_limit = self.add_field(
            "credit_limit", "Credit limit", line(f"{d.credit_limit:.2f}" if d else "0.00", placeholder="0.00"),
            lambda: rules.money(self.credit_limit.text(), "Credit limit"),
        )
        self.tax_identifier = self.add_field(
            "tax_identifier", "Tax identifier",
            line(d.tax_identifier if d else "", placeholder="VAT or company number", max_length=64),
            lambda: rules.optional_text(self.tax_identifier.text(), "Tax identifier", 64) or None,
        )
        self.contract_start, self.contract_end = OptionalDateEdit(), OptionalDateEdit()
        self.add_field("contract_start_date", "Contract start", self.contract_start, self.contract_start.value)
        self.add_field("contract_end_date", "Contract end", self.contract_end, self.contract_end.value)
        if d:
            self.contract_start.set_value(d.contract_start_date)
            self.contract_end.set_value(d.contract_end_date)
        self.add_cross_check(
            "contract_end_date",
            lambda v: rules.date_range(v.get("contract_start_date"), v.get("contract_end_date"), "The contract"),
        )
        self.notes = self.add_field(
            "notes", "Notes", notes_box(d.notes if d else ""), lambda: rules.optional_text(self.notes.toPlainText(), "Notes", 10_000)
        )
        if detail is None:
            self.add_section("Primary contact", "Optional; it can be added later on the Contacts tab.")
            form = self.form
            self.first_name = self.add_field(
                "contact_first_name", "First name", line(max_length=rules.CONTACT_NAME_MAX), self._contact_first_name, form=form
            )
            self.last_name = self.add_field(
                "contact_last_name", "Last name", line(max_length=rules.CONTACT_NAME_MAX),
                lambda: rules.optional_text(self.last_name.text(), "Last name", rules.CONTACT_NAME_MAX), form=form,
            )
            self.email = self.add_field(
                "contact_email", "E-mail", line(placeholder="name@example.com"), lambda: rules.email(self.email.text()), form=form
            )
            self.phone = self.add_field(
                "contact_phone", "Phone", line(placeholder="+447700900123"), lambda: rules.phone(self.phone.text()), form=form,
                hint="International form with the country code.",
            )
            for key in ("contact_email", "contact_phone", "contact_last_name"):
                self._watch("contact_first_name", self._fields[key].widget)  # re-check: a contact needs a first name
        self.finish_layout()

    def _has_contact(self) -> bool:
        return any(w.text().strip() for w in (self.first_name, self.last_name, self.email, self.phone))

    def _contact_first_name(self) -> str | None:
        if not self._has_contact():
            return None
        return rules.required_text(self.first_name.text(), "First name", rules.CONTACT_NAME_MAX)

    def customer_values(self) -> dict[str, Any]:
        return {k: self.value(k) for k in service.CUSTOMER_FIELDS}

    def operation(self):
        db, actor, values = self.db, self.actor, self.customer_values()
        if self.detail is None:
            contact = None
            if self._has_contact():
                contact = {
                    "first_name": self.value("contact_first_name"), "last_name": self.value("contact_last_name"),
                    "email": self.value("contact_email"), "phone": self.value("contact_phone"),
                }
            return (
                lambda: service.create_customer(db, actor, primary_contact=contact, **values),
                lambda d: f"Created {d.label}.",
            )
        detail = self.detail
        return (
            lambda: service.update_customer(db, actor, detail.id, expected_version=detail.version, **values),
            lambda d: f"Saved {d.label}.",
        )


# --- contact ---


class ContactDialog(FormDialog):
    def __init__(self, parent: QWidget | None, db, actor, customer_id: int, contact: ContactView | None = None):
        super().__init__(parent, "Add contact" if contact is None else f"Edit contact {contact.full_name}")
        self.db, self.actor, self.customer_id, self.contact = db, actor, customer_id, contact
        c = contact
        self.contact_type = self.add_field(
            "contact_type", "Type", choices(CONTACT_TYPES, c.contact_type if c else "primary"),
            lambda: rules.contact_type(text_of(self.contact_type)),
        )
        self.first_name = self.add_field(
            "first_name", "First name *", line(c.first_name if c else "", max_length=rules.CONTACT_NAME_MAX),
            lambda: rules.required_text(self.first_name.text(), "First name", rules.CONTACT_NAME_MAX),
        )
        self.last_name = self.add_field(
            "last_name", "Last name", line(c.last_name if c else "", max_length=rules.CONTACT_NAME_MAX),
            lambda: rules.optional_text(self.last_name.text(), "Last name", rules.CONTACT_NAME_MAX),
        )
        self.email = self.add_field(
            "email", "E-mail", line(c.email if c else "", placeholder="name@example.com"), lambda: rules.email(self.email.text())
        )
        self.phone = self.add_field(
            "phone", "Phone", line(c.phone if c else "", placeholder="+447700900123"), lambda: rules.phone(self.phone.text()),
            hint="International form with the country code.",
        )
        self.finish_layout()

    def operation(self):
        db, actor = self.db, self.actor
        values = {k: self.value(k) for k in ("contact_type", "first_name", "last_name", "email", "phone")}
        if self.contact is None:
            cid = self.customer_id
            return lambda: service.add_contact(db, actor, cid, **values), lambda c: f"Added contact {c.full_name}."
        contact_id = self.contact.id
        return lambda: service.update_contact(db, actor, contact_id, **values), lambda c: f"Saved contact {c.full_name}."


# --- site ---


class SiteDialog(FormDialog):
    def __init__(self, parent: QWidget | None, db, actor, customer_id: int, site: SiteView | None = None):
        super().__init__(parent, "Add site" if site is None else f"Edit site {site.name}")
        self.db, self.actor, self.customer_id, self.site = db, actor, customer_id, site
        s = site
        self.name = self.add_field(
            "name", "Site name *", line(s.name if s else "", placeholder="e.g. Head office", max_length=rules.SITE_NAME_MAX),
            lambda: rules.required_text(self.name.text(), "Site name", rules.SITE_NAME_MAX),
        )
        self.text_fields: dict[str, QLineEdit] = {}
        for key, (label, maximum) in service.SITE_TEXT_FIELDS.items():
            if key == "address_note":
                continue
            edit = line(getattr(s, key) if s else "", max_length=maximum)
            self.text_fields[key] = edit
            self.add_field(key, label, edit, (lambda e, lb, mx: lambda: rules.optional_text(e.text(), lb, mx))(edit, label, maximum))
        self.country = self.add_field(
            "country", "Country", line(s.country if s else service.DEFAULT_COUNTRY, placeholder="GB", max_length=2),
            lambda: rules.country(self.country.text(), service.DEFAULT_COUNTRY),
        )
        self.latitude = self.add_field(
            "latitude", "Latitude", line(str(s.latitude) if s and s.latitude is not None else "", placeholder="51.507400"),
            lambda: rules.coordinate(self.latitude.text(), "Latitude", 90),
        )
        self.longitude = self.add_field(
            "longitude", "Longitude", line(str(s.longitude) if s and s.longitude is not None else "", placeholder="-0.127800"),
            lambda: rules.coordinate(self.longitude.text(), "Longitude", 180),
            hint="Give both latitude and longitude, or neither.",
        )
        self._watch("latitude", self.longitude)
        self.add_cross_check("latitude", self._both_or_neither)
        self.plus_code = QLabel(objectName="plusCode")
        self.plus_code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_row("Plus code", self.plus_code)
        note_label, note_max = service.SITE_TEXT_FIELDS["address_note"]
        self.address_note = self.add_field(
            "address_note", note_label, notes_box(s.address_note if s else "", 56),
            lambda: rules.optional_text(self.address_note.toPlainText(), note_label, note_max),
            hint="Directions for engineers, e.g. gate code or which building.",
        )
        self.finish_layout()

    def _both_or_neither(self, values: dict) -> None:
        if not self._fields["longitude"].local_error:
            rules.coordinates(values.get("latitude"), values.get("longitude"))

    def validate(self) -> bool:
        ok = super().validate()
        if hasattr(self, "plus_code"):
            lat, lng = self.value("latitude"), self.value("longitude")
            code = rules.plus_code(lat, lng) if lat is not None and lng is not None else None
            self.plus_code.setText(code or "Worked out from latitude and longitude")
            set_style_property(self.plus_code, "empty", code is None)
        return ok

    def operation(self):
        db, actor = self.db, self.actor
        keys = ("name", *self.text_fields, "country", "latitude", "longitude", "address_note")
        values = {k: self.value(k) for k in keys}

        def message(site: SiteView) -> str:
            where = f" (plus code {site.plus_code})" if site.plus_code else ""
            return f"Saved site {site.name}{where}."

        if self.site is None:
            cid = self.customer_id
            return lambda: service.add_site(db, actor, cid, **values), message
        site_id = self.site.id
        return lambda: service.update_site(db, actor, site_id, **values), message


# --- attribute ---


class AttributeDialog(FormDialog):
    def __init__(self, parent: QWidget | None, db, actor, customer_id: int, attribute: AttributeView | None = None):
        super().__init__(parent, "Add attribute" if attribute is None else f"Edit attribute {attribute.key}")
        self.db, self.actor, self.customer_id, self.attribute = db, actor, customer_id, attribute
        a = attribute
        self.key = self.add_field(
            "key", "Name *", line(a.key if a else "", placeholder="e.g. preferred_language", max_length=rules.ATTRIBUTE_KEY_MAX),
            lambda: rules.attribute_key(self.key.text()), hint="Lowercase snake_case: letters, digits and underscores.",
        )
        self.value_edit = self.add_field(
            "value", "Value *", line(a.value if a else "", max_length=rules.ATTRIBUTE_VALUE_MAX),
            lambda: rules.attribute_value(self.value_edit.text()), hint=f"At most {rules.ATTRIBUTE_VALUE_MAX} characters.",
        )
        self.finish_layout()

    def operation(self):
        db, actor, cid = self.db, self.actor, self.customer_id
        key, value = self.value("key"), self.value("value")
        if self.attribute is None:
            return lambda: service.add_attribute(db, actor, cid, key, value), lambda a: f"Set attribute {a.key}."
        attribute_id = self.attribute.id
        return (
            lambda: service.update_attribute(db, actor, attribute_id, key=key, value=value, customer_id=cid),
            lambda a: f"Saved attribute {a.key}.",
        )


# --- tag ---


class TagDialog(FormDialog):
    def __init__(self, parent: QWidget | None, db, actor, customer_id: int, tag: TagView | None = None):
        super().__init__(parent, "Add tag" if tag is None else f"Edit tag {tag.label}")
        self.db, self.actor, self.customer_id, self.tag = db, actor, customer_id, tag
        t = tag
        self.label = self.add_field(
            "label", "Text *", line(t.label if t else "", placeholder="e.g. VIP", max_length=rules.TAG_TEXT_MAX),
            lambda: rules.required_text(self.label.text(), "Tag text", rules.TAG_TEXT_MAX),
        )
        colour_row = QWidget()
        row = QHBoxLayout(colour_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.colour = line(f"#{t.colour}" if t else "#FFD700", placeholder="#FFD700")
        self.colour.setMaxLength(7)
        self.colour.setFixedWidth(110)
        self.pick = QPushButton("Choose…")
        self.pick.clicked.connect(self._choose_colour)
        self.preview = TagPill("Preview", "FFD700")
        row.addWidget(self.colour)
        row.addWidget(self.pick)
        row.addSpacing(12)
        row.addWidget(self.preview)
        row.addStretch(1)
        self.add_field("colour", "Colour *", colour_row, lambda: rules.tag_colour(self.colour.text()))
        self._fields["colour"].widget = self.colour
        self._watch("colour", self.colour)
        self.link = self.add_field(
            "link", "Link", line(t.link if t else "", placeholder="https://…"), lambda: rules.tag_link(self.link.text()),
            hint="Optional: the pill opens this address when clicked.",
        )
        self.active_from = self._datetime(t.active_from if t else None, QDateTime.currentDateTime())
        self.deactivate_at = self._datetime(t.deactivate_at if t else None, to_qdatetime(rules.DEFAULT_TAG_END))
        self.add_field("active_from", "Active from", self.active_from, lambda: aware(self.active_from.dateTime()))
        self.add_field("deactivate_at", "Deactivate at", self.deactivate_at, lambda: aware(self.deactivate_at.dateTime()))
        self._watch("deactivate_at", self.active_from)
        self.add_cross_check("deactivate_at", lambda v: rules.tag_window(v.get("active_from"), v.get("deactivate_at")))
        self.finish_layout()

    @staticmethod
    def _datetime(value, default: QDateTime) -> QDateTimeEdit:
        edit = QDateTimeEdit(calendarPopup=True)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.setDateTime(to_qdatetime(value) if value else default)
        return edit

    def _choose_colour(self) -> None:
        dialog = QColorDialog(QColor(f"#{self.value('colour') or 'FFD700'}"), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.colorSelected.connect(lambda c: self.colour.setText(c.name().upper()))
        dialog.open()

    def validate(self) -> bool:
        ok = super().validate()
        if hasattr(self, "preview"):
            self.preview.set_tag(self.label.text().strip() or "Preview", self.value("colour") or "CCCCCC")
        return ok

    def operation(self):
        db, actor = self.db, self.actor
        values = {k: self.value(k) for k in ("label", "colour", "link", "active_from", "deactivate_at")}
        if self.tag is None:
            cid = self.customer_id
            return lambda: service.add_tag(db, actor, cid, **values), lambda t: f"Added tag {t.label}."
        tag_id = self.tag.id
        return lambda: service.update_tag(db, actor, tag_id, **values), lambda t: f"Saved tag {t.label}."
