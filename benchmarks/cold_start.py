"""Cold start of the GUI: from launching the process to the main window showing customers.

Starts `python -m omnidesk.ui` (the same run_gui the CLI calls) with OMNIDESK_EXIT_WHEN_READY=1,
which makes the app print its own timings and quit once the first customers are on screen.
Reports the wall time of each run and the median (target < 2 s with the embedded database
already initialised). Uses the database of OMNIDESK_DATA_DIR / OMNIDESK_DATABASE_URL.

The app shows data only after a staff sign-in, so it signs in as OMNIDESK_USERNAME with
OMNIDESK_PASSWORD (honoured only together with OMNIDESK_EXIT_WHEN_READY=1); that user must need no
second factor (e.g. the Support role). Without them this script first makes (or resets) such a
user, `coldstart`, through the owner's connection, and uses it.

    OMNIDESK_DATA_DIR=/path/to/data .venv/bin/python benchmarks/cold_start.py [--runs 5] [--command "omnidesk gui"]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

TARGET_S = 2.0
BENCH_USER = "coldstart"
BENCH_PASSWORD = "Cold-Start-2026!"


def benchmark_user() -> tuple[str, str]:
    """A Support user (password only, no second factor) to sign in with: created or reset now."""
    from omnidesk.auth import builtin_admin, users
    from omnidesk.auth import session as auth_session
    from omnidesk.config import load_settings
    from omnidesk.db.engine import open_database
    from omnidesk.errors import NotFound

    db = open_database(load_settings())
    try:
        admin = builtin_admin(db)
        try:
            users.get_user(db, admin, BENCH_USER)
            users.set_locked(db, admin, BENCH_USER, False)
            temporary = users.reset_password(db, admin, BENCH_USER)
        except NotFound:
            _, temporary = users.create_user(db, admin, username=BENCH_USER, full_name="Cold start benchmark",
                                             roles=["Support"])
        login = auth_session.sign_in(db.url, BENCH_USER, temporary)
        login.change_password(BENCH_PASSWORD)
        login.abandon()
    finally:
        db.dispose()
    return BENCH_USER, BENCH_PASSWORD


def one_run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds until the window is ready, seconds until the process ended, the app's own line)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready_line, ready_at = "", None
    for line in process.stdout:
        if line.startswith("ready after"):
            ready_at, ready_line = time.perf_counter(), line.strip()
    process.wait(timeout=60)
    ended = time.perf_counter()
    if process.returncode != 0 or ready_at is None:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}: {process.stderr.read().strip()}")
    return ready_at - started, ended - started, ready_line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--command", help="what to launch instead of `python -m omnidesk.ui`, e.g. 'omnidesk gui'")
    args = parser.parse_args()
    command = shlex.split(args.command) if args.command else [sys.executable, "-m", "omnidesk.ui"]
    env = dict(os.environ, OMNIDESK_EXIT_WHEN_READY="1")
    if not env.get("OMNIDESK_USERNAME") or not env.get("OMNIDESK_PASSWORD"):
        env["OMNIDESK_USERNAME"], env["OMNIDESK_PASSWORD"] = benchmark_user()
    env.setdefault("QT_QPA_PLATFORM", "offscreen")

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    ready_times = []
    for i in range(1, args.runs + 1):
        ready, ended, line = one_run(command, env)
        ready_times.append(ready)
        print(f"run {i}: usable after {ready * 1000:.0f} ms, exited after {ended * 1000:.0f} ms  [app: {line}]")
    median = statistics.median(ready_times)
    print(f"median time to a usable window with customers: {median * 1000:.0f} ms (target < {TARGET_S * 1000:.0f} ms)")
    print("PASS" if median < TARGET_S else "FAIL")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
