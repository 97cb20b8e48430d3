"""Start the desktop application: show the window at once, open the database behind it."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QApplication

from omnidesk.ui import ops
from omnidesk.ui.main_window import MainWindow

STYLESHEET = Path(__file__).resolve().parents[2] / "resources" / "omnidesk.qss"
EXIT_WHEN_READY = "OMNIDESK_EXIT_WHEN_READY"
USERNAME_ENV = "OMNIDESK_USERNAME"  # with EXIT_WHEN_READY only: who the benchmark signs in as
PASSWORD_ENV = "OMNIDESK_PASSWORD"


def apply_stylesheet(app: QApplication) -> None:
    app.setStyle("Fusion")
    try:
        app.setStyleSheet(STYLESHEET.read_text(encoding="utf-8"))
    except OSError:
        pass  # an installed copy without resources/ still works, in the plain Fusion look


@dataclass(frozen=True)
class Workstation:
    """What the login dialog needs about the database this workstation uses."""

    url: str  # the configured URL; signing in replaces its user and password with the staff member's
    server: str  # how the dialog and the status bar name it
    role_suffix: str
    first_admin: tuple[str, str] | None = None  # (username, temporary password) when just created


def connect(settings) -> Workstation:
    """On a worker thread: open (and if needed start, upgrade) the database, as its owner, and find
    how staff sign in to it. On the embedded database the built-in administrator gets a login the
    first time (its temporary password goes to the terminal, once). The owner connection is closed:
    the window shows data only to a signed-in staff member.
    """
    from sqlalchemy import text

    from omnidesk.auth import users
    from omnidesk.db import open_database

    db = open_database(settings)
    try:
        first_admin = None
        if settings.database_url is None and not users.builtin_admin_has_login(db):
            _login, password = users.init_admin(db)
            first_admin = ("admin", password)
        with db.read() as s:
            suffix = s.scalar(text("SELECT role_suffix FROM security_config"))
        workstation = Workstation(db.url, db.display_name, suffix, first_admin)
    finally:
        db.dispose()
    import omnidesk.auth.session  # noqa: F401  (load sign-in and the screens' modules off the GUI thread too)
    import omnidesk.ui.auth.login  # noqa: F401
    import omnidesk.ui.billing.workspace  # noqa: F401
    import omnidesk.ui.broadcast.workspace  # noqa: F401  (Python modules only; no WebEngine object is made here)
    import omnidesk.ui.customers.workspace  # noqa: F401
    import omnidesk.ui.inventory.workspace  # noqa: F401
    import omnidesk.ui.live  # noqa: F401
    import omnidesk.ui.products.workspace  # noqa: F401
    import omnidesk.ui.services.renewals  # noqa: F401

    return workstation


def announce_first_admin(username: str, password: str) -> str:
    """The lines printed once on the terminal when a new embedded database's administrator is created."""
    text = (
        "\nOmniDesk: this new database's administrator can now sign in (shown once, not stored):\n"
        f"  username: {username}\n"
        f"  password: {password}\n"
        "  This password is temporary: the first sign-in asks for a new one, then sets up two-factor\n"
        "  authentication with an authenticator app. Lost it? `omnidesk user reset-password admin`.\n"
    )
    print(text, flush=True)
    return text


def _process_age_ms() -> float:
    """Milliseconds since this process started, interpreter start-up included (10 ms resolution on Linux)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as uptime:
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return (float(uptime.read().split()[0]) - started_ticks / os.sysconf("SC_CLK_TCK")) * 1000
    except (OSError, ValueError, IndexError):
        import psutil

        return (time.time() - psutil.Process().create_time()) * 1000


class Launcher:
    """The window first, then the database (on a worker), then the login dialog; after sign-in the
    workspaces attach as the signed-in staff member. Sign out ends the session and asks again."""

    def __init__(self, app: QApplication, settings, *, exit_when_ready: bool = False, quit=None):
        self.app, self.settings, self.exit_when_ready = app, settings, exit_when_ready
        self.quit = quit or app.exit  # tests pass their own: exit() with no event loop upsets the next test
        self.workstation: Workstation | None = None
        self.window = MainWindow(profile=settings.profile, map_tile_url=settings.map_tile_url)
        self.login = None
        self.outcome = 0
        self._watching = False  # for errors that mean the database ended the session

    def start(self) -> None:
        self.window.show()
        ops.query(self.window, lambda: connect(self.settings), self.connected, self.failed)

    def connected(self, workstation: Workstation) -> None:
        self.workstation = workstation
        self.window.database_label.setText(f"Database: {workstation.server}")
        if workstation.first_admin is None:
            self.ask_to_sign_in()
            return
        username, password = workstation.first_admin
        announce_first_admin(username, password)
        self.ask_to_sign_in(f"This database is new. Sign in as “{username}” with the temporary password printed in "
                            "the terminal that started OmniDesk.")
        self.login.username.setText(username)
        self.login.password.setFocus()

    def ask_to_sign_in(self, notice: str = "") -> None:
        from omnidesk.ui.auth.login import LoginDialog

        ws = self.workstation
        self.window.show_startup_message("Sign in to see customers", "Sign in with your OmniDesk username and password.")
        self.window.database_label.setText(f"Database: {ws.server}")
        self.login = LoginDialog(ws.url, ws.server, ws.role_suffix, self.window, notice=notice)
        self.login.signed_in.connect(self.signed_in)
        self.login.rejected.connect(lambda: self.quit(self.outcome))
        self.login.open()
        if self.exit_when_ready:
            self._sign_in_from_environment()

    def _sign_in_from_environment(self) -> None:
        """For benchmarks only (with OMNIDESK_EXIT_WHEN_READY=1): the dialog filled from
        OMNIDESK_USERNAME and OMNIDESK_PASSWORD and submitted, as a person would."""
        username, password = os.environ.get(USERNAME_ENV, ""), os.environ.get(PASSWORD_ENV, "")
        if not username or not password:
            print(f"{EXIT_WHEN_READY}=1 needs {USERNAME_ENV} and {PASSWORD_ENV} to sign in", file=sys.stderr, flush=True)
            self.quit(1)
            return
        self.login.username.setText(username)
        self.login.password.setText(password)
        self.login.submit_password()

    def signed_in(self, session) -> None:
        self.login = None
        self.window.attach(session.db, session.actor, session=session)
        self.window.sign_out_requested.connect(lambda: self.sign_out())
        ops.tracker().error_shown.connect(self._error_shown)
        self._watching = True
        if self.exit_when_ready:
            self.window.customers.first_rows_shown.connect(self.ready)

    def ready(self) -> None:
        print(f"ready after {_process_age_ms():.0f} ms (window shown after {self.shown_ms:.0f} ms)", flush=True)
        self.quit(0)

    def _error_shown(self, _text: str) -> None:
        """After any error: if it was because the database ended the session, ask to sign in again."""
        session = self.window.session
        if session is None or self.login is not None:
            return
        ops.query(self.window, session.still_open,
                  lambda open_: None if open_ or self.window.session is not session else self.session_ended(),
                  lambda _exc: None)

    def stop_watching(self) -> None:
        if self._watching:
            self._watching = False
            ops.tracker().error_shown.disconnect(self._error_shown)

    def session_ended(self) -> None:
        self.sign_out(notice="Your session has ended (8 hours without activity, or an administrator reset or "
                             "locked your account). Sign in again to continue.")

    def sign_out(self, notice: str = "") -> None:
        """End the session in the database, close the window and open a fresh one with the login dialog."""
        self.stop_watching()
        old, session = self.window, self.window.session
        old.shutdown(wait=False)
        if session is not None:
            end_session(session, handed_to_runner=old.session_handed_to_runner)
        self.window = MainWindow(profile=self.settings.profile, map_tile_url=self.settings.map_tile_url)
        self.window.setGeometry(old.geometry())
        self.window.show()
        old.db = None
        old.close()
        old.deleteLater()
        self.ask_to_sign_in(notice)

    def failed(self, exc: Exception) -> None:
        from omnidesk.db.embedded import EmbeddedServerError
        from omnidesk.db.engine import SchemaOutdated, SchemaTooNew

        self.outcome = 1
        window = self.window
        if isinstance(exc, SchemaTooNew):
            title = "This database is newer than this OmniDesk"
        else:
            title = "The database could not be opened"
        # These say what happened and what to do in words meant for the user: show them as written.
        as_is = isinstance(exc, (SchemaTooNew, SchemaOutdated, EmbeddedServerError))
        text, informative = ops.error_text(exc, as_is=as_is)
        window.show_startup_message(title, text if not informative else f"{text}: {informative}")
        if self.exit_when_ready:
            print(f"{title}: {exc}", file=sys.stderr, flush=True)
            self.quit(1)
            return
        box = ops.show_error(window, exc, title=title, application_modal=True, as_is=as_is)
        box.finished.connect(lambda _r: self.quit(1))


def end_session(session, *, handed_to_runner: bool) -> None:
    """Sign out in the background; when the provisioning runner still has jobs it ends the session
    after them, and this only lets go of the window's own connections."""
    ops.query(None, session.db.dispose if handed_to_runner else session.sign_out, None, lambda _exc: None)


def run_gui(argv: list[str], settings) -> int:
    """Run the GUI until its window closes; returns the process exit code.

    With OMNIDESK_EXIT_WHEN_READY=1 it signs in as OMNIDESK_USERNAME / OMNIDESK_PASSWORD (a user
    who needs no second factor), prints how long the start took and quits as soon as the main
    window shows its first customers (for benchmarks/cold_start.py).
    """
    if QApplication.instance() is None:
        from omnidesk.ui.webengine import prepare_process

        prepare_process()  # the broadcast map's WebEngine: settled before the application exists
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("OmniDesk")
    app.setApplicationDisplayName("OmniDesk")
    apply_stylesheet(app)
    launcher = Launcher(app, settings, exit_when_ready=os.environ.get(EXIT_WHEN_READY) == "1")
    launcher.start()
    launcher.shown_ms = _process_age_ms()
    code = app.exec()
    launcher.stop_watching()
    window = launcher.window
    session = window.session
    window.shutdown(wait=False)
    if launcher.login is not None:
        launcher.login.reject()
    if session is not None:  # the session ends with the application, not 8 hours later
        end_session(session, handed_to_runner=window.session_handed_to_runner)
    ops.shutdown()  # waits a little for operations still running, the sign-out among them
    if session is None and window.db is not None:
        window.db.dispose()
    return code or launcher.outcome


__all__ = ["Launcher", "Workstation", "connect", "run_gui"]
