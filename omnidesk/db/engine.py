"""Engine, sessions and schema version for one OmniDesk database."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnidesk.errors import DatabaseUnavailable, SessionEnded, first_line

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaTooNew(Exception):
    """The database was migrated by a newer OmniDesk than this one."""


class SchemaOutdated(Exception):
    """The database needs `omnidesk db upgrade` before this OmniDesk can use it."""


def normalise_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _refused(exc: DBAPIError, consequence: str = "") -> None:
    """Re-raise what a unit of work hit as the ServiceError a user reads, where there is one:
    a staff session that ended (SQLSTATE ODS01, from row-level security) or a lost connection."""
    if getattr(exc.orig, "sqlstate", None) == "ODS01":
        raise SessionEnded(first_line(exc.orig, "Your session has ended; sign in again.")) from exc
    if isinstance(exc, OperationalError):
        raise DatabaseUnavailable(
            f"The database is not reachable ({first_line(exc.orig, 'connection lost')}){consequence}."
        ) from exc


class Database:
    """One PostgreSQL database: a pooled engine plus a session factory for units of work."""

    def __init__(self, url: str, *, application_name: str = "omnidesk", pool_size: int = 4):
        self.url = normalise_url(url)
        self.engine: Engine = create_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=4,
            connect_args={"application_name": application_name, "connect_timeout": 10},
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Set once a staff login has passed its second factor (omnidesk.auth.session): every
        # connection taken from the pool then carries that session, which the database's
        # row-level security requires before it shows or changes anything.
        self.session_token: str | None = None
        self.session_resume_seconds = 60.0
        event.listen(self.engine, "checkout", self._resume_staff_session)

    def _resume_staff_session(self, dbapi_connection, record, _proxy) -> None:
        token = self.session_token
        if token is None:
            return
        import time

        import psycopg

        # The session setting stays on the server connection, and the database checks the
        # session's expiry on every query anyway; a connection that resumed it within the last
        # minute skips the round trips (the resume is also what extends the inactivity timeout).
        resumed = record.info.get("omnidesk_session")
        if resumed is not None and resumed[0] == token and time.monotonic() - resumed[1] < self.session_resume_seconds:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT omnidesk_resume_session(%s)", (token,))
            dbapi_connection.commit()
            record.info["omnidesk_session"] = (token, time.monotonic())
        except psycopg.Error as exc:
            dbapi_connection.rollback()
            if getattr(exc, "sqlstate", None) == "ODS01":
                raise SessionEnded(first_line(exc, "Your session has ended; sign in again.")) from exc
            raise

    @property
    def display_name(self) -> str:
        u = self.engine.url
        host = u.query.get("host") or u.host or "localhost"
        if isinstance(host, tuple):
            host = host[0]
        where = "embedded" if str(host).startswith("/") else f"{host}:{u.port or 5432}"
        return f"{u.database} ({where})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, maps lost connections."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            _refused(exc, "; nothing was saved")
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (rolled back at the end)."""
        try:
            with self._sessions() as session:
                yield session
                session.rollback()
        except DBAPIError as exc:
            _refused(exc)
            raise

    def raw_connection_string(self) -> str:
        """A libpq connection string for psycopg (LISTEN connections, COPY)."""
        return self.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")

    # --- schema version ---

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def schema_state(self) -> tuple[str | None, str, str]:
        """(current revision, head revision, one of 'current' | 'outdated' | 'too_new' | 'empty')."""
        script = ScriptDirectory.from_config(alembic_config())
        head = script.get_current_head()
        current = self.schema_revision()
        if current is None:
            return current, head, "empty"
        if current == head:
            return current, head, "current"
        known = {rev.revision for rev in script.walk_revisions()}
        return current, head, "outdated" if current in known else "too_new"

    def upgrade(self) -> None:
        """Bring the schema to this version's head, in one transaction."""
        from alembic import command

        current, head, state = self.schema_state()
        if state == "too_new":
            raise SchemaTooNew(
                f"This database has schema {current}, which is newer than this OmniDesk (schema {head}). "
                "Install the newer OmniDesk that upgraded it; this one will not open it."
            )
        if state == "current":
            return
        cfg = alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("schema upgraded from %s to %s", current, head)

    def check_schema(self, *, upgrade: bool) -> None:
        current, head, state = self.schema_state()
        if state == "too_new":
            self.upgrade()  # raises SchemaTooNew with the full message
        if state in ("empty", "outdated"):
            if not upgrade:
                raise SchemaOutdated(f"The database schema is {current or 'empty'}; run `omnidesk db upgrade` to reach {head}.")
            self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()


def configured_database(settings=None, *, application_name: str = "omnidesk") -> Database:
    """The configured database (starting the embedded server when no URL is set), schema not checked."""
    from omnidesk.config import load_settings
    from omnidesk.db.embedded import embedded_url

    settings = settings or load_settings()
    return Database(settings.database_url or embedded_url(settings.data_dir), application_name=application_name)


def open_database(settings=None, *, upgrade: bool = True, application_name: str = "omnidesk") -> Database:
    """Open the configured database and make sure its schema fits."""
    db = configured_database(settings, application_name=application_name)
    db.check_schema(upgrade=upgrade)
    return db
