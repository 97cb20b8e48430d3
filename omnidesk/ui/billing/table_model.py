"""Transactions and invoices one page at a time: a model fed by the billing service's paged queries.

The list pages explicitly (Previous / Next, "Page 2 of 7") rather than by scrolling: billing staff
look for one invoice or one period, and a page number is something they can say to each other.
Each page and each count is read on a worker (ops.query); an answer to an older query is dropped.
Clicking a header sorts on the server by that column; a second click reverses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from omnidesk.billing import rules
from omnidesk.billing.service import InvoiceView, TransactionView
from omnidesk.ui import ops

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE_SIZE = 100

STATUS_COLOURS = {
    "unpaid": QColor("#9a6700"), "partially_paid": QColor("#bc4c00"), "paid": QColor("#1a7f37"),
    "void": QColor("#8c959f"), "refunded": QColor("#8250df"),
}
GREY = QColor("#8c959f")
RED = QColor("#cf222e")


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    text: Callable[[Any], str]
    sort: str | None = None  # the service's sort key; None = not sortable
    align_right: bool = False


def status_label(status: str) -> str:
    return status.replace("_", " ").capitalize()


def _amount(t: TransactionView) -> str:
    return rules.money(t.retail_cost + t.tax_amount, t.currency or "USD")


def transaction_columns(*, with_customer: bool) -> tuple[Column, ...]:
    """ID, Date, [Customer], Title, Description, Amount, Tax, Invoice, Status (✓ invoiced / - not)."""
    columns = [
        Column("ID", 64, lambda t: str(t.id), "id", True),
        Column("Date", 92, lambda t: t.transaction_date.isoformat(), "date"),
    ]
    if with_customer:
        columns.append(Column("Customer", 170, lambda t: f"{t.customer_name} ({t.customer_id})"))
    columns += [
        Column("Title", 230, lambda t: t.title + (" (void)" if t.void else ""), "title"),
        Column("Description", 180, lambda t: t.description),
        Column("Amount", 100, _amount, "amount", True),
        Column("Tax", 100, lambda t: rules.tax_display(t.tax_amount, t.tax_percentage, t.currency or "USD"),
               None, True),
        Column("Kind", 70, lambda t: t.kind.capitalize()),
        Column("Invoice", 130, lambda t: t.invoice_number or "", "invoice"),
        Column("Invoiced", 60, lambda t: "✓" if t.invoiced else "-"),
    ]
    return tuple(columns)


def invoice_columns(*, with_customer: bool) -> tuple[Column, ...]:
    columns = [
        Column("Number", 130, lambda i: i.number, "number"),
        Column("Issued", 92, lambda i: i.issue_date.isoformat(), "date"),
        Column("Due", 92, lambda i: i.due_date.isoformat(), "due"),
    ]
    if with_customer:
        columns.append(Column("Customer", 180, lambda i: f"{i.customer_name} ({i.customer_id})", "customer"))
    columns += [
        Column("Title", 270, lambda i: i.title),
        Column("Total", 100, lambda i: rules.money(i.total, i.currency), "total", True),
        Column("Paid", 100, lambda i: rules.money(i.paid_amount, i.currency), None, True),
        Column("Outstanding", 112, lambda i: rules.money(i.outstanding, i.currency), None, True),
        Column("Status", 100, lambda i: status_label(i.status), "status"),
    ]
    return tuple(columns)


@dataclass(frozen=True)
class PageQuery:
    """Filters, sort and page of one list; `filters` are the service's keyword arguments."""

    filters: tuple[tuple[str, Any], ...] = ()
    sort: str = "id"
    descending: bool = True
    page: int = 0

    def arguments(self) -> dict:
        return dict(self.filters)


class PagedTableModel(QAbstractTableModel):
    """Shows one page of rows; `fetch(offset, limit, sort, descending, **filters)` and
    `count(**filters)` are service calls run on a worker."""

    page_loaded = Signal()
    count_changed = Signal(int)  # -1 while counting
    failed = Signal(str)

    def __init__(self, columns: Sequence[Column], fetch: Callable[..., list], count: Callable[..., int],
                 parent: QObject | None = None, *, page_size: int = PAGE_SIZE, sort: str = "id"):
        super().__init__(parent)
        self.columns = tuple(columns)
        self._fetch_fn, self._count_fn = fetch, count
        self.page_size = page_size
        self.query = PageQuery(sort=sort)
        self.rows: list = []
        self.count: int | None = None
        self._request = 0
        self._count_request = 0
        self._started = False  # nothing is read before the first set_filters

    # --- Qt model interface ---

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole and column.sort:
            return f"Sort by {column.title.lower()}"
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row, column = self.rows[index.row()], self.columns[index.column()]
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return column.text(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.align_right else Qt.AlignmentFlag.AlignLeft
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ForegroundRole:
            if isinstance(row, InvoiceView):
                return STATUS_COLOURS.get(row.status) if column.title == "Status" else (
                    GREY if row.status == "void" else None)
            if isinstance(row, TransactionView):
                if row.void:
                    return GREY
                if column.title == "Amount" and row.retail_cost < 0:
                    return RED
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column].sort
        if key is None:
            return
        self._set(replace(self.query, sort=key, descending=order == Qt.SortOrder.DescendingOrder, page=0),
                  recount=False)

    def sort_column(self) -> int:
        for i, column in enumerate(self.columns):
            if column.sort == self.query.sort:
                return i
        return -1

    # --- what to show ---

    def row(self, row: int):
        return self.rows[row] if 0 <= row < len(self.rows) else None

    @property
    def pages(self) -> int:
        return max(1, -(-(self.count or 0) // self.page_size))

    def set_filters(self, **filters) -> None:
        self._started = True
        self._set(replace(self.query, filters=tuple(sorted(filters.items())), page=0), recount=True)

    def go_to_page(self, page: int) -> None:
        page = max(0, min(page, self.pages - 1))
        if page != self.query.page:
            self._set(replace(self.query, page=page), recount=False)

    def _set(self, query: PageQuery, *, recount: bool) -> None:
        self.query = query
        if self._started:
            self.reload(recount=recount)

    def reload(self, *, recount: bool = True) -> None:
        """Read the current page again (and count again): after a change here or elsewhere."""
        self._request += 1
        request, query = self._request, self.query
        fetch, size = self._fetch_fn, self.page_size

        def loaded(rows: list) -> None:
            if request != self._request:
                return
            self.beginResetModel()
            self.rows = list(rows)
            self.endResetModel()
            self.page_loaded.emit()

        def failed(exc: Exception) -> None:
            if request == self._request:
                self.failed.emit(ops.error_text(exc)[0])
                ops.show_error(None, exc)

        ops.query(self, lambda: fetch(offset=query.page * size, limit=size, sort=query.sort,
                                      descending=query.descending, **query.arguments()), loaded, failed)
        if recount:
            self._recount()

    def _recount(self) -> None:
        self._count_request += 1
        request, query, count = self._count_request, self.query, self._count_fn
        self.count = None
        self.count_changed.emit(-1)

        def counted(total: int) -> None:
            if request == self._count_request:
                self.count = total
                self.count_changed.emit(total)

        ops.query(self, lambda: count(**query.arguments()), counted, lambda exc: None)


def money_or_dash(value: Decimal | None, currency: str) -> str:
    return rules.money(value, currency) if value is not None else "—"


def iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""
