"""Inventory templates: the list (with stock counts) and the editor of one template."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.inventory import rules
from omnidesk.inventory import service as inventory
from omnidesk.inventory.service import TemplateView
from omnidesk.ui import ops
from omnidesk.ui.forms import FormDialog, text_of
from omnidesk.ui.inventory import operations

COLUMNS = ("Name", "Icon", "Wholesale", "Retail", "Item texts", "In stock", "Items", "Staff dropdown", "Customer dropdown")


class TemplateDialog(FormDialog):
    """Add or edit a template: name (case-sensitive), icon, default costs, labels of item texts 1–20."""

    def __init__(self, parent: QWidget | None, db, actor, template: TemplateView | None = None):
        super().__init__(parent, "Edit inventory template" if template else "New inventory template",
                         save_label="Save" if template else "Add template")
        self.db, self.actor, self.template = db, actor, template
        self.setMinimumWidth(720)
        self.name = self.add_field("name", "Name", QLineEdit(), lambda: rules.template_name(text_of(self.name)),
                                   hint="Case-sensitive: products name the templates they need exactly as written here.")
        self.icon = self.add_field("icon", "Icon", QLineEdit(), lambda: text_of(self.icon).strip())
        self.icon.setPlaceholderText("fa-solid fa-sim-card")
        self.wholesale = self.add_field("wholesale_cost", "Wholesale cost", QLineEdit(),
                                        lambda: rules.cost(text_of(self.wholesale), "Wholesale cost"))
        self.retail = self.add_field("retail_cost", "Retail cost", QLineEdit(),
                                     lambda: rules.cost(text_of(self.retail), "Retail cost"))
        self.staff = self.add_field("allow_dropdown_staff", "", QCheckBox("Offer in staff dropdowns"))
        self.customer = self.add_field("allow_dropdown_customer", "", QCheckBox("Offer in customer dropdowns"))
        self.returnable = self.add_field("returnable", "", QCheckBox("Hardware the customer returns when the service ends"))
        self.add_section("Item text labels", "Item text 1 is the item's primary identifier (ICCID, number, MAC…).")

        columns = QHBoxLayout()
        columns.setSpacing(18)
        self.label_edits: list[QLineEdit] = []
        halves = (self.new_form(), self.new_form())
        for n in range(1, rules.ITEMTEXT_COUNT + 1):
            edit = QLineEdit()
            if n in rules.DEFAULT_LABELS:
                edit.setPlaceholderText(rules.DEFAULT_LABELS[n])
            self.add_field(f"label_{n}", f"Item text {n}", edit,
                           (lambda e, num: lambda: rules.label(e.text(), num))(edit, n), form=halves[(n - 1) // 10])
            self.label_edits.append(edit)
        for half in halves:
            columns.addLayout(half, 1)
        self.outer.addLayout(columns)

        if template is not None:
            self.name.setText(template.name)
            self.icon.setText(template.icon)
            self.wholesale.setText(f"{template.wholesale_cost:.2f}")
            self.retail.setText(f"{template.retail_cost:.2f}")
            self.staff.setChecked(template.allow_dropdown_staff)
            self.customer.setChecked(template.allow_dropdown_customer)
            self.returnable.setChecked(template.returnable)
            for edit, label in zip(self.label_edits, template.labels):
                edit.setText(label or "")
        else:
            self.wholesale.setText("0.00")
            self.retail.setText("0.00")
            self.staff.setChecked(True)
        self.finish_layout()

    def operation(self):
        values = dict(
            name=self.value("name"), icon=self.value("icon"), wholesale_cost=self.value("wholesale_cost"),
            retail_cost=self.value("retail_cost"), allow_dropdown_staff=self.staff.isChecked(),
            allow_dropdown_customer=self.customer.isChecked(), returnable=self.returnable.isChecked(),
            labels={n: self.value(f"label_{n}") for n in range(1, rules.ITEMTEXT_COUNT + 1)},
        )
        db, actor, template = self.db, self.actor, self.template
        if template is None:
            return (lambda: inventory.create_template(db, actor, **values)), f"Added inventory template {values['name']}."
        return (lambda: inventory.update_template(db, actor, template.id, expected_version=template.version, **values),
                f"Saved inventory template {values['name']}.")

    def _refused(self, exc: Exception) -> None:
        from omnidesk.errors import ValidationError

        if isinstance(exc, ValidationError) and "labels" in exc.errors:
            exc = ValidationError({("label_1" if k == "labels" else k): v for k, v in exc.errors.items()})
        super()._refused(exc)


class TemplatesPage(QWidget):
    """Every template with its stock; add, edit and remove."""

    changed = Signal()
    loaded = Signal()

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.templates: list[TemplateView] = []
        self.table = QTableWidget(0, len(COLUMNS), objectName="templateTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for c, w in enumerate((170, 170, 90, 90, 330, 80, 70, 135)):
            self.table.setColumnWidth(c, w)
        self.table.doubleClicked.connect(lambda _i: self.edit_template())
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.add_button = QPushButton("New template…", objectName="primaryButton")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Remove…", objectName="dangerButton")
        self.add_button.clicked.connect(self.new_template)
        self.edit_button.clicked.connect(self.edit_template)
        self.delete_button.clicked.connect(self.delete_template)
        self.add_button.setVisible(actor.can("create_inventory_template"))
        self.edit_button.setVisible(actor.can("update_inventory_template"))
        self.delete_button.setVisible(actor.can("delete_inventory_template"))
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Templates define item types: their default costs and what each item text means.",
                                 objectName="fieldHint"))
        buttons.addStretch(1)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self._update_buttons()

    def reload(self) -> None:
        db, actor = self.db, self.actor
        ops.query(self, lambda: inventory.list_templates(db, actor), self._show)

    def _show(self, templates: list[TemplateView]) -> None:
        selected = self.selected()
        self.templates = templates
        self.table.setRowCount(len(templates))
        for r, t in enumerate(templates):
            texts = ", ".join(t.label(n) for n in range(1, rules.ITEMTEXT_COUNT + 1) if t.labels[n - 1])
            values = (t.name, t.icon, f"{t.wholesale_cost:,.2f}", f"{t.retail_cost:,.2f}", texts, f"{t.in_stock:,}",
                      f"{t.total:,}", "Yes" if t.allow_dropdown_staff else "No", "Yes" if t.allow_dropdown_customer else "No")
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c in (2, 3, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 4:
                    item.setToolTip(texts)
                self.table.setItem(r, c, item)
            if selected is not None and t.id == selected.id:
                self.table.selectRow(r)
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> TemplateView | None:
        rows = self.table.selectionModel().selectedRows()
        return self.templates[rows[0].row()] if rows and rows[0].row() < len(self.templates) else None

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _open(self, dialog: TemplateDialog) -> TemplateDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._after_change)
        dialog.open()
        self.open_dialog = dialog
        return dialog

    def new_template(self) -> TemplateDialog:
        return self._open(TemplateDialog(self, self.db, self.actor))

    def edit_template(self) -> TemplateDialog | None:
        template = self.selected()
        return self._open(TemplateDialog(self, self.db, self.actor, template)) if template else None

    def delete_template(self) -> None:
        template = self.selected()
        if template is None:
            return
        ops.confirm(self, f"Remove the inventory template {template.name}?",
                    lambda: operations.delete_template(self, self.db, self.actor, template, self._after_change),
                    yes_label="Remove", destructive=True,
                    informative="Only a template without items that no product needs can be removed.")

    def _after_change(self, _result=None) -> None:
        self.reload()
        self.changed.emit()
