"""Cold start of the GUI: from launching the process to the main window showing customers.

Starts `python -m omnidesk.ui` (the same run_gui the CLI calls) with OMNIDESK_EXIT_WHEN_READY=1,
which makes the app print its own timings and quit once the first customers are on screen.
Reports the wall time of each run and the median (target < 2 s with the embedded database
already initialised). Uses the database of OMNIDESK_DATA_DIR / OMNIDESK_DATABASE_URL.

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
