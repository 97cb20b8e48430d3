"""Time `omnidesk demo-data --customers N` into a fresh embedded database (target: 1,000,000 in under 3 minutes).

    .venv/bin/python benchmarks/demo_data.py [--customers 1000000] [--data-dir /tmp/omnidesk-bench] [--seed 1]

The data folder is wiped first, but only if this script made it (it leaves a marker file there),
so pointing it at real data is refused. The server is left running with the data, ready for
benchmarks/search.py; `OMNIDESK_DATA_DIR=<folder> omnidesk db stop` stops it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MARKER = ".omnidesk-benchmark"
DEFAULT_DIR = Path("/tmp/omnidesk-bench")


def omnidesk(data_dir: Path, *args: str) -> tuple[float, str]:
    """Run the omnidesk command on the benchmark folder; (seconds, stdout)."""
    env = {**os.environ, "OMNIDESK_DATA_DIR": str(data_dir), "OMNIDESK_CONFIG": str(data_dir / "no-config.toml")}
    env.pop("OMNIDESK_DATABASE_URL", None)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "omnidesk", *args], env=env, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"omnidesk {' '.join(args)} failed ({result.returncode}); its message is above.")
    return seconds, result.stdout.strip()


def fresh_folder(data_dir: Path) -> None:
    if data_dir.exists():
        if not (data_dir / MARKER).exists():
            sys.exit(f"{data_dir} exists and was not made by this benchmark; choose another --data-dir.")
        omnidesk(data_dir, "db", "stop")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    os.chmod(data_dir, 0o755)  # the embedded server may run as its own system user
    (data_dir / MARKER).write_text("made by benchmarks/demo_data.py; wiped by its next run\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", DEFAULT_DIR)))
    args = parser.parse_args()

    fresh_folder(args.data_dir)
    seconds, _ = omnidesk(args.data_dir, "db", "upgrade")
    print(f"fresh embedded database in {args.data_dir}: initdb, start and migrate took {seconds:.1f} s")
    load = ("demo-data", "--customers", str(args.customers), "--seed", str(args.seed), "--progress")
    print(f"timing: omnidesk {' '.join(load)}  (load average before: {os.getloadavg()[0]:.2f})", flush=True)
    seconds, output = omnidesk(args.data_dir, *load)
    print(output)
    print(f"omnidesk demo-data --customers {args.customers}: {seconds:.1f} s wall clock "
          f"(target for 1,000,000: under 180 s); load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
