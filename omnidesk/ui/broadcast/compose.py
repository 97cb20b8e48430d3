"""Composing a warning: the template (its identifier is never editable), the texts per language with a
live counter each, expiry and repetitions."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from omnidesk.broadcast import texts as texts_mod
from omnidesk.ui.widgets import humane, set_style_property

MAX_EXPIRY_MINUTES = 10_080  # a week: what the service accepts too


class LanguageText(QWidget):
    """One language: its code, the text, and what is left as it is typed."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, language: str, text: str, limit: int, parent: QWidget | None = None, *,
                 fixed_language: bool = False):
        super().__init__(parent)
        self.limit = limit
        self.language = QLineEdit(language, objectName="languageCode", maxLength=2, readOnly=fixed_language)
        self.language.setFixedWidth(44)
        self.language.setToolTip("Two-letter ISO 639-1 code: en, fr, ar …")
        self.text = QPlainTextEdit(text, objectName="warningText")
        self.text.setFixedHeight(84)
        self.counter = QLabel("", objectName="textCounter", wordWrap=True)
        self.notice = QLabel("", objectName="encodingNotice", wordWrap=True)
        self.notice.hide()
        top = QHBoxLayout()
        top.addWidget(QLabel("Language"))
        top.addWidget(self.language)
        top.addStretch(1)
        if not fixed_language:
            remove = QPushButton("Remove", objectName="removeLanguage")
            remove.setFlat(True)
            remove.clicked.connect(lambda: self.remove_requested.emit(self))
            top.addWidget(remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addLayout(top)
        layout.addWidget(self.text)
        layout.addWidget(self.counter)
        layout.addWidget(self.notice)
        self.language.textChanged.connect(self._recount)
        self.text.textChanged.connect(self._recount)
        self._recount()

    def _recount(self) -> None:
        c = texts_mod.count(self.language.text().strip().lower(), self.text.toPlainText(), self.limit)
        self.count = c
        if c.problems:
            self.counter.setText(" ".join(c.problems))
        else:
            self.counter.setText(f"{c.characters} characters · {c.alphabet} · page {c.pages} of 15 · "
                                 f"{c.characters_left} characters left (console limit {c.console_limit})")
        set_style_property(self.counter, "problem", bool(c.problems))
        self.notice.setText(c.notice)
        self.notice.setVisible(bool(c.notice))
        self.changed.emit()

    def value(self) -> dict[str, str]:
        return {"language": self.language.text().strip().lower(), "text": self.text.toPlainText()}


class LanguageList(QWidget):
    """A message's texts, one LanguageText each; with `fixed_languages` (an update of a message already
    out) the texts change but the languages do not."""

    changed = Signal()

    def __init__(self, limit: int = texts_mod.DEFAULT_TEXT_LIMIT, parent: QWidget | None = None, *,
                 fixed_languages: bool = False):
        super().__init__(parent)
        self.limit = limit
        self.fixed_languages = fixed_languages
        self.editors: list[LanguageText] = []
        self._box = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._box)
        if not fixed_languages:
            add = QPushButton("Add language", objectName="addLanguage")
            add.clicked.connect(lambda: self.add("", ""))
            row = QHBoxLayout()
            row.addWidget(add)
            row.addStretch(1)
            layout.addLayout(row)

    def set_texts(self, texts: list[dict[str, str]]) -> None:
        for editor in list(self.editors):
            self.remove(editor)
        for item in texts:
            self.add(item["language"], item["text"])

    def add(self, language: str, text: str) -> LanguageText:
        editor = LanguageText(language, text, self.limit, fixed_language=self.fixed_languages)
        editor.changed.connect(self.changed)
        editor.remove_requested.connect(self.remove)
        self.editors.append(editor)
        self._box.addWidget(editor)
        return editor

    def remove(self, editor: LanguageText) -> None:
        self.editors.remove(editor)
        editor.setParent(None)
        editor.deleteLater()
        self.changed.emit()

    def editor(self, language: str) -> LanguageText:
        return next(e for e in self.editors if e.value()["language"] == language)

    def problems(self) -> list[str]:
        found = [p for editor in self.editors for p in editor.count.problems]
        return found or ([] if self.editors else ["A message needs a text in at least one language."])

    def values(self) -> list[dict[str, str]]:
        return [e.value() for e in self.editors]


class ComposeForm(QWidget):
    """`set_templates(list)` then the operator picks one; `values()` is what create_message takes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.templates: list = []
        self.limit = texts_mod.DEFAULT_TEXT_LIMIT
        self.template = QComboBox(objectName="templateChoice")
        self.template.setPlaceholderText("Choose a template")
        self.identifier = QLabel("—", objectName="messageIdentifier")
        self.identifier.setToolTip("Set by the template; operators cannot change it")
        self.category = QLabel("—", objectName="messageCategory")
        self.expiry = QSpinBox(objectName="expiryMinutes", minimum=1, maximum=MAX_EXPIRY_MINUTES, suffix=" min")
        self.repetitions = QSpinBox(objectName="repetitions", minimum=0, maximum=65535)
        self.repetitions.setSpecialValueText("until stopped or expired")
        self.period = QSpinBox(objectName="repetitionPeriod", minimum=1, maximum=4095, suffix=" s")
        self.texts = LanguageList(self.limit)
        self.texts.changed.connect(self.changed)
        form = QFormLayout()
        form.addRow("Template", self.template)
        form.addRow("Message identifier", self.identifier)
        form.addRow("Category", self.category)
        form.addRow("Expires after", self.expiry)
        form.addRow("Broadcasts", self.repetitions)
        form.addRow("Every", self.period)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.texts)
        layout.addStretch(1)
        self.template.currentIndexChanged.connect(self._template_chosen)

    def set_templates(self, templates: list, limit: int) -> None:
        self.templates, self.limit = templates, limit
        self.texts.limit = limit
        self.template.blockSignals(True)
        self.template.clear()
        for t in templates:
            scenario = humane(t.scenario)
            self.template.addItem(t.name if scenario.lower() == t.name.lower() else f"{t.name} ({scenario})", t.id)
        self.template.setCurrentIndex(-1)
        self.template.blockSignals(False)

    def choose(self, name: str) -> None:
        for i, t in enumerate(self.templates):
            if t.name == name:
                self.template.setCurrentIndex(i)

    def _template_chosen(self, index: int) -> None:
        if not 0 <= index < len(self.templates):
            return
        t = self.templates[index]
        self.identifier.setText(str(t.message_identifier))
        self.category.setText(humane(t.category))
        self.expiry.setValue(t.expiry_minutes or 60)
        self.repetitions.setValue(t.number_of_broadcasts)
        self.period.setValue(t.repetition_period)
        self.texts.set_texts(t.texts)
        self.changed.emit()

    @property
    def languages(self) -> list[LanguageText]:
        return self.texts.editors

    @property
    def template_id(self) -> int | None:
        return self.template.currentData()

    def problems(self) -> list[str]:
        """What stops this message going out, as the counters say it (the service checks again)."""
        if self.template_id is None:
            return ["Choose a template."]
        return self.texts.problems()

    def values(self) -> dict:
        return {"template": self.template_id, "texts": self.texts.values(),
                "expiry_minutes": self.expiry.value(), "repetitions": self.repetitions.value(),
                "repetition_period": self.period.value()}


__all__ = ["ComposeForm", "LanguageList", "LanguageText"]
