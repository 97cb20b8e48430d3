"""Shared setup of the billing benchmarks: a fresh database `billing_bench` on the benchmark folder's
embedded server, and customers with charges loaded in bulk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

from omnidesk.db.embedded import embedded_url, stop_embedded
from omnidesk.db.engine import Database

MARKER = ".omnidesk-benchmark"
# Its own folder (and server) by default, so stopping it at the end cannot stop another benchmark's server.
DEFAULT_DIR = Path(os.environ.get("OMNIDESK_BILLING_BENCH_DIR", "/tmp/omnidesk-bench-billing"))
DATABASE = "billing_bench"


def fresh_database(data_dir: Path) -> Database:
    if data_dir.exists() and not (data_dir / MARKER).exists():
        sys.exit(f"{data_dir} exists and was not made by a benchmark; choose another --data-dir.")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)
    (data_dir / MARKER).touch()
    admin_conninfo = Database(embedded_url(data_dir, database="postgres")).raw_connection_string()
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    db = Database(embedded_url(data_dir, database=DATABASE), pool_size=4)
    db.upgrade()
    return db


def load_customers(db: Database, count: int, charges_per_customer: int, day: str) -> None:
    """`count` customers with a site and `charges_per_customer` taxed charges dated `day`, in three statements."""
    with psycopg.connect(db.raw_connection_string()) as conn:
        conn.execute(
            "INSERT INTO customer (name, account_type, status, payment_type, currency) "
            "SELECT 'Bench Customer ' || n, 'business', 'active', 'postpaid', 'AUD' FROM generate_series(1, %s) n",
            (count,))
        conn.execute(
            "INSERT INTO site (customer_id, name, address_line_1, city, state, postcode, country) "
            "SELECT id, 'Main', id || ' Harbour Street', 'Sydney', 'NSW', '2000', 'AU' FROM customer")
        conn.execute(
            "INSERT INTO billing_transaction (customer_id, title, retail_cost, tax_percentage, tax_amount, transaction_date) "
            "SELECT c.id, (ARRAY['Fibre 100 monthly', 'Static IP address', 'Mobile 20GB plan'])[1 + (k - 1) %% 3], "
            "       (ARRAY[50.00, 15.00, 35.00])[1 + (k - 1) %% 3], 10, (ARRAY[5.00, 1.50, 3.50])[1 + (k - 1) %% 3], %s "
            "FROM customer c CROSS JOIN generate_series(1, %s) k",
            (day, charges_per_customer))


def stop(data_dir: Path, keep: bool) -> None:
    if not keep:
        stop_embedded(data_dir)
