"""The targeting map: Leaflet in a QWebEngineView, working with no internet.

Everything the page loads comes from resources/map/ (Leaflet, the drawing tools and a Natural Earth
basemap are vendored there by scripts/vendor-map-assets) or from Qt itself (qwebchannel.js). A
request interceptor refuses anything else, so a page that tried to reach the internet would show
it at once, in the `blocked` list, instead of hanging on a closed network. The one exception is a
tile server the workstation's settings name (`map_tile_url`).

The page only draws: it reports the operator's shape over the web channel and OmniDesk computes
the covered cells (omnidesk.broadcast) and sends back which sites to mark.
"""

from __future__ import annotations

import json

import shiboken6
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import (
    QWebEnginePage,
    QWebEngineScript,
    QWebEngineSettings,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QVBoxLayout, QWidget

MAP_FOLDER = Path(__file__).resolve().parents[3] / "resources" / "map"


@dataclass(frozen=True)
class MapSite:
    """A cell site as the map shows it: a dot, one arrow per sector azimuth, and its name."""

    id: int | str
    lat: float
    lng: float
    name: str
    azimuths: Sequence[float] = field(default_factory=tuple)


class LocalOnly(QWebEngineUrlRequestInterceptor):
    """Lets the page load files of `folder`, Qt's own resources and `also_allowed` URL prefixes; blocks the rest."""

    def __init__(self, folder: Path, also_allowed: Iterable[str] = (), parent: QObject | None = None):
        super().__init__(parent)
        self.folder = folder.resolve()
        self.also_allowed = tuple(also_allowed)
        self.blocked: list[str] = []
        self.loaded: list[str] = []

    def allows(self, url: QUrl) -> bool:
        scheme = url.scheme()
        if scheme in ("qrc", "data", "blob"):
            return True
        if scheme == "file":
            path = Path(url.toLocalFile()).resolve()
            return path == self.folder or self.folder in path.parents
        text = url.toString()
        return any(text.startswith(prefix) for prefix in self.also_allowed)

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:  # noqa: N802 (Qt's name)
        url = info.requestUrl()
        if self.allows(url):
            self.loaded.append(url.toString())
        else:
            self.blocked.append(url.toString())
            info.block(True)


def tile_prefix(tile_url: str) -> str:
    """The part of a tile URL template before its first placeholder: what the interceptor lets through."""
    return tile_url.split("{", 1)[0]


class _Bridge(QObject):
    """What the page may call (over QWebChannel); each call becomes a Qt signal."""

    ready = Signal()
    shape_drawn = Signal(dict)
    shape_cleared = Signal()
    sites_painted = Signal(int)
    zone_clicked = Signal(int)

    @Slot()
    def pageReady(self) -> None:  # noqa: N802 (called from JavaScript)
        self.ready.emit()

    @Slot(str)
    def shapeDrawn(self, text: str) -> None:  # noqa: N802
        try:
            shape = json.loads(text)
        except ValueError:
            return  # the page is ours; a malformed report is ignored rather than trusted
        if isinstance(shape, dict):
            self.shape_drawn.emit(shape)

    @Slot()
    def shapeCleared(self) -> None:  # noqa: N802
        self.shape_cleared.emit()

    @Slot(int)
    def sitesPainted(self, count: int) -> None:  # noqa: N802
        self.sites_painted.emit(count)

    @Slot(int)
    def zoneClicked(self, zone_id: int) -> None:  # noqa: N802
        self.zone_clicked.emit(zone_id)


class TargetMap(QWidget):
    """The map widget. Signals: `ready` once the page can take calls, `shape_drawn(dict)` with
    {"shape": "polygon", "points": [[lat, lng], ...]} | {"shape": "rectangle", "corners": [[s, w], [n, e]]} |
    {"shape": "circle", "center": [lat, lng], "radius_m": r} (the form omnidesk.broadcast.coverage reads),
    `shape_cleared`, `zone_clicked(id)` and
    `sites_painted(count)` once the sites given to `set_sites` are on screen."""

    ready = Signal()
    shape_drawn = Signal(dict)
    shape_cleared = Signal()
    zone_clicked = Signal(int)
    sites_painted = Signal(int)

    def __init__(self, tile_url: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.is_ready = False
        self._pending: list[str] = []
        self._site_ids: list[int | str] = []
        self.view = QWebEngineView(self)
        self.interceptor = LocalOnly(MAP_FOLDER, [tile_prefix(tile_url)] if tile_url else [], self)
        # The application's default profile (off the record in Qt 6: nothing cached on disk), with
        # this page's own gate; a profile of our own would have to outlive the page, which Qt
        # cannot promise when Python tears the widgets down.
        self.page = QWebEnginePage(self.view)
        self.page.setUrlRequestInterceptor(self.interceptor)
        # A page from file:// may not reach http(s) at all by default, which would also stop a
        # configured tile server; the interceptor above is the one gate, and it names what it stops.
        self.page.settings().setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, True)
        self.bridge = _Bridge(self)
        self.channel = QWebChannel(self.page)
        self.channel.registerObject("bridge", self.bridge)
        self.page.setWebChannel(self.channel)
        config = QWebEngineScript()
        config.setName("omnidesk-config")
        config.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
        config.setWorldId(QWebEngineScript.ScriptWorldId.MainWorld)
        config.setSourceCode(f"window.OMNIDESK_MAP_CONFIG = {json.dumps({'tileUrl': tile_url or ''})};")
        self.page.scripts().insert(config)
        self.view.setPage(self.page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self.bridge.ready.connect(self._page_ready)
        self.bridge.shape_drawn.connect(self.shape_drawn)
        self.bridge.shape_cleared.connect(self.shape_cleared)
        self.bridge.zone_clicked.connect(self.zone_clicked)
        self.bridge.sites_painted.connect(self.sites_painted)
        self.view.load(QUrl.fromLocalFile(str(MAP_FOLDER / "map.html")))

    def release(self) -> None:
        """Delete the web view and its page now (the application is closing): Qt WebEngine warns, and
        may crash, when its profile is released at exit while a page still exists."""
        if self.view is not None:
            self.is_ready = False
            shiboken6.delete(self.view)
            self.view = None

    # ---------------------------------------------------------------- calls into the page

    def _call(self, function: str, *args) -> None:
        script = f"omnimap.{function}({', '.join(json.dumps(a, separators=(',', ':')) for a in args)});"
        if self.view is None:
            return  # released: the application is closing
        if self.is_ready:
            self.page.runJavaScript(script)
        else:
            self._pending.append(script)  # sent in order once the page has loaded

    def _page_ready(self) -> None:
        self.is_ready = True
        for script in self._pending:
            self.page.runJavaScript(script)
        self._pending.clear()
        self.ready.emit()

    def set_sites(self, sites: Iterable[MapSite]) -> None:
        rows, self._site_ids = [], []
        for site in sites:
            self._site_ids.append(site.id)
            rows.append([round(site.lat, 6), round(site.lng, 6), site.name, [round(a, 1) for a in site.azimuths]])
        self._call("setSites", rows)

    def fit_sites(self) -> None:
        self._call("fitSites")

    def highlight(self, site_ids: Iterable[int | str]) -> None:
        """Mark these sites as inside the warning area (and unmark the rest)."""
        wanted = set(site_ids)
        self._call("highlight", [i for i, sid in enumerate(self._site_ids) if sid in wanted])

    def set_info(self, html: str) -> None:
        self._call("setInfo", html)

    def set_zones(self, zones: Iterable[tuple[int, str, dict]]) -> None:
        self._call("setZones", [{"id": zid, "name": name, "shape": shape} for zid, name, shape in zones])

    def use_shape(self, shape: dict, *, notify: bool = True) -> None:
        """Show `shape` as the warning area (a saved zone, say); with `notify`, emit `shape_drawn` for it."""
        self._call("useShape", shape, notify)

    def clear_shape(self) -> None:
        self._call("clearShape")

    def set_view(self, lat: float, lng: float, zoom: float) -> None:
        self._call("view", lat, lng, zoom)


__all__ = ["MAP_FOLDER", "LocalOnly", "MapSite", "TargetMap", "tile_prefix"]
