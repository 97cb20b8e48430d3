"""The Broadcast workspace's compose side: the template list, and the form that turns a template into a
draft — texts per language with their live counters, expiry, repetitions — and submits it with the
creator's authenticator code. The targeting map comes later; until then a saved zone or all cells.

Counting runs on the GUI thread (pure Python, microseconds, omnidesk/broadcast/texts.py); everything
that touches the database goes through ops.query / ops.mutate.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from omnidesk.broadcast import service as bs
from omnidesk.broadcast import texts as texts_mod
from omnidesk.ui import ops

# Common ISO 639-1 codes first; the box is editable for any other two-letter code.
LANGUAGES = ("en", "fr", "es", "pt", "ar", "sw", "de", "it", "nl", "ru", "zh", "hi", "tr", "pl", "el")
COUNTER_OK = "color: #57606a;"
COUNTER_LOW = "color: #9a6700; font-weight: 600;"
COUNTER_BAD = "color: #cf222e; font-weight: 600;"
STYLE = """
QLabel#identifierValue { font-family: "DejaVu Sans Mono", monospace; font-weight: 600; color: #24292f; }
QLabel#encodingNotice { color: #7d4e00; background: #fff8c5; border: 1px solid #d4a72c; border-radius: 4px;
                        padding: 4px 6px; }
QLabel#languageProblem { color: #cf222e; }
QLabel#targetNote { color: #24292f; background: #ddf4ff; border: 1px solid #54aeff; border-radius: 4px;
                    padding: 6px 8px; }
QLabel#composeStatus { color: #1a7f37; font-weight: 600; }
QFrame#languageBox { background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px; }
QLabel#paneTitle { font-size: 15px; font-weight: 600; color: #24292f; }
QListWidget#templateList::item { padding: 7px 6px; border-bottom: 1px solid #eaeef2; }
QListWidget#templateList::item:selected { background: #ddf4ff; color: #1f2328; }
"""


class LanguageEditor(QFrame):
    """One language of the message: its code, its text, and what is left as the operator types."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, language: str = "en", text: str = "", limit: int = texts_mod.DEFAULT_TEXT_LIMIT,
                 parent: QWidget | None = None):
        super().__init__(parent, objectName="languageBox")
        self.limit = limit
        self.language = QComboBox(objectName="languageCode", editable=True)
        self.language.addItems(LANGUAGES)
        self.language.setCurrentText(language)
        self.language.setFixedWidth(80)
        self.text = QPlainTextEdit(objectName="languageText")
        self.text.setPlaceholderText("The warning as people will read it: short, specific, what to do.")
        self.text.setFixedHeight(84)
        self.text.setPlainText(text)
        self.counter = QLabel(objectName="languageCounter")
        self.notice = QLabel(objectName="encodingNotice", wordWrap=True)
        self.problem = QLabel(objectName="languageProblem", wordWrap=True)
        self.remove = QPushButton("Remove", objectName="dangerButton")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))

        top = QHBoxLayout()
        top.addWidget(QLabel("Language"))
        top.addWidget(self.language)
        top.addStretch(1)
        top.addWidget(self.counter)
        top.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(top)
        layout.addWidget(self.text)
        layout.addWidget(self.notice)
        layout.addWidget(self.problem)
        self.language.currentTextChanged.connect(self._recount)
        self.text.textChanged.connect(self._recount)
        self._recount()

    def value(self) -> dict[str, str]:
        return {"language": self.language.currentText().strip().lower(), "text": self.text.toPlainText()}

    def set_limit(self, limit: int) -> None:
        self.limit = limit
        self._recount()

    def _recount(self) -> None:
        value = self.value()
        self.count = texts_mod.count(value["language"], value["text"], self.limit)
        c = self.count
        self.counter.setText(f"{c.alphabet} · {c.pages} of 15 pages · {c.characters_left:,} characters left "
                             f"({c.characters}/{c.console_limit})")
        left = c.characters_left
        self.counter.setStyleSheet(COUNTER_BAD if left < 0 else COUNTER_LOW if left < 40 else COUNTER_OK)
        self.notice.setText(c.notice)
        self.notice.setVisible(bool(c.notice))
        shown = [p.split(": ", 1)[-1] for p in c.problems if value["text"] or "empty" not in p]
        self.problem.setText(" ".join(shown))
        self.problem.setVisible(bool(shown))
        self.changed.emit()


class ComposePane(QWidget):
    """Template list on the left, the draft's form on the right."""

    draft_created = Signal(object)  # bs.Message
    submitted = Signal(object)

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent, objectName="broadcastCompose")
        self.db, self.actor = db, actor
        self.setStyleSheet(STYLE)
        self.templates: list[bs.Template] = []
        self.template: bs.Template | None = None
        self.limit = texts_mod.DEFAULT_TEXT_LIMIT
        self.draft: bs.Message | None = None
        self.editors: list[LanguageEditor] = []

        self.template_list = QListWidget(objectName="templateList")
        self.template_list.currentRowChanged.connect(self._template_chosen)
        left = QVBoxLayout()
        left.addWidget(QLabel("Templates", objectName="paneTitle"))
        left.addWidget(self.template_list, 1)
        left_box = QWidget()
        left_box.setLayout(left)

        self.title = QLabel("Pick a template", objectName="paneTitle")
        self.identifier = QLabel("—", objectName="identifierValue")
        self.identifier.setToolTip("Set by the template (3GPP TS 23.041); the operator never types it.")
        self.category = QLabel("—")
        self.period = QLabel("—")
        self.expiry = QSpinBox(objectName="expiryMinutes", minimum=1, maximum=bs.MAX_EXPIRY_MINUTES, suffix=" min")
        self.repetitions = QSpinBox(objectName="repetitions", minimum=0, maximum=65535)
        self.repetitions.setSpecialValueText("until stopped or expired")
        self.zone = QComboBox(objectName="zoneChoice")
        self.zone.addItem("All cells (no target)", None)
        self.zone.currentIndexChanged.connect(self._target_changed)
        self.target_note = QLabel(bs.ALL_CELLS, objectName="targetNote", wordWrap=True)
        for field in (self.expiry, self.repetitions):
            field.setMaximumWidth(220)
        self.zone.setMaximumWidth(420)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Message identifier", self.identifier)
        form.addRow("Category", self.category)
        form.addRow("Repetition period", self.period)
        form.addRow("Expires after", self.expiry)
        form.addRow("Repetitions", self.repetitions)
        form.addRow("Target", self.zone)

        self.languages_box = QVBoxLayout()
        self.languages_box.setSpacing(8)
        self.add_language = QPushButton("Add language", objectName="addLanguage")
        self.add_language.clicked.connect(lambda: self._add_editor(self._next_language(), ""))

        self.create = QPushButton("Create draft", objectName="primaryButton")
        self.create.clicked.connect(self._create)
        self.code = QLineEdit(objectName="totpCode", maxLength=7)
        self.code.setPlaceholderText("6-digit code")
        self.code.setFixedWidth(120)
        self.submit = QPushButton("Submit for approval", objectName="submitButton")
        self.submit.clicked.connect(self._submit)
        self.status = QLabel("", objectName="composeStatus", wordWrap=True)
        actions = QHBoxLayout()
        actions.addWidget(self.create)
        actions.addStretch(1)
        actions.addWidget(QLabel("Your authenticator code"))
        actions.addWidget(self.code)
        actions.addWidget(self.submit)

        body = QVBoxLayout()
        body.addWidget(self.title)
        body.addLayout(form)
        body.addWidget(self.target_note)
        body.addWidget(QLabel("Texts", objectName="formSection"))
        body.addLayout(self.languages_box)
        body.addWidget(self.add_language, 0, Qt.AlignmentFlag.AlignLeft)
        body.addStretch(1)
        body.addWidget(self.status)
        body.addLayout(actions)
        inner = QWidget()
        inner.setLayout(body)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(inner)

        splitter = QSplitter()
        splitter.addWidget(left_box)
        splitter.addWidget(scroll)
        splitter.setSizes([260, 760])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)
        self._refresh_buttons()

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        db, actor = self.db, self.actor

        def read():
            return (bs.list_templates(db, actor), bs.get_settings(db, actor), bs.list_zones(db, actor))

        ops.query(self, read, self._loaded)

    def _loaded(self, result) -> None:
        templates, settings, zones = result
        self.templates, self.limit = templates, settings.text_limit
        self.template_list.clear()
        for t in templates:
            item = QListWidgetItem(f"{t.name}  ·  {t.message_identifier}")
            item.setToolTip(f"{t.scenario.replace('_', ' ')}: identifier {t.message_identifier}, "
                            f"{t.category}, languages " + ", ".join(x["language"] for x in t.texts))
            self.template_list.addItem(item)
        while self.zone.count() > 1:
            self.zone.removeItem(1)
        for z in zones:
            self.zone.addItem(f"{z.name} ({z.shape.describe()})", z.name)
        if templates and self.template_list.currentRow() < 0:
            self.template_list.setCurrentRow(0)

    # ---------------------------------------------------------------- the form

    def _template_chosen(self, row: int) -> None:
        if row < 0 or row >= len(self.templates):
            return
        t = self.template = self.templates[row]
        self.draft = None
        self.title.setText(f"New message from “{t.name}”")
        self.identifier.setText(f"{t.message_identifier}  (from the template)")
        self.category.setText(t.category)
        self.period.setText(f"every {t.repetition_period} s")
        self.expiry.setValue(t.expiry_minutes or 60)
        self.repetitions.setValue(t.number_of_broadcasts)
        for editor in list(self.editors):
            self._remove_editor(editor)
        for x in t.texts:
            self._add_editor(x["language"], x["text"])
        self.status.setText("")
        self._refresh_buttons()

    def _next_language(self) -> str:
        used = {e.value()["language"] for e in self.editors}
        return next((code for code in LANGUAGES if code not in used), "")

    def _add_editor(self, language: str, text: str) -> LanguageEditor:
        editor = LanguageEditor(language, text, self.limit)
        editor.changed.connect(self._refresh_buttons)
        editor.remove_requested.connect(self._remove_editor)
        self.languages_box.addWidget(editor)
        self.editors.append(editor)
        self._refresh_buttons()
        return editor

    def _remove_editor(self, editor: LanguageEditor) -> None:
        self.editors.remove(editor)
        editor.setParent(None)
        editor.deleteLater()
        self._refresh_buttons()

    def _target_changed(self) -> None:
        zone = self.zone.currentData()
        self.target_note.setText(bs.ALL_CELLS if zone is None else f"Saved zone “{zone}”: the cells inside it.")

    def problems(self) -> list[str]:
        out = [p for e in self.editors for p in e.count.problems]
        if not self.editors:
            out.append("Add a text in at least one language.")
        languages = [e.value()["language"] for e in self.editors]
        if len(set(languages)) != len(languages):
            out.append("A language appears twice.")
        return out

    def _refresh_buttons(self) -> None:
        for editor in self.editors:
            editor.remove.setEnabled(len(self.editors) > 1)
        self.create.setEnabled(self.template is not None and self.draft is None and not self.problems()
                               and self.actor.can("create_cbc_message"))
        self.submit.setEnabled(self.draft is not None and self.draft.status == "draft")
        self.code.setEnabled(self.submit.isEnabled())

    # ---------------------------------------------------------------- actions

    def _create(self) -> None:
        db, actor, template = self.db, self.actor, self.template
        texts = [e.value() for e in self.editors]
        expiry, repetitions, zone = self.expiry.value(), self.repetitions.value(), self.zone.currentData()

        def create():
            return bs.create_message(db, actor, template=template.id, texts=texts, expiry_minutes=expiry,
                                     repetitions=repetitions, zone=zone)

        self.create.setEnabled(False)
        ops.mutate(self, create, self._created, on_error=self._failed)

    def _created(self, message: bs.Message) -> None:
        self.draft = message
        self.status.setText(f"Draft #{message.id} saved. Confirm it with your authenticator code to send it "
                            "for approval.")
        self._refresh_buttons()
        self.code.setFocus()
        self.draft_created.emit(message)

    def _submit(self) -> None:
        db, actor, draft, code = self.db, self.actor, self.draft, self.code.text().strip()

        def submit():
            return bs.submit(db, actor, draft.id, code)

        self.submit.setEnabled(False)
        ops.mutate(self, submit, self._submitted, on_error=self._failed)

    def _submitted(self, message: bs.Message) -> None:
        self.draft = message
        self.code.clear()
        waiting = message.status == "pending_approval"
        self.status.setText(f"Message #{message.id} "
                            + ("waits for a second user's approval (two-person rule)." if waiting
                               else "is approved; review it and transmit."))
        self._refresh_buttons()
        self.submitted.emit(message)

    def _failed(self, exc: Exception) -> None:
        self._refresh_buttons()
        ops.show_error(self, exc)
