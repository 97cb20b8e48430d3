"""An update of a live warning is what the database keeps: a centre that restarts (adopting the live
warnings) writes the UPDATED text with the current update number to a BSC that reconnects or restarts, and a
later update builds on the updated content. An update the engine refuses leaves the old content recorded."""

from __future__ import annotations

import time

import pytest

from sqlalchemy import select

from omnidesk.cbc import cbsp, sbcap, store
from omnidesk.cbc.centre import BroadcastCentre
from omnidesk.cbc.models import CbcCommand
from omnidesk.cbc.period import repetition_period_from_seconds
from omnidesk.cbc.simulator import BscSimulator

from tests.test_cbc_centre import CELLS, FAST, FLOOD, links_up, network_peers, settled  # noqa: F401 - shared fixtures
from tests.test_cbc_links import network, sims  # noqa: F401 - shared fixtures

NORTH = "Flood: evacuate NORTH now."
SOUTH = "Correction: evacuate SOUTH, the north road is flooded."


def _received(sim, kind, count, timeout=5.0):
    """The PDUs of `kind` a simulator received, once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while len(sim.received_of(kind)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    got = sim.received_of(kind)
    assert len(got) >= count, f"{sim.name} received {len(got)} {kind.__name__}, expected {count}"
    return got


def test_an_updated_warning_stays_updated_when_the_centre_restarts_and_a_later_update_builds_on_it(
        db, admin, sims, network_peers, network, tmp_path):  # noqa: F811
    loop, _ = sims
    bscs, mme = network_peers
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        warning = store.submit_warning(db, admin, FLOOD | {"message_code": 7, "texts": [{"language": "en", "text": NORTH}]})
        settled(db, admin, warning.id)
        store.request_update(db, admin, warning.id, {"texts": [{"language": "en", "text": SOUTH}]})
        record = settled(db, admin, warning.id, lambda w: w.settled and w.update_number == 1)
        assert _received(bscs[0], cbsp.WriteReplace, 2)[-1].text == SOUTH
    # what every workstation reads is what the peers broadcast
    assert record.texts == [{"language": "en", "text": SOUTH, "message_identifier": None}]
    assert (record.repetition_period, record.update_number, record.state) == (10, 1, "active")

    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        # the new centre RESET the BSCs when it connected: they get the warning again, as updated
        for bsc in bscs:
            again = _received(bsc, cbsp.WriteReplace, 3)[-1]
            assert again.text == SOUTH
            assert again.new_serial_number.message_code == 7 and again.new_serial_number.update_number == 1
            assert again.old_serial_number is None  # a fresh write: the BSC lost everything on RESET
        # a BSC that reboots while the adopted warning is live, and an MME that restarts, get it as updated too
        sent_before = len(bscs[0].received_of(cbsp.WriteReplace))
        assert loop.run(bscs[0].restart())
        rebooted = _received(bscs[0], cbsp.WriteReplace, sent_before + 1)[-1]
        assert rebooted.text == SOUTH and rebooted.new_serial_number.update_number == 1
        mme_before = len(mme.received_of(sbcap.WriteReplaceWarningRequest))
        assert loop.run(mme.restart())
        assert _received(mme, sbcap.WriteReplaceWarningRequest, mme_before + 1)[-1].text == SOUTH
        settled(db, admin, warning.id, lambda w: w.settled and all(p.state == "active" for p in w.peers))

        # a second update after the restart changes only the repetition period and keeps the corrected text
        store.request_update(db, admin, warning.id, {"repetition_period": 30})
        record = settled(db, admin, warning.id, lambda w: w.settled and w.update_number == 2)
        for bsc in bscs:
            replace = bsc.received_of(cbsp.WriteReplace)[-1]
            assert replace.text == SOUTH and replace.repetition_period == repetition_period_from_seconds(30)
            assert replace.old_serial_number.update_number == 1 and replace.new_serial_number.update_number == 2
        mme_replace = mme.received_of(sbcap.WriteReplaceWarningRequest)[-1]
        assert mme_replace.text == SOUTH and mme_replace.serial_number.update_number == 2
        assert mme_replace.repetition_period == 30
    assert record.texts[0]["text"] == SOUTH
    assert (record.repetition_period, record.update_number, record.state) == (30, 2, "active")
    _tshark_shows(tmp_path, [(again, SOUTH, 1, None), (rebooted, SOUTH, 1, None), (replace, SOUTH, 2, 1)])


def _tshark_shows(tmp_path, expected):
    """Wireshark, as an independent decoder, reads the WRITE-REPLACEs the BSCs got after the restart as
    carrying the corrected text under the update number the database records (skipped without tshark)."""
    from tests.test_cbsp_tshark import TEXT2PCAP, TSHARK, _serial, shown_fields, tcp_pdus

    if TSHARK is None or TEXT2PCAP is None:
        pytest.skip("tshark/text2pcap not installed (Debian package 'tshark', installed by scripts/bootstrap)")
    protos = tcp_pdus([cbsp.encode(message) for message, *_ in expected], tmp_path)
    for proto, (message, text, update_number, old_update_number) in zip(protos, expected):
        fields = shown_fields(proto)
        assert ("cbsp.cb_page_content", text) in fields
        serial = message.new_serial_number
        assert (serial.message_code, serial.update_number) == (7, update_number)
        assert ("cbsp.new_serial_nr", _serial(serial)) in fields
        old = [value for name, value in fields if name == "cbsp.old_serial_nr"]
        assert old == ([] if old_update_number is None else [_serial(message.old_serial_number)])
        if old_update_number is not None:
            assert message.old_serial_number.update_number == old_update_number


def test_an_update_the_engine_refuses_leaves_the_old_content_recorded(db, admin, network_peers, network):  # noqa: F811
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2) as centre:
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        warning = store.submit_warning(db, admin, FLOOD | {"texts": [{"language": "en", "text": NORTH}]})
        settled(db, admin, warning.id)
        # the warning ends on the centre (as when its warning period runs out) just as an update is asked for:
        # the update passed the store's check, but the engine has nothing live to update
        centre.engine.stop_warning(warning.id).result(5)
        with db.transaction() as s:
            s.add(CbcCommand(warning_id=warning.id, kind="update", requested_by=admin.user_id,
                             payload={"texts": [{"language": "en", "text": SOUTH}], "repetition_period": 30}))
        record = settled(db, admin, warning.id, lambda w: w.settled and w.state == "stopped")
    with db.read() as s:
        done_at, error = s.execute(select(CbcCommand.done_at, CbcCommand.error).where(CbcCommand.kind == "update")).one()
    assert done_at is not None and "is stopped; send a new warning instead" in error
    assert record.texts == [{"language": "en", "text": NORTH, "message_identifier": None}]
    assert (record.repetition_period, record.update_number) == (10, 0)


def test_an_approved_update_of_a_broadcast_message_is_what_a_restarted_centre_sends(
        db, admin, sims, network):  # noqa: F811
    """The warning of a broadcast message is guarded (0013): staff never rewrite it, the centre records its
    approved update, and a BSC that reconnects to a restarted centre gets the updated texts."""
    from omnidesk.broadcast import service as bs
    from security_helpers import signed_in
    from tests.test_broadcast_database import Clock

    _, start = sims
    bsc = start(BscSimulator("bsc1", CELLS))
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", host="127.0.0.1", port=bsc.address[1])
    bs.set_settings(db, admin, two_person_rule=False)
    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    first = [{"language": "en", "text": NORTH}]
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1"])
        draft = bs.create_message(carol.db, carol.actor, template="Flood", texts=first)
        bs.submit(carol.db, carol.actor, draft.id, clock.code(carol_totp))
        if bs.get_message(carol.db, carol.actor, draft.id).status == "pending_approval":
            bs.approve(alice.db, alice.actor, draft.id, clock.code(alice_totp))
        warning_id = bs.transmit(carol.db, carol.actor, draft.id).warning_id
        settled(db, admin, warning_id)
        updated = bs.request_update(carol.db, carol.actor, draft.id, clock.code(carol_totp),
                                    texts=[{"language": "en", "text": SOUTH}])
        assert updated.update_count == 1
        record = settled(db, admin, warning_id, lambda w: w.settled and w.update_number == 1)
        assert record.texts[0]["text"] == SOUTH
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1"])
        again = _received(bsc, cbsp.WriteReplace, 3)[-1]
        assert again.text == SOUTH and again.new_serial_number.update_number == 1


def test_no_staff_login_rewrites_what_a_console_warning_says_only_the_centre_does(db, admin):
    """Migration 0014: a restarted centre sends what cbc_warning says, so staff connecting with plain psycopg
    (bypassing every OmniDesk check) cannot change it for any warning; they can still record it stopped."""
    import json

    import psycopg
    from sqlalchemy import text

    from security_helpers import signed_in
    from tests.test_broadcast_database import _connect

    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    first = [{"language": "en", "text": NORTH, "message_identifier": None}]
    with db.transaction() as s:  # a warning sent from the engine's console (no broadcast message)
        warning_id = s.execute(text(
            "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
            "VALUES (4370, 3, 60, CAST(:x AS jsonb), 'active') RETURNING id"), {"x": json.dumps(first)}).scalar()
    with _connect(db, "carol", carol) as conn:
        conn.autocommit = True
        for change, value in [("texts", json.dumps([{"language": "en", "text": SOUTH}])), ("update_number", 1),
                              ("repetition_period", 5), ("number_of_broadcasts", 3), ("category", "high-priority")]:
            cast = "::jsonb" if change == "texts" else ""
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match=f"Warning #{warning_id}: what it says changes only by an update the cell "
                                     "broadcast centre accepts"):
                conn.execute(f"UPDATE cbc_warning SET {change} = %s{cast} WHERE id = %s", [value, warning_id])
        conn.execute("UPDATE cbc_warning SET state = 'stopped', reason = 'stopped by hand', finished_at = now() "
                     "WHERE id = %s", [warning_id])
    record = store.get_warning(db, admin, warning_id)
    assert (record.texts, record.update_number, record.repetition_period, record.state) == (first, 0, 60, "stopped")
