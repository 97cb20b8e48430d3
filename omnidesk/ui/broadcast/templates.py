"""Warning templates: the scenarios operators start from, each carrying its 3GPP message identifier.

Only holders of `manage_settings` create or change them (the service and the database say so too);
operators pick one and edit its texts, never its identifier.
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from omnidesk.broadcast import service as broadcast
from omnidesk.broadcast.models import CATEGORIES
from omnidesk.errors import ServiceError, ValidationError
from omnidesk.ui import ops
from omnidesk.ui.broadcast.compose import LanguageList, LanguageText
from omnidesk.ui.broadcast.messages import fill_table, make_table
from omnidesk.ui.widgets import humane

SCENARIOS = ("earthquake", "tsunami", "flood", "fire", "amber", "monthly_test", "exercise", "other")


class TemplateDialog(QDialog):
    """Create or change one template; the service's refusals are shown here and nothing is saved."""

    def __init__(self, db, actor, template=None, *, limit: int = 500, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor, self.template, self.limit = db, actor, template, limit
        self.setWindowTitle("New template" if template is None else f"Template {template.name}")
        self.setMinimumWidth(560)
        self.name = QLineEdit(objectName="templateName")
        self.scenario = QComboBox(objectName="templateScenario")
        for s in SCENARIOS:
            self.scenario.addItem(humane(s), s)
        self.identifier = QLineEdit(objectName="templateIdentifier", placeholderText="e.g. 4371")
        self.identifier.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,5}"), self.identifier))
        self.category = QComboBox(objectName="templateCategory")
        for c in CATEGORIES:
            self.category.addItem(humane(c), c)
        self.period = QSpinBox(objectName="templatePeriod", minimum=1, maximum=4095, value=60, suffix=" s")
        self.broadcasts = QSpinBox(objectName="templateBroadcasts", minimum=0, maximum=65535)
        self.broadcasts.setSpecialValueText("until stopped or expired")
        self.expiry = QSpinBox(objectName="templateExpiry", minimum=1, maximum=10_080, value=60, suffix=" min")
        self.active = QCheckBox("Operators may use it", objectName="templateActive", checked=True)
        self.texts = LanguageList(limit)
        self.error = QLabel("", objectName="fieldError", wordWrap=True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Scenario", self.scenario)
        form.addRow("Message identifier", self.identifier)
        form.addRow("Category", self.category)
        form.addRow("Every", self.period)
        form.addRow("Broadcasts", self.broadcasts)
        form.addRow("Expires after", self.expiry)
        form.addRow("", self.active)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.texts)
        scroll.setMinimumHeight(220)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Texts"))
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        if template is not None:
            self.name.setText(template.name)
            self.scenario.setCurrentIndex(max(0, self.scenario.findData(template.scenario)))
            self.identifier.setText(str(template.message_identifier))
            self.category.setCurrentIndex(max(0, self.category.findData(template.category)))
            self.period.setValue(template.repetition_period)
            self.broadcasts.setValue(template.number_of_broadcasts)
            self.expiry.setValue(template.expiry_minutes or 60)
            self.active.setChecked(template.active)
            self.texts.set_texts(template.texts)
        else:
            self.scenario.setCurrentIndex(self.scenario.findData("other"))
            self.texts.add("en", "")

    @property
    def languages(self) -> list[LanguageText]:
        return self.texts.editors

    def values(self) -> dict:
        return {"name": self.name.text(), "scenario": self.scenario.currentData(),
                "message_identifier": self.identifier.text().strip() or None, "texts": self.texts.values(),
                "category": self.category.currentData(), "repetition_period": self.period.value(),
                "number_of_broadcasts": self.broadcasts.value(), "warning_period": self.expiry.value() * 60,
                "active": self.active.isChecked(),
                "template_id": None if self.template is None else self.template.id}

    def save(self) -> None:
        db, actor, values = self.db, self.actor, self.values()
        ops.mutate(self, lambda: broadcast.save_template(db, actor, **values), lambda _t: self.accept(),
                   success_message=f"Template {values['name'].strip()!r} saved", on_error=self._refused)

    def _refused(self, exc: Exception) -> None:
        if isinstance(exc, ValidationError):
            self.error.setText("\n".join(exc.errors.values()))
        elif isinstance(exc, ServiceError):
            self.error.setText(str(exc))
        else:
            ops.show_error(self, exc)
            return
        self.error.show()


class TemplatesView(QWidget):
    changed = Signal()  # a template was created or changed

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.templates: list = []
        self.limit = 500
        self.table = make_table(["Name", "Scenario", "Identifier", "Category", "Every", "Broadcasts", "Expires",
                             "Languages", "In use"], "templateList")
        self.new_button = QPushButton("New template…", objectName="newTemplate")
        self.edit_button = QPushButton("Edit…", objectName="editTemplate", enabled=False)
        may_change = actor.can("manage_settings")
        self.new_button.setVisible(may_change)
        self.edit_button.setVisible(may_change)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        self.new_button.clicked.connect(lambda: self._open(None))
        self.edit_button.clicked.connect(lambda: self._open(self._chosen()))
        self.table.itemSelectionChanged.connect(lambda: self.edit_button.setEnabled(self._chosen() is not None))
        self.table.itemDoubleClicked.connect(lambda _item: may_change and self._open(self._chosen()))

    def reload(self) -> None:
        db, actor = self.db, self.actor
        ops.query(self, lambda: broadcast.list_templates(db, actor, include_inactive=True), self._listed)

    def _listed(self, templates) -> None:
        self.templates = templates
        fill_table(self.table, [[t.name, humane(t.scenario), t.message_identifier, humane(t.category),
                            f"{t.repetition_period} s", t.number_of_broadcasts or "until stopped",
                            f"{t.expiry_minutes} min" if t.expiry_minutes else "—",
                            ", ".join(x["language"] for x in t.texts), "yes" if t.active else "retired"]
                           for t in templates])

    def _chosen(self):
        rows = self.table.selectionModel().selectedRows()
        return self.templates[rows[0].row()] if rows else None

    def _open(self, template) -> None:
        dialog = TemplateDialog(self.db, self.actor, template, limit=self.limit, parent=self)
        dialog.setObjectName("templateDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.reload)
        dialog.accepted.connect(self.changed)
        dialog.open()
        self.dialog = dialog


__all__ = ["TemplateDialog", "TemplatesView"]
