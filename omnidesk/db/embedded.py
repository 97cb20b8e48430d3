"""The embedded PostgreSQL a single workstation runs, started from the pgserver wheel's binaries."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "omnidesk"


class EmbeddedServerError(Exception):
    """The embedded PostgreSQL could not be started; the message says where to look."""


def embedded_url(data_dir: Path, *, database: str = DATABASE_NAME, keep_running: bool = True) -> str:
    """Start (or reuse) the embedded server whose cluster lives in `data_dir/pgdata`.

    The server is left running when OmniDesk exits (`keep_running`), so the next start reuses it
    and opens in well under a second; `omnidesk db stop` stops it.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (no login session) and falls back to /tmp.
        warnings.simplefilter("ignore")
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir / "pgdata"
        try:
            server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        except Exception as exc:  # pgserver raises CalledProcessError/TimeoutExpired/AssertionError
            logfile = pgdata / "log"
            raise EmbeddedServerError(
                f"The embedded PostgreSQL in {pgdata} did not start ({exc.__class__.__name__}: {exc}). "
                f"Its log is {logfile}."
            ) from exc
    _require_staff_passwords(server, pgdata)
    _ensure_database(server, database)
    return _sqlalchemy_url(server.get_uri(database))


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, as in embedded_url
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo

        pgdata = (data_dir / "pgdata").resolve()
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        if info is None or not info.is_running():
            return False
        system_user = "pgserver" if _is_root() else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=system_user)
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL in {pgdata} did not stop ({exc}). Its log is {pgdata / 'log'}."
            ) from exc
    return True


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


HBA_MARKER = "# OmniDesk: staff logins prove a SCRAM password"
HBA = f"""{HBA_MARKER}; the cluster owner (postgres) connects without one over
# the private socket in this folder, which only the workstation's own account can reach.
local   all   postgres                 trust
local   all   all                      scram-sha-256
host    all   all      127.0.0.1/32    scram-sha-256
host    all   all      ::1/128         scram-sha-256
"""


def _require_staff_passwords(server, pgdata: Path) -> None:
    """pgserver's clusters trust every local connection; staff login roles must give their password.

    Rewrites pg_hba.conf once per cluster, reloads, and waits until the server applies it (a
    password-less login as a role that does not exist stops being "role does not exist").
    """
    import time

    import psycopg

    hba = pgdata / "pg_hba.conf"
    if hba.read_text(encoding="utf-8").startswith(HBA_MARKER):
        return
    hba.write_text(HBA, encoding="utf-8")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    probe = server.get_uri("postgres").replace("postgresql://postgres", "postgresql://omnidesk_hba_probe", 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            psycopg.connect(probe, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                return
        time.sleep(0.05)
    raise EmbeddedServerError(f"The embedded PostgreSQL in {pgdata} did not apply {hba} within 10 s.")


def _ensure_database(server, database: str) -> None:
    import psycopg

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            log.info("creating database %s", database)
            # Byte-order collation lets PostgreSQL compare text without the C library (the trigram
            # index builds about a fifth faster); C.UTF-8 character classes keep lower() and upper()
            # right for non-ASCII names.
            conn.execute(
                f'CREATE DATABASE "{database}" TEMPLATE template0 ENCODING \'UTF8\' '
                "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
            )


def _sqlalchemy_url(uri: str) -> str:
    return "postgresql+psycopg://" + uri.split("://", 1)[1]
