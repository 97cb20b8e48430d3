"""The Broadcast workspace's compose pane offscreen: a template fills the form (its identifier shown, not
editable), each language counts characters and pages live and says when a character switches it to
UCS-2, an over-long text blocks the draft, and a draft is created and submitted with the TOTP code."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit
from sqlalchemy import text

from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.broadcast.workspace import BroadcastWorkspace

from security_helpers import signed_in
from tests.test_broadcast_database import Clock

pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture
def creator(db, admin):
    return signed_in(db, admin, "carol", ["Broadcast Creator"])


@pytest.fixture
def workspace(qtbot, creator):
    apply_stylesheet(QApplication.instance())
    session, _ = creator
    w = BroadcastWorkspace(session.db, session.actor)
    qtbot.addWidget(w)
    w.resize(1180, 780)
    w.show()
    qtbot.waitUntil(lambda: w.compose.template_list.count() == 7, timeout=10_000)
    return w


def choose(pane, name: str) -> None:
    row = next(i for i, t in enumerate(pane.templates) if t.name == name)
    pane.template_list.setCurrentRow(row)


def test_a_template_fills_the_form_and_each_language_counts_live(qtbot, workspace):
    pane = workspace.compose
    choose(pane, "Flood")
    assert pane.identifier.text().startswith("4371")
    assert not isinstance(pane.identifier, QLineEdit)  # shown, never typed
    [english] = pane.editors
    assert english.counter.text().startswith("GSM 7-bit · 1 of 15 pages ·")
    assert english.notice.isHidden()
    assert pane.target_note.text() == "No target: every cell of every connected peer transmits (the whole network)."

    english.text.setPlainText("FLOOD WARNING — leave the river banks now.")
    assert english.counter.text().startswith("UCS-2 · 2 of 15 pages · 458 characters left (42/500)")
    assert not english.notice.isHidden() and "'—' is not in the GSM 7-bit alphabet" in english.notice.text()

    english.text.setPlainText("X" * 501)
    assert "-1 characters left" in english.counter.text() and "cf222e" in english.counter.styleSheet()
    assert not english.problem.isHidden() and "console allows 500" in english.problem.text()
    assert not pane.create.isEnabled()
    english.text.setPlainText("")
    assert not pane.create.isEnabled()
    english.text.setPlainText("FLOOD WARNING. Leave the river banks now.")
    assert pane.create.isEnabled()


def test_a_draft_is_created_from_the_form_and_submitted_with_the_code(qtbot, workspace, creator, db):
    session, totp = creator
    pane = workspace.compose
    choose(pane, "Flood")
    pane.editors[0].text.setPlainText("FLOOD WARNING. Leave the river banks now.")
    pane.add_language.click()
    french = pane.editors[1]
    assert french.value()["language"] == "fr"
    french.text.setPlainText("ALERTE CRUE. Quittez les berges maintenant.")
    pane.expiry.setValue(45)
    assert not pane.submit.isEnabled()
    pane.create.click()
    qtbot.waitUntil(lambda: pane.draft is not None, timeout=10_000)
    with db.read() as s:
        row = s.execute(text("SELECT message_identifier, status, warning_period, texts FROM broadcast_message")).one()
    assert row.message_identifier == 4371 and row.status == "draft" and row.warning_period == 45 * 60
    assert [t["language"] for t in row.texts] == ["en", "fr"]
    assert "Draft #" in pane.status.text() and pane.submit.isEnabled() and not pane.create.isEnabled()

    pane.code.setText(Clock(db).code(totp))
    pane.submit.click()
    qtbot.waitUntil(lambda: pane.draft.status == "pending_approval", timeout=10_000)
    assert "waits for a second user's approval" in pane.status.text()
    assert not pane.submit.isEnabled()


def test_screenshot_of_the_compose_pane(qtbot, workspace):
    pane = workspace.compose
    choose(pane, "Tsunami")
    pane.editors[0].text.setPlainText("TSUNAMI WARNING. Leave the coast now and move to high ground.")
    pane.add_language.click()
    pane.editors[1].language.setCurrentText("ar")
    pane.editors[1].text.setPlainText("تحذير من تسونامي. غادروا الساحل الآن.")
    qtbot.wait(50)
    path = inspection.grab(workspace, "broadcast_compose")
    assert path.exists()
