"""The "Add service" wizard: product → inventory → review → live progress of the provisioning job.

Reads and the order go through ops (worker threads). The job runs in the desktop's runner process
(or on a server's `omnidesk worker`, whichever claims it first); each task reaches this dialog
through NOTIFY (runner.JobFollower), on the GUI thread and only while the dialog still exists.
Nothing polls the database.
"""

from __future__ import annotations

import json
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QPlainTextEdit, QProgressBar, QPushButton, QStackedWidget, QVBoxLayout, QWidget,
)

from omnidesk.catalog import lookups, service as catalog
from omnidesk.inventory import service as inventory
from omnidesk.provisioning import service as prov
from omnidesk.ui import ops
from omnidesk.ui.provisioning.runner import JobFollower

MARKS = {"done": "✓", "running": "⟳", "pending": "☐", "failed": "✗", "ignored": "!"}


def money(value) -> str:
    return f"{Decimal(value):,.2f}"


def _load_products(db, actor, customer_id: int, service_id: int | None = None):
    """A new service's plans, or (for a service) the top-ups and add-ons that fit it."""
    if service_id is not None:
        return catalog.addons_for_service(db, actor, service_id)
    return catalog.catalog_for_customer(db, actor, customer_id)


def _load_stock(db, actor, types: tuple[str, ...]):
    return {t: inventory.available_items(db, actor, t) for t in types}


class AddServiceWizard(QDialog):
    view_service = Signal(int)  # "View service" after a success: the service to show
    @classmethod
    def following(cls, db, actor, service, job, parent: QWidget | None = None) -> "AddServiceWizard":
        """Just the progress page, for a job already queued for `service` (a deprovision)."""
        wizard = cls(db, actor, service.customer_id, parent, service=service, load_products=False)
        wizard.setWindowTitle(f"Deprovision {service.name}" if job.action == "deprovision" else f"Job {job.id}")
        wizard._queued(job)
        return wizard

    def __init__(self, db, actor, customer_id: int, parent: QWidget | None = None, *, playbooks_dir=None,
                 service=None, load_products: bool = True):
        """With `service` (a ServiceView of this customer), a top-up or add-on for that service."""
        super().__init__(parent)
        self.db, self.actor, self.customer_id, self.playbooks_dir = db, actor, customer_id, playbooks_dir
        self.service = service
        self.setWindowTitle(f"Add a top-up or add-on to {service.name}" if service is not None else "Add service")
        self.setObjectName("addServiceWizard")
        self.setMinimumSize(640, 520)
        self.products: list = []
        self.product = None
        self.job = None
        self.events: dict[int, object] = {}
        self.planned: list[str] = []
        self.follower = JobFollower(self, db, actor, self._on_event, self._on_job, self._on_job, playbooks_dir)
        self.finished.connect(lambda _r: self.follower.stop())

        outer = QVBoxLayout(self)
        self.step_label = QLabel(objectName="formSection")
        outer.addWidget(self.step_label)
        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.error = QLabel(objectName="fieldError", wordWrap=True)
        self.error.setStyleSheet("color: #b3261e;")
        outer.addWidget(self.error)
        buttons = QHBoxLayout()
        self.back_button = QPushButton("Back", objectName="wizardBack")
        self.next_button = QPushButton("Next", objectName="wizardNext")
        self.next_button.setDefault(True)
        self.next_button.setMinimumWidth(110)
        self.retry_button = QPushButton("Retry", objectName="wizardRetry")
        self.log_button = QPushButton("View log", objectName="wizardLog")
        self.close_button = QPushButton("Close", objectName="wizardClose")
        self.view_button = QPushButton("View service", objectName="wizardViewService")
        self.view_button.clicked.connect(self._view_service)
        self.view_button.setVisible(False)
        for b in (self.back_button, self.retry_button, self.log_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.view_button)
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.close_button)
        outer.addLayout(buttons)
        self.back_button.clicked.connect(self._back)
        self.next_button.clicked.connect(self._next)
        self.retry_button.clicked.connect(self.retry)
        self.log_button.clicked.connect(self.show_log)
        self.close_button.clicked.connect(self.reject)

        # 1. product
        page = QWidget()
        lay = QVBoxLayout(page)
        self.search = QLineEdit(placeholderText="Search products", objectName="productSearch")
        self.search.textChanged.connect(self._fill_products)
        self.product_list = QListWidget(objectName="productList")
        self.product_list.currentRowChanged.connect(self._product_chosen)
        self.product_facts = QLabel(wordWrap=True, objectName="fieldValue")
        lay.addWidget(self.search)
        lay.addWidget(self.product_list, 1)
        lay.addWidget(self.product_facts)
        self.pages.addWidget(page)

        # 2. inventory
        page = QWidget()
        self.inventory_form = QFormLayout(page)
        self.pickers: dict[str, QComboBox] = {}
        self.pages.addWidget(page)

        # 3. review
        page = QWidget()
        form = QFormLayout(page)
        self.review_product = QLabel(objectName="fieldValue")
        self.review_items = QLabel(objectName="fieldValue", wordWrap=True)
        self.review_setup = QLabel(objectName="fieldValue")
        self.review_monthly = QLabel(objectName="fieldValue")
        self.review_due = QLabel(objectName="fieldValue")
        self.auto_renew = QCheckBox("Renew automatically every contract period", objectName="autoRenew")
        form.addRow("Product", self.review_product)
        if service is not None:
            form.addRow("For service", QLabel(f"{service.name} (service {service.id})", objectName="fieldValue"))
        form.addRow("Inventory", self.review_items)
        # Where a business customer's new service is installed (W2 in the source: fibre to a site).
        self.site = QComboBox(objectName="serviceSite")
        self.site.addItem("No particular site", None)
        if service is None:
            form.addRow("Site", self.site)
        form.addRow("Setup", self.review_setup)
        # A plan costs so much a month; a top-up or add-on costs its price (again at each renewal).
        form.addRow("Price" if service is not None else "Monthly", self.review_monthly)
        form.addRow("Due today", self.review_due)
        form.addRow("", self.auto_renew)
        self.pages.addWidget(page)

        # 4. progress
        page = QWidget()
        lay = QVBoxLayout(page)
        self.progress_text = QLabel(objectName="provisionStatus", wordWrap=True)
        self.progress_bar = QProgressBar()
        self.task_list = QListWidget(objectName="taskList")
        lay.addWidget(self.progress_text)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.task_list, 1)
        self.pages.addWidget(page)

        self._show_page(0)
        service_id = service.id if service is not None else None
        if load_products:
            ops.query(self, lambda: _load_products(db, actor, customer_id, service_id), self._products_loaded)
        if load_products and service is None:
            ops.query(self, lambda: lookups.customer_site_names(db, actor, customer_id), self._sites_loaded)

    def _sites_loaded(self, sites) -> None:
        for site_id, name in sites:
            self.site.addItem(name, site_id)
        if len(sites) == 1:  # the customer's only site is where the service goes
            self.site.setCurrentIndex(1)

    # --- navigation ---

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        titles = ("1 of 4 · Choose a product", "2 of 4 · Choose inventory", "3 of 4 · Review and provision",
                  "4 of 4 · Provisioning")
        undoing = self.job is not None and getattr(self.job, "action", "") == "deprovision"
        self.step_label.setText("Deprovisioning" if index == 3 and undoing else titles[index])
        self.error.clear()
        running = index == 3
        self.back_button.setVisible(0 < index < 3)
        self.next_button.setVisible(not running)
        self.next_button.setText("Provision" if index == 2 else "Next")
        finished_badly = running and self.job is not None and getattr(self.job, "status", "") in ("failed", "cancelled")
        self.retry_button.setVisible(finished_badly)
        self.log_button.setVisible(running)
        self._update_next()

    def _update_next(self) -> None:
        index = self.pages.currentIndex()
        if index == 0:
            ok = self.product is not None
        elif index == 1:
            ok = all(c.currentData() is not None for c in self.pickers.values())
        else:
            ok = True
        self.next_button.setEnabled(ok)

    def _back(self) -> None:
        index = self.pages.currentIndex()
        if index == 2 and not self.pickers:
            index = 1
        self._show_page(max(0, index - 1))

    def _next(self) -> None:
        index = self.pages.currentIndex()
        if index == 0:
            if self.product.inventory_types:
                self._show_page(1)
                self._load_pickers()
            else:
                self._fill_review()
                self._show_page(2)
        elif index == 1:
            self._fill_review()
            self._show_page(2)
        elif index == 2:
            self.provision()

    # --- product ---

    def _products_loaded(self, products) -> None:
        self.products = list(products)
        self._fill_products()

    def _fill_products(self) -> None:
        q = self.search.text().strip().lower()
        self.product_list.blockSignals(True)
        self.product_list.clear()
        for p in self.products:
            if q and q not in p.name.lower() and q not in p.service_type.lower():
                continue
            item = QListWidgetItem(f"{p.name}  ·  {p.category}  ·  {money(p.retail_cost)} / month")
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            self.product_list.addItem(item)
        self.product_list.blockSignals(False)
        self.product = None
        self.product_facts.setText("" if self.product_list.count() else
                                   "No top-up or add-on fits this service." if self.service is not None else
                                   "No product can be ordered for this customer.")
        self._update_next()

    def _product_chosen(self, row: int) -> None:
        item = self.product_list.item(row)
        pid = item.data(Qt.ItemDataRole.UserRole) if item else None
        self.product = next((p for p in self.products if p.id == pid), None)
        if self.product:
            p = self.product
            needs = ", ".join(p.inventory_types) or "no inventory"
            self.product_facts.setText(f"Setup {money(p.retail_setup_cost)} · monthly {money(p.retail_cost)} · "
                                       f"needs {needs} · playbook {p.provisioning_play or '—'}")
        self._update_next()

    def choose_product(self, name: str) -> None:
        """For tests and keyboard users: select a product by name."""
        for row in range(self.product_list.count()):
            if self.product_list.item(row).text().startswith(name):
                self.product_list.setCurrentRow(row)
                return
        raise LookupError(name)

    # --- inventory ---

    def _load_pickers(self) -> None:
        while self.inventory_form.rowCount():
            self.inventory_form.removeRow(0)
        self.pickers = {}
        for t in self.product.inventory_types:
            combo = QComboBox(objectName=f"pick_{t}")
            combo.addItem("Loading…", None)
            combo.currentIndexChanged.connect(lambda _i: self._update_next())
            self.inventory_form.addRow(t, combo)
            self.pickers[t] = combo
        self._update_next()
        ops.query(self, lambda types=tuple(self.product.inventory_types): _load_stock(self.db, self.actor, types),
                  self._stock_loaded)

    def _stock_loaded(self, stock) -> None:
        for t, rows in stock.items():
            combo = self.pickers.get(t)
            if combo is None:
                continue
            combo.clear()
            combo.addItem(f"Choose a {t}…" if rows else f"No {t} in stock", None)
            for r in rows:
                label = f"{r.itemtext1}" + (f" · {r.itemtext2}" if r.itemtext2 else "") + \
                        (f" · {r.item_location}" if r.item_location else "") + f" ({r.item_state.capitalize()})"
                combo.addItem(label, r.id)
        self._update_next()

    def choose_item(self, type_name: str, item_id: int) -> None:
        combo = self.pickers[type_name]
        combo.setCurrentIndex(combo.findData(item_id))

    # --- review and run ---

    def _chosen(self) -> dict[str, int]:
        return {t: c.currentData() for t, c in self.pickers.items()} if self.product.inventory_types else {}

    def _fill_review(self) -> None:
        p = self.product
        self.review_product.setText(f"{p.name} ({p.category}, {p.service_type})")
        chosen = self._chosen()
        self.review_items.setText(", ".join(f"{t}: {self.pickers[t].currentText()}" for t in chosen) or "none")
        self.review_setup.setText(money(p.retail_setup_cost))
        self.review_monthly.setText(money(p.retail_cost))
        due = money(Decimal(p.retail_setup_cost) + Decimal(p.retail_cost))
        self.review_due.setText(due + (f" plus tax {Decimal(p.tax_percentage).normalize():f} %" if p.tax_percentage else ""))
        prompt = p.auto_renew == "prompt" or p.allow_auto_renew
        self.auto_renew.setVisible(prompt)
        self.auto_renew.setChecked(p.auto_renew == "true")

    def provision(self) -> None:
        p = self.product
        chosen = self._chosen()
        renew = self.auto_renew.isChecked() if self.auto_renew.isVisibleTo(self) else None
        self.next_button.setEnabled(False)
        service_id = self.service.id if self.service is not None else None
        site_id = self.site.currentData()
        ops.mutate(self, lambda: prov.request_provision(self.db, self.actor, self.customer_id, p.id, inventory_items=chosen,
                                                        auto_renew=renew, playbooks_dir=self.playbooks_dir,
                                                        service_id=service_id, site_id=site_id),
                   self._queued, on_error=self._refused)

    def _refused(self, exc: Exception) -> None:
        self.error.setText(ops.error_text(exc)[0] if not hasattr(exc, "errors") else
                           "; ".join(exc.errors.values()))
        self._update_next()

    def _queued(self, job) -> None:
        self.job = job
        self.events = {}
        try:  # a deprovision jumps to the playbook's cleanup: its tasks are not the main list's
            self.planned = [] if job.action == "deprovision" else prov.task_names(job.playbook, self.playbooks_dir)
        except Exception:  # noqa: BLE001 — the list is a nicety; the count comes from the job
            self.planned = []
        self._show_page(3)
        self._render_progress()
        self.follower.follow(job.id)

    def _on_event(self, event) -> None:
        self.events[event.number] = event
        self._render_progress()

    def _on_job(self, job) -> None:
        if isinstance(job, Exception):
            self.error.setText(ops.error_text(job)[0])
            return
        if self.job is not None and self.job.id == job.id and self.job.finished and not job.finished:
            return  # a view read before the end, arriving after it
        self.job = job
        if job.finished:
            self.events = {e.number: e for e in job.events}
            self._show_page(3)
        else:  # what happened before this dialog was listening
            self.events.update((e.number, e) for e in job.events)
        self._render_progress()

    def _render_progress(self) -> None:
        job = self.job
        events = [e for _, e in sorted(self.events.items()) if not e.output.get("skipped")]
        planned = set(self.planned)
        main = [e for e in events if e.phase == "run" and (e.name in planned or not planned)]
        cleanup = [e for e in events if e not in main]
        if job and job.action == "deprovision":  # how many cleanup tasks run is known only at the end
            total = len(main) if job.finished or not main else len(main) + 1
        else:
            total = max(job.task_count if job else 0, len(self.planned))
        done = sum(1 for e in main if e.status in (0, 3))
        status = job.status if job else ""
        noun = "Deprovisioning" if job and job.action == "deprovision" else "Provisioning"
        if status == "failed" and any(e.status == 2 for e in main):
            at = next(i for i, e in enumerate(main, 1) if e.status == 2)
            text = f"{noun} status: Failed at task {at} of {total}" + self._undone(job, noun)
        elif status == "cancelled":
            text = f"{noun} status: Cancelled after {done} of {total} tasks" + self._undone(job, noun)
        else:
            label = {"queued": "Queued", "running": "Running", "success": "Succeeded", "failed": "Failed"}.get(status, "")
            text = f"{noun} status: {label} ({min(done, total)} of {total} tasks completed)"
        if job and job.status == "success" and job.service_id:
            text += f" · service {job.service_id} is " + ("deactivated" if job.action == "deprovision" else "active")
        self.progress_text.setText(text)
        self.progress_text.setStyleSheet({"success": "color: #1b7f3b; font-weight: 600;",
                                          "failed": "color: #b3261e; font-weight: 600;",
                                          "cancelled": "color: #c26a00; font-weight: 600;"}.get(status, "font-weight: 600;"))
        if job and job.status in ("failed", "cancelled"):
            self.error.setText(job.error)
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(min(done, total))
        self.task_list.clear()
        seen = set()
        for e in main:
            mark = {0: "done", 1: "running", 2: "failed", 3: "ignored"}[e.status]
            self.task_list.addItem(f"{MARKS[mark]}  {e.name}")
            seen.add(e.name)
        if not job or not job.finished:
            for name in self.planned:
                if name not in seen:
                    self.task_list.addItem(f"{MARKS['pending']}  {name}")
        for e in cleanup:
            self.task_list.addItem(f"↺  {e.name}" + (" (failed)" if e.status in (2, 3) else ""))
        self.retry_button.setVisible(bool(job and job.status in ("failed", "cancelled")))
        self.view_button.setVisible(bool(job and job.status == "success" and job.service_id and job.action == "provision"))

    @staticmethod
    def _undone(job, noun: str) -> str:
        if job.undo_failed:  # the error below says which task and where the items are
            return "; the rollback did not finish: check the outside systems"
        return "; rolled back" if noun == "Provisioning" else ""

    def _view_service(self) -> None:
        self.view_service.emit(self.job.service_id)
        self.accept()

    def retry(self) -> None:
        job_id = self.job.id
        self.retry_button.setEnabled(False)
        ops.mutate(self, lambda: prov.retry_job(self.db, self.actor, job_id, playbooks_dir=self.playbooks_dir),
                   lambda job: (self.retry_button.setEnabled(True), self._queued(job)), on_error=self._refused)

    def show_log(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Provisioning job {self.job.id if self.job else ''} log")
        dialog.resize(720, 480)
        lay = QVBoxLayout(dialog)
        text = QPlainTextEdit(readOnly=True, objectName="jobLog")
        lines = []
        for _, e in sorted(self.events.items()):
            lines.append(f"#{e.number} [{e.phase}] {prov.EVENT_LABELS[e.status]}: {e.name}")
            if e.output:
                lines.append(json.dumps(e.output, indent=2, default=str))
        if self.job and self.job.error:
            lines.append(f"\nError: {self.job.error}")
        text.setPlainText("\n".join(lines))
        lay.addWidget(text)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(dialog.reject)
        lay.addWidget(box)
        dialog.show()
        return dialog
