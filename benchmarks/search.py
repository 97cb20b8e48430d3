"""Customer search on a million customers: first-page list and count latency for 200 varied queries.

    .venv/bin/python benchmarks/search.py [--data-dir /tmp/omnidesk-bench] [--explain 5] [--vacuum] [--plans]

Run benchmarks/demo_data.py first (it leaves 1,000,000 demo customers in /tmp/omnidesk-bench).
Queries are drawn from the data with a fixed seed: whole names, name fragments, e-mail and phone
fragments, customer ids, one- and two-letter prefixes, broad words and strings that match nothing.
Each goes through the service functions the GUI uses: list_customers(search=..., limit=100) for the
first page and count_customers(search=..., cap=SEARCH_COUNT_CAP) for its total, capped as the GUI
does. Every query runs once to warm the cache, then once timed. Target: list p95 under 50 ms. The slowest queries are re-run under
EXPLAIN (ANALYZE, BUFFERS) to show which indexes they use.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event, text

from omnidesk.auth import builtin_admin
from omnidesk.config import load_settings
from omnidesk.customers.service import SEARCH_COUNT_CAP, count_customers, list_customers
from omnidesk.db.engine import open_database

DEFAULT_DIR = Path("/tmp/omnidesk-bench")
NO_MATCH = ("zzqxv", "qqqq", "xylophonist", "jjkkll", "@nowhere.invalid", "+99999", "vvvww", "qzx", "kkxq", "wxyzzy",
            "zzz", "xjq", "0000000000", "fooqux", "jqjq", "#0", "ÿÿÿ", "qwqw", "zxzx", "plugh")
BROAD = ("ltd", "example", "example.net", "7700", "+4477009", "son", "an", "ll", "communications", "smith")


def build_queries(db, seed: int) -> list[tuple[str, str]]:
    """(category, query) pairs, 200 of them, drawn from the data."""
    rng = random.Random(seed)
    with db.engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM customer")).scalar_one()
        ids = rng.sample(range(1, top + 1), 200)
        sample = conn.execute(
            text(
                "SELECT c.id, c.name, k.email, k.phone FROM customer c "
                "JOIN contact k ON k.customer_id = c.id AND k.contact_type = 'primary' WHERE c.id = ANY(:ids) ORDER BY c.id"
            ),
            {"ids": ids},
        ).all()
    rng.shuffle(sample)
    rows = iter(sample)
    queries: list[tuple[str, str]] = []

    def take(category: str, count: int, make) -> None:
        queries.extend((category, make(next(rows))) for _ in range(count))

    def fragment(word: str, low: int, high: int) -> str:
        size = min(len(word), rng.randint(low, high))
        start = rng.randint(0, len(word) - size)
        return word[start : start + size]

    take("full name", 30, lambda r: r.name)
    take("name fragment", 30, lambda r: fragment(rng.choice(re.findall(r"[A-Za-z]{3,}", r.name)), 3, 6).lower())
    take("e-mail fragment", 30, lambda r: fragment(r.email.split("@")[0], 5, 14))
    take("phone fragment", 25, lambda r: fragment(r.phone, 5, 9))
    take("customer id", 25, lambda r: str(r.id))
    letters = "abcdefghijklmnoprstw"
    for _ in range(20):
        queries.append(("1-2 letter prefix", rng.choice(letters)))
    for _ in range(10):
        queries.append(("1-2 letter prefix", rng.choice(letters) + rng.choice("aeiourl")))
    queries += [("no match", q) for q in NO_MATCH]
    queries += [("broad word", q) for q in BROAD]
    assert len(queries) == 200, len(queries)
    return queries


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summarise(label: str, timings: list[tuple[str, str, float]]) -> None:
    ms = [t for *_, t in timings]
    print(f"\n{label}: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms "
          f"over {len(ms)} queries")
    by_category: dict[str, list[float]] = defaultdict(list)
    for category, _, t in timings:
        by_category[category].append(t)
    for category, values in by_category.items():
        print(f"  {category:<18} n={len(values):<3} p50 {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms")
    print("  slowest:", ", ".join(f"{q!r} {t:.0f} ms" for _, q, t in sorted(timings, key=lambda x: -x[2])[:8]))


class StatementRecorder:
    """Keeps the last SQL statement (and its parameters) the engine sent, to EXPLAIN it afterwards."""

    def __init__(self, engine):
        self.last: tuple[str, object] | None = None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.last = (statement, parameters)


def explain(db, statement: str, parameters) -> list[str]:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        lines = [row[0] for row in cur.fetchall()]
        raw.rollback()
        return lines
    finally:
        raw.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", type=int, default=5, metavar="N", help="EXPLAIN ANALYZE the N slowest of each kind")
    parser.add_argument("--plans", action="store_true", help="print whole plans, not only their index lines")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM (ANALYZE) the customer tables first")
    args = parser.parse_args()

    os.environ["OMNIDESK_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("OMNIDESK_DATABASE_URL", None)
    os.environ["OMNIDESK_CONFIG"] = str(args.data_dir / "no-config.toml")
    db = open_database(load_settings())
    admin = builtin_admin(db)
    with db.engine.connect() as conn:
        customers = conn.execute(text("SELECT count(*) FROM customer")).scalar_one()
        jit = conn.execute(text("SHOW jit")).scalar_one()
    print(f"{customers:,} customers in {db.display_name}, {args.data_dir}; jit={jit}; load average {os.getloadavg()[0]:.2f}")
    if customers < 1_000_000:
        print("(fewer than 1,000,000 customers: run benchmarks/demo_data.py first for the target numbers)")
    if args.vacuum:
        started = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) customer, contact"))
        print(f"VACUUM (ANALYZE) customer, contact: {time.perf_counter() - started:.1f} s")

    queries = build_queries(db, args.seed)
    recorder = StatementRecorder(db.engine)
    results: dict[str, list[tuple[str, str, float]]] = {"list": [], "count": []}
    statements: dict[tuple[str, str], tuple[str, object]] = {}
    for kind, run in (
        ("list", lambda q: list_customers(db, admin, search=q, limit=100)),
        ("count", lambda q: count_customers(db, admin, search=q, cap=SEARCH_COUNT_CAP)),
    ):
        first_pass = []
        for category, query in queries:
            started = time.perf_counter()
            run(query)
            first_pass.append((category, query, (time.perf_counter() - started) * 1000))
        for category, query in queries:
            started = time.perf_counter()
            run(query)
            results[kind].append((category, query, (time.perf_counter() - started) * 1000))
            statements[kind, query] = recorder.last
        summarise(f"{kind}_customers, first run (cold)", first_pass)
        summarise(f"{kind}_customers, second run (warm) — the measured number", results[kind])

    for kind in ("list", "count"):
        slowest, seen = [], set()
        for category, query, ms in sorted(results[kind], key=lambda x: -x[2]):
            if query not in seen and len(slowest) < args.explain:
                seen.add(query)
                slowest.append((category, query, ms))
        for category, query, ms in slowest:
            statement, parameters = statements[kind, query]
            plan = explain(db, statement, parameters)
            print(f"\nEXPLAIN ANALYZE {kind}_customers(search={query!r}) [{category}, {ms:.0f} ms]")
            shown = plan if args.plans else [
                line for line in plan
                if re.search(r"Index|Seq Scan|Limit|Sort Method|Filter|Cond:|Execution Time|JIT", line)
            ]
            print("\n".join("   " + line for line in shown))
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
