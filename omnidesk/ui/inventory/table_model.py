"""The inventory table: items read from the server one page at a time, as the customer table does.

Only the pages the view asks for (the visible rows) are read, in the background; a few are kept,
least recently used first out, so scrolling through a million SIMs holds a few hundred rows. The
count of a search stops at COUNT_CAP ("10,000+"). Results of an older query are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, replace

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor

from omnidesk.inventory import rules
from omnidesk.inventory import service as inventory
from omnidesk.inventory.service import ItemRow
from omnidesk.ui import ops

PLACEHOLDER = "…"
ITEM_ID_ROLE = Qt.ItemDataRole.UserRole + 1
COUNT_CAP = 10_000

STATE_COLOURS = {
    "new": QColor("#1a7f37"),
    "used": QColor("#0969da"),
    "internal_use": QColor("#8250df"),
    "assigned": QColor("#24292f"),
    "damaged": QColor("#bc4c00"),
    "out_of_service": QColor("#9a6700"),
    "lost": QColor("#cf222e"),
    "stolen": QColor("#cf222e"),
}


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    align_right: bool = False


COLUMNS = (
    Column("ID", 70, True),
    Column("Type", 130),
    Column("Identifier", 190),
    Column("Second identifier", 160),
    Column("State", 110),
    Column("Location", 140),
    Column("Customer", 180),
    Column("Service", 70, True),
    Column("Sold", 120),
    Column("Last changed", 130),
)


@dataclass(frozen=True)
class ItemQuery:
    """The list_items arguments the table shows."""

    search: str = ""
    template: str | None = None
    state: str | None = None
    location: str | None = None
    assigned: bool | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.search or self.template or self.state or self.location or self.assigned is not None)

    def arguments(self) -> dict:
        return dict(search=self.search, template=self.template, state=self.state, location=self.location,
                    assigned=self.assigned)


def when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def cells(row: ItemRow) -> tuple[str, ...]:
    customer = f"{row.customer_name} ({row.customer_id})" if row.customer_id is not None else ""
    return (
        str(row.id), row.template_name, row.itemtext1 or "", row.itemtext2 or "", rules.state_label(row.item_state),
        row.item_location, customer, str(row.service_id) if row.service_id else "", when(row.sold_date),
        when(row.updated_at),
    )


class ItemTableModel(QAbstractTableModel):
    count_changed = Signal(int)  # -1 while counting
    first_page_loaded = Signal()

    def __init__(self, db, actor, parent: QObject | None = None, *, page_size: int = 200, max_pages: int = 6):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.page_size, self.max_pages = page_size, max_pages
        self.query = ItemQuery()
        self.count: int | None = None
        self.count_capped = False
        self._rows = 0
        self._query_id = 0
        self._generation = 0
        self._failed_generation = -1
        self._pages: OrderedDict[int, tuple[int, list[ItemRow]]] = OrderedDict()  # number -> (generation, rows)
        self._wanted: OrderedDict[int, None] = OrderedDict()
        self._loading: set[tuple[int, int]] = set()
        self._dispatch = QTimer(self, singleShot=True, interval=15)
        self._dispatch.timeout.connect(self._fetch_wanted)
        self._refresh_timer = QTimer(self, singleShot=True, interval=200)
        self._refresh_timer.timeout.connect(self.refresh)

    # --- Qt model interface ---

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.align_right else Qt.AlignmentFlag.AlignLeft
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
                        ITEM_ID_ROLE):
            return None
        row = self.row_at(index.row())
        if row is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return PLACEHOLDER
            return QColor("#8c959f") if role == Qt.ItemDataRole.ForegroundRole else None
        if role == ITEM_ID_ROLE:
            return row.id
        if role == Qt.ItemDataRole.ForegroundRole:
            return STATE_COLOURS.get(row.item_state) if column.title == "State" else None
        text = cells(row)[index.column()]
        return (text or None) if role == Qt.ItemDataRole.ToolTipRole else text

    # --- pages ---

    def row_at(self, row: int) -> ItemRow | None:
        number, offset = divmod(row, self.page_size)
        page = self._pages.get(number)
        if page is None:
            self._want(number)
            return None
        self._pages.move_to_end(number)
        generation, rows = page
        if generation != self._generation and (number, self._generation) not in self._loading:
            self._want(number)
        return rows[offset] if offset < len(rows) else None

    def item_id(self, row: int) -> int | None:
        item = self.row_at(row)
        return item.id if item else None

    def loaded_rows(self) -> list[ItemRow]:
        """Every row held in memory, in table order (for tests)."""
        return [r for n in sorted(self._pages) for r in self._pages[n][1]]

    def _want(self, number: int) -> None:
        if self._failed_generation == self._generation:
            return
        self._wanted[number] = None
        self._wanted.move_to_end(number)
        while len(self._wanted) > max(2, self.max_pages // 2):
            self._wanted.popitem(last=False)
        if not self._dispatch.isActive():
            self._dispatch.start()

    def _fetch_wanted(self) -> None:
        busy = {n for n, g in self._loading if g == self._generation}
        for number in reversed(list(self._wanted)):
            if len(self._loading) >= 2:
                break
            del self._wanted[number]
            cached = self._pages.get(number)
            if number in busy or (cached is not None and cached[0] == self._generation):
                continue
            self._fetch(number)

    def _fetch(self, number: int) -> None:
        query, query_id, generation = self.query, self._query_id, self._generation
        key = (number, generation)
        self._loading.add(key)
        db, actor, offset, size = self.db, self.actor, number * self.page_size, self.page_size

        def loaded(rows: list[ItemRow]) -> None:
            self._loading.discard(key)
            if query_id == self._query_id:
                self._page_arrived(number, generation, rows)
            if self._wanted:
                self._dispatch.start()

        def failed(exc: Exception) -> None:
            self._loading.discard(key)
            self._wanted.clear()
            if query_id == self._query_id and self._failed_generation != generation:
                self._failed_generation = generation
                ops.show_error(None, exc)

        ops.query(self, lambda: inventory.list_items(db, actor, offset=offset, limit=size, **query.arguments()),
                  loaded, failed)

    def _page_arrived(self, number: int, generation: int, rows: list[ItemRow]) -> None:
        current = self._pages.get(number)
        if current is not None and current[0] > generation:
            return
        self._pages[number] = (generation, rows)
        self._pages.move_to_end(number)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        if self.count is None and number == 0:
            self._resize(len(rows) if len(rows) < self.page_size else max(self._rows, len(rows)))
            if len(rows) < self.page_size:
                self.count = len(rows)
                self.count_changed.emit(self.count)
        start = number * self.page_size
        end = min(self._rows, start + max(len(rows), self.page_size)) - 1
        if end >= start:
            self.dataChanged.emit(self.index(start, 0), self.index(end, len(COLUMNS) - 1))
        if number == 0 and current is None:
            self.first_page_loaded.emit()

    def _resize(self, rows: int) -> None:
        if rows > self._rows:
            self.beginInsertRows(QModelIndex(), self._rows, rows - 1)
            self._rows = rows
            self.endInsertRows()
        elif rows < self._rows:
            self.beginRemoveRows(QModelIndex(), rows, self._rows - 1)
            self._rows = rows
            self.endRemoveRows()

    def _recount(self) -> None:
        query, query_id = self.query, self._query_id
        db, actor = self.db, self.actor
        cap = COUNT_CAP if query.search else None

        def counted(total: int) -> None:
            if query_id != self._query_id:
                return
            self.count_capped = cap is not None and total > cap
            self.count = cap if self.count_capped else total
            self._resize(self.count)
            self.count_changed.emit(total)

        def failed(exc: Exception) -> None:
            if query_id == self._query_id:
                ops.show_error(None, exc)

        ops.query(self, lambda: inventory.count_items(db, actor, cap=cap, **query.arguments()), counted, failed)

    # --- what to show ---

    def update_query(self, **changes) -> None:
        new = replace(self.query, **changes)
        if new != self.query:
            self.query = new
            self.reload()

    def reload(self) -> None:
        self._query_id += 1
        self._generation += 1
        self.beginResetModel()
        self._pages.clear()
        self._wanted.clear()
        self._rows = 0
        self.count = None
        self.count_capped = False
        self.endResetModel()
        self.count_changed.emit(-1)
        self._recount()
        self._fetch(0)

    def refresh(self) -> None:
        """Re-count and re-read the pages on screen; cached rows stay visible until their fresh copy arrives."""
        self._refresh_timer.stop()
        self._generation += 1
        self._recount()
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(COLUMNS) - 1))

    def schedule_refresh(self) -> None:
        self._refresh_timer.start()
