"""Rating: 1,000,000 CDRs against a 20,000-prefix plan, checked against a straightforward reference.

    .venv/bin/python benchmarks/rating.py [--calls 1000000] [--prefixes 20000] [--customers 1000]
                                          [--sample 5000] [--data-dir /tmp/omnidesk-bench]

1. Drops and recreates the database `rating_bench` on the benchmark folder's embedded server
   (other databases there are left alone) and migrates it; adds --customers active customers
   (by SQL: their creation is not what is measured) and puts them all on one plan.
2. Writes a rate sheet of --prefixes distinct prefixes (1 to 7 digits, country codes and their
   operator ranges; a tenth with a second, later effective date) and times importer.import_rates.
3. Writes a CDR file of --calls calls (1 % to numbers no prefix covers, 60 % answered, over 60
   days across both effective dates) and times importer.import_cdrs without rating: every line
   checked, COPY into a staging table, checks in SQL, one INSERT … SELECT.
4. Times service.rate_cdrs on all of them (the target: under 30 s on 2 cores), then again with
   rerate=True (old prices dropped and every call priced again).
5. Checks --sample random calls against a Python reference that looks at one rate at a time
   (exact fractions, half-up by hand) and reports any difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import psycopg
from sqlalchemy import text

from omnidesk.auth import builtin_admin
from omnidesk.db.embedded import embedded_url
from omnidesk.db.engine import Database
from omnidesk.rating import importer, service

MARKER = ".omnidesk-benchmark"
DEFAULT_DIR = Path("/tmp/omnidesk-bench")
DATABASE = "rating_bench"
PLAN = "Benchmark International"
TARGET_SECONDS = 30.0
FIRST_DAY = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
PRICE_CHANGE = dt.date(2026, 6, 1)


def fresh_database(data_dir: Path) -> Database:
    if data_dir.exists() and not (data_dir / MARKER).exists():
        sys.exit(f"{data_dir} exists and was not made by a benchmark; choose another --data-dir.")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)  # the embedded server may run as its own system user
    (data_dir / MARKER).touch()
    admin_conninfo = Database(embedded_url(data_dir, database="postgres")).raw_connection_string()
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    db = Database(embedded_url(data_dir, database=DATABASE))
    db.upgrade()
    return db


def make_prefixes(count: int, rnd: random.Random) -> list[str]:
    """Country codes (1-3 digits, none starting with 0) and operator ranges under them, up to 7 digits."""
    countries = sorted({str(rnd.randint(20, 999)) for _ in range(300)} | {"1", "7"})[: max(2, count // 50)]
    prefixes = set(countries)
    while len(prefixes) < count:
        country = rnd.choice(countries)
        prefixes.add(country + "".join(rnd.choices("0123456789", k=rnd.randint(1, 7 - len(country)))))
    return sorted(prefixes)


def write_rate_sheet(path: Path, prefixes: list[str], rnd: random.Random) -> list[tuple[str, dt.date, Decimal]]:
    rates = []
    with path.open("w", encoding="utf-8") as out:
        out.write("prefix,rate,description,effective_date\n")
        for prefix in prefixes:
            rate = Decimal(rnd.randint(1, 500_000)).scaleb(-6)
            rates.append((prefix, dt.date(1970, 1, 1), rate))
            out.write(f"{prefix},{rate},Destination {prefix},\n")
            if rnd.random() < 0.1:
                later = Decimal(rnd.randint(1, 500_000)).scaleb(-6)
                rates.append((prefix, PRICE_CHANGE, later))
                out.write(f"{prefix},{later},Destination {prefix},{PRICE_CHANGE.isoformat()}\n")
    return rates


def write_cdrs(path: Path, calls: int, prefixes: list[str], customers: list[int], rnd: random.Random) -> None:
    digits = "0123456789"
    with path.open("w", encoding="utf-8") as out:
        out.write("call_id,call_start,caller,called_number,duration,customer_id,disposition\n")
        for n in range(calls):
            prefix = prefixes[rnd.randrange(len(prefixes))] if rnd.random() >= 0.01 else "0"
            number = (prefix + "".join(rnd.choices(digits, k=12)))[:12]
            start = FIRST_DAY + dt.timedelta(seconds=n * 5184000 // calls)  # 60 days
            answered = rnd.random() < 0.6
            out.write(f"sw-{n},{start:%Y-%m-%d %H:%M:%S},+15550100,+{number},"
                      f"{rnd.randint(1, 900) if answered else 0},{customers[rnd.randrange(len(customers))]},"
                      f"{'ANSWERED' if answered else rnd.choice(('NO ANSWER', 'BUSY', 'FAILED'))}\n")


def reference(by_prefix, increment, minimum, number, start, seconds, disposition):
    """The longest prefix of the number with a rate in force on the call's UTC day, looked at one by one."""
    best = None
    for length in range(1, len(number) + 1):
        for day, rate in by_prefix.get(number[:length], ()):
            if day <= start.astimezone(dt.timezone.utc).date() and (
                    best is None or (length, day) > (len(best[0]), best[1])):
                best = (number[:length], day, rate)
    if best is None:
        return None
    billable = max(minimum, -(-seconds // increment) * increment) if disposition == "answered" and seconds > 0 else 0
    whole, rest = divmod(Fraction(billable) * Fraction(best[2]) / 60 * 10_000, 1)
    return best[0], billable, Decimal(int(whole) + (1 if rest >= Fraction(1, 2) else 0)).scaleb(-4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--prefixes", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    args = parser.parse_args()
    rnd = random.Random(args.seed)

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    db = fresh_database(args.data_dir)
    admin = builtin_admin(db)
    print(f"fresh database {db.display_name} in {args.data_dir}: {time.perf_counter() - started:.1f} s")
    service.create_rate_plan(db, admin, name=PLAN, currency="USD", billing_increment=6, minimum_duration=6)
    with db.transaction() as s:
        customers = list(s.scalars(text(
            "INSERT INTO customer (name, account_type, payment_type, currency, status) "
            "SELECT 'Carrier ' || g, 'business', 'postpaid', 'USD', 'active' FROM generate_series(1, :n) g RETURNING id"),
            {"n": args.customers}))
        s.execute(text("INSERT INTO customer_rate_plan (customer_id, rate_plan_id) "
                       "SELECT id, (SELECT id FROM rate_plan WHERE name = :plan) FROM customer"), {"plan": PLAN})

    with tempfile.TemporaryDirectory() as folder:
        sheet, cdr_file = Path(folder) / "rates.csv", Path(folder) / "cdrs.csv"
        prefixes = make_prefixes(args.prefixes, rnd)
        rates = write_rate_sheet(sheet, prefixes, rnd)
        started = time.perf_counter()
        imported = importer.import_rates(db, admin, PLAN, sheet)
        lengths = sorted({len(p) for p in prefixes})
        print(f"rate sheet: {imported.added:,} rates for {len(prefixes):,} prefixes ({lengths[0]}-{lengths[-1]} digits) "
              f"imported in {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        write_cdrs(cdr_file, args.calls, prefixes, customers, rnd)
        print(f"wrote {args.calls:,} CDRs to a CSV in {time.perf_counter() - started:.1f} s (not counted)")
        started = time.perf_counter()
        loaded = importer.import_cdrs(db, admin, cdr_file, rate=False)
        print(f"CDR import (every line checked, COPY through a staging table, not rated): {loaded.imported:,} calls in "
              f"{time.perf_counter() - started:.1f} s")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) cdr, rate_plan_rate"))

    verdicts = []
    for label, rerate in (("rating", False), ("re-rating (old prices dropped first)", True)):
        started = time.perf_counter()
        report = service.rate_cdrs(db, admin, rerate=rerate)
        seconds = time.perf_counter() - started
        ok = seconds < TARGET_SECONDS
        verdicts.append(ok)
        print(f"{label}: {report.rated:,} rated, {report.unrated:,} unrated in {seconds:.1f} s "
              f"({report.rated / seconds:,.0f} calls/s); target {TARGET_SECONDS:.0f} s — {'PASS' if ok else 'FAIL'}")
    print(f"  {report.describe()}")

    by_prefix: dict[str, list[tuple[dt.date, Decimal]]] = {}
    for prefix, day, rate in rates:
        by_prefix.setdefault(prefix, []).append((day, rate))
    with db.read() as s:
        ids = s.scalars(text("SELECT id FROM cdr ORDER BY random() LIMIT :n"), {"n": args.sample}).all()
        rows = s.execute(text("""
            SELECT c.called_number, c.call_start, c.duration_seconds, c.disposition,
                   r.matched_prefix, r.billable_seconds, r.cost
              FROM cdr c LEFT JOIN cdr_rating r ON r.cdr_id = c.id WHERE c.id = ANY (:ids)"""), {"ids": ids}).all()
    differences = 0
    for row in rows:
        expected = reference(by_prefix, 6, 6, row.called_number, row.call_start, row.duration_seconds, row.disposition)
        actual = None if row.matched_prefix is None else (row.matched_prefix, row.billable_seconds, row.cost)
        differences += expected != actual
    print(f"reference check: {len(rows):,} random calls, {differences} different from the one-rate-at-a-time "
          f"reference — {'EQUAL' if differences == 0 else 'DIFFERENT'}")
    db.dispose()
    return 0 if all(verdicts) and differences == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
