"""Provisioning jobs: the queue filtered by status and searched, and a job's events with status colours.

Other workstations' changes arrive through NOTIFY (`listen()` starts a ChangeListener on the
provisioning channel); each notice reloads the list on the GUI thread. Nothing polls.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSplitter, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from omnidesk.provisioning import service as prov
from omnidesk.ui import ops
from omnidesk.ui.provisioning.runner import queue_and_run

JOB_COLUMNS = ("Job", "Action", "Status", "Customer", "Product", "Service", "Created", "Error")
EVENT_COLUMNS = ("#", "Phase", "Status", "Task")
# The source's colours: green success, orange failed-but-ignored, red critical.
EVENT_COLOURS = {0: "#1b7f3b", 1: "#1f5fbf", 2: "#b3261e", 3: "#c26a00"}
JOB_COLOURS = {"success": "#1b7f3b", "running": "#1f5fbf", "queued": "#5f6368", "failed": "#b3261e",
               "cancelled": "#c26a00"}


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


class ProvisioningJobsView(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.setObjectName("provisioningJobs")
        self.jobs: list = []
        self.listener = None
        # Notices come in bursts (every task of every job): one reload per burst.
        self._reload_soon = QTimer(self, singleShot=True, interval=250)
        self._reload_soon.timeout.connect(self.reload)
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.status = QComboBox(objectName="jobStatusFilter")
        self.status.addItem("All statuses", None)
        for s in ("queued", "running", "success", "failed", "cancelled"):
            self.status.addItem(s.capitalize(), s)
        self.search = QLineEdit(placeholderText="Search playbook, product or customer", objectName="jobSearch")
        self.refresh_button = QPushButton("Refresh", objectName="jobRefresh")
        self.cancel_button = QPushButton("Cancel job", objectName="jobCancel")
        self.retry_button = QPushButton("Retry", objectName="jobRetry")
        for w in (self.status, self.search, self.refresh_button, self.cancel_button, self.retry_button):
            bar.addWidget(w)
        outer.addLayout(bar)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, len(JOB_COLUMNS), objectName="jobTable")
        self.table.setHorizontalHeaderLabels(JOB_COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(len(JOB_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        split.addWidget(self.table)
        detail = QWidget()
        lay = QVBoxLayout(detail)
        self.summary = QLabel(objectName="fieldValue", wordWrap=True)
        self.events = QTableWidget(0, len(EVENT_COLUMNS), objectName="eventTable")
        self.events.setHorizontalHeaderLabels(EVENT_COLUMNS)
        self.events.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.events.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.events.verticalHeader().hide()
        lay.addWidget(self.summary)
        lay.addWidget(self.events)
        split.addWidget(detail)
        outer.addWidget(split, 1)
        self.status.currentIndexChanged.connect(self.reload)
        self.search.returnPressed.connect(self.reload)
        self.refresh_button.clicked.connect(self.reload)
        self.table.itemSelectionChanged.connect(self._selected)
        self.cancel_button.clicked.connect(self._cancel)
        self.retry_button.clicked.connect(self._retry)
        self._update_buttons()
        self.reload()

    def listen(self) -> None:
        """Reload when any workstation's job or event changes (NOTIFY on the provisioning channel)."""
        from omnidesk.db.notify import ChangeListener

        tracker = ops.tracker()
        self.listener = ChangeListener(self.db.raw_connection_string(), (prov.CHANNEL,),
                                       lambda _n: tracker.post(lambda: self._notice() if ops.alive(self) else None)
                                       ).start(wait=0)  # connects on its own thread; the GUI does not wait

    def notice_changes(self, _batch=None) -> None:
        self._notice()

    def _notice(self) -> None:
        if not self._reload_soon.isActive():  # at most one reload per 250 ms, however many notices
            self._reload_soon.start()

    def closeEvent(self, event) -> None:
        if self.listener is not None:
            self.listener.stop()
        super().closeEvent(event)

    def reload(self) -> None:
        status, search = self.status.currentData(), self.search.text()
        ops.query(self, lambda: prov.list_jobs(self.db, self.actor, status=status, search=search), self._show)

    def _show(self, jobs) -> None:
        keep = self.selected_id()
        self.jobs = list(jobs)
        self.table.setRowCount(len(self.jobs))
        for row, j in enumerate(self.jobs):
            cells = (str(j.id), j.action, j.status, j.customer_name, j.product_name, str(j.service_id or ""),
                     _when(j.created_at), j.error)
            for col, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if col == 2:
                    item.setForeground(QBrush(QColor(JOB_COLOURS[j.status])))
                if col == len(JOB_COLUMNS) - 1 and value:
                    item.setToolTip(value)  # the whole error; the column shows what fits
                self.table.setItem(row, col, item)
            if j.id == keep:
                self.table.selectRow(row)
        for col in range(len(JOB_COLUMNS) - 1):  # the error column stretches over the rest
            self.table.resizeColumnToContents(col)
        self._update_buttons()

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.jobs[rows[0].row()].id if rows and rows[0].row() < len(self.jobs) else None

    def select_job(self, job_id: int) -> None:
        for row, j in enumerate(self.jobs):
            if j.id == job_id:
                self.table.selectRow(row)

    def _selected(self) -> None:
        job_id = self.selected_id()
        self._update_buttons()
        if job_id is None:
            self.summary.clear()
            self.events.setRowCount(0)
            return
        ops.query(self, lambda: prov.get_job(self.db, self.actor, job_id), self._show_job)

    def _show_job(self, job) -> None:
        done = job.tasks_done
        self.summary.setText(f"Job {job.id} · {job.playbook_description} · {job.status} · {done} of {job.task_count} tasks"
                             + (f" · runner {job.claimed_by}" if job.claimed_by else "")
                             + (f"\n{job.error}" if job.error else ""))
        self.events.setRowCount(len(job.events))
        for row, e in enumerate(job.events):
            label = prov.EVENT_LABELS[e.status] + (" (skipped)" if e.output.get("skipped") else "")
            for col, value in enumerate((str(e.number), e.phase, label, e.name)):
                item = QTableWidgetItem(value)
                if col == 2:
                    item.setForeground(QBrush(QColor(EVENT_COLOURS[e.status])))
                self.events.setItem(row, col, item)
        for col in range(len(EVENT_COLUMNS) - 1):  # the task column stretches over the rest
            self.events.resizeColumnToContents(col)

    def _update_buttons(self) -> None:
        job = next((j for j in self.jobs if j.id == self.selected_id()), None)
        self.cancel_button.setEnabled(bool(job and job.status in ("queued", "running")))
        self.retry_button.setEnabled(bool(job and job.status in ("failed", "cancelled")))

    def _cancel(self) -> None:
        job_id = self.selected_id()
        ops.mutate(self, lambda: prov.cancel_job(self.db, self.actor, job_id), lambda _j: self.reload(),
                   success_message=f"Cancel of job {job_id} requested")

    def _retry(self) -> None:
        job_id = self.selected_id()
        ops.mutate(self, lambda: queue_and_run(self.db, self.actor, lambda: prov.retry_job(self.db, self.actor, job_id)),
                   lambda _j: self.reload(),
                   success_message=f"Job {job_id} queued again")
