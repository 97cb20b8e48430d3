"""The 10 backup codes on screen, with Copy and Print (to a printer or a PDF)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import QDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from omnidesk.auth import totp


class BackupCodesView(QWidget):
    """Shows the codes in two columns; Copy puts them on the clipboard, Print opens the print dialog."""

    def __init__(self, username: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.username = username
        self.codes: tuple[str, ...] = ()
        self.code_labels: list[QLabel] = []
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(36)
        self.grid.setVerticalSpacing(6)
        self.copy_button = QPushButton("Copy", objectName="copyCodes")
        self.copy_button.clicked.connect(self.copy)
        self.print_button = QPushButton("Print…", objectName="printCodes")
        self.print_button.clicked.connect(self.open_print_dialog)
        self.copied = QLabel("", objectName="fieldHint")
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.copied, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.grid)
        layout.addSpacing(8)
        layout.addLayout(buttons)

    def set_codes(self, codes) -> None:
        for label in self.code_labels:
            self.grid.removeWidget(label)
            label.deleteLater()
        self.codes = tuple(codes)
        self.code_labels = []
        half = (len(self.codes) + 1) // 2
        for i, code in enumerate(self.codes):
            label = QLabel(f"{i + 1:>2}.  {totp.format_backup_code(code)}", objectName="plusCode")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.grid.addWidget(label, i % half, i // half)
            self.code_labels.append(label)
        self.copied.setText("")

    def as_text(self) -> str:
        return "\n".join(totp.format_backup_code(c) for c in self.codes)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
        self.copied.setText("Copied. Paste them into your password manager.")

    def document(self) -> QTextDocument:
        rows = "".join(
            f"<tr><td style='padding:4px 24px 4px 0'>{i + 1}.</td>"
            f"<td style='font-family:monospace;font-size:14pt'>{html.escape(totp.format_backup_code(c))}</td></tr>"
            for i, c in enumerate(self.codes)
        )
        who = f" for <b>{html.escape(self.username)}</b>" if self.username else ""
        doc = QTextDocument()
        doc.setHtml(
            f"<h2>OmniDesk backup codes</h2><p>Two-factor backup codes{who}. Each code works once, in place of the "
            f"6-digit code from your authenticator app. Keep this page somewhere safe.</p><table>{rows}</table>"
        )
        return doc

    def print_to(self, printer) -> None:
        """Render the codes on `printer` (a QPrinter: paper, or PDF with setOutputFileName)."""
        self.document().print_(printer)

    def open_print_dialog(self):
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle("Print backup codes")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Kept alive by the dialog; "Print to File (PDF)" is one of the printers offered.
        dialog.accepted.connect(lambda p=printer: self.print_to(p))
        QDialog.open(dialog)  # QPrintDialog.open() in PySide6 wants a receiver; the plain QDialog one does not
        return dialog
