"""The main window: one tab per area of work and a status bar saying where and who you are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.ui import ops
from omnidesk.ui.widgets import set_style_property

if TYPE_CHECKING:
    from omnidesk.ui.customers.workspace import CustomersWorkspace
    from omnidesk.ui.live import LiveUpdates

PLANNED = {
    "Billing": (
        "Billing is not built yet",
        "This tab will show each customer's charges and credits with tax, invoices numbered "
        "INV-YYYY-NNNNNN with their PDFs, payments, voids and refunds, and the prepaid wallet ledger.",
    ),
    "Inventory": (
        "Inventory is not built yet",
        "This tab will track SIM cards, devices and network equipment by location, reserve stock for "
        "orders, and record what was sold to or installed for which customer.",
    ),
    "Broadcast": (
        "Opening the database…",
        "Public warnings appear here once you have signed in.",
    ),
}


def placeholder(title: str, text: str) -> QWidget:
    page = QWidget(objectName="placeholder")
    heading = QLabel(title, objectName="placeholderTitle", alignment=Qt.AlignmentFlag.AlignCenter)
    body = QLabel(text, objectName="placeholderText", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
    body.setFixedWidth(560)
    centred = QHBoxLayout()  # not addWidget(alignment=...): an aligned wrapped label loses its height
    centred.addStretch(1)
    centred.addWidget(body)
    centred.addStretch(1)
    layout = QVBoxLayout(page)
    layout.addStretch(1)
    layout.addWidget(heading)
    layout.addLayout(centred)
    layout.addStretch(2)
    return page


class MainWindow(QMainWindow):
    """Shown at once; `attach(db, actor)` fills it once the database is open."""

    TABS = ("Customers", "Billing", "Inventory", "Broadcast")
    sign_out_requested = Signal()  # from the "My account" menu; the application signs out and asks again

    def __init__(self, profile: str = "staff", parent: QWidget | None = None, *, map_tile_url: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("OmniDesk — Broadcast" if profile == "broadcast" else "OmniDesk")
        self.resize(1360, 820)
        self.profile = profile
        self.map_tile_url = map_tile_url
        self.broadcast = None  # the Broadcast workspace, for holders of a cell broadcast permission
        self.broadcast_live: LiveUpdates | None = None  # message and warning changes from other workstations
        self.db = None
        self.actor = None
        self.customers: CustomersWorkspace | None = None
        self.inventory = self.products = self.services = None  # the issue-6 workspaces, once attached
        self.provisioning = None  # the provisioning jobs view, for holders of view_provision
        self.billing = None  # the issue-5 Billing tab, once attached
        self.catalog_live: LiveUpdates | None = None  # inventory and product changes from other workstations
        self.live: LiveUpdates | None = None
        self.session = None  # the StaffSession when a staff member signed in (None for tests acting as an actor)
        # Set by shutdown when this desktop's provisioning runner still had jobs and took over ending
        # the session after them (omnidesk/provisioning/desktop_runner.py): the application must not end it first.
        self.session_handed_to_runner = False
        self.users = None  # the Users & Roles workspace, for holders of manage_users
        self.account_menu = None

        self.tabs = QTabWidget(objectName="mainTabs")
        self.tabs.setDocumentMode(True)
        if profile == "broadcast":  # an NDMO workstation: public warnings and nothing else
            self.customers_page = placeholder(*PLANNED["Broadcast"])
            self.tabs.addTab(self.customers_page, "Broadcast")
        else:
            self.customers_page = placeholder("Opening the database…", "Customers appear here in a moment.")
            self.tabs.addTab(self.customers_page, "Customers")
            for name in self.TABS[1:]:
                self.tabs.addTab(placeholder(*PLANNED[name]), name)
        self.setCentralWidget(self.tabs)

        bar = self.statusBar()
        self.busy = QProgressBar(objectName="busy", maximumWidth=90, maximumHeight=12, textVisible=False)
        self.busy.setRange(0, 0)
        self.busy.hide()
        self.live_label = QLabel("○ Live updates: not connected", objectName="liveLabel")
        self.database_label = QLabel("Database: connecting…", objectName="databaseLabel")
        self.user_label = QLabel("User: —", objectName="userLabel")
        for widget in (self.busy, self.live_label, self.database_label, self.user_label):
            bar.addPermanentWidget(widget)
        self._busy_delay = QTimer(self, singleShot=True, interval=250)  # no flicker for quick reads
        self._busy_delay.timeout.connect(self.busy.show)
        tracker = ops.tracker()
        tracker.busy_changed.connect(self._busy_changed)
        tracker.message.connect(self._show_message)  # a bound method: disconnected when the window goes
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self._focus_search)

    def attach(self, db, actor, *, live: bool = True, session=None) -> None:
        """Show the data of `db` as `actor`; `live` listens for changes made elsewhere.

        `session` (a StaffSession, whose db and actor these are) adds the "My account" menu.
        """
        # Imported here, not at the top: the window must show before SQLAlchemy and friends load.
        from omnidesk.ui.customers.workspace import CustomersWorkspace
        from omnidesk.ui.live import LiveUpdates

        self.db, self.actor = db, actor
        if live:
            self.live = LiveUpdates.for_database(db, self)
            self.live.state_changed.connect(self._live_state)
        if self.profile == "broadcast":
            self._attach_broadcast(db, actor)
        else:
            self.customers = CustomersWorkspace(db, actor, live=self.live)
            current = self.tabs.currentIndex()
            self.tabs.removeTab(0)
            self.customers_page.deleteLater()
            self.tabs.insertTab(0, self.customers, "Customers")
            self.tabs.setCurrentIndex(current)
            self._attach_catalog(db, actor)
            self._attach_billing(db, actor)
            self._attach_broadcast(db, actor)
        self._attach_users(db, actor, session)
        self.database_label.setText(f"Database: {db.display_name}")
        self.user_label.setText(f"User: {actor.username}")
        if self.live is not None:
            self.live.start()
        if self.customers is not None and self.tabs.currentIndex() == 0:
            self.customers.search.setFocus()

    def _attach_catalog(self, db, actor) -> None:
        """Inventory in place of its placeholder, then Products and Services after it, as the actor may see them."""
        from omnidesk.ui.inventory.workspace import InventoryWorkspace
        from omnidesk.ui.products.workspace import ProductsWorkspace
        from omnidesk.ui.services.renewals import ServicesWorkspace

        current = self.tabs.currentWidget()
        at = self.TABS.index("Inventory")
        if actor.can("view_inventory"):
            self.inventory = InventoryWorkspace(db, actor, live=self.live)
            placeholder_page = self.tabs.widget(at)
            self.tabs.removeTab(at)
            placeholder_page.deleteLater()
            self.tabs.insertTab(at, self.inventory, "Inventory")
        if actor.can("view_product"):
            at += 1
            self.products = ProductsWorkspace(db, actor)
            self.tabs.insertTab(at, self.products, "Products")
        if actor.can("view_customer_service"):
            self.services = ServicesWorkspace(db, actor)
            self.tabs.insertTab(at + 1, self.services, "Services")
        if actor.can("view_provision"):
            from omnidesk.ui.provisioning.jobs import ProvisioningJobsView

            self.provisioning = ProvisioningJobsView(db, actor)
            after = self.services if self.services is not None else self.tabs.widget(at)
            self.tabs.insertTab(self.tabs.indexOf(after) + 1, self.provisioning, "Provisioning")
            self.provisioning.reload()
        if actor.can("update_provision"):
            from omnidesk.ui.provisioning.runner import resume_queued_jobs

            resume_queued_jobs(self, db, actor)  # what this user ordered before the last sign-out, still waiting
        if current is not None and self.tabs.indexOf(current) >= 0:
            self.tabs.setCurrentWidget(current)
        if self.live is not None and any(w is not None for w in (self.inventory, self.products, self.provisioning)):
            from omnidesk.ui.live import LiveUpdates

            self.catalog_live = LiveUpdates(db.raw_connection_string(),
                                            ("omnidesk_inventory", "omnidesk_catalog", "omnidesk_provisioning"), self)
            for workspace in (self.inventory, self.products):
                if workspace is not None:
                    self.catalog_live.changes.connect(workspace.notice_changes)
            if self.provisioning is not None:  # job and task notices come in bursts; the view reloads once per burst
                self.catalog_live.changes.connect(self.provisioning.notice_changes)
            self.catalog_live.start()

    def _attach_billing(self, db, actor) -> None:
        """Billing in place of its placeholder, for those who may see transactions or invoices."""
        from omnidesk.ui.billing.workspace import BillingView

        allowed = actor.can("view_customer_transaction") or actor.can("view_customer_invoice")
        current = self.tabs.currentWidget()
        at = self.TABS.index("Billing")
        page = BillingView(db, actor, live=self.live) if allowed else placeholder(
            "Billing is not part of your role", "Transactions and invoices are shown to staff whose role "
            "lets them view them; ask an administrator if you need them.")
        placeholder_page = self.tabs.widget(at)
        self.tabs.removeTab(at)
        placeholder_page.deleteLater()
        self.tabs.insertTab(at, page, "Billing")
        if current is not None and self.tabs.indexOf(current) >= 0:
            self.tabs.setCurrentWidget(current)
        if allowed:
            self.billing = page
            self.billing.start_outbox_sender()

    def _attach_broadcast(self, db, actor) -> None:
        """The Broadcast workspace in place of its placeholder for holders of a cell broadcast
        permission; in the staff profile the tab goes for everyone else."""
        from omnidesk.ui.broadcast.workspace import BroadcastWorkspace, may_use
        from omnidesk.ui.live import LiveUpdates

        broadcast_profile = self.profile == "broadcast"
        at = next(i for i in range(self.tabs.count()) if self.tabs.tabText(i) == "Broadcast")  # its placeholder
        old = self.tabs.widget(at)
        current = self.tabs.currentWidget()
        self.tabs.removeTab(at)
        old.deleteLater()
        if may_use(actor):
            if self.live is not None:
                self.broadcast_live = LiveUpdates(db.raw_connection_string(), ("omnidesk_broadcast", "omnidesk_cbc"), self)
            self.broadcast = BroadcastWorkspace(db, actor, tile_url=self.map_tile_url, live=self.broadcast_live)
            self.tabs.insertTab(at, self.broadcast, "Broadcast")
            self.broadcast.load()
            if self.broadcast_live is not None:
                self.broadcast_live.start()
        elif broadcast_profile:
            self.customers_page = placeholder(
                "Public warnings are not part of your role",
                "This workstation sends public warnings. Ask an administrator for a broadcast role "
                "(Broadcast Creator or Broadcast Approver).")
            self.tabs.insertTab(at, self.customers_page, "Broadcast")
        if current is old and self.tabs.widget(at) is not None and self.tabs.tabText(at) == "Broadcast":
            self.tabs.setCurrentIndex(at)  # the placeholder was open: its replacement is
        elif current is not None and self.tabs.indexOf(current) >= 0:
            self.tabs.setCurrentWidget(current)

    def _attach_users(self, db, actor, session) -> None:
        """The Users & Roles tab for holders of manage_users; the "My account" menu for a signed-in staff member."""
        if actor.can("manage_users"):
            from omnidesk.ui.users.workspace import UsersWorkspace

            self.users = UsersWorkspace(db, actor)
            self.tabs.addTab(self.users, "Users && Roles")
        if session is not None:
            from omnidesk.ui.auth.account import AccountMenu

            self.session = session
            self.account_menu = AccountMenu(session, self)
            self.account_menu.sign_out_requested.connect(self.sign_out_requested)
            self.menuBar().addMenu(self.account_menu)
            sign_out = QPushButton("Sign out", objectName="signOutButton", flat=True)
            sign_out.clicked.connect(self.sign_out_requested)
            self.statusBar().addPermanentWidget(sign_out)
            self.user_label.setToolTip("Signed in; “My account” has two-factor settings and Sign out")

    def show_startup_message(self, title: str, text: str) -> None:
        self.tabs.removeTab(0)
        self.customers_page.deleteLater()
        self.customers_page = placeholder(title, text)
        self.tabs.insertTab(0, self.customers_page, "Customers")
        self.tabs.setCurrentIndex(0)
        self.database_label.setText("Database: not open")

    def _live_state(self, connected: bool, message: str) -> None:
        self.live_label.setText("● Live updates" if connected else "○ Live updates: off")
        set_style_property(self.live_label, "connected", connected)
        self.live_label.setToolTip(message[:1].upper() + message[1:])

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self._busy_delay.start()
        else:
            self._busy_delay.stop()
            self.busy.hide()

    def _focus_search(self) -> None:
        if self.customers is not None:
            self.tabs.setCurrentWidget(self.customers)
            self.customers.search.setFocus()
            self.customers.search.selectAll()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop listening for changes (the listener holds a database connection of its own), and
        stop this desktop's provisioning runner from taking new jobs (those running finish)."""
        if self.db is not None:
            from omnidesk.ui.provisioning.runner import stop_desktop_runner

            handed = stop_desktop_runner(self.db, end_session=self.session is not None)
            self.session_handed_to_runner = self.session_handed_to_runner or handed
        if self.live is not None:
            self.live.stop(wait=wait)
            self.live = None
        if self.catalog_live is not None:
            self.catalog_live.stop(wait=wait)
            self.catalog_live = None
        if self.broadcast_live is not None:
            self.broadcast_live.stop(wait=wait)
            self.broadcast_live = None
        if self.billing is not None and self.billing.outbox is not None:
            self.billing.outbox.stop()  # no e-mail round starts once the window (and its session) is going
        if self.broadcast is not None and self.broadcast.target is not None:
            self.broadcast.target.map.release()  # WebEngine pages must go before its profile does, at exit

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown(wait=False)  # the application is closing; do not hold the window up
        super().closeEvent(event)
