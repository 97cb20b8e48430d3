"""The Broadcast workspace: what the `broadcast` profile opens and the staff profile shows as a tab for
users holding the cbc permissions. For now its compose pane; the map, monitor and history follow."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from omnidesk.ui.broadcast.compose import ComposePane


class BroadcastWorkspace(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent, objectName="broadcastWorkspace")
        self.db, self.actor = db, actor
        self.compose = ComposePane(db, actor, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.compose)
        self.compose.load()
