"""End to end through the Broadcast workspace: compose from a template, draw the warning area with the
mouse, confirm with the creator's code, a second user approves with theirs at their own workstation,
transmit to simulated BSCs and an MME, watch the per-cell results, update, stop — and look at it."""

from __future__ import annotations

from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QTabWidget

from omnidesk.broadcast import service as bs
from omnidesk.cbc import cbsp
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.broadcast.workspace import BroadcastWorkspace
from tests.security_helpers import signed_in
from tests.test_broadcast_database import Clock
from tests.test_broadcast_service import OVER_CITY, broadcast_network  # noqa: F401 - fixture
from tests.test_cbc_links import network, sims  # noqa: F401 - fixtures
from tests.test_ui_broadcast_map import _click, _js, _tool

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture(autouse=True)
def styled(qtbot):
    apply_stylesheet(QApplication.instance())


def _workspace(qtbot, session):
    ws = BroadcastWorkspace(session.db, session.actor)
    qtbot.addWidget(ws)
    ws.resize(1400, 860)
    ws.show()
    ws.load()
    return ws


def _dialog(name):
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == name and widget.isVisible():
            return widget
    return None


def _row_of(view, message_id):
    for row in range(view.list.rowCount()):
        if view.list.item(row, 0).text() == str(message_id):
            return row
    return None


def test_create_draw_confirm_approve_transmit_monitor_update_and_stop(db, admin, qtbot, broadcast_network):  # noqa: F811
    bscs, mme = broadcast_network
    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    ws = _workspace(qtbot, carol)
    assert ws.tabs.tabText(0) == "New warning"
    qtbot.waitUntil(lambda: ws.compose.template.count() > 0 and ws.target.map.is_ready and bool(ws.target.sites),
                    timeout=15_000)
    assert not ws.create_button.isEnabled() and "Choose a template" in ws.problems.text()

    # compose: the Flood template, its identifier shown and not editable, the English text edited
    ws.compose.choose("Flood")
    assert ws.compose.identifier.text() == "4371"
    english = next(e for e in ws.compose.languages if e.language.text() == "en")
    english.text.setPlainText("FLOOD WARNING. Leave the river banks now.")
    assert "GSM 7-bit" in english.counter.text() and english.notice.isHidden()
    english.text.setPlainText("FLOOD WARNING – leave now")  # the en dash is not GSM 7-bit
    assert "UCS-2" in english.counter.text() and not english.notice.isHidden()
    english.text.setPlainText("FLOOD WARNING. Leave the river banks now.")

    # target: draw the polygon over the city with the mouse
    ws.target.map.set_view(-6.79, 39.275, 11)
    qtbot.wait(300)
    corners = [tuple(round(v) for v in _js(qtbot, ws.target.map, f"omnimap.pointOf({lat}, {lng})"))
               for lat, lng in OVER_CITY["points"]]
    _tool(qtbot, ws.target.map, "Draw a warning area (polygon)")
    with qtbot.waitSignal(ws.target.coverage_changed, timeout=10_000) as changed:
        for x, y in [*corners, corners[0]]:
            _click(qtbot, ws.target.map, x, y)
    coverage = changed.args[0]
    assert sorted(s.name for s in coverage.sites) == ["Kariakoo", "Upanga"]
    assert "2 of 4 cell sites, 2 cells on 2 peers" in ws.target.summary.text()
    assert ws.create_button.isEnabled()
    qtbot.wait(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert ws.grab().save(str(SCREENSHOTS / "broadcast_new_warning.png"))

    # confirm with carol's code: the sixth digit submits
    ws.create_button.click()
    qtbot.waitUntil(lambda: _dialog("confirmDialog") is not None, timeout=10_000)
    confirm = _dialog("confirmDialog")
    assert "2 of 4 cell sites, 2 cells on 2 peers" in confirm.findChild(QPlainTextEdit, "reviewText").toPlainText()
    confirm.code.setText(clock.code(carol_totp))
    qtbot.waitUntil(lambda: ws.messages.detail.message is not None
                    and ws.messages.detail.message.status == "pending_approval", timeout=10_000)
    message_id = ws.messages.detail.message.id
    assert ws.tabs.currentWidget() is ws.messages
    assert ws.messages.detail.transmit_button.isHidden()  # nothing to transmit before approval

    # alice, at her own workstation, approves with her code
    other = _workspace(qtbot, alice)
    assert other.compose is None and [other.tabs.tabText(i) for i in range(other.tabs.count())] == [
        "Messages", "Templates"]  # an approver composes nothing
    assert other.templates.new_button.isHidden()  # nor writes templates
    qtbot.waitUntil(lambda: _row_of(other.messages, message_id) is not None, timeout=10_000)
    other.messages.list.selectRow(_row_of(other.messages, message_id))
    qtbot.waitUntil(lambda: other.messages.detail.approve_button.isVisible(), timeout=10_000)
    other.messages.detail.approve_button.click()
    qtbot.waitUntil(lambda: _dialog("approveDialog") is not None, timeout=5_000)
    _dialog("approveDialog").code.setText("000000" if clock.code(alice_totp) != "000000" else "111111")
    qtbot.waitUntil(lambda: _dialog("approveDialog") is not None
                    and "Wrong code" in _dialog("approveDialog").error.text(), timeout=10_000)
    _dialog("approveDialog").code.setText(clock.code(alice_totp))
    qtbot.waitUntil(lambda: other.messages.detail.message.status == "approved", timeout=10_000)

    # carol reviews and transmits; the monitor fills per peer and per cell
    ws.messages.detail.refresh()
    qtbot.waitUntil(lambda: ws.messages.detail.transmit_button.isVisible(), timeout=10_000)
    ws.messages.detail.transmit_button.click()
    qtbot.waitUntil(lambda: _dialog("transmitDialog") is not None, timeout=10_000)
    assert "bsc1: 1 cell" in _dialog("transmitDialog").findChild(QPlainTextEdit, "reviewText").toPlainText()
    _dialog("transmitDialog").accept()
    detail = ws.messages.detail
    qtbot.waitUntil(lambda: detail.message.status == "active", timeout=10_000)

    def peers_acknowledged():
        detail.refresh()
        rows = {detail.peers.item(r, 0).text(): detail.peers.item(r, 3).text() for r in range(detail.peers.rowCount())}
        return rows.get("bsc1", "0") != "0" and rows.get("mme1", "0") != "0"

    qtbot.waitUntil(peers_acknowledged, timeout=15_000)
    cells = {(detail.cells.item(r, 1).text(), detail.cells.item(r, 2).text(), detail.cells.item(r, 3).text())
             for r in range(detail.cells.rowCount()) if detail.cells.item(r, 0).text() == "bsc1"}
    assert ("CGI 901-70-23-42", "en", "Success") in cells
    assert "cells acknowledged" in detail.results_summary.text()
    assert ws.grab().save(str(SCREENSHOTS / "broadcast_monitor.png"))

    # update: carol asks with her code; under the two-person rule nothing goes out until alice approves
    detail.update_button.click()
    qtbot.waitUntil(lambda: _dialog("updateDialog") is not None, timeout=5_000)
    update = _dialog("updateDialog")
    update.languages.editor("en").text.setPlainText("FLOOD WARNING. Water is rising. Leave now.")
    update.repetitions.setValue(20)
    assert "waits for a second user's approval" in update.findChild(QLabel, "updateNotice").text()
    assert update.grab().save(str(SCREENSHOTS / "broadcast_update_dialog.png"))
    update.code.setText("12345")
    assert update.isVisible()  # five digits do not submit
    update.code.setText(clock.code(carol_totp))  # the sixth digit submits
    qtbot.waitUntil(lambda: detail.message.open_update is not None, timeout=10_000)
    assert detail.message.open_update.status == "pending_approval" and detail.message.update_count == 0
    assert detail.pending_update.isVisible() and detail.approve_update_button.isHidden()  # not carol's to approve
    assert not detail.update_button.isEnabled()  # one update at a time
    qtbot.wait(500)
    assert not any("Water is rising" in w.text for w in bscs[0].received_of(cbsp.WriteReplace))

    theirs = other.messages.detail
    theirs.refresh()
    qtbot.waitUntil(lambda: theirs.approve_update_button.isVisible(), timeout=10_000)
    assert "Water is rising" in theirs.pending_text.text() and "Repetitions: 20" in theirs.pending_text.text()
    row = _row_of(other.messages, message_id)
    qtbot.waitUntil(lambda: other.messages.list.item(row, 1).text() == "Active", timeout=10_000)  # list follows
    assert other.grab().save(str(SCREENSHOTS / "broadcast_update_pending.png"))
    theirs.approve_update_button.click()
    qtbot.waitUntil(lambda: _dialog("approveUpdateDialog") is not None, timeout=5_000)
    assert "Water is rising" in _dialog("approveUpdateDialog").findChild(QPlainTextEdit, "reviewText").toPlainText()
    _dialog("approveUpdateDialog").code.setText("000000" if clock.code(alice_totp) != "000000" else "111111")
    qtbot.waitUntil(lambda: _dialog("approveUpdateDialog") is not None
                    and "Wrong code" in _dialog("approveUpdateDialog").error.text(), timeout=10_000)
    _dialog("approveUpdateDialog").code.setText(clock.code(alice_totp))
    qtbot.waitUntil(lambda: theirs.message.open_update is not None
                    and theirs.message.open_update.status == "approved", timeout=10_000)
    assert theirs.send_update_button.isHidden()  # alice approves; sending is for an updater
    assert not any("Water is rising" in w.text for w in bscs[0].received_of(cbsp.WriteReplace))

    # carol sends the approved update: the new English text goes out again with update number 1
    detail.refresh()
    qtbot.waitUntil(lambda: detail.send_update_button.isVisible(), timeout=10_000)
    assert "approved by alice" in detail.pending_text.text()
    detail.send_update_button.click()
    qtbot.waitUntil(lambda: detail.message.update_count == 1, timeout=10_000)
    assert detail.pending_update.isHidden() and detail.update_button.isEnabled()
    assert detail.message.number_of_broadcasts == 20
    qtbot.waitUntil(lambda: any("Water is rising" in w.text for w in bscs[0].received_of(cbsp.WriteReplace)),
                    timeout=10_000)
    events = [detail.events.item(r, 2).text() for r in range(detail.events.rowCount())]
    assert events[-4:] == ["Update requested", "Code refused", "Update approved", "Updated"]  # alice mistyped once
    detail.findChild(QTabWidget, "detailTabs").setCurrentIndex(1)
    assert ws.grab().save(str(SCREENSHOTS / "broadcast_update_history.png"))

    # stop: asked first, then every peer is told
    detail.stop_button.click()
    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "confirmBox" and w.isVisible())
    next(b for b in box.buttons() if b.text() == "Stop broadcasting").click()
    qtbot.waitUntil(lambda: detail.message.status == "cancelled", timeout=10_000)
    assert [m.status for m in bs.history(alice.db, alice.actor)] == ["cancelled"]
    for widget in (ws, other):
        shiboken6.delete(widget)  # now, not at exit: WebEngine's profile must outlive its pages


def test_an_administrator_writes_a_template_and_operators_can_start_from_it(db, admin, qtbot):
    ws = _workspace(qtbot, type("Session", (), {"db": db, "actor": admin}))
    qtbot.waitUntil(lambda: ws.templates.table.rowCount() == 7 and ws.compose.template.count() == 7, timeout=15_000)
    ws.tabs.setCurrentWidget(ws.templates)
    ws.templates.new_button.click()
    dialog = ws.templates.dialog
    dialog.name.setText("Chemical spill")
    dialog.languages[0].text.setPlainText("CHEMICAL SPILL. Stay indoors and close the windows.")
    dialog.save()  # no identifier yet
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "needs its 3GPP message identifier" in dialog.error.text()
    assert dialog.grab().save(str(SCREENSHOTS / "broadcast_template_dialog.png"))
    assert len(bs.list_templates(db, admin)) == 7, "nothing was saved"
    dialog.identifier.setText("4372")
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.save()
    qtbot.waitUntil(lambda: ws.compose.template.count() == 8, timeout=10_000)
    ws.compose.choose("Chemical spill")
    assert ws.compose.identifier.text() == "4372"
    assert [t.message_identifier for t in bs.list_templates(db, admin) if t.name == "Chemical spill"] == [4372]
    shiboken6.delete(ws)


def test_a_draft_left_unconfirmed_is_confirmed_later_from_the_messages_list(db, admin, qtbot):
    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    ws = _workspace(qtbot, carol)
    qtbot.waitUntil(lambda: ws.compose.template.count() > 0, timeout=15_000)
    ws.compose.choose("Monthly test")
    qtbot.waitUntil(lambda: ws.create_button.isEnabled(), timeout=10_000)
    ws.create_button.click()
    qtbot.waitUntil(lambda: _dialog("confirmDialog") is not None, timeout=10_000)
    _dialog("confirmDialog").reject()  # closed without a code: the draft stays
    detail = ws.messages.detail
    qtbot.waitUntil(lambda: detail.message is not None and detail.message.status == "draft", timeout=10_000)
    assert detail.submit_button.isVisibleTo(detail) and detail.transmit_button.isHidden()
    detail.submit_button.click()
    qtbot.waitUntil(lambda: _dialog("confirmDialog") is not None, timeout=10_000)
    _dialog("confirmDialog").code.setText(clock.code(carol_totp))
    qtbot.waitUntil(lambda: detail.message.status == "pending_approval", timeout=10_000)
    assert detail.submit_button.isHidden()
    shiboken6.delete(ws)


def test_a_dead_workstations_transmit_claim_is_released_from_the_detail(db, admin, qtbot):
    from sqlalchemy import text

    message = bs.create_message(db, admin, template="Exercise")
    with db.transaction() as s:  # approved, and claimed 10 minutes ago by a workstation that died
        s.execute(text("UPDATE broadcast_message SET status = 'approved', approved_by = :a, "
                       "transmit_claimed_at = now() - interval '10 minutes' WHERE id = :i"),
                  {"a": admin.user_id, "i": message.id})
    ws = _workspace(qtbot, type("Session", (), {"db": db, "actor": admin}))
    ws.tabs.setCurrentWidget(ws.messages)
    detail = ws.messages.detail
    ws.messages.open_message(message.id)
    qtbot.waitUntil(lambda: detail.message is not None and detail.release_button.isVisible(), timeout=10_000)
    detail.release_button.click()
    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "confirmBox" and w.isVisible())
    assert "check the CBC engine's warnings" in box.informativeText()
    next(b for b in box.buttons() if b.text() == "Release claim").click()
    qtbot.waitUntil(lambda: detail.message.transmit_claimed_at is None, timeout=10_000)
    assert detail.release_button.isHidden() and detail.transmit_button.isVisible()
    shiboken6.delete(ws)


def test_an_update_the_engine_refuses_is_reported_and_the_message_keeps_its_text(db, admin, qtbot):
    from tests.test_broadcast_service import _active

    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    bs.set_settings(db, admin, two_person_rule=False)
    message = _active(db, admin, carol)
    ws = _workspace(qtbot, carol)
    detail = ws.messages.detail
    qtbot.waitUntil(lambda: not ws.messages.detail.two_person_rule, timeout=10_000)
    ws.tabs.setCurrentWidget(ws.messages)
    ws.messages.open_message(message.id)
    qtbot.waitUntil(lambda: detail.message is not None and detail.update_button.isVisible(), timeout=10_000)
    detail.update_button.click()
    qtbot.waitUntil(lambda: _dialog("updateDialog") is not None, timeout=5_000)
    update = _dialog("updateDialog")
    assert "goes out as soon as your code is accepted" in update.findChild(QLabel, "updateNotice").text()
    update.code.setText("123456")  # nothing changed yet: refused in the dialog, no code used
    assert update.isVisible() and "changes nothing" in update.error.text()
    update.languages.editor("en").text.setPlainText("EXERCISE. Ignore the earlier message.")
    update.code.setText(clock.code(carol_totp))
    qtbot.waitUntil(lambda: any(w.isVisible() and "was not sent" in getattr(w, "text", lambda: "")()
                                for w in QApplication.topLevelWidgets()), timeout=10_000)
    qtbot.waitUntil(lambda: bool(detail.message.updates) and detail.message.updates[0].status == "failed",
                    timeout=10_000)
    assert detail.message.texts == message.texts and detail.pending_update.isHidden()
    assert _dialog("updateDialog") is None  # not asked again for a code: the engine, not the code, said no
    shiboken6.delete(ws)


def test_the_history_shows_an_updates_texts_as_text():
    from omnidesk.ui.broadcast.messages import _detail

    assert _detail({"update": 3, "texts": [{"language": "en", "text": "FLOOD. Leave now."}]}) == (
        "update: 3, texts: [en] FLOOD. Leave now.")
