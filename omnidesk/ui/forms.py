"""Dialogs with inline validation: each field is checked by its rule on every edit.

A field's message appears under it in red once the user has touched it; Save stays disabled while
any field is invalid. What the service still refuses (ValidationError) is shown next to the field
it names, and any other refusal above the buttons, so the user never loses what they typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from omnidesk.customers.rules import FieldError
from omnidesk.errors import ServiceError, ValidationError
from omnidesk.ui import ops
from omnidesk.ui.widgets import set_style_property


class OptionalDateEdit(QWidget):
    """A date that may be left unset: a checkbox switches the date editor on."""

    changed = Signal()

    def __init__(self, label: str = "Set", parent: QWidget | None = None):
        super().__init__(parent)
        self.enabled_box = QCheckBox(label)
        self.editor = QDateEdit(calendarPopup=True)
        self.editor.setDisplayFormat("yyyy-MM-dd")
        self.editor.setDate(QDate.currentDate())
        self.editor.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled_box)
        row.addWidget(self.editor, 1)
        self.enabled_box.toggled.connect(self.editor.setEnabled)
        self.enabled_box.toggled.connect(self.changed)
        self.editor.dateChanged.connect(self.changed)

    def value(self) -> dt.date | None:
        return self.editor.date().toPython() if self.enabled_box.isChecked() else None

    def set_value(self, value: dt.date | None) -> None:
        self.enabled_box.setChecked(value is not None)
        if value is not None:
            self.editor.setDate(QDate(value.year, value.month, value.day))


def to_qdatetime(value: dt.datetime) -> QDateTime:
    local = value.astimezone()
    return QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute, local.second))


def aware(value: QDateTime) -> dt.datetime:
    """A QDateTimeEdit's local wall-clock time as an aware datetime."""
    return value.toPython().replace(microsecond=0).astimezone()


def text_of(widget: QWidget) -> str:
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        return data if isinstance(data, str) else widget.currentText()
    raise TypeError(f"no text in {widget!r}")


@dataclass
class _Field:
    key: str
    widget: QWidget
    error: QLabel
    check: Callable[[], Any] | None
    touched: bool = False
    local_error: str = ""
    server_error: str = ""
    value: Any = None


class FormDialog(QDialog):
    """Base of every create/edit dialog. Subclasses add fields and say how to save."""

    saved = Signal(object)  # the service's result

    def __init__(self, parent: QWidget | None, title: str, *, save_label: str = "Save"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("formDialog")
        self.setMinimumWidth(480)
        self._fields: dict[str, _Field] = {}
        self._cross_checks: list[tuple[str, Callable[[dict[str, Any]], None]]] = []
        self._saving = False
        self._next_row: dict[int, int] = {}
        self.outer = QVBoxLayout(self)
        self.form = self.new_form()
        self.outer.addLayout(self.form)
        self.general_error = QLabel(objectName="formError", wordWrap=True)
        self.general_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.general_error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton(save_label, QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    def finish_layout(self) -> None:
        self.outer.addStretch(1)
        self.outer.addWidget(self.general_error)
        self.outer.addWidget(self.buttons)
        self.validate()

    @staticmethod
    def new_form() -> QGridLayout:
        """Label | field, with the field's hint and message on their own rows beneath it.

        A plain grid rather than QFormLayout with nested widgets: wrapped messages then get the
        height they need instead of being squeezed into one line.
        """
        form = QGridLayout()
        form.setColumnStretch(1, 1)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        return form

    def add_section(self, title: str, note: str = "") -> None:
        """A heading across the form that starts a group of fields."""
        row = self._next_row.get(id(self.form), 0)
        self.form.setRowMinimumHeight(row, 14)
        heading = QLabel(title, objectName="formSection")
        self.form.addWidget(heading, row + 1, 0, 1, 2)
        if note:
            self.form.addWidget(QLabel(note, objectName="fieldHint", wordWrap=True), row + 2, 0, 1, 2)
            row += 1
        self._next_row[id(self.form)] = row + 2

    def add_row(self, label: str, widget: QWidget, form: QGridLayout | None = None) -> int:
        """A row without validation (e.g. a computed value); returns its grid row."""
        form = form or self.form
        row = self._next_row.get(id(form), 0)
        if row:
            form.setRowMinimumHeight(row, 6)  # the gap between fields
            row += 1
        caption = QLabel(label, objectName="formLabel")
        caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        form.addWidget(widget, row, 1)
        # As tall as a one-line field, so the caption lines up with the field's first line.
        caption.setFixedHeight(min(widget.sizeHint().height(), QLineEdit().sizeHint().height()))
        self._next_row[id(form)] = row + 1
        return row

    # --- building ---

    def add_field(
        self,
        key: str,
        label: str,
        widget: QWidget,
        check: Callable[[], Any] | None = None,
        *,
        form: QGridLayout | None = None,
        hint: str = "",
    ) -> QWidget:
        """Add `widget` under `label`; `check()` returns the clean value or raises FieldError."""
        form = form or self.form
        row = self.add_row(label, widget, form)
        if hint:
            form.addWidget(QLabel(hint, objectName="fieldHint", wordWrap=True), row + 1, 1)
            row += 1
        error = QLabel(objectName="fieldError", wordWrap=True)
        error.hide()
        form.addWidget(error, row + 1, 1)
        self._next_row[id(form)] = row + 2
        widget.setObjectName(f"field_{key}")
        self._fields[key] = _Field(key, widget, error, check)
        self._watch(key, widget)
        return widget

    def add_cross_check(self, key: str, check: Callable[[dict[str, Any]], None]) -> None:
        """A rule over several fields (e.g. end after start); its message goes under `key`."""
        self._cross_checks.append((key, check))

    def _watch(self, key: str, widget: QWidget) -> None:
        def edited(*_args) -> None:
            field = self._fields[key]
            field.touched = True
            field.server_error = ""
            self.validate()

        if isinstance(widget, (QLineEdit, QPlainTextEdit)):
            widget.textChanged.connect(edited)
        elif isinstance(widget, QComboBox):
            widget.currentTextChanged.connect(edited)
        elif isinstance(widget, QDateTimeEdit):
            widget.dateTimeChanged.connect(edited)
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(edited)
        elif hasattr(widget, "changed"):
            widget.changed.connect(edited)

    # --- checking ---

    def validate(self) -> bool:
        """Run every rule; show messages of touched fields; enable Save only when all pass."""
        values: dict[str, Any] = {}
        for field in self._fields.values():
            field.local_error = ""
            if field.check is None:
                field.value = None
                continue
            try:
                field.value = field.check()
            except FieldError as exc:
                field.local_error = str(exc)
                field.value = None
            values[field.key] = field.value
        for key, check in self._cross_checks:
            if self._fields[key].local_error:
                continue
            try:
                check(values)
            except FieldError as exc:
                self._fields[key].local_error = str(exc)
        ok = True
        for field in self._fields.values():
            message = field.local_error or field.server_error
            if message:
                ok = False
            shown = message if (field.touched or field.server_error) else ""
            field.error.setText(shown)
            field.error.setVisible(bool(shown))
            set_style_property(field.widget, "invalid", bool(shown))
        self.save_button.setEnabled(ok and not self._saving)
        self._fit()
        return ok

    def _fit(self) -> None:
        """Grow (never shrink) so every message shown fits, wrapped at the current width."""
        if not self.isVisible():
            return
        layout = self.layout()
        layout.activate()
        width = self.width()
        needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalSizeHint().height()
        if needed > self.height():
            self.resize(width, needed)

    def value(self, key: str) -> Any:
        return self._fields[key].value

    def error_text(self, key: str) -> str:
        """The message shown under a field ('' when none is shown)."""
        label = self._fields[key].error
        return label.text() if label.isVisibleTo(self) else ""

    def touch_all(self) -> None:
        for field in self._fields.values():
            field.touched = True
        self.validate()

    # --- saving ---

    def operation(self) -> tuple[Callable[[], Any], str | Callable[[Any], str]]:
        """(the service call to make with the form's values, its success message)."""
        raise NotImplementedError

    def save(self) -> None:
        if not self.validate():
            self.touch_all()
            return
        fn, message = self.operation()
        self._saving = True
        self.save_button.setEnabled(False)
        self.general_error.hide()
        ops.mutate(self, fn, self._saved, success_message=message, on_error=self._refused)

    def _saved(self, result: Any) -> None:
        self._saving = False
        self.saved.emit(result)
        self.accept()

    def _refused(self, exc: Exception) -> None:
        self._saving = False
        if isinstance(exc, ValidationError):
            elsewhere = []
            for key, message in exc.errors.items():
                field = self._fields.get(key)
                if field is None:
                    elsewhere.append(message)
                else:
                    field.server_error = message
            self.show_general_error(" ".join(elsewhere))
        elif isinstance(exc, ServiceError):
            self.show_general_error(str(exc))
        else:
            ops.show_error(self, exc)
        self.validate()

    def show_general_error(self, message: str) -> None:
        self.general_error.setText(message)
        self.general_error.setVisible(bool(message))
