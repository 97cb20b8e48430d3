"""A table model over all customers that reads from the server one page at a time.

Only pages the view actually asks for (the visible rows) are read, in the background; a few pages
are kept (least recently used first out), so scrolling through a million customers holds a few
hundred rows at most. Results of an older query (the search text changed meanwhile) are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from decimal import Decimal

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont

from omnidesk.customers import service
from omnidesk.customers.service import CustomerRow
from omnidesk.ui import ops
from omnidesk.ui.widgets import humane

PLACEHOLDER = "…"
CUSTOMER_ID_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Column:
    title: str
    attribute: str
    sort_key: str | None  # the service's sort key, None where the server cannot sort by it
    width: int
    align_right: bool = False

    @property
    def alignment(self) -> Qt.AlignmentFlag:
        return (Qt.AlignmentFlag.AlignRight if self.align_right else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter


COLUMNS = (
    Column("ID", "id", "id", 80, True),
    Column("Name", "name", "name", 220),
    Column("Type", "account_type", "account_type", 90),
    Column("Status", "status", "status", 90),
    Column("Payment", "payment_type", "payment_type", 85),
    Column("Currency", "currency", None, 80),
    Column("Credit limit", "credit_limit", None, 95, True),
    Column("E-mail", "email", None, 250),
    Column("Phone", "phone", None, 130),
    Column("Created", "created_at", "created_at", 130),
)

STATUS_COLOURS = {
    "pending": QColor("#9a6700"),
    "active": QColor("#1a7f37"),
    "suspended": QColor("#bc4c00"),
    "closed": QColor("#6e7781"),
}


@dataclass(frozen=True)
class CustomerQuery:
    """What the table shows: the service's filter and sort arguments."""

    search: str = ""
    status: str | None = None
    include_archived: bool = False
    sort: str = "name"
    descending: bool = False


@dataclass
class _Page:
    rows: list[CustomerRow]
    generation: int  # the data generation the rows were read in


def display_value(row: CustomerRow, attribute: str) -> str:
    value = getattr(row, attribute)
    if value is None:
        return ""
    if attribute in ("account_type", "status", "payment_type"):
        return humane(value)
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    return str(value)


class CustomerTableModel(QAbstractTableModel):
    """Rows come from `list_customers` in pages, the row count from `count_customers`."""

    count_changed = Signal(int)
    first_page_loaded = Signal()  # once per query: the first rows of a new query are in

    def __init__(self, db, actor, parent: QObject | None = None, *, page_size: int = 200, max_pages: int = 6):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.page_size = page_size
        self.max_pages = max_pages
        self.query = CustomerQuery()
        self._query_id = 0  # bumped when the query changes: older results are dropped
        self._generation = 0  # bumped on refresh: cached pages become stale but stay visible
        self._rows = 0
        self._count: int | None = None
        self.count_capped = False  # a search matched more than SEARCH_COUNT_CAP: only that many rows are listed
        self._count_generation = -1
        self._failed_generation = -1
        self._pages: OrderedDict[int, _Page] = OrderedDict()
        self._wanted: OrderedDict[int, None] = OrderedDict()  # most recently requested last
        self._loading: set[tuple[int, int]] = set()  # (page, generation) being read
        self.max_pages_held = 0  # high-water mark, for tests and benchmarks
        self.pages_read: deque[int] = deque(maxlen=10_000)  # page numbers in the order they arrived
        self._dispatch = QTimer(self, singleShot=True, interval=15)
        self._dispatch.timeout.connect(self._fetch_wanted)
        self._refresh_timer = QTimer(self, singleShot=True, interval=200)
        self._refresh_timer.timeout.connect(self.refresh)
        self._refresh_deadline = QTimer(self, singleShot=True, interval=1000)
        self._refresh_deadline.timeout.connect(self.refresh)

    # --- Qt model interface ---

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return COLUMNS[section].alignment
            if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section].sort_key is None:
                return "This column cannot be sorted."
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment
        if role not in (
            Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.FontRole, CUSTOMER_ID_ROLE,
        ):
            return None
        row = self.row_at(index.row())
        if row is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return PLACEHOLDER
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("#8c959f")
            return None
        if role == CUSTOMER_ID_ROLE:
            return row.id
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.archived:
                return QColor("#8c959f")
            return STATUS_COLOURS.get(row.status) if column.attribute == "status" else None
        if role == Qt.ItemDataRole.FontRole:
            if row.archived:
                font = QFont()
                font.setItalic(True)
                return font
            return None
        text = display_value(row, column.attribute)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.name} is archived" if row.archived else (text or None)
        if column.attribute == "name" and row.archived:
            return f"{text} (archived)"
        return text

    # --- rows and pages ---

    def row_at(self, row: int) -> CustomerRow | None:
        """The customer in `row` if its page is loaded; otherwise asks for the page and returns None."""
        number, offset = divmod(row, self.page_size)
        page = self._pages.get(number)
        if page is None:
            self._want(number)
            return None
        self._pages.move_to_end(number)
        if page.generation != self._generation and (number, self._generation) not in self._loading:
            self._want(number)  # stale after a change elsewhere: shown until its fresh copy arrives
        return page.rows[offset] if offset < len(page.rows) else None

    def customer_id(self, row: int) -> int | None:
        customer = self.row_at(row)
        return customer.id if customer else None

    def cached_pages(self) -> list[int]:
        return list(self._pages)

    @property
    def count(self) -> int | None:
        """The number of customers matching the query, once counted."""
        return self._count

    def _want(self, number: int) -> None:
        if self._failed_generation == self._generation:
            return  # a read failed and was reported; wait for a refresh instead of retrying on every paint
        self._wanted[number] = None
        self._wanted.move_to_end(number)
        # Only the last few requests matter: during a fast scroll the earlier ones are long off screen.
        while len(self._wanted) > max(2, self.max_pages // 2):
            self._wanted.popitem(last=False)
        if not self._dispatch.isActive():
            self._dispatch.start()

    def _fetch_wanted(self) -> None:
        busy = {number for number, generation in self._loading if generation == self._generation}
        # At most two page reads at a time; the rest wait here and the newest go first.
        for number in reversed(list(self._wanted)):
            if len(self._loading) >= 2:
                break
            del self._wanted[number]
            cached = self._pages.get(number)
            if number in busy or (cached is not None and cached.generation == self._generation):
                continue  # asked for again while it was on its way
            self._fetch(number)

    def _fetch(self, number: int) -> None:
        query, query_id, generation = self.query, self._query_id, self._generation
        count = None if self.count_capped else self._count  # reading from the far end needs the true total
        key = (number, generation)
        self._loading.add(key)
        offset, size = number * self.page_size, self.page_size
        db, actor = self.db, self.actor

        def read() -> list[CustomerRow]:
            start, limit = offset, size
            # Deep OFFSETs cost a walk over every skipped row; near the end, read from the other end.
            from_end = count is not None and offset > count // 2 and count > 2 * size
            if from_end:
                limit = min(size, count - offset)
                if limit <= 0:
                    return []
                start = count - offset - limit
            rows = service.list_customers(
                db, actor, search=query.search, sort=query.sort, descending=query.descending != from_end,
                offset=start, limit=limit, include_archived=query.include_archived, status=query.status,
            )
            if from_end:
                rows.reverse()
            return rows

        def loaded(rows: list[CustomerRow]) -> None:
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

        ops.query(self, read, loaded, failed)

    def _page_arrived(self, number: int, generation: int, rows: list[CustomerRow]) -> None:
        current = self._pages.get(number)
        if current is not None and current.generation > generation:
            return
        self.pages_read.append(number)
        self._pages[number] = _Page(rows, generation)
        self._pages.move_to_end(number)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        self.max_pages_held = max(self.max_pages_held, len(self._pages))
        first_load = number == 0 and current is None
        if self._count is None and number == 0:
            # The count may take longer than the first page; show what we have meanwhile.
            self._resize(len(rows) if len(rows) < self.page_size else max(self._rows, len(rows)))
            if len(rows) < self.page_size:
                self._count = len(rows)
                self.count_changed.emit(self._count)
        start = number * self.page_size
        end = min(self._rows, start + max(len(rows), self.page_size)) - 1
        if end >= start:
            self.dataChanged.emit(self.index(start, 0), self.index(end, len(COLUMNS) - 1))
        if first_load:
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
        query, query_id, generation = self.query, self._query_id, self._generation
        db, actor = self.db, self.actor
        # Counting every match of a broad search ("example") costs seconds on a million customers;
        # searches count up to the service's cap and the list says "10,000+".
        cap = service.SEARCH_COUNT_CAP if query.search else None

        def counted(total: int) -> None:
            if query_id != self._query_id or generation < self._count_generation:
                return
            self._count_generation = generation
            self.count_capped = cap is not None and total > cap
            self._count = cap if self.count_capped else total
            self._resize(self._count)
            self.count_changed.emit(total)

        def failed(exc: Exception) -> None:
            if query_id == self._query_id:
                ops.show_error(None, exc)

        ops.query(
            self,
            lambda: service.count_customers(
                db, actor, search=query.search, include_archived=query.include_archived, status=query.status, cap=cap
            ),
            counted,
            failed,
        )

    # --- what to show ---

    def set_query(self, query: CustomerQuery) -> None:
        """Show a different selection or order: forget every page and start again."""
        self.query = query
        self.reload()

    def update_query(self, **changes) -> None:
        new = replace(self.query, **changes)
        if new != self.query:
            self.set_query(new)

    def reload(self) -> None:
        self._query_id += 1
        self._generation += 1
        self.beginResetModel()
        self._pages.clear()
        self._wanted.clear()
        self._rows = 0
        self._count = None
        self.count_capped = False
        self._count_generation = -1
        self.endResetModel()
        self.count_changed.emit(-1)
        self._recount()
        self._fetch(0)

    def refresh(self) -> None:
        """Re-read after a change elsewhere: re-count, and re-read the pages still on screen.

        Cached pages stay visible until their fresh copy arrives, so rows do not flicker to "…".
        """
        self._refresh_timer.stop()
        self._refresh_deadline.stop()
        self._generation += 1
        self._recount()
        if self._rows:
            # Repainting makes the view ask for its visible rows again, which re-reads their pages.
            self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(COLUMNS) - 1))

    def schedule_refresh(self) -> None:
        """Refresh ~200 ms after the last of a burst of changes (and at least once a second during one)."""
        self._refresh_timer.start()
        if not self._refresh_deadline.isActive():
            self._refresh_deadline.start()
