"""Where a warning goes: the map to draw on, the covered cells listed beside it, saved zones.

The operator draws; omnidesk.broadcast computes on a worker which sites and cells fall inside and
the panel shows them, marks them on the map and says plainly when there is no area (every cell).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.broadcast import service as broadcast
from omnidesk.broadcast import sites as cell_sites
from omnidesk.cbc import store as cbc_store
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.broadcast.map_view import MapSite, TargetMap
from omnidesk.ui.widgets import set_style_property

MAX_LISTED = 2000  # rows in the covered-cells table; the count above it is always complete


def _peer_protocols(db) -> dict[str, str]:
    return {name: config.protocol for name, config in cbc_store.peer_configs(db).items()}


class TargetPanel(QWidget):
    """`coverage_changed(Coverage)` whenever the target changes; `coverage` holds the current one
    (a Coverage with shape None means every cell of every connected peer)."""

    coverage_changed = Signal(object)

    def __init__(self, db, actor, *, tile_url: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.sites: list[cell_sites.Site] = []
        self.protocols: dict[str, str] = {}  # configured peer -> "cbsp" | "sbcap", to name each cell
        self.zones: list[broadcast.Zone] = []
        self.coverage = broadcast.Coverage(None, (), None, (), broadcast.ALL_CELLS)
        self._asked = 0  # answers to older shapes are dropped when a newer one was drawn

        self.map = TargetMap(tile_url=tile_url)
        self.summary = QLabel(broadcast.ALL_CELLS, objectName="targetSummary", wordWrap=True)
        self.problem = QLabel("", objectName="targetProblem", wordWrap=True)
        self.problem.hide()
        self.cells = QTableWidget(0, 4, objectName="coveredCells")
        self.cells.setHorizontalHeaderLabels(["Site", "Sector", "Peer", "Cell"])
        self.cells.verticalHeader().hide()
        self.cells.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cells.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.cells.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.cells.horizontalHeader().setStretchLastSection(True)
        self.zone_box = QComboBox(objectName="zoneBox")
        self.zone_box.setPlaceholderText("Saved zones")
        self.use_zone = QPushButton("Use zone", objectName="useZone", enabled=False)
        self.save_zone = QPushButton("Save area as zone…", objectName="saveZone", enabled=False)
        self.clear = QPushButton("Whole network", objectName="clearArea")
        self.clear.setToolTip("Remove the drawn area: the warning goes to every cell")
        self.import_sites = QPushButton("Import cell sites…", objectName="importSites")
        may_create = actor.can("create_cbc_message")
        self.save_zone.setVisible(may_create)
        self.import_sites.setVisible(actor.can("manage_settings"))

        zones_row = QHBoxLayout()
        zones_row.addWidget(self.zone_box, 1)
        zones_row.addWidget(self.use_zone)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_zone)
        buttons.addWidget(self.clear)
        buttons.addStretch(1)
        buttons.addWidget(self.import_sites)
        side = QWidget(objectName="targetSide")
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(QLabel("Target", objectName="sectionTitle"))
        side_layout.addWidget(self.summary)
        side_layout.addWidget(self.problem)
        side_layout.addLayout(zones_row)
        side_layout.addLayout(buttons)
        side_layout.addWidget(self.cells, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.map)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.map.shape_drawn.connect(self.target_shape)
        self.map.shape_cleared.connect(self.whole_network)
        self.map.zone_clicked.connect(self._zone_clicked)
        self.clear.clicked.connect(self._clear_clicked)
        self.zone_box.currentIndexChanged.connect(lambda i: self.use_zone.setEnabled(i >= 0))
        self.use_zone.clicked.connect(lambda: self._use_zone_at(self.zone_box.currentIndex()))
        self.save_zone.clicked.connect(self._ask_zone_name)
        self.import_sites.clicked.connect(self._choose_sites_file)

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        """Read the sites and zones on a worker, then show them."""
        db, actor = self.db, self.actor
        ops.query(self, lambda: (cell_sites.list_sites(db, actor), broadcast.list_zones(db, actor), _peer_protocols(db)),
                  self._loaded)

    def _loaded(self, result) -> None:
        self.sites, self.zones, self.protocols = result
        self.map.set_sites(MapSite(s.id, s.lat, s.lng, s.name, tuple(x.azimuth for x in s.sectors)) for s in self.sites)
        self.map.set_zones((z.id, z.name, z.shape.to_json()) for z in self.zones)
        self.map.fit_sites()
        self.zone_box.clear()
        self.zone_box.addItems([z.name for z in self.zones])
        self.zone_box.setCurrentIndex(-1)
        self._show(self.coverage)

    # ------------------------------------------------------------------ the target

    def target_shape(self, shape: dict) -> None:
        """Work out what `shape` (as the map reports it) covers, on a worker."""
        self._asked += 1
        asked, db, actor, sites = self._asked, self.db, self.actor, list(self.sites)
        ops.query(self, lambda: broadcast.compute_coverage(db, actor, shape, site_list=sites),
                  lambda coverage: self._answered(asked, coverage),
                  lambda exc: self._refused(asked, exc))

    def whole_network(self) -> None:
        self._asked += 1
        self.map.clear_shape()
        self._show(broadcast.Coverage(None, (), None, (), broadcast.ALL_CELLS))

    def _clear_clicked(self) -> None:
        self.whole_network()

    def _answered(self, asked: int, coverage) -> None:
        if asked == self._asked:
            self._show(coverage)

    def _refused(self, asked: int, exc: Exception) -> None:
        if asked != self._asked:
            return
        if not isinstance(exc, ServiceError):
            ops.show_error(self, exc)
            return
        # The drawn area cannot be used (it crosses itself, say): say why, and target nothing
        # rather than silently falling back to every cell.
        self.coverage = None
        self.map.highlight([])
        self.problem.setText(str(exc))
        self.problem.show()
        self.summary.setText("No usable warning area: draw it again, or choose Whole network.")
        self.save_zone.setEnabled(False)
        self.cells.setRowCount(0)
        self.coverage_changed.emit(None)

    def _show(self, coverage) -> None:
        self.coverage = coverage
        self.problem.hide()
        whole = coverage.shape is None
        set_style_property(self.summary, "whole", whole)
        self.summary.setText(coverage.summary)
        self.save_zone.setEnabled(not whole)
        self.map.highlight([s.id for s in coverage.sites])
        if whole:
            self.map.set_info(f"<b>No area drawn</b><br>Every cell: {len(self.sites):,} sites")
        else:
            self.map.set_info(f"<b>Warning area</b><br>{len(coverage.sites):,} of {len(self.sites):,} sites, "
                              f"{coverage.cell_count:,} cells")
        rows = [(site.name, str(x.sector), x.peer or "—",
                 x.cell_label(self.protocols.get(x.peer or "")) or "no cell identity")
                for site in coverage.sites for x in site.sectors][:MAX_LISTED]
        self.cells.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                self.cells.setItem(r, c, QTableWidgetItem(value))
        self.coverage_changed.emit(coverage)

    # ------------------------------------------------------------------ zones

    def _zone_clicked(self, zone_id: int) -> None:
        for i, zone in enumerate(self.zones):
            if zone.id == zone_id:
                self.zone_box.setCurrentIndex(i)
                self._use_zone_at(i)

    def _use_zone_at(self, index: int) -> None:
        if 0 <= index < len(self.zones):
            self.map.use_shape(self.zones[index].shape.to_json())  # reported back through shape_drawn

    def _ask_zone_name(self) -> None:
        if self.coverage is None or self.coverage.shape is None:
            return
        name, ok = QInputDialog.getText(self, "Save zone", "Name of this zone:")
        if ok:
            self.save_named_zone(name)

    def save_named_zone(self, name: str) -> None:
        shape, db, actor = self.coverage.shape, self.db, self.actor
        ops.mutate(self, lambda: broadcast.save_zone(db, actor, name, shape), lambda _zone: self.load(),
                   success_message=f"Zone {name.strip()!r} saved")

    # ------------------------------------------------------------------ cell sites

    def _choose_sites_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import cell sites", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        db, actor = self.db, self.actor

        def read_and_import():
            try:
                with open(path, encoding="utf-8-sig") as f:
                    data = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise ServiceError(f"{path} cannot be read: {exc}") from exc
            return cell_sites.import_csv(db, actor, data)

        ops.mutate(self, read_and_import, lambda _result: self.load(), success_message=lambda result: result.message)


__all__ = ["TargetPanel"]
