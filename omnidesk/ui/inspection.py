"""Looking at the running GUI from outside: for tests, benchmarks and screenshots."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTableView, QWidget

from omnidesk.ui import ops

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step_ms: int = 5) -> bool:
    """Process events until `predicate()` holds; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, step_ms)
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step_ms / 1000)


def settle(timeout: float = 10.0) -> bool:
    """Wait until no background operation is in flight."""
    return wait_until(lambda: ops.in_flight() == 0, timeout)


def visible_rows(table: QTableView) -> range:
    """The model rows currently on screen in `table`."""
    rows = table.model().rowCount()
    if rows == 0:
        return range(0)
    first = table.rowAt(0)
    last = table.rowAt(table.viewport().height() - 1)
    first = 0 if first < 0 else first
    last = rows - 1 if last < 0 else last
    return range(first, last + 1)


def visible_rows_loaded(table: QTableView) -> bool:
    """True once every row on screen in `table` has its data (its model pages rows in: `row_at`)."""
    rows = visible_rows(table)
    model = table.model()
    return len(rows) > 0 and all(model.row_at(r) is not None for r in rows)


def grab(widget: QWidget, name: str) -> Path:
    """Render `widget` (offscreen works) to artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def distinct_colours(image: QImage, samples: int = 4000) -> int:
    """How many different colours a grid of sample points finds (1 means a blank picture)."""
    width, height = image.width(), image.height()
    if width == 0 or height == 0:
        return 0
    step = max(1, int((width * height / samples) ** 0.5))
    return len({image.pixel(x, y) for y in range(0, height, step) for x in range(0, width, step)})
