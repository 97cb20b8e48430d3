"""Start the desktop application: show the window at once, open the database behind it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from omnidesk.ui import ops
from omnidesk.ui.main_window import MainWindow

STYLESHEET = Path(__file__).resolve().parents[2] / "resources" / "omnidesk.qss"
EXIT_WHEN_READY = "OMNIDESK_EXIT_WHEN_READY"


def apply_stylesheet(app: QApplication) -> None:
    app.setStyle("Fusion")
    try:
        app.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
    except OSError:
        pass  # an installed copy without resources/ still works, in the plain Fusion look


def connect(settings):
    """On a worker thread: open (and if needed start, upgrade) the database and load who we act as."""
    from omnidesk.auth import builtin_admin
    from omnidesk.db import open_database

    db = open_database(settings)
    actor = builtin_admin(db)
    import omnidesk.ui.customers.workspace  # noqa: F401  (load the screens' modules off the GUI thread too)
    import omnidesk.ui.inventory.workspace  # noqa: F401
    import omnidesk.ui.live  # noqa: F401
    import omnidesk.ui.products.workspace  # noqa: F401
    import omnidesk.ui.services.renewals  # noqa: F401

    return db, actor


def _process_age_ms() -> float:
    """Milliseconds since this process started, interpreter start-up included (10 ms resolution on Linux)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as uptime:
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return (float(uptime.read().split()[0]) - started_ticks / os.sysconf("SC_CLK_TCK")) * 1000
    except (OSError, ValueError, IndexError):
        import psutil

        return (time.time() - psutil.Process().create_time()) * 1000


def run_gui(argv: list[str], settings) -> int:
    """Run the GUI until its window closes; returns the process exit code.

    With OMNIDESK_EXIT_WHEN_READY=1 it prints how long the start took and quits as soon as the
    main window shows its first customers (for benchmarks/cold_start.py).
    """
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("OmniDesk")
    app.setApplicationDisplayName("OmniDesk")
    apply_stylesheet(app)
    window = MainWindow(profile=settings.profile)
    window.show()
    shown_ms = _process_age_ms()
    exit_when_ready = os.environ.get(EXIT_WHEN_READY) == "1"
    outcome = {"code": 0}

    def ready() -> None:
        print(f"ready after {_process_age_ms():.0f} ms (window shown after {shown_ms:.0f} ms)", flush=True)
        app.exit(0)

    def connected(result) -> None:
        db, actor = result
        window.attach(db, actor)
        if exit_when_ready:
            window.customers.first_rows_shown.connect(ready)

    def failed(exc: Exception) -> None:
        from omnidesk.db.embedded import EmbeddedServerError
        from omnidesk.db.engine import SchemaOutdated, SchemaTooNew

        outcome["code"] = 1
        if isinstance(exc, SchemaTooNew):
            title = "This database is newer than this OmniDesk"
        else:
            title = "The database could not be opened"
        # These say what happened and what to do in words meant for the user: show them as written.
        as_is = isinstance(exc, (SchemaTooNew, SchemaOutdated, EmbeddedServerError))
        text, informative = ops.error_text(exc, as_is=as_is)
        window.show_startup_message(title, text if not informative else f"{text}: {informative}")
        if exit_when_ready:
            print(f"{title}: {exc}", file=sys.stderr, flush=True)
            app.exit(1)
            return
        box = ops.show_error(window, exc, title=title, application_modal=True, as_is=as_is)
        box.finished.connect(lambda _r: app.exit(1))

    ops.query(window, lambda: connect(settings), connected, failed)
    code = app.exec()
    window.shutdown(wait=False)
    ops.shutdown()
    if window.db is not None:
        window.db.dispose()
    return code or outcome["code"]


__all__ = ["run_gui"]
