"""The running centre with PostgreSQL: peers and warnings from the store, results recorded per peer and per
cell, one centre per database, a restarted centre taking over what is live, and bad input refused."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from omnidesk.cbc import cbsp, sbcap, store
from omnidesk.cbc.centre import BroadcastCentre, CentreAlreadyRunning
from omnidesk.cbc.engine import EngineTimers
from omnidesk.cbc.links import LinkTimers
from omnidesk.cbc.models import CbcCommand, CbcWarning
from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_bsc_cells, default_mme_cells
from omnidesk.errors import NotFound, PermissionDenied

from tests.test_cbc_links import network, sims  # noqa: F401 - shared fixtures

FAST = EngineTimers(LinkTimers(connect_timeout=1, reset_timeout=1, keepalive_interval=30, keepalive_timeout=2,
                               backoff_initial=0.05, backoff_maximum=0.2), answer_timeout=0.6, warning_timeout=1.0)
CELLS = default_bsc_cells(2)
FLOOD = {"message_identifier": 4370, "repetition_period": 10,
         "texts": [{"language": "en", "text": "Flood warning. Move to high ground now."}]}
CGI_42 = {"type": "CellGlobalId", "plmn": {"mcc": "901", "mnc": "70"}, "lac": 23, "ci": 42}


@pytest.fixture
def network_peers(db, admin, sims, network):  # noqa: F811
    """Two BSC simulators on loopback TCP and one MME in memory, configured as peers in the database."""
    _, start = sims
    bscs = [start(BscSimulator(f"bsc{i}", CELLS)) for i in (1, 2)]
    mme = start(MmeSimulator("mme1", default_mme_cells(2), network=network))
    for bsc in bscs:
        store.add_peer(db, admin, name=bsc.name, protocol="cbsp", host="127.0.0.1", port=bsc.address[1])
    store.add_peer(db, admin, name="mme1", protocol="sbcap", host="mme1", transport="memory")
    return bscs, mme


@pytest.fixture
def centre(db, network):  # noqa: F811
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2) as running:
        yield running


def settled(db, admin, warning_id, what=lambda w: w.settled, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        record = store.get_warning(db, admin, warning_id)
        if what(record):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"warning #{warning_id} did not settle: {record.state} {record.reason}")
        time.sleep(0.05)


def links_up(db, admin, names, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        states = {p.name: p.link_state for p in store.list_peers(db, admin)}
        if all(states.get(n) == "up" for n in names):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"links not up: {states}")
        time.sleep(0.05)


def test_a_warning_asked_for_in_the_database_reaches_every_peer_and_each_cell_is_recorded(
        db, admin, network_peers, centre):
    bscs, mme = network_peers
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    warning = store.submit_warning(db, admin, FLOOD)
    assert warning.state == "queued" and warning.message_code == 0
    record = settled(db, admin, warning.id, lambda w: w.settled and all(len(p.cells) == 2 for p in w.peers))
    assert record.state == "active" and record.sent_at is not None
    assert {p.peer: p.state for p in record.peers} == {"bsc1": "active", "bsc2": "active", "mme1": "active"}
    bsc1 = next(p for p in record.peers if p.peer == "bsc1")
    assert [(c.cell, c.language, c.outcome) for c in bsc1.cells] == [
        ("CGI 901-70-23-42", "en", "success"), ("CGI 901-70-23-43", "en", "success")]
    for bsc in bscs:
        write = bsc.received_of(cbsp.WriteReplace)[-1]
        assert write.message_id == 4370 and write.text == "Flood warning. Move to high ground now."
    assert mme.received_of(sbcap.WriteReplaceWarningRequest)[-1].text == "Flood warning. Move to high ground now."

    store.request_stop(db, admin, warning.id)
    record = settled(db, admin, warning.id, lambda w: w.state == "stopped")
    assert record.finished_at is not None
    assert {p.state for p in record.peers} == {"stopped"}
    assert all(bsc.received_of(cbsp.Kill) for bsc in bscs)
    assert mme.received_of(sbcap.StopWarningRequest)


def test_targets_name_cells_per_peer_and_only_those_peers_are_asked(db, admin, network_peers, centre):
    bscs, mme = network_peers
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    warning = store.submit_warning(db, admin, FLOOD | {"targets": {"bsc2": [CGI_42]}})
    record = settled(db, admin, warning.id)
    assert [p.peer for p in record.peers] == ["bsc2"]
    assert record.targets == {"bsc2": [CGI_42]}
    assert not bscs[0].received_of(cbsp.WriteReplace) and not mme.received_of(sbcap.WriteReplaceWarningRequest)
    assert bscs[1].received_of(cbsp.WriteReplace)[-1].cell_list.cells == (cbsp.CellGlobalId(cbsp.Plmn("901", "70"), 23, 42),)


def test_an_update_goes_out_with_the_same_code_and_the_next_update_number(db, admin, network_peers, centre):
    bscs, _ = network_peers
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    warning = store.submit_warning(db, admin, FLOOD | {"message_code": 7})
    settled(db, admin, warning.id)
    store.request_update(db, admin, warning.id, {"texts": [{"language": "en", "text": "Flood: water is rising."}]})
    record = settled(db, admin, warning.id, lambda w: w.settled and w.update_number == 1)
    assert record.state == "active" and record.message_code == 7
    replace = bscs[0].received_of(cbsp.WriteReplace)[-1]
    assert replace.text == "Flood: water is rising."
    assert replace.new_serial_number.message_code == 7 and replace.new_serial_number.update_number == 1
    assert replace.old_serial_number.update_number == 0


def test_a_second_centre_on_the_same_database_is_refused(db, centre):
    with pytest.raises(CentreAlreadyRunning, match="already running"):
        BroadcastCentre(db).start()


def test_without_a_running_centre_a_warning_is_refused_and_nothing_is_stored(db, admin, network_peers):
    with pytest.raises(store.BroadcastRefused, match="No cell broadcast centre is running"):
        store.submit_warning(db, admin, FLOOD)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CbcWarning)) == 0


@pytest.mark.parametrize("change, message", [
    ({"texts": [{"language": "en", "text": "A" * 1396}]}, "too long: 1396 GSM 7-bit characters"),
    ({"message_identifier": 70000}, "identifier"),
    ({"targets": {}}, "target list is empty"),
    ({"targets": {"bsc1": []}}, "target list for peer bsc1 is empty"),
    ({"targets": {"bsc9": [CGI_42]}}, "no peer named 'bsc9'"),
    ({"targets": {"mme1": [CGI_42]}}, "targets.mme1"),
    ({"texts": []}, "texts"),
    ({"repetition_period": 0}, "Repetition period"),
    ({"colour": "red"}, "Unknown field"),
])
def test_bad_warnings_are_refused_with_a_clear_message_and_nothing_is_stored_or_sent(
        db, admin, network_peers, centre, change, message):
    bscs, mme = network_peers
    with pytest.raises((store.BroadcastRefused, NotFound), match=message):
        store.submit_warning(db, admin, FLOOD | change)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CbcWarning)) == 0
        assert s.scalar(select(func.count()).select_from(CbcCommand)) == 0
    time.sleep(0.2)
    assert not any(b.received_of(cbsp.WriteReplace) for b in bscs)


def test_message_codes_are_handed_out_without_clashing_and_a_taken_code_is_refused(db, admin, network_peers, centre):
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    two_languages = FLOOD | {"texts": [{"language": "en", "text": "Flood"}, {"language": "de", "text": "Hochwasser"}]}
    first = store.submit_warning(db, admin, two_languages)
    second = store.submit_warning(db, admin, FLOOD)
    assert (first.message_code, second.message_code) == (0, 2)
    with pytest.raises(store.BroadcastRefused, match="Message code 1 of message identifier 4370 is in use by live warning"):
        store.submit_warning(db, admin, FLOOD | {"message_code": 1})
    settled(db, admin, first.id)
    store.request_stop(db, admin, first.id)
    settled(db, admin, first.id, lambda w: w.state == "stopped")
    assert store.submit_warning(db, admin, FLOOD).message_code == 0  # a stopped warning frees its codes


def test_a_peer_that_never_answers_is_recorded_as_timed_out_and_the_others_still_broadcast(
        db, admin, sims, network, centre):  # noqa: F811
    _, start = sims
    good = start(BscSimulator("good", CELLS))
    mute = start(BscSimulator("mute", CELLS, silent=True))
    for bsc in (good, mute):
        store.add_peer(db, admin, name=bsc.name, protocol="cbsp", port=bsc.address[1])
    links_up(db, admin, ["good", "mute"])
    warning = store.submit_warning(db, admin, FLOOD)
    record = settled(db, admin, warning.id, lambda w: w.settled and {p.peer for p in w.peers} == {"good", "mute"}
                     and any(p.state == "timed-out" for p in w.peers))
    states = {p.peer: (p.state, p.reason) for p in record.peers}
    assert states["good"][0] == "active"
    assert states["mute"][0] == "timed-out" and "no answer within 0.6 s" in states["mute"][1]
    assert record.state == "active"


def test_a_restarted_centre_takes_over_live_warnings_so_a_stop_still_reaches_the_peers(
        db, admin, network_peers, network):  # noqa: F811
    bscs, mme = network_peers
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        warning = store.submit_warning(db, admin, FLOOD)
        settled(db, admin, warning.id)
    assert {p.link_state for p in store.list_peers(db, admin)} == {"disabled"}
    assert store.get_warning(db, admin, warning.id).state == "active"

    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        # the BSCs were RESET when the new centre connected: it wrote the warning to them again
        for bsc in bscs:
            deadline = time.monotonic() + 5
            while len(bsc.received_of(cbsp.WriteReplace)) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(bsc.received_of(cbsp.WriteReplace)) == 2
        store.request_stop(db, admin, warning.id)
        record = settled(db, admin, warning.id, lambda w: w.state == "stopped")
    assert all(bsc.received_of(cbsp.Kill) for bsc in bscs)
    assert mme.received_of(sbcap.StopWarningRequest)
    assert {p.state for p in record.peers} == {"stopped"}


def test_a_queued_warning_can_be_withdrawn_when_no_centre_runs(db, admin, network_peers, network):  # noqa: F811
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=60, link_grace=60) as running:
        running._stopping.set()  # the worker stops taking commands; the lock is still held
        running._wake.set()
        running._thread.join(5)
        warning = store.submit_warning(db, admin, FLOOD)
    record = store.request_stop(db, admin, warning.id)
    assert record.state == "stopped" and record.reason == "withdrawn before it was sent"
    assert record.pending_commands == 0


def test_peers_are_validated_and_one_with_a_live_warning_cannot_be_removed(db, admin, network_peers, centre):
    with pytest.raises(store.BroadcastRefused, match="already a peer named bsc1"):
        store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=48049)
    with pytest.raises(store.BroadcastRefused, match="protocol 'x25' must be 'cbsp' or 'sbcap'"):
        store.add_peer(db, admin, name="old", protocol="x25")
    with pytest.raises(store.BroadcastRefused, match="port"):
        store.add_peer(db, admin, name="bad-port", protocol="cbsp", port=70000)
    with pytest.raises(store.BroadcastRefused, match="Peer name"):
        store.add_peer(db, admin, name="two words", protocol="cbsp")
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    warning = store.submit_warning(db, admin, FLOOD)
    settled(db, admin, warning.id)
    with pytest.raises(store.BroadcastRefused, match=f"carries live warning\\(s\\) #{warning.id}"):
        store.remove_peer(db, admin, "bsc1")
    store.request_stop(db, admin, warning.id)
    settled(db, admin, warning.id, lambda w: w.state == "stopped")
    store.remove_peer(db, admin, "bsc1")
    assert [p.name for p in store.list_peers(db, admin)] == ["bsc2", "mme1"]


def test_a_peer_added_while_the_centre_runs_is_connected_without_a_restart(db, admin, sims, centre):  # noqa: F811
    _, start = sims
    late = start(BscSimulator("late", CELLS))
    store.add_peer(db, admin, name="late", protocol="cbsp", port=late.address[1])
    links_up(db, admin, ["late"])


def test_staff_without_the_cbc_permissions_can_neither_send_nor_stop(db, admin, network_peers, centre):
    from omnidesk.auth import Actor

    clerk = Actor(None, "clerk", frozenset({"view_cbc_message"}))
    with pytest.raises(PermissionDenied, match="create_cbc_message"):
        store.submit_warning(db, clerk, FLOOD)
    links_up(db, admin, ["bsc1", "bsc2", "mme1"])
    warning = store.submit_warning(db, admin, FLOOD)
    with pytest.raises(PermissionDenied, match="delete_cbc_message"):
        store.request_stop(db, clerk, warning.id)
    with pytest.raises(PermissionDenied, match="manage_settings"):
        store.add_peer(db, clerk, name="x", protocol="cbsp")


# -- faults: every outcome is stored ---------------------------------------------------------------


def _one_bsc(db, admin, sims, **behaviour):  # noqa: F811
    _, start = sims
    bsc = start(BscSimulator("bsc", CELLS, **behaviour))
    store.add_peer(db, admin, name="bsc", protocol="cbsp", port=bsc.address[1])
    links_up(db, admin, ["bsc"])
    return bsc


def test_cells_a_bsc_refuses_are_stored_with_their_cause(db, admin, sims, centre):  # noqa: F811
    _one_bsc(db, admin, sims, failing_cells={CELLS[1]: cbsp.Cause.CELL_BROADCAST_NOT_OPERATIONAL})
    warning = store.submit_warning(db, admin, FLOOD)
    record = settled(db, admin, warning.id)
    cells = {c.cell: (c.outcome, c.cause) for c in record.peers[0].cells}
    assert cells == {"CGI 901-70-23-42": ("success", None),
                     "CGI 901-70-23-43": ("failure", "cell-broadcast-not-operational")}
    assert record.state == "active"


def test_a_bsc_that_drops_the_link_mid_write_is_stored_as_failed_with_the_reason(db, admin, sims, centre):  # noqa: F811
    _one_bsc(db, admin, sims, drop_on_write=True)
    warning = store.submit_warning(db, admin, FLOOD)
    record = settled(db, admin, warning.id, lambda w: w.settled and w.peers and w.peers[0].state == "failed")
    assert "link lost before the write was answered" in record.peers[0].reason
    assert record.state == "failed"


def test_a_bsc_restart_while_a_warning_is_active_gets_it_again_and_that_is_stored(db, admin, sims, centre):  # noqa: F811
    loop, _ = sims
    bsc = _one_bsc(db, admin, sims)
    warning = store.submit_warning(db, admin, FLOOD)
    settled(db, admin, warning.id)
    loop.run(bsc.restart())
    record = settled(db, admin, warning.id, lambda w: w.settled and w.peers[0].writes_sent == 2)
    assert record.state == "active" and record.peers[0].state == "active"
    assert len(bsc.received_of(cbsp.WriteReplace)) == 2


def test_the_database_going_away_mid_warning_does_not_lose_the_outcome(db, admin, pg_root, sims, centre):  # noqa: F811
    admin_conninfo, _ = pg_root
    _one_bsc(db, admin, sims)
    warning = store.submit_warning(db, admin, FLOOD)
    import psycopg

    with psycopg.connect(admin_conninfo, autocommit=True) as conn:  # every connection of the test database dies
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (db.engine.url.database,))
    record = settled(db, admin, warning.id, timeout=15)
    assert record.state == "active" and record.peers[0].state == "active" and len(record.peers[0].cells) == 2
    store.request_stop(db, admin, warning.id)  # the centre's listener and lock came back too
    assert settled(db, admin, warning.id, lambda w: w.state == "stopped", timeout=15).state == "stopped"
