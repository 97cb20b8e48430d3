"""The targeting map: offline, drawn on with the mouse like an operator would, and looked at."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtTest import QTest

from omnidesk.ui.broadcast.map_view import MAP_FOLDER, LocalOnly, MapSite, TargetMap

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
SITES = [MapSite(i, 24.40 + (i % 10) * 0.03, 54.30 + (i // 10) * 0.04, f"AUH-{i:03d}", (0, 120, 240))
         for i in range(100)]


@pytest.fixture
def target_map(qtbot):
    widget = TargetMap()
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    qtbot.waitUntil(lambda: widget.is_ready, timeout=15_000)
    widget.set_view(24.55, 54.50, 10)
    qtbot.wait(300)
    yield widget
    shiboken6.delete(widget)  # now, not at exit: WebEngine's profile must outlive its pages


def _js(qtbot, widget, expression):
    """The value of a JavaScript expression in the page (as JSON: PySide drops arrays otherwise)."""
    box = []
    widget.page.runJavaScript(f"JSON.stringify({expression})", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=5_000)
    return json.loads(box[0])


def _click(qtbot, widget, x, y):
    target = widget.view.focusProxy()
    QTest.mouseMove(target, QPoint(x, y))
    qtbot.wait(20)
    QTest.mousePress(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y))
    qtbot.wait(20)
    QTest.mouseRelease(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y))
    qtbot.wait(60)


def _drag(qtbot, widget, start, end):
    target = widget.view.focusProxy()
    QTest.mouseMove(target, QPoint(*start))
    qtbot.wait(20)
    QTest.mousePress(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*start))
    for step in range(1, 6):
        x = start[0] + (end[0] - start[0]) * step // 5
        y = start[1] + (end[1] - start[1]) * step // 5
        QTest.mouseMove(target, QPoint(x, y))
        qtbot.wait(20)
    QTest.mouseRelease(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*end))
    qtbot.wait(80)


def _tool(qtbot, widget, title):
    """Click the drawing tool whose tooltip is `title`, where the page shows it."""
    x, y = _js(qtbot, widget, f"""(function () {{
        var r = document.querySelector('a[title="{title}"]').getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    _click(qtbot, widget, round(x), round(y))


def _screen(qtbot, widget, lat, lng):
    x, y = _js(qtbot, widget, f"omnimap.pointOf({lat}, {lng})")
    return x, y


def test_the_map_loads_only_its_own_files_and_blocks_the_internet(qtbot, target_map):
    target_map.set_sites(SITES)
    with qtbot.waitSignal(target_map.sites_painted, timeout=10_000) as painted:
        target_map.set_sites(SITES)
    assert painted.args == [100]
    loaded = " ".join(target_map.interceptor.loaded)
    assert "map.html" in loaded and "leaflet.js" in loaded and "countries-50m.js" in loaded
    assert target_map.interceptor.blocked == []
    # The interceptor is what keeps it that way: a request for the internet is stopped and named.
    _js(qtbot, target_map, "(function () { new Image().src = 'https://tile.openstreetmap.org/0/0/0.png'; return 1; })()")
    qtbot.waitUntil(lambda: bool(target_map.interceptor.blocked), timeout=5_000)
    assert target_map.interceptor.blocked == ["https://tile.openstreetmap.org/0/0/0.png"]


def test_the_interceptor_allows_the_map_folder_qt_and_the_configured_tile_server_only(tmp_path):
    guard = LocalOnly(MAP_FOLDER, ["https://tiles.example.net/"])
    assert guard.allows(QUrl.fromLocalFile(str(MAP_FOLDER / "vendor" / "leaflet" / "leaflet.js")))
    assert guard.allows(QUrl("qrc:///qtwebchannel/qwebchannel.js"))
    assert guard.allows(QUrl("https://tiles.example.net/7/80/54.png"))
    assert not guard.allows(QUrl.fromLocalFile(str(MAP_FOLDER / ".." / "omnidesk.qss")))
    assert not guard.allows(QUrl.fromLocalFile("/etc/passwd"))
    assert not guard.allows(QUrl("https://tiles.example.net.evil.example/7/80/54.png"))
    assert not guard.allows(QUrl("https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"))


def test_an_operator_draws_a_polygon_with_the_mouse_and_omnidesk_receives_its_corners(qtbot, target_map):
    _tool(qtbot, target_map, "Draw a warning area (polygon)")
    corners = [(300, 200), (560, 230), (520, 460), (320, 430)]
    with qtbot.waitSignal(target_map.shape_drawn, timeout=5_000) as drawn:
        for x, y in [*corners, corners[0]]:  # a click on the first corner closes the shape
            _click(qtbot, target_map, x, y)
    shape = drawn.args[0]
    assert shape["shape"] == "polygon" and len(shape["points"]) == 4
    for (lat, lng), (x, y) in zip(shape["points"], corners):
        sx, sy = _screen(qtbot, target_map, lat, lng)
        assert abs(sx - x) <= 2 and abs(sy - y) <= 2


def test_rectangles_and_circles_are_dragged_out(qtbot, target_map):
    _tool(qtbot, target_map, "Draw a warning area (rectangle)")
    with qtbot.waitSignal(target_map.shape_drawn, timeout=5_000) as drawn:
        _drag(qtbot, target_map, (300, 200), (500, 400))
    rect = drawn.args[0]
    assert rect["shape"] == "rectangle"
    (south, west), (north, east) = rect["corners"]
    assert south < north and west < east
    assert _screen(qtbot, target_map, north, west) == pytest.approx((300, 200), abs=2)

    _tool(qtbot, target_map, "Draw a warning area (circle)")
    with qtbot.waitSignal(target_map.shape_drawn, timeout=5_000) as drawn:
        _drag(qtbot, target_map, (450, 320), (550, 320))
    circle = drawn.args[0]
    assert circle["shape"] == "circle"
    lat, lng = circle["center"]
    assert _screen(qtbot, target_map, lat, lng) == pytest.approx((450, 320), abs=2)
    # 100 px east at zoom 10 on this latitude, in metres
    metres_per_pixel = 40_075_016.686 * math.cos(math.radians(lat)) / (256 * 2 ** 10)
    assert circle["radius_m"] == pytest.approx(100 * metres_per_pixel, rel=0.03)


def test_a_saved_zone_used_as_the_target_is_reported_like_a_drawn_one(qtbot, target_map):
    zone = {"shape": "circle", "center": [24.47, 54.37], "radius_m": 4000}
    target_map.set_zones([(7, "Corniche", zone)])
    with qtbot.waitSignal(target_map.shape_drawn, timeout=5_000) as drawn:
        target_map.use_shape(zone)
    assert drawn.args[0] == zone


def test_screenshot_of_the_map_with_sites_a_drawn_area_and_a_zone(qtbot, target_map):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with qtbot.waitSignal(target_map.sites_painted, timeout=10_000):
        target_map.set_sites(SITES)
    target_map.set_zones([(1, "Corniche", {"shape": "circle", "center": [24.47, 54.36], "radius_m": 3500})])
    area = {"shape": "polygon", "points": [[24.50, 54.42], [24.62, 54.47], [24.60, 54.62], [24.48, 54.58]]}
    target_map.use_shape(area, notify=False)
    inside = [s.id for s in SITES if 24.50 <= s.lat <= 24.60 and 54.46 <= s.lng <= 54.58]
    target_map.highlight(inside)
    target_map.set_info(f"<b>Warning area</b><br>{len(inside)} of {len(SITES)} sites")
    qtbot.wait(700)
    image = target_map.view.grab().toImage()
    assert image.save(str(SCREENSHOTS / "broadcast_map.png"))
    # The marked sites are painted in the "covered" red, so the picture shows the selection.
    reds = sum(1 for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
               if (lambda c: c.red() > 170 and c.green() < 80 and c.blue() < 70)(image.pixelColor(x, y)))
    assert reds > 20
