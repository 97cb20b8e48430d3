"""The service editor: the source's editable fields as inputs, the read-only ones shown with the reason
they cannot change. Only the fields the user touched are sent; the service refuses the rest by name."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from omnidesk.catalog import rules
from omnidesk.catalog import services as svc
from omnidesk.catalog.services import ServiceView
from omnidesk.customers import rules as crules
from omnidesk.ui.forms import FormDialog, text_of
from omnidesk.ui.products.editor import OptionalDateTimeEdit


def when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


class ServiceDialog(FormDialog):
    EDITABLE = ("name", "service_type", "icon", "active_date", "deactivate_date", "contract_end_date", "retail_cost",
                "wholesale_cost", "billed", "taxable", "promo_code", "visible_to_customer", "usage_visible_to_customer",
                "site_id", "notes", "auto_renew")

    def __init__(self, parent: QWidget | None, db, actor, service: ServiceView, sites: list[tuple[int, str]]):
        super().__init__(parent, f"Edit service {service.id}: {service.name}")
        self.db, self.actor, self.service = db, actor, service
        self.setMinimumWidth(760)
        left, right = self.new_form(), self.new_form()
        from PySide6.QtWidgets import QHBoxLayout

        columns = QHBoxLayout()
        columns.setSpacing(24)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        self.outer.addLayout(columns)

        self.name = self.add_field("name", "Name", QLineEdit(), lambda: crules.required_text(text_of(self.name), "Service name", 200), form=left)
        self.service_type = self.add_field("service_type", "Service type", QLineEdit(),
                                           lambda: rules.service_type(text_of(self.service_type)), form=left)
        self.icon = self.add_field("icon", "Icon", QLineEdit(), lambda: crules.optional_text(text_of(self.icon), "Icon", 100), form=left)
        self.site = QComboBox()
        self.site.addItem("No site", None)
        for site_id, site_name in sites:
            self.site.addItem(site_name, site_id)
        self.add_field("site_id", "Site", self.site, lambda: self.site.currentData(), form=left)
        self.active_date = self.add_field("active_date", "Active from", OptionalDateTimeEdit("Set"), form=left)
        self.deactivate_date = self.add_field("deactivate_date", "Ends (expiry)", OptionalDateTimeEdit("Set"), form=left)
        self.contract_end_date = self.add_field("contract_end_date", "Contract ends", OptionalDateTimeEdit("Set"), form=left)
        self.add_cross_check("deactivate_date", self._ends_after_start)
        self.retail = self.add_field("retail_cost", "Retail cost", QLineEdit(), lambda: crules.money(text_of(self.retail), "Retail cost"), form=left)
        self.wholesale = self.add_field("wholesale_cost", "Wholesale cost", QLineEdit(),
                                        lambda: crules.money(text_of(self.wholesale), "Wholesale cost"), form=left)
        self.promo = self.add_field("promo_code", "Promo code", QLineEdit(),
                                    lambda: crules.optional_text(text_of(self.promo), "Promo code", 40) or None, form=left)
        self.auto_renew = self.add_field("auto_renew", "", QCheckBox("Renews automatically"), form=left)
        self.billed = self.add_field("billed", "", QCheckBox("Billed (appears on invoices)"), form=left)
        self.taxable = self.add_field("taxable", "", QCheckBox("Taxable"), form=left)
        self.visible = self.add_field("visible_to_customer", "", QCheckBox("Visible to the customer"), form=left)
        self.usage_visible = self.add_field("usage_visible_to_customer", "", QCheckBox("Usage visible to the customer"), form=left)
        self.notes = self.add_field("notes", "Notes", QPlainTextEdit(), lambda: crules.optional_text(text_of(self.notes), "Notes", 10_000), form=left)
        self.notes.setFixedHeight(60)

        heading = QLabel("Read-only", objectName="formSection")
        right.addWidget(heading, 0, 0, 1, 2)
        self.read_only: dict[str, QLabel] = {}
        s = service
        shown = (
            ("id", str(s.id)), ("customer_id", f"{s.customer_name} ({s.customer_id})"),
            ("product_id", f"{s.product_name} ({s.product_id})" if s.product_id else "—"),
            ("service_uuid", s.service_uuid or "— (set by provisioning)"), ("provisioned_at", when(s.provisioned_at)),
            ("invoiced", "Yes" if s.invoiced else "No"), ("provisioning_play", s.provisioning_play or "—"),
            ("provisioning_json_vars", json.dumps(s.provisioning_json_vars) if s.provisioning_json_vars else "{}"),
            ("deprovisioning_play", s.deprovisioning_play or "—"),
            ("bundled_parent_id", str(s.bundled_parent_id) if s.bundled_parent_id else "—"),
            ("created_at", when(s.created_at)), ("updated_at", when(s.updated_at)),
        )
        for row, (key, value) in enumerate(shown, start=1):
            caption = QLabel(svc.FIELD_LABELS.get(key, key), objectName="fieldCaption")
            caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            label = QLabel(value, objectName="fieldValue", wordWrap=True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            why = f"{svc.FIELD_LABELS.get(key, key)} is read-only: {svc.READ_ONLY[key]}."
            caption.setToolTip(why)
            label.setToolTip(why)
            right.addWidget(caption, row, 0)
            right.addWidget(label, row, 1)
            self.read_only[key] = label
        right.setRowStretch(len(shown) + 1, 1)

        self.name.setText(s.name)
        self.service_type.setText(s.service_type)
        self.icon.setText(s.icon)
        self.site.setCurrentIndex(max(0, self.site.findData(s.site_id)))
        self.active_date.set_value(s.active_date)
        self.deactivate_date.set_value(s.deactivate_date)
        self.contract_end_date.set_value(s.contract_end_date)
        self.retail.setText(f"{s.retail_cost:.2f}")
        self.wholesale.setText(f"{s.wholesale_cost:.2f}")
        self.promo.setText(s.promo_code or "")
        self.auto_renew.setChecked(s.auto_renew)
        self.billed.setChecked(s.billed)
        self.taxable.setChecked(s.taxable)
        self.visible.setChecked(s.visible_to_customer)
        self.usage_visible.setChecked(s.usage_visible_to_customer)
        self.notes.setPlainText(s.notes)
        for field in self._fields.values():
            field.touched = False  # filling in is not editing: only what the user changes is sent
        self.finish_layout()

    def _ends_after_start(self, _values) -> None:
        from omnidesk.customers.rules import FieldError

        start, end = self.active_date.value(), self.deactivate_date.value()
        if start and end and end < start:
            raise FieldError(f"The service would end ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d}).")

    def changes(self) -> dict:
        widgets = {"auto_renew": self.auto_renew, "billed": self.billed, "taxable": self.taxable,
                   "visible_to_customer": self.visible, "usage_visible_to_customer": self.usage_visible}
        dates = {"active_date": self.active_date, "deactivate_date": self.deactivate_date,
                 "contract_end_date": self.contract_end_date}
        out = {}
        for key in self.EDITABLE:
            if not self._fields[key].touched:
                continue
            if key in widgets:
                out[key] = widgets[key].isChecked()
            elif key in dates:
                out[key] = dates[key].value()
            else:
                out[key] = self.value(key)
        return out

    def operation(self):
        changes, db, actor, service = self.changes(), self.db, self.actor, self.service
        return (lambda: svc.update_service(db, actor, service.id, expected_version=service.version, **changes),
                f"Saved service {service.name}." if changes else "Nothing to save.")
