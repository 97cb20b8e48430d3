"""Sign-in time and the cost of database-enforced permissions, measured in one run.

    .venv/bin/python benchmarks/security.py [--data-dir /tmp/omnidesk-bench] [--customers 100000]

1. Sign-in: password (PostgreSQL SCRAM) + TOTP code (checked in the database) + the acting user's
   permissions + the first page of customers, as the login dialog does it. Target under 1.5 s.
2. The customer search benchmark's 200 queries (benchmarks/search.py) run as the database owner
   (row-level security bypassed) and as a signed-in Support user (grants + the session policy on
   customer and contact), interleaved query by query so both see the same cache and load.
   Target: under 10 % added.

Uses the demo data in --data-dir (benchmarks/demo_data.py leaves 1,000,000 customers there); when
the folder has no customers it loads --customers of them first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import pyotp
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import DEFAULT_DIR, build_queries, percentile  # noqa: E402

from omnidesk.auth import builtin_admin  # noqa: E402
from omnidesk.auth import session as auth_session  # noqa: E402
from omnidesk.auth import users  # noqa: E402
from omnidesk.config import load_settings  # noqa: E402
from omnidesk.customers.service import list_customers  # noqa: E402
from omnidesk.db.engine import open_database  # noqa: E402

PASSWORD = "Bench-Mark-2026!"


def _new_user(db, admin, username: str, roles: list[str]) -> str | None:
    """Create `username` (password PASSWORD, enrolled if the roles need it); returns the TOTP secret."""
    url = db.engine.url.render_as_string(hide_password=False)
    _, temporary = users.create_user(db, admin, username=username, roles=roles)
    login = auth_session.sign_in(url, username, temporary)
    login.change_password(PASSWORD)
    secret = None
    if login.state.next_step == "enrol":
        enrolment = login.begin_enrolment()
        login.confirm_enrolment(enrolment, pyotp.TOTP(enrolment.secret).now()).sign_out()
        secret = enrolment.secret
    else:
        login.abandon()
    return secret


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sign-ins", type=int, default=10)
    args = parser.parse_args()

    os.environ["OMNIDESK_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("OMNIDESK_DATABASE_URL", None)
    os.environ["OMNIDESK_CONFIG"] = str(args.data_dir / "no-config.toml")
    db = open_database(load_settings())
    admin = builtin_admin(db)
    with db.engine.connect() as conn:
        customers = conn.execute(text("SELECT count(*) FROM customer")).scalar_one()
    if customers == 0:
        from omnidesk.demo import load_demo_data

        print(f"loading {args.customers:,} demo customers ...")
        load_demo_data(db, admin, args.customers, seed=args.seed)
        customers = args.customers
    print(f"{customers:,} customers in {db.display_name}; load average {os.getloadavg()[0]:.2f}")
    url = db.engine.url.render_as_string(hide_password=False)

    # 1. sign-in
    run = os.getpid()  # users are soft-deleted, never removed: each run makes its own
    admin_name, support_name = f"bench_admin_{run}", f"bench_support_{run}"
    secret = _new_user(db, admin, admin_name, ["Admin"])
    _new_user(db, admin, support_name, ["Support"])
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE staff_auth SET totp_last_counter = NULL"))
    timings = []
    for i in range(args.sign_ins):
        with db.engine.begin() as conn:  # each sign-in needs a fresh code: forget the last step used
            conn.execute(text("UPDATE staff_auth SET totp_last_counter = NULL"))
        started = time.perf_counter()
        login = auth_session.sign_in(url, admin_name, PASSWORD)
        session = login.verify(pyotp.TOTP(secret).now())
        list_customers(session.db, session.actor, limit=100)
        timings.append((time.perf_counter() - started) * 1000)
        session.sign_out()
    print(f"\nsign-in (password + TOTP + permissions + first customer page), {len(timings)} runs: "
          f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms  (target < 1500 ms)")

    # 2. permission overhead on the search benchmark
    login = auth_session.sign_in(url, support_name, PASSWORD)
    staff = login.without_second_factor()
    queries = build_queries(db, args.seed)
    results = {"owner": [], "staff": []}
    for rounds in range(2):
        for category, query in queries:
            for who, (database, actor) in (("owner", (db, admin)), ("staff", (staff.db, staff.actor))):
                started = time.perf_counter()
                list_customers(database, actor, search=query, limit=100)
                if rounds == 1:
                    results[who].append((time.perf_counter() - started) * 1000)
    print("\nlist_customers(search=..., limit=100), 200 queries, warm, interleaved:")
    for who, values in results.items():
        print(f"  as {who:5}: median {statistics.median(values):6.2f} ms  p95 {percentile(values, 95):6.2f} ms  "
              f"total {sum(values):7.0f} ms")
    worst = sorted(zip(queries, results["owner"], results["staff"]), key=lambda r: r[1] - r[2])[:5]
    for (category, query), owner_ms, staff_ms in worst:
        print(f"    slowest as staff: {query!r} [{category}] owner {owner_ms:.1f} ms, staff {staff_ms:.1f} ms")
    added = sum(results["staff"]) / sum(results["owner"]) - 1
    print(f"  permission checks add {added * 100:+.1f} % to the total (target < 10 %)")
    staff.sign_out()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
