"""Benchmark: the database's own TOTP check (omnidesk/db/sql/totp.sql) and the SHA-1 under it (target: one check under 50 ms).

    .venv/bin/python benchmarks/totp_sql.py [--data-dir /tmp/omnidesk-bench] [--calls 200]

Needs only a PostgreSQL: the embedded server in the benchmark folder (started if it is not
running; the folder is made with demo_data.py's marker if it does not exist), or the server of
OMNIDESK_DATABASE_URL. The functions are loaded into a scratch schema inside one transaction that
is rolled back at the end, so nothing is left in the database.

Prints, for omnidesk_totp_matches with window 1 (three time steps, the login check): the round
trip from Python per call (p50 / p95 / max over --calls calls, each with a different time so
nothing is cached), and the server-side time per call from a loop inside one statement; then
HMAC-SHA1, HOTP, base32 decoding and backup-code hashing per call, and SHA-1 throughput.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pyotp
from sqlalchemy import text

from omnidesk.db.engine import Database

MARKER = ".omnidesk-benchmark"  # as benchmarks/demo_data.py, which may then wipe the folder
DEFAULT_DIR = Path("/tmp/omnidesk-bench")
TARGET_MS = 50.0


def connect(data_dir: Path) -> Database:
    url = os.environ.get("OMNIDESK_DATABASE_URL")
    if not url:
        from omnidesk.db.embedded import embedded_url

        if not data_dir.exists():
            data_dir.mkdir(parents=True)
            os.chmod(data_dir, 0o755)  # the embedded server may run as its own system user
            (data_dir / MARKER).write_text("made by benchmarks/totp_sql.py; benchmarks/demo_data.py may wipe it\n")
        url = embedded_url(data_dir, database="postgres")
    return Database(url)


def per_call(conn, query: str, params, count: int) -> list[float]:
    """Milliseconds of `count` round trips; params(i) gives each call's parameters."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        conn.execute(text(query), params(i)).scalar_one()
        times.append((time.perf_counter() - started) * 1000)
    return times


def server_side(conn, expression: str, count: int, **params) -> float:
    """Milliseconds per evaluation of `expression` (which may use i) inside one statement of `count` rows."""
    started = time.perf_counter()
    conn.execute(text(f"SELECT count({expression}) FROM generate_series(1, :n) AS i"), {"n": count, **params}).scalar_one()
    return (time.perf_counter() - started) * 1000 / count


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    parser.add_argument("--calls", type=int, default=200, help="round trips per measurement (default 200)")
    args = parser.parse_args(argv)

    db = connect(args.data_dir)
    secret = pyotp.random_base32(32)
    key = base64.b32decode(secret)
    totp = pyotp.TOTP(secret)
    start = 1_767_225_615  # 2026-01-01 00:00:15 UTC
    with db.engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        jit = conn.execute(text("SHOW jit")).scalar_one()
        conn.execute(text("CREATE SCHEMA omnidesk_totp_bench"))
        conn.execute(text("SET LOCAL search_path = omnidesk_totp_bench"))
        conn.execute(text(resources.files("omnidesk.db").joinpath("sql/totp.sql").read_text(encoding="utf-8")))
        print(f"PostgreSQL {version} ({db.display_name}), jit={jit}; load average {os.getloadavg()[0]:.2f}")

        check = "SELECT omnidesk_totp_matches(:k, :c, :at)"

        def instant(i: int) -> datetime:
            return datetime.fromtimestamp(start + 30 * i, timezone.utc)

        per_call(conn, check, lambda i: {"k": key, "c": "000000", "at": instant(i)}, 20)  # warm up
        right = per_call(conn, check, lambda i: {"k": key, "c": totp.at(start + 30 * i), "at": instant(i)}, args.calls)
        wrong = per_call(conn, check, lambda i: {"k": key, "c": "000000", "at": instant(i)}, args.calls)
        inside = server_side(conn, "omnidesk_totp_matches(:k, '000000', to_timestamp(:t + 30 * i))", args.calls,
                             k=key, t=start)
        verdict = "met" if statistics.median(right + wrong) < TARGET_MS else "NOT met"
        print(f"omnidesk_totp_matches, window 1 (3 steps), {args.calls} calls each (target: under {TARGET_MS:.0f} ms, {verdict}):")
        print(f"  right code, round trip:  {summary(right)}")
        print(f"  wrong code, round trip:  {summary(wrong)}")
        print(f"  in the server:           {inside:.3f} ms a call")

        print("per call in the server:")
        for label, expression in (
            ("omnidesk_hmac_sha1, 8-byte message", "omnidesk_hmac_sha1(:k, int8send(i))"),
            ("omnidesk_hotp", "omnidesk_hotp(:k, i)"),
            ("omnidesk_base32_decode, 32 chars", "omnidesk_base32_decode(:s || repeat(' ', i % 2))"),
            ("omnidesk_hash_backup_code", "omnidesk_hash_backup_code('ABCD-EFG' || chr(65 + i % 26), :k)"),
            ("omnidesk_sha1, 64 bytes", "omnidesk_sha1(:k || :k || :k || substr(int8send(i), 5))"),
        ):
            print(f"  {label + ':':38s}{server_side(conn, expression, args.calls, k=key, s=secret):.3f} ms")

        size = 1 << 20
        started = time.perf_counter()
        conn.execute(text("SELECT omnidesk_sha1(convert_to(repeat('a', :n), 'UTF8'))"), {"n": size}).scalar_one()
        seconds = time.perf_counter() - started
        print(f"omnidesk_sha1 of 1 MiB: {seconds * 1000:.0f} ms, {size / 64 / seconds / 1000:.1f} thousand blocks/s "
              f"(hashlib: {size / 64 / _hashlib_seconds(size) / 1000:,.0f} thousand)")
        conn.rollback()
    db.dispose()
    return 0


def _hashlib_seconds(size: int) -> float:
    import hashlib

    data = b"a" * size
    started = time.perf_counter()
    hashlib.sha1(data).digest()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
