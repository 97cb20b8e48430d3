"""The broadcast map with 20,000 cell sites: time to first paint (target under 2 s).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/broadcast_map.py [--sites 20000] [--runs 3]

Each run is a new process, as an operator opening the workspace gets: Python start, Qt and the
WebEngine (Chromium) processes, the page with the vendored Leaflet and the basemap, then every
site and its three sector arrows painted on the canvas. "Painted" is the page's own report, sent
from the first animation frame after the sites were drawn.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

CHILD = "--child"


def child(count: int) -> None:
    started = time.perf_counter()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from omnidesk.ui.webengine import prepare_process

    prepare_process()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from omnidesk.ui.broadcast.map_view import MapSite, TargetMap

    rnd = random.Random(7)
    sites = [MapSite(i, 22.6 + rnd.random() * 3.5, 51.5 + rnd.random() * 4.5, f"SITE-{i:05d}",
                     (rnd.randrange(0, 120), rnd.randrange(120, 240), rnd.randrange(240, 360))) for i in range(count)]
    widget_at = time.perf_counter()
    view = TargetMap()
    view.resize(1280, 800)
    view.show()
    view.set_sites(sites)
    view.fit_sites()

    def painted(n: int) -> None:
        now = time.perf_counter()
        print(f"{n} {(now - widget_at) * 1000:.0f} {(now - started) * 1000:.0f} {len(view.interceptor.blocked)}", flush=True)
        app.quit()

    view.sites_painted.connect(painted)
    app.exec()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CHILD:
        child(int(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    widget_ms, process_ms = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, CHILD, str(args.sites)], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        whole = (time.perf_counter() - started) * 1000
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        if not line:
            print(out.stderr[-2000:], file=sys.stderr)
            return 1
        count, from_widget, from_start, blocked = line.split()
        widget_ms.append(float(from_widget))
        process_ms.append(float(from_start))
        print(f"  {count} sites painted {from_widget} ms after the map widget was made, "
              f"{from_start} ms after the process started ({whole:.0f} ms with interpreter start); "
              f"{blocked} requests blocked")
    print(f"first paint, {args.runs} runs: median {statistics.median(widget_ms):.0f} ms from the widget, "
          f"{statistics.median(process_ms):.0f} ms from process start (target < 2000 ms); "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
