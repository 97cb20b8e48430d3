"""A customer's Services sub-tab: each service with its status and badges (Auto-Renew, Expiring Soon),
dates, cost and linked inventory; the selected one's read-only fields and inventory with 64-px QR
codes; Edit, the status moves its status allows, and Remove auto-renew."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.catalog import rules
from omnidesk.errors import PermissionDenied
from omnidesk.ui import ops
from omnidesk.ui.badges import Pill

if TYPE_CHECKING:
    from omnidesk.catalog.services import ServiceView
    from omnidesk.ui.services.dialogs import ServiceDialog

# The customer detail loads this module on the way to the first customers shown, so the service,
# inventory and QR modules (a quarter of a second of imports) are loaded by the operations that use them.
QR_SIZE = 64  # inventory.labels.TABLE_SIZE: the source's QR size in a service's inventory table
MAX_SERVICES = 1000  # catalog.services.MAX_PAGE

COLUMNS = ("ID", "Service", "Product", "Status and badges", "Active from", "Ends", "Contract ends", "Monthly", "Inventory")
WIDTHS = (50, 170, 150, 250, 130, 130, 130, 75)
STATUS_ACTIONS = {
    "active": "Activate", "suspended": "Suspend", "pending_cancellation": "Cancel",
    "inactive": "End", "deactivated": "Deactivate",
}
CONSEQUENCES = {
    "active": "The service can be used and is charged again.",
    "suspended": "The service stops working until it is activated again; its inventory stays with it.",
    "pending_cancellation": "The service is cancelled at the end of its grace; auto-renewal stops. It can still be reactivated.",
    "inactive": "The service ends: SIMs and numbers go back to stock, hardware is due back within 14 days; auto-renewal stops.",
    "deactivated": "Deactivation is final: the service can never be used again.",
}


def when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


def pills(badges) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(4, 1, 4, 1)
    row.setSpacing(4)
    for badge in badges:
        row.addWidget(Pill(badge.text, badge.colour))
    row.addStretch(1)
    return holder


class CustomerServicesSection(QWidget):
    loaded = Signal()
    changed = Signal()  # a service was changed here

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("customerServices")
        self.db, self.actor = db, actor
        self.customer_id: int | None = None
        self.services: list[ServiceView] = []
        self.badges: list[tuple[str, ...]] = []
        self.now = lambda: dt.datetime.now(dt.timezone.utc)
        self._request = 0
        self._select_next: int | None = None  # a service to select when the list next loads ("View service")

        self.add_button = QPushButton("Add service…", objectName="addService")
        self.add_button.setToolTip("Assign a plan: pick the product and its inventory, then provision it")
        self.add_button.clicked.connect(lambda: self.add_service())
        self.add_button.setVisible(actor.can("create_provision"))
        self.addon_button = QPushButton("Top-up or add-on…", objectName="addAddon")
        self.addon_button.setToolTip("Provision a top-up, boost or add-on on the selected service")
        self.addon_button.clicked.connect(self.add_addon)
        self.edit_button = QPushButton("Edit…", objectName="editService")
        self.edit_button.clicked.connect(self.edit_service)
        self.status_buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        actions.addWidget(self.add_button)
        actions.addWidget(self.addon_button)
        actions.addWidget(self.edit_button)
        for status, verb in STATUS_ACTIONS.items():
            button = QPushButton(f"{verb}…", objectName=f"service_{status}")
            if status == "deactivated":
                button.setObjectName("dangerButton")
            button.clicked.connect(lambda _c=False, s=status: self.ask_status(s))
            self.status_buttons[status] = button
            actions.addWidget(button)
        actions.addStretch(1)
        self.renew_button = QPushButton("Remove auto-renew…", objectName="removeAutoRenew")
        self.renew_button.clicked.connect(self.ask_remove_auto_renew)
        actions.addWidget(self.renew_button)

        self.table = QTableWidget(0, len(COLUMNS), objectName="serviceTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for c, w in enumerate(WIDTHS):
            self.table.setColumnWidth(c, w)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.edit_service())

        # the selected service: what cannot be edited, and its inventory with QR codes
        self.facts = QLabel(objectName="fieldValue", wordWrap=True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.inventory_table = QTableWidget(0, 4, objectName="serviceInventory")
        self.inventory_table.setHorizontalHeaderLabels(["QR", "Item", "State", "Management URL"])
        self.inventory_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.inventory_table.verticalHeader().hide()
        self.inventory_table.verticalHeader().setDefaultSectionSize(QR_SIZE + 8)
        self.inventory_table.horizontalHeader().setStretchLastSection(True)
        self.inventory_table.setColumnWidth(0, QR_SIZE + 12)
        self.inventory_table.setColumnWidth(1, 270)
        self.inventory_table.setColumnWidth(2, 80)
        lower = QWidget()
        lower_layout = QHBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        facts_box = QVBoxLayout()
        facts_box.addWidget(QLabel("Selected service", objectName="formSection"))
        facts_box.addWidget(self.facts, 1)
        inventory_box = QVBoxLayout()
        self.inventory_caption = QLabel("Linked inventory", objectName="formSection")
        inventory_box.addWidget(self.inventory_caption)
        inventory_box.addWidget(self.inventory_table, 1)
        from omnidesk.ui.provisioning.balances import ServiceBalancesView

        self.balances = ServiceBalancesView(db, actor)  # the selected service's OCS balances, while shown
        self.balances.hide()
        lower_layout.addLayout(facts_box, 2)
        lower_layout.addLayout(inventory_box, 3)
        lower_layout.addWidget(self.balances, 3)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([220, 200])
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(actions)
        body_layout.addWidget(splitter, 1)
        self.message = QLabel(objectName="emptyNote", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self._show_message("No customer open.")
        self._update_buttons()

    # --- loading ---

    def add_service(self, service: ServiceView | None = None) -> None:
        """The Assign plan / Add service wizard (with `service`: a top-up or add-on for it); the
        list reloads when it closes (the job may have made or changed a service)."""
        from omnidesk.ui.provisioning.wizard import AddServiceWizard

        if self.customer_id is None:
            return
        self.wizard = AddServiceWizard(self.db, self.actor, self.customer_id, self, service=service)
        self.wizard.view_service.connect(lambda service_id: setattr(self, "_select_next", service_id))
        self.wizard.finished.connect(lambda _r: self.reload())
        self.wizard.open()

    def add_addon(self) -> None:
        s = self.selected()
        if s is not None:
            self.add_service(s)

    def show_customer(self, customer_id: int) -> None:
        if customer_id != self.customer_id:
            self.customer_id = customer_id
            self.services = []
            self._show_message("Loading…")
        self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            return
        self._request += 1
        request, customer_id, db, actor = self._request, self.customer_id, self.db, self.actor

        def done(services: list[ServiceView]) -> None:
            if request == self._request:
                self._show(services)

        def failed(exc: Exception) -> None:
            if request != self._request:
                return
            if isinstance(exc, PermissionDenied):
                self._show_message(str(exc))
            else:
                ops.show_error(self, exc)

        def read() -> list[ServiceView]:
            from omnidesk.catalog import services as svc

            return svc.list_services(db, actor, customer_id=customer_id, limit=MAX_SERVICES)

        ops.query(self, read, done, failed)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _show(self, services: list[ServiceView]) -> None:
        selected = self.selected()
        keep = self._select_next if self._select_next is not None else (selected.id if selected else None)
        self._select_next = None
        self.services = services
        now = self.now()
        self.badges = []
        widest = WIDTHS[3]
        self.table.setRowCount(len(services))
        for r, s in enumerate(services):
            badges = s.badges(now)
            self.badges.append(tuple(b.text for b in badges))
            values = (str(s.id), s.name, s.product_name or "—", "", when(s.active_date), when(s.deactivate_date),
                      when(s.contract_end_date), f"{s.retail_cost:,.2f}", ", ".join(i.itemtext1 for i in s.inventory) or "—")
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c in (0, 7):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 3:
                    item.setToolTip(", ".join(self.badges[-1]))
                if c == 5 and s.expiring_soon(now):
                    item.setToolTip(f"Ends {rules.relative(s.deactivate_date, now)}")
                self.table.setItem(r, c, item)
            cell = pills(badges)
            self.table.setCellWidget(r, 3, cell)
            widest = max(widest, cell.sizeHint().width())
        self.table.setColumnWidth(3, widest)  # every badge readable, never clipped
        self.stack.setCurrentIndex(1)
        if services:
            row = next((r for r, s in enumerate(services) if s.id == keep), 0)
            self.table.selectRow(row)
        else:
            self._show_service(None)
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> ServiceView | None:
        rows = self.table.selectionModel().selectedRows()
        return self.services[rows[0].row()] if rows and rows[0].row() < len(self.services) else None

    def _selection_changed(self) -> None:
        self._update_buttons()
        self._show_service(self.selected())

    def _update_buttons(self) -> None:
        s = self.selected()
        can_edit = self.actor.can("update_customer_service")
        self.edit_button.setEnabled(s is not None and can_edit)
        self.addon_button.setVisible(s is not None and self.actor.can("create_provision") and s.status in rules.LIVE_STATUSES)
        for status, button in self.status_buttons.items():
            button.setVisible(s is not None and can_edit and status in s.next_statuses)
        self.status_buttons["active"].setText(
            "Resume…" if s is not None and s.status == "suspended" else "Activate…")
        self.renew_button.setVisible(s is not None and can_edit and s.auto_renew)

    def _show_service(self, s: ServiceView | None) -> None:
        self.inventory_table.setRowCount(0)
        self.balances.setVisible(s is not None)
        if s is not None:
            self.balances.show_service(s.id)
        if s is None:
            self.facts.setText("No services yet." if not self.services else "")
            return
        facts = [
            ("Status", s.status_label), ("Product", s.product_name or "—"),
            ("Service UUID", s.service_uuid or "— (set by provisioning)"), ("Provisioned", when(s.provisioned_at)),
            ("Auto-renew", "Yes" if s.auto_renew else "No"), ("Billed", "Yes" if s.billed else "No"),
            ("Invoiced", "Yes" if s.invoiced else "No"), ("Provisioning play", s.provisioning_play or "—"),
            ("Promo code", s.promo_code or "—"), ("Notes", s.notes or "—"),
        ]
        self.facts.setText("<table cellspacing=3>" + "".join(
            f"<tr><td style='color:#57606a; padding-right:10px'>{k}</td><td>{v}</td></tr>" for k, v in facts) + "</table>")
        self.inventory_caption.setText(f"Linked inventory ({len(s.inventory)})")
        if s.inventory:
            db, actor, service_id = self.db, self.actor, s.id

            def read():
                from omnidesk.inventory import labels
                from omnidesk.inventory import service as inventory

                items = inventory.items_of_service(db, actor, service_id)
                return service_id, [(i, labels.item_qr(i, labels.TABLE_SIZE)) for i in items]

            ops.query(self, read, self._show_inventory, on_error=lambda _e: None)

    def _show_inventory(self, result) -> None:
        service_id, items = result
        current = self.selected()
        if current is None or current.id != service_id:
            return
        self.inventory_table.setRowCount(len(items))
        for r, (item, png) in enumerate(items):
            qr = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, objectName="serviceQr")
            if png:
                pixmap = QPixmap()
                pixmap.loadFromData(png, "PNG")
                qr.setPixmap(pixmap)
            self.inventory_table.setCellWidget(r, 0, qr)
            url = item.management_url or ""
            link = QLabel(f'<a href="{url}">{url}</a>' if item.management_url_is_link else (url or "—"))
            link.setOpenExternalLinks(True)
            self.inventory_table.setItem(r, 1, QTableWidgetItem(f"{item.template_name} {item.itemtext1}"))
            self.inventory_table.setItem(r, 2, QTableWidgetItem(item.state_label))
            self.inventory_table.setCellWidget(r, 3, link)

    # --- actions ---

    def _after_change(self, _result=None) -> None:
        self.reload()
        self.changed.emit()

    def edit_service(self) -> ServiceDialog | None:
        s = self.selected()
        if s is None:
            return None
        db, actor = self.db, self.actor

        def read_sites():
            from omnidesk.catalog import lookups

            return lookups.customer_site_names(db, actor, s.customer_id)

        def open_dialog(sites) -> None:
            from omnidesk.ui.services.dialogs import ServiceDialog

            dialog = ServiceDialog(self, db, actor, s, sites)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.saved.connect(self._after_change)
            dialog.open()
            self.open_dialog = dialog

        ops.query(self, read_sites, open_dialog)
        return None

    def ask_status(self, status: str) -> None:
        s = self.selected()
        if s is None:
            return
        verb = self.status_buttons[status].text().rstrip("…")
        ops.confirm(self, f"{verb} service {s.name}?", lambda: self.change_status(s, status), yes_label=verb,
                    informative=CONSEQUENCES[status], destructive=status == "deactivated")

    def change_status(self, s: ServiceView, status: str) -> None:
        db, actor = self.db, self.actor
        if status == "deactivated" and (s.deprovisioning_play or s.provisioning_play) and actor.can("create_provision"):
            self.deprovision(s)  # its playbook's cleanup takes it out of the OCS and HSS too
            return

        def refused(exc: Exception) -> None:
            ops.show_error(self, exc)
            self.reload()

        def move():
            from omnidesk.catalog import services as svc

            return svc.change_service_status(db, actor, s.id, status)

        ops.mutate(self, move, self._after_change,
                   success_message=f"Service {s.name} is now {rules.STATUS_LABELS[status]}.", on_error=refused)

    def deprovision(self, s: ServiceView) -> None:
        """Queue the service's playbook with action=deprovision and show its progress; success deactivates it."""
        from omnidesk.provisioning import service as prov
        from omnidesk.ui.provisioning.runner import queue_and_run
        from omnidesk.ui.provisioning.wizard import AddServiceWizard

        db, actor = self.db, self.actor

        def show(job) -> None:
            self.wizard = AddServiceWizard.following(db, actor, s, job, self)
            self.wizard.finished.connect(lambda _r: self.reload())
            self.wizard.open()

        ops.mutate(self, lambda: queue_and_run(db, actor, lambda: prov.request_deprovision(db, actor, s.id)), show,
                   on_error=lambda exc: (ops.show_error(self, exc), self.reload()))

    def ask_remove_auto_renew(self) -> None:
        s = self.selected()
        if s is None:
            return
        ends = f" It expires at its current end date, {when(s.deactivate_date)}." if s.deactivate_date else ""
        ops.confirm(
            self, f"This will remove the scheduled auto-renewal for: {s.name} ({s.customer_name}).",
            lambda: ops.mutate(self, lambda: _remove_auto_renew(self.db, self.actor, s.id), self._after_change,
                               success_message=f"Service {s.name} will not renew automatically."),
            yes_label="Remove Auto-Renewal",
            informative=f"The service will not automatically renew; its status is unchanged.{ends}",
        )


def _remove_auto_renew(db, actor, service_id: int):
    from omnidesk.catalog import services as svc

    return svc.remove_auto_renew(db, actor, service_id)
