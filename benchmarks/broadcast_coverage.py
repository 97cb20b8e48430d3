"""Broadcast targeting: which of 20,000 cell sites a drawn polygon, circle or rectangle covers.

Target (issue 8): the selection of the cells inside a drawn polygon under 200 ms. Measures
coverage.SiteIndex (built once when the map loads its sites) and, per shape, the covered sites plus
turning them into per-peer targets (sites.targets_for), which is what the workstation does on every
drawn shape. No database. Run: PYTHONPATH=. .venv/bin/python benchmarks/broadcast_coverage.py [--sites N]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time

from omnidesk.broadcast import coverage, sites


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(8)
    every = [sites.Site(i, f"site-{i}", -6.8 + rng.uniform(-2, 2), 39.3 + rng.uniform(-2, 2),
                        tuple(sites.Sector(k, 120.0 * (k - 1), f"bsc{i % 40}", "901", "70", 100 + i % 40, i % 65000)
                              for k in (1, 2, 3)))
             for i in range(args.sites)]
    peers = {f"bsc{i}": "cbsp" for i in range(40)}
    t0 = time.perf_counter()
    index = coverage.SiteIndex([s.lat for s in every], [s.lng for s in every])
    built = time.perf_counter() - t0

    def star(n=24):  # a concave polygon of n corners over about a quarter of the sites
        centre, out = (-6.8, 39.3), []
        for k in range(n):
            r = 1.2 if k % 2 == 0 else 0.6
            a = 2 * math.pi * k / n
            out.append((centre[0] + r * math.sin(a), centre[1] + r * math.cos(a)))
        return out

    shapes = {"polygon (24 corners, concave)": lambda: coverage.polygon(star()),
              "circle (60 km)": lambda: coverage.circle((-6.8, 39.3), 60_000),
              "rectangle": lambda: coverage.rectangle((-7.5, 38.6), (-6.1, 40.0))}
    print(f"{args.sites:,} sites, index built in {built * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f}")
    worst = 0.0
    for name, make in shapes.items():
        times, found, cells = [], 0, 0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            shape = make()
            covered = [every[i] for i in index.covered(shape)]
            targets, _ = sites.targets_for(covered, peers)
            times.append(time.perf_counter() - t0)
            found, cells = len(covered), sum(len(v) for v in targets.values())
        worst = max(worst, max(times)) if name.startswith("polygon") else worst
        print(f"{name:32s} {found:6,} sites, {cells:6,} cells: median {statistics.median(times) * 1000:6.1f} ms, "
              f"max {max(times) * 1000:6.1f} ms" + ("  (target < 200 ms)" if name.startswith("polygon") else ""))
    return 0 if worst < 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())
