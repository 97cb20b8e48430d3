"""What Qt WebEngine (the broadcast map) needs settled before the QApplication exists."""

from __future__ import annotations

import os

from PySide6.QtCore import QCoreApplication, Qt


def prepare_process() -> None:
    """Call once before creating the QApplication.

    Chromium refuses to start as root with its sandbox on (kiosk terminals and containers run
    as root); as an ordinary user the sandbox stays on. WebEngine also needs shared OpenGL
    contexts, which can only be asked for before the application object exists.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
