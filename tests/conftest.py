"""Shared fixtures: one real embedded PostgreSQL per test run, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # without it Qt aborts the run on a headless machine

from omnidesk.ui.webengine import prepare_process  # noqa: E402

prepare_process()  # before pytest-qt makes the QApplication: the broadcast map's WebEngine needs it

import psycopg
import pytest

from omnidesk.auth import builtin_admin
from omnidesk.db.embedded import embedded_url
from omnidesk.db.engine import Database

TEMPLATE = "omnidesk_template"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_root() -> tuple[str, Path]:
    """Start a throwaway embedded server; yield (admin conninfo for 'postgres', data folder)."""
    folder = Path(tempfile.mkdtemp(prefix="omnidesk-test-"))
    os.chmod(folder, 0o755)
    url = embedded_url(folder, database=TEMPLATE, keep_running=True)
    template = Database(url)
    template.upgrade()
    template.dispose()
    admin_conninfo = template.raw_connection_string().rsplit("/", 1)
    base, query = admin_conninfo[0], admin_conninfo[1].split("?", 1)[1]
    yield f"{base}/postgres?{query}", folder
    from omnidesk.db.embedded import stop_embedded

    stop_embedded(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _database_url(admin_conninfo: str, name: str) -> str:
    base, query = admin_conninfo.split("/postgres?", 1)
    return f"{base}/{name}?{query}"


@pytest.fixture
def db(pg_root):
    """A fresh, migrated database (cloned from a template) for one test."""
    admin_conninfo, _ = pg_root
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    database = Database(_database_url(admin_conninfo, name))
    yield database
    database.dispose()
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # Staff login roles ("user@suffix") live in the cluster, not the database: every test
        # database is cloned from the template and shares its suffix, so they go with the test.
        logins = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE '%@%' AND rolname NOT LIKE 'omnidesk\\_%'"
        ).fetchall()
        for (role,) in logins:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def env(db, tmp_path, monkeypatch):
    """For CLI tests: the CLI pointed at the test database, with no config file and a private data folder."""
    monkeypatch.setenv("OMNIDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("OMNIDESK_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("OMNIDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OMNIDESK_PROFILE", raising=False)
    return db


@pytest.fixture
def admin(db):
    return builtin_admin(db)


@pytest.fixture
def settled_gui(db, qtbot):
    """For GUI tests: afterwards no background operation is left running and stray message boxes are closed."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from omnidesk.ui import inspection

    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox):
            widget.close()
