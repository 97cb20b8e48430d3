"""The Add service wizard through to a successful job (real ansible-runner, real playbook, loopback
CGRateS/HSS), its failure view with Retry and View log, and the Provisioning jobs view; screenshots
of each go to artifacts/screenshots/."""

from __future__ import annotations

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from omnidesk.errors import ValidationError
from omnidesk.provisioning import service as prov
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.provisioning import runner as desktop
from omnidesk.ui.provisioning.jobs import ProvisioningJobsView
from omnidesk.ui.provisioning.wizard import AddServiceWizard
from tests.provision_helpers import customer, item_state, mobile_product, new_children_left, ocs, sim  # noqa: F401


@pytest.fixture(autouse=True)
def no_process_left_behind(db):
    """Every test here ends with no process of its own still running (the desktop's runner once
    stopped, ansible, sleeps)."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    runner = desktop._runners.get(db)
    if runner is not None and runner.process is not None:
        desktop.stop_desktop_runner(db, end_session=False)
        assert runner.wait(60) == 0
    assert new_children_left(before) == []


@pytest.fixture(autouse=True)
def settled(settled_gui):
    apply_stylesheet(QApplication.instance())


def _picture(widget, name: str) -> None:
    image = QImage(str(inspection.grab(widget, name)))
    assert not image.isNull() and inspection.distinct_colours(image) > 5, name


def _walk_to_review(qtbot, wizard, card_id):
    qtbot.waitUntil(lambda: wizard.product_list.count() > 0, timeout=10_000)
    assert not wizard.next_button.isEnabled(), "Next waits for a product"
    wizard.choose_product("Mobile 20GB")
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    picker = wizard.pickers["SIM Card"]
    qtbot.waitUntil(lambda: picker.findData(card_id) >= 0, timeout=10_000)
    assert not wizard.next_button.isEnabled(), "Next waits until every inventory type is chosen"
    wizard.choose_item("SIM Card", card_id)
    assert wizard.next_button.isEnabled()
    wizard.next_button.click()
    assert wizard.review_due.text() == "25.00 plus tax 10 %" and wizard.next_button.text() == "Provision"


def test_the_wizard_provisions_a_service_and_shows_live_progress(qtbot, db, admin, ocs):
    from omnidesk.customers import service as cs

    mobile_product(db, admin)
    c = customer(db, admin)
    home = cs.add_site(db, admin, c.id, name="Home", country="GB")
    card = sim(db, admin)
    wizard = AddServiceWizard(db, admin, c.id)
    qtbot.addWidget(wizard)
    wizard.show()
    _walk_to_review(qtbot, wizard, card.id)
    assert wizard.site.currentData() == home.id, "the customer's only site is chosen for them"
    assert not wizard.view_button.isVisible()
    _picture(wizard, "provisioning_wizard_review")
    seen_running = []
    wizard.task_list.model().rowsInserted.connect(
        lambda *a: seen_running.append(wizard.progress_text.text()) if "Running" in wizard.progress_text.text() else None)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.status == "success", timeout=60_000)
    assert seen_running, "progress was shown while the job ran"
    text = wizard.progress_text.text()
    assert text.startswith("Provisioning status: Succeeded (6 of 6 tasks completed)") and "is active" in text
    items = [wizard.task_list.item(i).text() for i in range(wizard.task_list.count())]
    assert items[0] == "✓  Check the variables OmniDesk passes" and all(i.startswith("✓") for i in items)
    assert item_state(db, card.id)[2] == wizard.job.service_id
    # It ran in the desktop's runner process, beside the GUI, not on one of the GUI's threads.
    runner = desktop.desktop_runner(db, admin)
    assert runner.running and wizard.job.claimed_by.startswith(f"{runner.runner_name}/")
    assert wizard.job.site_id == home.id
    assert not wizard.retry_button.isVisible() and wizard.view_button.isVisible()
    _picture(wizard, "provisioning_wizard_progress")
    shown = []
    wizard.view_service.connect(shown.append)
    wizard.view_button.click()
    assert shown == [wizard.job.service_id] and not wizard.isVisible()


def test_a_failed_job_shows_the_reason_retry_and_the_log(qtbot, db, admin, ocs):
    mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    ocs.fail["ApierV1.AddBalance"] = "INSUFFICIENT_CREDIT"
    wizard = AddServiceWizard(db, admin, c.id)
    qtbot.addWidget(wizard)
    wizard.show()
    _walk_to_review(qtbot, wizard, card.id)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.status == "failed", timeout=60_000)
    assert "INSUFFICIENT_CREDIT" in wizard.error.text()
    assert wizard.retry_button.isVisible() and wizard.log_button.isVisible()
    items = [wizard.task_list.item(i).text() for i in range(wizard.task_list.count())]
    assert "✗  Add the data balance (ApierV1.AddBalance)" in items
    log = wizard.show_log()
    qtbot.addWidget(log)
    from PySide6.QtWidgets import QPlainTextEdit

    log_text = log.findChild(QPlainTextEdit, "jobLog").toPlainText()
    assert "failed: Add the data balance (ApierV1.AddBalance)" in log_text
    assert "ok: Remove the OCS account (ApierV1.RemoveAccount)" in log_text and "INSUFFICIENT_CREDIT" in log_text
    _picture(wizard, "provisioning_wizard_failed")
    # Retry, now that the OCS accepts balances: a new job on the same SIM succeeds.
    ocs.fail.clear()
    first = wizard.job.id
    wizard.retry_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.id != first and wizard.job.status == "success",
                    timeout=60_000)
    assert prov.get_job(db, admin, wizard.job.id).retry_of == first


def test_the_jobs_view_filters_and_shows_a_jobs_events_in_colour(qtbot, db, admin, ocs):
    product = mobile_product(db, admin)
    c = customer(db, admin)
    ok = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, product.id,
                                                            inventory_items={"SIM Card": sim(db, admin).id}).id)
    ocs.fail["ApierV2.SetAccount"] = "SERVER_ERROR"
    bad = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, product.id,
                                                             inventory_items={"SIM Card": sim(db, admin).id}).id)
    view = ProvisioningJobsView(db, admin)
    qtbot.addWidget(view)
    view.resize(1000, 640)
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    view.status.setCurrentIndex(view.status.findData("failed"))
    qtbot.waitUntil(lambda: view.table.rowCount() == 1 and view.table.item(0, 0).text() == str(bad.id), timeout=10_000)
    view.select_job(bad.id)
    qtbot.waitUntil(lambda: view.events.rowCount() > 0, timeout=10_000)
    assert "SERVER_ERROR" in view.summary.text()
    assert "· 1 of 6 tasks" in view.summary.text(), "the rescue's cleanup steps are not progress"
    assert view.retry_button.isEnabled() and not view.cancel_button.isEnabled()
    statuses = [view.events.item(r, 2).text() for r in range(view.events.rowCount())]
    assert "failed" in statuses
    _picture(view, "provisioning_jobs")
    view.status.setCurrentIndex(0)
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    assert {view.table.item(r, 2).text() for r in range(2)} == {"success", "failed"} and ok.status == "success"


def test_the_balances_view_shows_names_remaining_and_colours_and_refreshes_while_visible(qtbot, db, admin, ocs):
    from omnidesk.ui.provisioning.balances import ServiceBalancesView

    c = customer(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile_product(db, admin).id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    data_id = f"Mobile_Data__{20 * 1073741824}"
    ocs.accounts[done.service_uuid]["balances"][data_id]["Value"] = 6 * 1073741824
    view = ServiceBalancesView(db, admin, refresh_ms=200)
    qtbot.addWidget(view)
    view.resize(760, 260)
    view.show()
    view.show_service(done.service_id)
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    rows = {view.table.item(r, 0).text(): (view.table.item(r, 2).text(), view.table.cellWidget(r, 3).property("colour"))
            for r in range(2)}
    assert rows == {"Mobile Data - 20 GB": ("6 GB remaining", "yellow"),
                    "Mobile Voice - 100 minutes": ("100 minutes remaining", "green")}
    _picture(view, "provisioning_balances")
    # Usage in the OCS shows up on the next refresh, without the user asking.
    ocs.accounts[done.service_uuid]["balances"][data_id]["Value"] = 1073741824
    qtbot.waitUntil(lambda: any(view.table.item(r, 2).text() == "1 GB remaining" for r in range(2)), timeout=10_000)
    view.hide()
    assert not view.timer.isActive()


def test_signing_out_while_the_desktop_runs_a_job_lets_it_finish_then_ends_the_session(qtbot, db, admin, ocs):
    from omnidesk.ui.app import end_session
    from omnidesk.ui.main_window import MainWindow
    from tests.security_helpers import signed_in

    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    session, _ = signed_in(db, admin, "pia", ["Provisioning Specialist"])
    window = MainWindow(profile="staff")
    qtbot.addWidget(window)
    window.attach(session.db, session.actor, session=session, live=False)
    job = prov.request_provision(session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": card.id})
    wizard = AddServiceWizard(session.db, session.actor, c.id, window)
    wizard.follower.follow(job.id)  # as the wizard does once it has queued the job
    qtbot.waitUntil(lambda: bool(wizard.events), timeout=60_000)
    runner = desktop._runners[session.db]
    wizard.reject()  # stops following the job
    window.shutdown(wait=False)  # what signing out does first
    assert window.session_handed_to_runner
    end_session(session, handed_to_runner=True)
    assert runner.wait(120) == 0, "the runner finished its job and exited"
    done = prov.get_job(db, admin, job.id)
    assert done.status == "success", done.error
    assert item_state(db, card.id) == ("assigned", c.id, done.service_id)
    assert not session.still_open(), "the session ended after the job, not before"


def test_with_desktops_set_to_run_no_jobs_the_wizard_follows_a_servers_worker(qtbot, db, admin, ocs):
    prov.set_setting(db, admin, "provisioning.desktop_jobs", "0")
    mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    wizard = AddServiceWizard(db, admin, c.id)
    qtbot.addWidget(wizard)
    wizard.show()
    _walk_to_review(qtbot, wizard, card.id)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and "Queued" in wizard.progress_text.text(), timeout=10_000)
    qtbot.wait(500)
    assert not desktop._runners[db].running and wizard.job.status == "queued", "this desktop started no runner"
    server = prov.Worker(db, concurrency=1, name="server", stop_when_idle=True).start()
    qtbot.waitUntil(lambda: wizard.job.status == "success", timeout=60_000)
    server.join()
    assert wizard.job.claimed_by == "server/1"
    assert wizard.progress_text.text().startswith("Provisioning status: Succeeded (6 of 6 tasks completed)")


def test_the_number_of_jobs_a_desktop_runs_is_checked(db, admin):
    with pytest.raises(ValidationError, match="0 to 32"):
        prov.set_setting(db, admin, "provisioning.desktop_jobs", "64")
    with pytest.raises(ValidationError, match="whole number"):
        prov.set_setting(db, admin, "provisioning.desktop_jobs", "four")
    assert prov.get_settings(db)["provisioning.desktop_jobs"] == 4


def test_a_top_up_is_ordered_for_the_selected_service_and_charged_once(qtbot, db, admin, ocs):
    from omnidesk.catalog import service as catalog
    from omnidesk.ui.services.customer_services import CustomerServicesSection
    from tests.provision_helpers import PLAYBOOKS

    c = customer(db, admin)
    base = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile_product(db, admin).id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    catalog.create_product(db, admin, playbooks_dir=PLAYBOOKS, name="5GB Top-up", category="addon", service_type="mobile",
                           retail_cost="5.00", provisioning_play="play_data_topup",
                           provisioning_json_vars={"data_gb": 5, "days": 30}, auto_renew="false")
    section = CustomerServicesSection(db, admin)
    qtbot.addWidget(section)
    section.show()
    section.show_customer(c.id)
    qtbot.waitUntil(lambda: section.table.rowCount() == 1 and len(section.services) == 1, timeout=10_000)
    section.table.clearSelection()
    assert not section.addon_button.isVisible(), "a top-up needs a service chosen first"
    section.table.selectRow(0)
    assert section.addon_button.isVisible()
    section.addon_button.click()
    wizard = section.wizard
    assert wizard.windowTitle() == f"Add a top-up or add-on to {section.services[0].name}"
    qtbot.waitUntil(lambda: wizard.product_list.count() == 1, timeout=10_000)
    wizard.choose_product("5GB Top-up")
    wizard.next_button.click()  # no inventory: straight to the review
    assert wizard.next_button.text() == "Provision" and wizard.review_due.text() == "5.00"
    _picture(wizard, "provisioning_topup_review")
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.status == "success", timeout=60_000)
    assert wizard.job.service_id == base.service_id
    assert f"Topup_{wizard.job.id}_Data__{5 * 1073741824}" in ocs.accounts[base.service_uuid]["balances"]
    wizard.reject()


def test_deactivating_a_provisioned_service_runs_its_playbooks_cleanup(qtbot, db, admin, ocs):
    from omnidesk.ui.services.customer_services import CustomerServicesSection

    c = customer(db, admin)
    card = sim(db, admin)
    base = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile_product(db, admin).id,
                                                              inventory_items={"SIM Card": card.id}).id)
    assert base.service_uuid in ocs.accounts
    section = CustomerServicesSection(db, admin)
    qtbot.addWidget(section)
    section.show()
    section.show_customer(c.id)
    qtbot.waitUntil(lambda: len(section.services) == 1, timeout=10_000)
    section.table.selectRow(0)
    section.change_status(section.services[0], "deactivated")  # what "Deactivate…" does once confirmed
    qtbot.waitUntil(lambda: getattr(section, "wizard", None) is not None, timeout=10_000)
    wizard = section.wizard
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.status == "success", timeout=60_000)
    assert wizard.step_label.text() == "Deprovisioning"
    assert wizard.progress_text.text().endswith(f"service {base.service_id} is deactivated")
    assert ocs.accounts == {}, "the OCS account went with the service"
    assert item_state(db, card.id) == ("used", None, None)
    _picture(wizard, "provisioning_deprovision")
    wizard.reject()
    qtbot.waitUntil(lambda: section.services and section.services[0].status == "deactivated", timeout=10_000)


def test_a_rollback_that_fails_is_not_reported_as_rolled_back(qtbot, db, admin, ocs):
    mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    ocs.fail["ApierV1.AddBalance"] = "INSUFFICIENT_CREDIT"
    ocs.fail["ApierV1.RemoveAccount"] = "SERVER_ERROR"  # and the cleanup cannot undo the account
    wizard = AddServiceWizard(db, admin, c.id)
    qtbot.addWidget(wizard)
    wizard.show()
    _walk_to_review(qtbot, wizard, card.id)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.job is not None and wizard.job.status == "failed", timeout=60_000)
    status = wizard.progress_text.text()
    assert "rolled back" not in status and "the rollback did not finish: check the outside systems" in status
    assert "Out Of Service" in wizard.error.text()
    assert item_state(db, card.id)[0] == "out_of_service"
    _picture(wizard, "provisioning_wizard_rollback_failed")


def test_jobs_left_queued_start_at_the_next_sign_in_whatever_else_waits(qtbot, db, admin, ocs):
    from PySide6.QtWidgets import QWidget
    from sqlalchemy import text

    product = mobile_product(db, admin)
    c = customer(db, admin)
    mine = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": sim(db, admin).id})
    columns = ("action, status, product_id, customer_id, playbook, playbook_description, task_count, inventory, "
               "overrides, variables, service_uuid, timeout_seconds")
    with db.transaction() as s:  # a long queue of other people's jobs, newer than mine
        s.execute(text(f"INSERT INTO provisioning_job ({columns}, initiated_by) SELECT {columns}, 'colleague' || n "
                       "FROM provisioning_job, generate_series(1, 150) AS n WHERE id = :i"), {"i": mine.id})
    widget = QWidget()
    qtbot.addWidget(widget)
    desktop.resume_queued_jobs(widget, db, admin)
    qtbot.waitUntil(lambda: prov.get_job(db, admin, mine.id).status == "success", timeout=60_000)
    assert len(prov.list_jobs(db, admin, status="queued", limit=500)) == 150, "other people's jobs were left alone"
