"""The product editor: the source's five tabs (Basic Info, Pricing, Configuration, Provisioning,
Availability) over every product field. Each field is checked by the catalog's rule as it is typed;
what only the service can judge (the playbook file exists, each inventory type names a template,
the slug is free) comes back as the service's refusal, shown under its field on its tab."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTabWidget,
    QToolButton,
    QWidget,
)

from omnidesk.catalog import rules
from omnidesk.catalog import service as catalog
from omnidesk.catalog.models import CATEGORIES
from omnidesk.catalog.service import ProductView
from omnidesk.customers import rules as crules
from omnidesk.customers.rules import FieldError
from omnidesk.inventory import service as inventory
from omnidesk.ui import ops
from omnidesk.ui.forms import FormDialog, aware, text_of, to_qdatetime

AUTO_RENEW_CHOICES = (("Prompt", "prompt"), ("Yes", "true"), ("No", "false"))
CATEGORY_HINTS = {
    "standalone": "Standalone: a service of its own (a mobile plan, a fibre line).",
    "bundle": "Bundle: several services provisioned together.",
    "addon": "Addon: added to an existing service of the same type (a data boost).",
    "promo": "Promo: a promotion or discount.",
}


def names(text: str) -> list[str]:
    """'SIM Card, Mobile Number' → ['SIM Card', 'Mobile Number'] (empty entries dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


class OptionalDateTimeEdit(QWidget):
    """A date and time that may be left empty (empty = immediately / indefinitely)."""

    changed = Signal()

    def __init__(self, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.enabled_box = QCheckBox(label)
        self.editor = QDateTimeEdit(calendarPopup=True)
        self.editor.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.editor.setDateTime(QDateTime.currentDateTime())
        self.editor.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled_box)
        row.addWidget(self.editor, 1)
        self.enabled_box.toggled.connect(self.editor.setEnabled)
        self.enabled_box.toggled.connect(self.changed)
        self.editor.dateTimeChanged.connect(self.changed)

    def value(self) -> dt.datetime | None:
        return aware(self.editor.dateTime()) if self.enabled_box.isChecked() else None

    def set_value(self, value: dt.datetime | None) -> None:
        self.enabled_box.setChecked(value is not None)
        if value is not None:
            self.editor.setDateTime(to_qdatetime(value))


class InventoryTypesEdit(QWidget):
    """Template names, comma-separated, typed or picked from the templates there are."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("None — e.g. SIM Card, Mobile Number")
        self.button = QToolButton(text="Choose", objectName="chooseTemplates")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.button)
        self.button.setMenu(self.menu)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        self.edit.textChanged.connect(self.changed)
        self.menu.aboutToShow.connect(self._tick)

    def set_templates(self, template_names: list[str]) -> None:
        self.menu.clear()
        for name in template_names:
            action = QAction(name, self.menu, checkable=True)
            action.toggled.connect(lambda on, n=name: self._toggle(n, on))
            self.menu.addAction(action)

    def _tick(self) -> None:
        chosen = set(self.names())
        for action in self.menu.actions():
            action.blockSignals(True)
            action.setChecked(action.text() in chosen)
            action.blockSignals(False)

    def _toggle(self, name: str, on: bool) -> None:
        current = self.names()
        if on and name not in current:
            current.append(name)
        elif not on and name in current:
            current.remove(name)
        self.edit.setText(", ".join(current))

    def names(self) -> list[str]:
        return names(self.edit.text())

    def setText(self, text: str) -> None:
        self.edit.setText(text)


class ProductDialog(FormDialog):
    """Add or edit a product; `product=None` adds one."""

    TABS = tuple(catalog.EDITOR_TABS)

    def __init__(self, parent: QWidget | None, db, actor, product: ProductView | None = None, *,
                 playbooks_dir: Path | None = None):
        super().__init__(parent, f"Product: {product.name}" if product else "New product",
                         save_label="Save changes" if product else "Add product")
        self.db, self.actor, self.product, self.playbooks_dir = db, actor, product, playbooks_dir
        self.setMinimumWidth(680)
        self.tabs = QTabWidget(objectName="productTabs")
        self.pages: dict[str, object] = {}
        self._tab_of: dict[str, int] = {}
        for title in self.TABS:
            page = QWidget()
            grid = self.new_form()
            page.setLayout(grid)
            grid.setContentsMargins(12, 12, 12, 6)
            self.pages[title] = grid
            self.tabs.addTab(page, title)
        self.outer.addWidget(self.tabs)
        self._build()
        for i, title in enumerate(self.TABS):
            for key in catalog.EDITOR_TABS[title]:
                self._tab_of[key] = i
            self.pages[title].setRowStretch(self.pages[title].rowCount(), 1)
        self._fill(product)
        self.finish_layout()
        self._load_templates()

    # --- building ---

    def _field(self, tab: str, key: str, label: str, widget: QWidget, check=None, hint: str = "") -> QWidget:
        return self.add_field(key, label, widget, check, form=self.pages[tab], hint=hint)

    def _build(self) -> None:
        b = "Basic Info"
        self.name = self._field(b, "name", "Name", QLineEdit(), lambda: rules.product_name(text_of(self.name)))
        self.slug = self._field(b, "slug", "Slug", QLineEdit(), self._check_slug,
                                hint="Unique; letters, digits and hyphens. Renewals run the OCS action Action_<slug>.")
        self.category = QComboBox()
        for c in CATEGORIES:
            self.category.addItem(c.capitalize(), c)
        self._field(b, "category", "Category", self.category, lambda: rules.category(self.category.currentData()))
        self.category_hint = QLabel(objectName="fieldHint", wordWrap=True)
        self.category.currentIndexChanged.connect(lambda _i: self.category_hint.setText(
            CATEGORY_HINTS[self.category.currentData()]))
        self.add_row("", self.category_hint, self.pages[b])
        self.service_type = self._field(b, "service_type", "Service type", QLineEdit(),
                                        lambda: rules.service_type(text_of(self.service_type)))
        self.service_type.setPlaceholderText("mobile, fixed, fixed-voice, internet, voip…")
        self.icon = self._field(b, "icon", "Icon", QLineEdit(), lambda: crules.optional_text(text_of(self.icon), "Icon", 100))
        self.icon.setPlaceholderText("fa-solid fa-sim-card")
        self.features = self._field(b, "features", "Features", QPlainTextEdit(),
                                    lambda: rules.features(self._feature_lines()), hint="One feature per line.")
        self.features.setFixedHeight(76)
        self.terms = self._field(b, "terms", "Terms", QPlainTextEdit(),
                                 lambda: crules.optional_text(text_of(self.terms), "Terms", 20_000))
        self.terms.setFixedHeight(60)
        self.comment = self._field(b, "comment", "Internal comment", QPlainTextEdit(),
                                   lambda: crules.optional_text(text_of(self.comment), "Comment", 10_000))
        self.comment.setFixedHeight(48)

        p = "Pricing"
        self.costs: dict[str, QLineEdit] = {}
        for key, label in catalog.MONEY_FIELDS.items():
            edit = QLineEdit()
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.costs[key] = self._field(p, key, label + (" (monthly)" if "setup" not in key else " (one-time)"),
                                          edit, (lambda e, lb: lambda: crules.money(e.text(), lb))(edit, label))
        self.tax = self._field(p, "tax_percentage", "Tax %", QLineEdit(), lambda: rules.tax_percentage(text_of(self.tax)),
                               hint="10 or 12.5; 0 for tax-exempt. Copied to each transaction.")
        self.margin_label = QLabel(objectName="fieldValue", wordWrap=True)
        self.add_row("Margin", self.margin_label, self.pages[p])
        for edit in (*self.costs.values(), self.tax):
            edit.textChanged.connect(self._show_margin)

        c = "Configuration"
        self.auto_renew = QComboBox()
        for text, value in AUTO_RENEW_CHOICES:
            self.auto_renew.addItem(text, value)
        self._field(c, "auto_renew", "Auto renew", self.auto_renew, lambda: rules.auto_renew(self.auto_renew.currentData()),
                    hint="Prompt asks when the service is ordered.")
        self.allow_auto_renew = self._field(c, "allow_auto_renew", "", QCheckBox("Allow a different auto-renew choice"))
        self.contract_days = self._field(c, "contract_days", "Contract days", QLineEdit(),
                                         lambda: rules.contract_days(text_of(self.contract_days)),
                                         hint="30, 365; 0 for no fixed term.")
        self.residential = self._field(c, "residential", "Customer types", QCheckBox("Residential"))
        self.business = self._field(c, "business", "", QCheckBox("Business"))
        self.customer_can_purchase = self._field(c, "customer_can_purchase", "",
                                                 QCheckBox("Customers may buy it themselves (self-care)"))
        self.relies_on = self._field(c, "relies_on", "Relies on", QLineEdit(),
                                     lambda: rules.relies_on(names(text_of(self.relies_on))),
                                     hint="For addons: product ids or service types, comma-separated.")

        v = "Provisioning"
        self.play = self._field(v, "provisioning_play", "Provisioning play", QLineEdit(), lambda: text_of(self.play).strip() or None,
                                hint="A playbook in playbooks/, without .yaml (run on create, update and deprovision).")
        self.play.setPlaceholderText("play_local_mobile_sim")
        self.json_vars = self._field(v, "provisioning_json_vars", "Playbook variables", QPlainTextEdit(),
                                     lambda: rules.json_vars(text_of(self.json_vars)), hint='A JSON object, e.g. {"days": 30}.')
        self.json_vars.setFixedHeight(90)
        self.inventory_types = self._field(v, "inventory_types", "Inventory items", InventoryTypesEdit(),
                                           lambda: rules.inventory_types(self.inventory_types.names()),
                                           hint="Template names exactly as written (case-sensitive), in the order "
                                                "the picker asks for them.")

        a = "Availability"
        self.enabled = self._field(a, "enabled", "", QCheckBox("Enabled (disabled products are hidden, not deleted)"))
        self.available_from = self._field(a, "available_from", "Available from", OptionalDateTimeEdit("From"))
        self.available_until = self._field(a, "available_until", "Available until", OptionalDateTimeEdit("Until"),
                                           hint="Empty: available immediately and indefinitely.")
        self.add_cross_check("available_until", lambda _v: rules.availability(self.available_from.value(),
                                                                                 self.available_until.value()))
        self.created = QLabel(objectName="fieldValue")
        self.modified = QLabel(objectName="fieldValue")
        self.add_row("Created", self.created, self.pages[a])
        self.add_row("Last modified", self.modified, self.pages[a])

    def _feature_lines(self) -> list[str]:
        return [line.strip() for line in self.features.toPlainText().splitlines() if line.strip()]

    def _check_slug(self) -> str:
        text = text_of(self.slug).strip()
        if not text and self.product is None:
            return rules.slug_from(text_of(self.name))
        return rules.slug(text)

    def _fill(self, p: ProductView | None) -> None:
        self.category_hint.setText(CATEGORY_HINTS["standalone"])
        if p is None:
            for edit in self.costs.values():
                edit.setText("0.00")
            self.tax.setText("0")
            self.contract_days.setText("30")
            self.allow_auto_renew.setChecked(True)
            self.residential.setChecked(True)
            self.business.setChecked(True)
            self.enabled.setChecked(True)
            self.json_vars.setPlainText("{}")
            self.created.setText("—")
            self.modified.setText("—")
            self.slug.setPlaceholderText("made from the name")
            self._show_margin()
            return
        self.name.setText(p.name)
        self.slug.setText(p.slug)
        self.category.setCurrentIndex(self.category.findData(p.category))
        self.service_type.setText(p.service_type)
        self.icon.setText(p.icon)
        self.features.setPlainText("\n".join(p.features))
        self.terms.setPlainText(p.terms)
        self.comment.setPlainText(p.comment)
        for key, edit in self.costs.items():
            edit.setText(f"{getattr(p, key):.2f}")
        self.tax.setText(f"{p.tax_percentage.normalize():f}")
        self.auto_renew.setCurrentIndex(self.auto_renew.findData(p.auto_renew))
        self.allow_auto_renew.setChecked(p.allow_auto_renew)
        self.contract_days.setText(str(p.contract_days))
        self.residential.setChecked(p.residential)
        self.business.setChecked(p.business)
        self.customer_can_purchase.setChecked(p.customer_can_purchase)
        self.relies_on.setText(", ".join(p.relies_on))
        self.play.setText(p.provisioning_play or "")
        self.json_vars.setPlainText(json.dumps(p.provisioning_json_vars, indent=2) if p.provisioning_json_vars else "{}")
        self.inventory_types.setText(", ".join(p.inventory_types))
        self.enabled.setChecked(p.enabled)
        self.available_from.set_value(p.available_from)
        self.available_until.set_value(p.available_until)
        self.created.setText(p.created_at.astimezone().strftime("%Y-%m-%d %H:%M"))
        self.modified.setText(p.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"))
        self._show_margin()

    def _show_margin(self) -> None:
        try:
            retail = crules.money(self.costs["retail_cost"].text(), "Retail cost")
            wholesale = crules.money(self.costs["wholesale_cost"].text(), "Wholesale cost")
            tax = rules.tax_percentage(self.tax.text())
        except FieldError:
            self.margin_label.setText("—")
            return
        m = rules.margin(retail, wholesale)
        parts = [f"profit {m.profit:,.2f} a month"]
        if m.markup_percent is not None:
            parts.append(f"markup {m.markup_percent} %")
        if m.margin_percent is not None:
            parts.append(f"margin {m.margin_percent} %")
        with_tax = retail * (100 + tax) / 100
        self.margin_label.setText(", ".join(parts) + f"; retail with tax {with_tax:,.2f}")

    def _load_templates(self) -> None:
        db, actor = self.db, self.actor
        ops.query(self, lambda: [t.name for t in inventory.list_templates(db, actor)],
                  self.inventory_types.set_templates, on_error=lambda _e: None)

    # --- saving ---

    def values(self) -> dict:
        v = {key: self.value(key) for key in ("name", "slug", "category", "service_type", "icon", "features", "terms",
                                               "comment", *catalog.MONEY_FIELDS, "tax_percentage", "auto_renew",
                                               "contract_days", "relies_on", "provisioning_play",
                                               "provisioning_json_vars", "inventory_types")}
        v.update(allow_auto_renew=self.allow_auto_renew.isChecked(), residential=self.residential.isChecked(),
                 business=self.business.isChecked(), customer_can_purchase=self.customer_can_purchase.isChecked(),
                 enabled=self.enabled.isChecked(), available_from=self.available_from.value(),
                 available_until=self.available_until.value())
        return v

    def operation(self):
        values = self.values()
        db, actor, product, plays = self.db, self.actor, self.product, self.playbooks_dir
        if product is None:
            return (lambda: catalog.create_product(db, actor, playbooks_dir=plays, **values),
                    f"Added product {values['name']}.")
        return (lambda: catalog.update_product(db, actor, product.id, expected_version=product.version,
                                               playbooks_dir=plays, **values),
                f"Saved product {values['name']}.")

    def _refused(self, exc: Exception) -> None:
        super()._refused(exc)
        wrong = [key for key, field in self._fields.items() if field.server_error]
        if wrong:
            self.tabs.setCurrentIndex(self._tab_of.get(wrong[0], 0))
            self._fields[wrong[0]].widget.setFocus()

    def tab_with_error(self) -> str | None:
        """The title of the tab showing, for tests."""
        return self.tabs.tabText(self.tabs.currentIndex())
