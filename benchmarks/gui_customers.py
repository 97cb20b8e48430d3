"""Customers workspace on a large database: time to the first rows, then scroll to the end.

Runs offscreen against the database chosen by OMNIDESK_DATA_DIR / OMNIDESK_DATABASE_URL (load a
million customers first with `omnidesk demo-data`). Reports the time from creating the workspace
to the first rows on screen (target < 300 ms), the pages the table model held while scrolling
to the end in steps (its cap is 6), and the process RSS (target < 400 MB).

    OMNIDESK_DATA_DIR=/path/to/data .venv/bin/python benchmarks/gui_customers.py [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIRST_ROWS_TARGET_MS = 300
RSS_TARGET_MB = 400


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="scroll positions from the top to the end (default 100)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()

    import psutil
    from PySide6.QtWidgets import QApplication

    from omnidesk.auth import builtin_admin
    from omnidesk.config import load_settings
    from omnidesk.db import open_database
    from omnidesk.ui import inspection
    from omnidesk.ui.app import apply_stylesheet
    from omnidesk.ui.customers.workspace import CustomersWorkspace

    process = psutil.Process()
    app = QApplication(sys.argv)
    apply_stylesheet(app)
    settings = load_settings()
    db = open_database(settings)
    actor = builtin_admin(db)
    print(f"database: {db.display_name}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rss_before = process.memory_info().rss

    first_rows: list[float] = []
    started = time.perf_counter()
    ws = CustomersWorkspace(db, actor)
    ws.first_rows_shown.connect(lambda: first_rows.append(time.perf_counter()))
    ws.resize(args.width, args.height)
    ws.show()
    if not inspection.wait_until(lambda: bool(first_rows), 30):
        print("no rows within 30 s", file=sys.stderr)
        return 1
    first_ms = (first_rows[0] - started) * 1000
    model = ws.model
    inspection.wait_until(lambda: model.count is not None and model.count == model.rowCount(), 60)
    counted_ms = (time.perf_counter() - started) * 1000
    total = model.count
    print(f"customers: {total:,}")
    print(f"first rows shown: {first_ms:.0f} ms (target < {FIRST_ROWS_TARGET_MS} ms)")
    print(f"count known:      {counted_ms:.0f} ms")

    bar = ws.table.verticalScrollBar()
    step_ms: list[float] = []
    peak_rss = process.memory_info().rss
    held_max = 0
    for i in range(1, args.steps + 1):
        t = time.perf_counter()
        bar.setValue(round(bar.maximum() * i / args.steps))
        if not inspection.wait_until(lambda: inspection.visible_rows_loaded(ws.table), 60):
            print(f"step {i}: rows did not load within 60 s", file=sys.stderr)
            return 1
        step_ms.append((time.perf_counter() - t) * 1000)
        held_max = max(held_max, len(model.cached_pages()))
        peak_rss = max(peak_rss, process.memory_info().rss)
    last = model.row_at(total - 1)
    inspection.settle(30)
    rss = process.memory_info().rss
    mb = 1024 * 1024
    print(f"scrolled to the end in {args.steps} steps: last row #{total:,} is customer {last.id} ({last.name})")
    print(f"  rows on screen after each step: median {statistics.median(step_ms):.0f} ms, "
          f"p90 {sorted(step_ms)[int(len(step_ms) * 0.9) - 1]:.0f} ms, max {max(step_ms):.0f} ms")
    print(f"  pages held: at most {max(held_max, model.max_pages_held)} (cap {model.max_pages}, {model.page_size} rows each); "
          f"{len(model.pages_read)} page reads")
    print(f"  RSS: {rss_before / mb:.0f} MB before the workspace, peak {peak_rss / mb:.0f} MB, "
          f"end {rss / mb:.0f} MB (target < {RSS_TARGET_MB} MB)")

    # A common word, one customer's whole name, a broad fragment that matches most e-mails, an id.
    for text in ("smith", last.name, "example", str(last.id)):
        t = time.perf_counter()
        loaded = []
        model.first_page_loaded.connect(lambda: loaded.append(time.perf_counter()))
        model.update_query(search=text)
        inspection.wait_until(lambda: bool(loaded), 60)
        model.first_page_loaded.disconnect()
        inspection.wait_until(lambda: model.count is not None, 60)
        matches = f"{model.count:,}+ (capped)" if model.count_capped else f"{model.count:,}"
        print(f"search {text!r}: first rows {(loaded[0] - t) * 1000:.0f} ms, "
              f"{matches} matches counted after {(time.perf_counter() - t) * 1000:.0f} ms")
    inspection.settle(30)

    ok = first_ms < FIRST_ROWS_TARGET_MS and peak_rss < RSS_TARGET_MB * mb and model.max_pages_held <= model.max_pages
    print("PASS" if ok else "FAIL")
    ws.close()
    db.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
