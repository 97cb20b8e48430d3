"""The target panel: a drawn area becomes the list of covered cells, refusals are said, zones are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication

from omnidesk.broadcast import service as broadcast
from omnidesk.broadcast import sites as cell_sites
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.broadcast.target_panel import TargetPanel

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
# A 6 x 5 grid of sites around Abu Dhabi, 0.05 degrees apart, three sectors each.
GRID = [(24.30 + row * 0.05, 54.30 + col * 0.05, f"AUH-{row}{col}") for row in range(5) for col in range(6)]
CSV = "lat,lng,name,sector1,sector2,sector3\n" + "".join(f"{lat:.4f},{lng:.4f},{name},0,120,240\n"
                                                          for lat, lng, name in GRID)


pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture
def panel(db, admin, qtbot):
    apply_stylesheet(QApplication.instance())
    cell_sites.import_csv(db, admin, CSV)
    widget = TargetPanel(db, admin)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitUntil(lambda: widget.map.is_ready, timeout=15_000)
    with qtbot.waitSignal(widget.coverage_changed, timeout=10_000):
        widget.load()
    yield widget
    shiboken6.delete(widget)


def _inside(points):
    """The reference: sites strictly inside an axis-aligned box given by its corners."""
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    return sorted(name for lat, lng, name in GRID if min(lats) < lat < max(lats) and min(lngs) < lng < max(lngs))


def test_with_nothing_drawn_the_panel_says_every_cell_gets_the_warning(panel):
    assert panel.coverage.shape is None
    assert panel.summary.text() == broadcast.ALL_CELLS
    assert not panel.save_zone.isEnabled()


def test_a_drawn_polygon_lists_exactly_the_sites_inside_with_their_sectors(panel, qtbot):
    points = [[24.37, 54.37], [24.37, 54.52], [24.48, 54.52], [24.48, 54.37]]
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000) as changed:
        panel.map.use_shape({"shape": "polygon", "points": points})
    coverage = changed.args[0]
    expected = _inside(points)
    assert sorted(s.name for s in coverage.sites) == expected and len(expected) == 6
    assert f"{len(expected)} of {len(GRID)} cell sites" in panel.summary.text()
    listed = {panel.cells.item(r, 0).text() for r in range(panel.cells.rowCount())}
    assert listed == set(expected) and panel.cells.rowCount() == 3 * len(expected)
    assert panel.save_zone.isEnabled() and panel.problem.isHidden()


def test_a_polygon_crossing_itself_is_refused_and_targets_nothing(panel, qtbot):
    bow_tie = [[24.35, 54.35], [24.45, 54.50], [24.35, 54.50], [24.45, 54.35]]
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000) as changed:
        panel.map.use_shape({"shape": "polygon", "points": bow_tie})
    assert changed.args[0] is None and panel.coverage is None
    assert panel.problem.isVisible() and "crosses itself" in panel.problem.text()
    assert panel.cells.rowCount() == 0
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000):
        panel.clear.click()
    assert panel.summary.text() == broadcast.ALL_CELLS and panel.problem.isHidden()


def test_an_area_saved_as_a_zone_can_be_used_again(panel, qtbot, db, admin):
    corners = [[24.32, 54.32], [24.41, 54.41]]
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000):
        panel.map.use_shape({"shape": "rectangle", "corners": corners})
    panel.save_named_zone("Airport")
    qtbot.waitUntil(lambda: panel.zone_box.count() == 1, timeout=10_000)
    assert [z.name for z in broadcast.list_zones(db, admin)] == ["Airport"]
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000):
        panel.whole_network()
    panel.zone_box.setCurrentIndex(0)
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000) as changed:
        panel.use_zone.click()
    assert sorted(s.name for s in changed.args[0].sites) == _inside(corners)


def test_screenshot_of_the_target_panel(panel, qtbot):
    with qtbot.waitSignal(panel.coverage_changed, timeout=10_000):
        panel.map.use_shape({"shape": "circle", "center": [24.40, 54.45], "radius_m": 7000})
    qtbot.wait(800)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SCREENSHOTS / "broadcast_target.png"))
