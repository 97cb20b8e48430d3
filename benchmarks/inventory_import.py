"""Inventory: CSV import of SIMs into a fresh embedded database, then concurrent allocation and prefix search.

    .venv/bin/python benchmarks/inventory_import.py [--rows 10000] [--workers 2] [--allocations 4000]
                                                    [--searches 200] [--data-dir /tmp/omnidesk-bench]

1. Drops and recreates the database `inventory_bench` on the benchmark folder's embedded server
   (other databases there, such as the demo customers, are left alone) and migrates it.
2. Writes a CSV of --rows SIMs (ICCID with a valid Luhn digit, IMSI, SIM type) and times
   importer.import_csv on it: every line checked, then one COPY. Targets: 10,000 rows in a couple
   of seconds; 100,000 under 20 s (issue 6).
3. Runs --workers processes, each a workstation with its own connection, calling
   inventory.allocate(count=1) until --allocations SIMs are taken (processes, not threads: two
   workstations do not share one Python interpreter), then the same with 10 SIMs per allocation;
   reports allocations (and SIMs) per second and checks that no SIM was given twice. Target:
   1,000 allocations per second sustained.
4. Times --searches list_items(search=prefix) calls on ICCID and IMSI prefixes drawn from the data
   (warm, second run): p50 / p95. Target: p95 under 20 ms with 1,000,000 items (--rows 1000000).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import multiprocessing
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

from omnidesk.auth import builtin_admin
from omnidesk.customers import service as customers
from omnidesk.db.embedded import embedded_url
from omnidesk.db.engine import Database
from omnidesk.inventory import importer, rules
from omnidesk.inventory import service as inventory

MARKER = ".omnidesk-benchmark"
DEFAULT_DIR = Path("/tmp/omnidesk-bench")
DATABASE = "inventory_bench"


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if rules.luhn_ok(body + d))


def fresh_database(data_dir: Path) -> Database:
    if data_dir.exists() and not (data_dir / MARKER).exists():
        sys.exit(f"{data_dir} exists and was not made by a benchmark; choose another --data-dir.")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)  # the embedded server may run as its own system user
    (data_dir / MARKER).touch()
    url = embedded_url(data_dir, database="postgres")
    admin_conninfo = Database(url).raw_connection_string()
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    db = Database(embedded_url(data_dir, database=DATABASE), pool_size=8)
    db.upgrade()
    return db


def write_csv(rows: int, folder: Path) -> Path:
    path = folder / f"sims-{rows}.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("ICCID,IMSI,SIM Type\n")
        for n in range(1, rows + 1):
            out.write(f"{iccid(n)},23415{n:010d},{'eSIM' if n % 10 == 0 else 'Physical'}\n")
    return path


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a local process (the workstation's database backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")  # not Linux, or the server is not on this machine
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workstation(url: str, customer_id: int, count: int, batch: int, start, results) -> None:
    """One workstation: its own process and connection, taking `batch` SIMs per allocation, `count` times.

    Also reports the CPU time it and its database backend spent while timed: unlike the rate, that
    does not depend on what else the machine is running."""
    db = Database(url, pool_size=1)
    admin = builtin_admin(db)
    warm = [p.id for p in inventory.allocate(db, admin, "SIM Card", batch, customer_id=customer_id)]  # connect, warm up
    with db.engine.connect() as conn:  # the pool's one connection, which every allocation below uses
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    start.wait()
    client, server = time.process_time(), _cpu_seconds(backend)
    taken = [p.id for _ in range(count) for p in inventory.allocate(db, admin, "SIM Card", batch, customer_id=customer_id)]
    results.put((warm, taken, time.process_time() - client, _cpu_seconds(backend) - server))
    db.dispose()


def allocate_concurrently(db: Database, admin, workers: int, allocations: int, batch: int) -> tuple[float, list[int], list[int], float, float]:
    """`workers` processes (like workstations: no shared interpreter) making `allocations` allocations of
    `batch` SIMs between them; (seconds, SIMs taken while timed, SIMs taken while warming up,
    client CPU seconds, database CPU seconds)."""
    customer = customers.change_status(db, admin, customers.create_customer(db, admin, name="Benchmark Store Sales").id, "active")
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    share = [allocations // workers + (1 if i < allocations % workers else 0) for i in range(workers)]
    processes = [context.Process(target=_workstation, args=(db.url, customer.id, n, batch, start, results)) for n in share]
    for p in processes:
        p.start()
    time.sleep(3)  # every worker connected and warmed up
    started = time.perf_counter()
    start.set()
    done = [results.get(timeout=600) for _ in processes]
    seconds = time.perf_counter() - started
    for p in processes:
        p.join()
    return (seconds, [i for d in done for i in d[1]], [i for d in done for i in d[0]],
            sum(d[2] for d in done), sum(d[3] for d in done))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--allocations", type=int, default=4000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    args = parser.parse_args()
    if args.allocations * 2 + 12 * args.workers > args.rows:
        sys.exit("--rows must be over twice --allocations (one round of single SIMs, one of tens)")

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    db = fresh_database(args.data_dir)
    admin = builtin_admin(db)
    print(f"fresh database {db.display_name} in {args.data_dir}: {time.perf_counter() - started:.1f} s")

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = write_csv(args.rows, Path(folder))
        print(f"wrote {args.rows:,} SIM rows to a CSV in {time.perf_counter() - started:.1f} s (not counted)")
        started = time.perf_counter()
        report = importer.import_csv(db, admin, path, template="SIM Card", location="Warehouse A")
        seconds = time.perf_counter() - started
    target = 2.0 * max(1, args.rows / 10_000) if args.rows <= 10_000 else 20.0 * args.rows / 100_000
    print(f"import: {report.imported:,} SIMs in {seconds:.2f} s ({report.imported / seconds:,.0f} rows/s); "
          f"target {target:.0f} s — {'PASS' if seconds < target else 'FAIL'}")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) inventory_item, inventory_item_history"))

    handed_out: list[int] = []
    for batch, allocations, target_per_s in ((1, args.allocations, 1000), (10, args.allocations // 10, None)):
        load = os.getloadavg()[0]
        seconds, taken, warm, client_cpu, server_cpu = allocate_concurrently(db, admin, args.workers, allocations, batch)
        handed_out += taken + warm
        done = len(taken) // batch
        rate = done / seconds
        verdict = f"; target {target_per_s:,} — {'PASS' if rate >= target_per_s else 'FAIL'}" if target_per_s else ""
        print(f"allocation of {batch} SIM{'s' if batch > 1 else ''} at a time by {args.workers} concurrent workstations "
              f"(processes): {done:,} allocations in {seconds:.2f} s = {rate:,.0f} allocations "
              f"({len(taken) / seconds:,.0f} SIMs) per second{verdict}")
        print(f"  CPU per allocation: {client_cpu / done * 1e6:,.0f} µs in the workstation, {server_cpu / done * 1e6:,.0f} µs "
              f"in its database backend (load average {load:.2f} before the round: other work on the machine "
              "lowers the rate, not these)")
    distinct = len(set(handed_out))
    with db.engine.connect() as conn:
        assigned = conn.execute(text("SELECT count(*) FROM inventory_item WHERE item_state = 'assigned'")).scalar_one()
    ok = distinct == len(handed_out) == assigned
    print(f"  {distinct:,} distinct SIMs handed out, {assigned:,} assigned in the database — "
          f"{'no SIM given twice' if ok else 'OVERLAP!'}")

    rng = random.Random(args.seed)
    queries = []
    for _ in range(args.searches):
        n = rng.randint(1, args.rows)
        if rng.random() < 0.5:
            queries.append(iccid(n)[: rng.randint(8, 19)])
        else:
            queries.append(f"23415{n:010d}"[: rng.randint(7, 15)])
    for q in queries:  # warm
        inventory.list_items(db, admin, search=q, limit=100)
    timings = []
    for q in queries:
        started = time.perf_counter()
        inventory.list_items(db, admin, search=q, limit=100)
        timings.append((time.perf_counter() - started) * 1000)
    p95 = percentile(timings, 95)
    print(f"search by ICCID / IMSI prefix over {args.rows:,} items: p50 {statistics.median(timings):.1f} ms, "
          f"p95 {p95:.1f} ms, max {max(timings):.1f} ms; target p95 20 ms at 1,000,000 items — "
          f"{'PASS' if p95 < 20 else 'FAIL'}")
    db.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
