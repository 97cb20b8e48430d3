"""The CBC engine end to end: warnings to simulated BSCs (loopback TCP) and MMEs (in memory), faults, update, stop, bad input."""

from __future__ import annotations

import time

import pytest

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.engine import (
    CbcInputError,
    EventKind,
    MessageIdentifierError,
    NoPeerConnectedError,
    PeerConfig,
    TextTooLongError,
    UnknownPeerError,
    WarningRequest,
    WarningText,
)
from omnidesk.cbc.message_fsm import WarningState
from omnidesk.cbc.period import repetition_period_from_seconds
from omnidesk.cbc.peer_fsm import CellOutcome, PeerWarningState
from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_bsc_cells, default_mme_cells

from tests.test_cbc_links import cbc, network, sims, wait_until  # noqa: F401 - shared fixtures

CELLS = default_bsc_cells(3)
PLMN = cbsp.Plmn("001", "01")


def connect_bsc(cbc, start, name, **behaviour):
    bsc = start(BscSimulator(name, CELLS, **behaviour))
    cbc.configure_peer(PeerConfig(name, "cbsp", "client", "127.0.0.1", bsc.address[1])).result(5)
    cbc.wait_for_link(name, 5)
    return bsc


def connect_mme(cbc, start, network, name, enb_id=1, **behaviour):
    mme = start(MmeSimulator(name, default_mme_cells(2, tac=enb_id, enb_id=enb_id), network=network, enb_id=enb_id,
                             **behaviour))
    cbc.configure_peer(PeerConfig(name, "sbcap", "client", name, 29168, transport="memory")).result(5)
    cbc.wait_for_link(name, 5)
    return mme


def presidential(**changes):
    fields = dict(message_identifier=4370, message_code=5, texts=[WarningText("Flood warning. Move to high ground.", "en")],
                  repetition_period=10)
    fields.update(changes)
    return WarningRequest(**fields)


def test_a_warning_reaches_every_bsc_and_mme_and_is_acknowledged_per_peer_and_per_cell(sims, cbc, network):
    loop, start = sims
    bscs = [connect_bsc(cbc, start, f"bsc{i}") for i in (1, 2)]
    mmes = [connect_mme(cbc, start, network, f"mme{i}", enb_id=i) for i in (1, 2)]
    future = cbc.send_warning(presidential())
    status = future.result(5)
    assert status.state is WarningState.ACTIVE
    assert status.serial_number.message_code == 5 and status.update_number == 0
    assert {name: p.state for name, p in status.peers.items()} == {
        "bsc1": PeerWarningState.ACTIVE, "bsc2": PeerWarningState.ACTIVE,
        "mme1": PeerWarningState.ACTIVE, "mme2": PeerWarningState.ACTIVE}
    for bsc in bscs:
        write = bsc.received_of(cbsp.WriteReplace)[0]
        assert write.message_id == 4370 and write.cell_list == cbsp.CellList.whole_bss()
        assert write.repetition_period == 5  # 10 s in units of 1.883 s
        assert write.text == "Flood warning. Move to high ground."
        assert [c.cell for c in status.peers[bsc.name].cells] == ["CGI 901-70-23-42", "CGI 901-70-23-43", "CGI 901-70-23-44"]
        assert all(c.outcome is CellOutcome.SUCCESS for c in status.peers[bsc.name].cells)
    for mme in mmes:
        request = mme.received_of(sbcap.WriteReplaceWarningRequest)[0]
        assert request.repetition_period == 10 and request.text == "Flood warning. Move to high ground."
    # per-cell scheduling on an MME comes with the Write-Replace-Warning-Indication, just after the answer
    wait_until(lambda: len(cbc.status(future.warning_id).peers["mme2"].cells) == 2, what="MME cells")
    assert [c.cell for c in cbc.status(future.warning_id).peers["mme2"].cells] == [
        "ECGI 001-01-0000201", "ECGI 001-01-0000202"]
    kinds = {e.kind for e in cbc.events if e.warning_id == future.warning_id}
    assert {EventKind.WARNING_STATE, EventKind.PEER_WARNING_STATE} <= kinds


def test_targets_go_only_to_the_named_peers_and_cells(sims, cbc, network):
    loop, start = sims
    bsc1, bsc2 = connect_bsc(cbc, start, "bsc1"), connect_bsc(cbc, start, "bsc2")
    mme = connect_mme(cbc, start, network, "mme1")
    tai = sbcap.TrackingAreaId(PLMN, 1)
    status = cbc.send_warning(presidential(targets={"bsc1": [CELLS[1]], "mme1": [tai]})).result(5)
    assert set(status.peers) == {"bsc1", "mme1"}
    assert bsc1.received_of(cbsp.WriteReplace)[0].cell_list == cbsp.CellList.of(CELLS[1])
    assert not bsc2.received_of(cbsp.WriteReplace)
    assert mme.received_of(sbcap.WriteReplaceWarningRequest)[0].warning_area == sbcap.TrackingAreaList((tai,))
    assert [c.cell for c in status.peers["bsc1"].cells] == ["CGI 901-70-23-43"]


def test_cells_that_answer_failure_are_recorded_with_their_causes(sims, cbc, network):
    loop, start = sims
    connect_bsc(cbc, start, "bsc1", failing_cells={CELLS[0]: cbsp.Cause.CELL_BROADCAST_NOT_OPERATIONAL,
                                                   CELLS[2]: cbsp.Cause.CELL_MEMORY_EXCEEDED})
    connect_bsc(cbc, start, "bsc-all-bad", failing_cells={c: cbsp.Cause.CELL_BROADCAST_NOT_SUPPORTED for c in CELLS})
    connect_mme(cbc, start, network, "mme1", reject_cause=sbcap.Cause.MME_CAPACITY_EXCEEDED)
    status = cbc.send_warning(presidential()).result(5)
    assert status.state is WarningState.ACTIVE  # one peer took it on one cell
    partly = status.peers["bsc1"]
    assert partly.state is PeerWarningState.ACTIVE
    assert "2 cell(s) refused" in partly.reason
    assert partly.cell("CGI 901-70-23-42").cause == "cell-broadcast-not-operational"
    assert partly.cell("CGI 901-70-23-44").cause == "cell-memory-exceeded"
    assert partly.cell("CGI 901-70-23-43").outcome is CellOutcome.SUCCESS
    refused = status.peers["bsc-all-bad"]
    assert refused.state is PeerWarningState.FAILED
    assert {c.cause for c in refused.cells} == {"cell-broadcast-not-supported"}
    assert status.peers["mme1"].state is PeerWarningState.FAILED
    assert "mme-capacity-exceeded" in status.peers["mme1"].reason


def test_unknown_tracking_areas_are_recorded_as_failed_areas(sims, cbc, network):
    loop, start = sims
    connect_mme(cbc, start, network, "mme1")
    known, unknown = sbcap.TrackingAreaId(PLMN, 1), sbcap.TrackingAreaId(PLMN, 99)
    status = cbc.send_warning(presidential(targets={"mme1": [known, unknown]})).result(5)
    peer = status.peers["mme1"]
    assert peer.state is PeerWarningState.ACTIVE
    assert peer.cell("TAI 001-01-TAC99").cause == "tracking-area-not-valid"


def test_a_peer_that_drops_mid_write_is_recorded_failed_and_the_others_carry_on(sims, cbc, network):
    loop, start = sims
    connect_bsc(cbc, start, "bsc-ok")
    connect_bsc(cbc, start, "bsc-drops", drop_on_write=True)
    connect_mme(cbc, start, network, "mme-drops", drop_on_write=True)
    status = cbc.send_warning(presidential()).result(5)
    assert status.state is WarningState.ACTIVE
    assert status.peers["bsc-ok"].state is PeerWarningState.ACTIVE
    for name in ("bsc-drops", "mme-drops"):
        assert status.peers[name].state is PeerWarningState.FAILED
        assert "link lost before the write was answered" in status.peers[name].reason
    assert any(e.kind is EventKind.LINK_DOWN and e.peer == "bsc-drops" for e in cbc.events)


def test_a_peer_that_never_answers_times_out_and_the_timeout_is_recorded(sims, cbc, network):
    loop, start = sims
    connect_bsc(cbc, start, "bsc-ok")
    connect_bsc(cbc, start, "bsc-silent", silent=True)
    connect_mme(cbc, start, network, "mme-silent", silent=True)
    started = time.monotonic()
    status = cbc.send_warning(presidential()).result(5)
    assert time.monotonic() - started < 1.5
    assert status.state is WarningState.ACTIVE
    for name in ("bsc-silent", "mme-silent"):
        assert status.peers[name].state is PeerWarningState.TIMED_OUT
        assert "no answer within 0.5 s" in status.peers[name].reason
    stopped = cbc.stop_warning(status.warning_id).result(5)
    assert stopped.state is WarningState.STOPPED
    assert stopped.peers["bsc-ok"].state is PeerWarningState.STOPPED
    assert stopped.peers["bsc-silent"].state is PeerWarningState.TIMED_OUT


def test_a_bsc_restart_while_a_warning_is_active_gets_the_warning_again(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    other = connect_bsc(cbc, start, "bsc2")
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    assert bsc.installed
    loop.run(bsc.restart())
    wait_until(lambda: len(bsc.received_of(cbsp.WriteReplace)) == 2, what="the warning written again")
    wait_until(lambda: cbc.status(warning_id).peers["bsc1"].state is PeerWarningState.ACTIVE
               and cbc.status(warning_id).peers["bsc1"].writes_sent == 2, what="re-acknowledged")
    assert bsc.installed and len(other.received_of(cbsp.WriteReplace)) == 1
    assert any(e.kind is EventKind.PEER_RESTART and e.peer == "bsc1" for e in cbc.events)
    assert any(h[1] == "resend" for h in cbc.status(warning_id).peers["bsc1"].history)


def test_a_bsc_that_reconnects_gets_its_active_warnings_again_after_the_reset(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1", restart_on_connect=False)
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    loop.run(bsc._connection.send(cbsp.KeepAliveComplete()))  # harmless; then cut the link from the BSC side
    bsc._connection.close()
    wait_until(lambda: len(bsc.received_of(cbsp.WriteReplace)) == 2, what="the warning written after reconnect")
    wait_until(lambda: cbc.status(warning_id).peers["bsc1"].state is PeerWarningState.ACTIVE, what="active again")
    assert len(bsc.received_of(cbsp.Reset)) == 2


def test_an_mme_pws_restart_indication_gets_the_warning_sent_again(sims, cbc, network):
    loop, start = sims
    mme = connect_mme(cbc, start, network, "mme1")
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    loop.run(mme.restart())
    wait_until(lambda: len(mme.received_of(sbcap.WriteReplaceWarningRequest)) == 2, what="the warning sent again")
    wait_until(lambda: cbc.status(warning_id).peers["mme1"].writes_sent == 2
               and cbc.status(warning_id).peers["mme1"].state is PeerWarningState.ACTIVE, what="re-acknowledged")
    assert mme.installed
    loop.run(mme.fail_cells((default_mme_cells(1)[0][0],)))
    wait_until(lambda: cbc.status(warning_id).peers["mme1"].cell("ECGI 001-01-0000101").outcome is CellOutcome.FAILURE,
               what="the failed cell recorded")


def test_an_update_keeps_the_message_code_and_bumps_the_update_number(sims, cbc, network):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    mme = connect_mme(cbc, start, network, "mme1")
    warning_id = cbc.send_warning(presidential(update_number=15)).result(5).warning_id
    status = cbc.update_warning(warning_id, ["Flood warning updated: water rising."]).result(5)
    assert status.state is WarningState.ACTIVE
    assert (status.serial_number.message_code, status.update_number) == (5, 0)  # 15 + 1 wraps to 0
    first, second = bsc.received_of(cbsp.WriteReplace)
    assert second.old_serial_number == first.new_serial_number
    assert second.new_serial_number.message_code == first.new_serial_number.message_code
    assert second.text == "Flood warning updated: water rising."
    assert list(bsc.installed) == [(4370, second.new_serial_number.encoded)]
    requests = mme.received_of(sbcap.WriteReplaceWarningRequest)
    assert requests[1].serial_number.update_number == 0 and requests[0].serial_number.update_number == 15
    assert status.peers["bsc1"].state is status.peers["mme1"].state is PeerWarningState.ACTIVE


def test_two_updates_asked_for_at_once_go_out_in_turn_each_building_on_the_one_before(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    # the second is asked for before the first went out: it must not be built on the original content
    first = cbc.update_warning(warning_id, ["Evacuate SOUTH."])
    second = cbc.update_warning(warning_id, repetition_period=30)
    assert [b.text for b in second.content.broadcasts] == ["Evacuate SOUTH."]
    assert second.content.broadcasts[0].serial_number.update_number == 2
    first.result(5)
    status = second.result(5)
    assert status.update_number == 2
    _, one, two = bsc.received_of(cbsp.WriteReplace)
    assert (one.text, one.new_serial_number.update_number) == ("Evacuate SOUTH.", 1)
    assert (two.text, two.old_serial_number.update_number, two.new_serial_number.update_number) == (
        "Evacuate SOUTH.", 1, 2)
    assert two.repetition_period == repetition_period_from_seconds(30)


def test_an_update_asked_for_after_a_stop_is_refused_and_never_reaches_a_peer(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    stopping = cbc.stop_warning(warning_id)
    with pytest.raises(CbcInputError, match="being stopped"):
        cbc.update_warning(warning_id, ["Evacuate SOUTH."])
    assert stopping.result(5).state is WarningState.STOPPED
    time.sleep(0.2)
    assert len(bsc.received_of(cbsp.WriteReplace)) == 1 and not bsc.installed


def test_stop_kills_everywhere_and_records_broadcasts_completed(sims, cbc, network):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1", broadcasts_completed=7)
    mme = connect_mme(cbc, start, network, "mme1")
    warning_id = cbc.send_warning(presidential()).result(5).warning_id
    status = cbc.stop_warning(warning_id).result(5)
    assert status.state is WarningState.STOPPED
    kill = bsc.received_of(cbsp.Kill)[0]
    assert kill.message_id == 4370 and kill.old_serial_number.message_code == 5
    assert not bsc.installed and not mme.installed
    assert all(c.outcome is CellOutcome.STOPPED and c.broadcasts_completed == 7 for c in status.peers["bsc1"].cells)
    wait_until(lambda: all(c.broadcasts_completed == 1 for c in cbc.status(warning_id).peers["mme1"].cells)
               and cbc.status(warning_id).peers["mme1"].cells, what="MME broadcasts completed")
    with pytest.raises(CbcInputError, match="stopped"):
        cbc.update_warning(warning_id, ["again"])


def test_each_language_is_its_own_broadcast_with_its_own_coding(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    status = cbc.send_warning(presidential(texts=[WarningText("Flood", "en"), WarningText("Hochwasser", "de"),
                                                  WarningText("Наводнение", "ru")])).result(5)
    writes = bsc.received_of(cbsp.WriteReplace)
    assert [(w.data_coding_scheme, w.new_serial_number.message_code) for w in writes] == [(0x01, 5), (0x00, 6), (0x48, 7)]
    assert status.languages == ("en", "de", "ru")
    assert len(status.peers["bsc1"].cells) == 9


def test_the_warning_period_ends_the_warning_as_expired(sims, cbc):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    warning_id = cbc.send_warning(presidential(warning_period=0.2)).result(5).warning_id
    wait_until(lambda: cbc.status(warning_id).state is WarningState.EXPIRED, what="expiry")
    assert bsc.received_of(cbsp.Kill)


@pytest.mark.parametrize("change, error, words", [
    (dict(texts=[WarningText("x" * 1396)]), TextTooLongError, "too long"),
    (dict(texts=[WarningText("ж" * 616)]), TextTooLongError, "UCS-2"),
    (dict(message_identifier=4369), MessageIdentifierError, "4369"),
    (dict(message_identifier=70000), MessageIdentifierError, "70000"),
    (dict(targets={}), CbcInputError, "target list is empty"),
    (dict(targets={"bsc1": []}), CbcInputError, "target list for peer bsc1 is empty"),
    (dict(targets={"nowhere": [CELLS[0]]}), UnknownPeerError, "nowhere"),
    (dict(targets={"bsc1": [sbcap.TrackingAreaId(PLMN, 1)]}), CbcInputError, "one kind"),
    (dict(repetition_period=0), CbcInputError, "Repetition period"),
    (dict(repetition_period=4096), CbcInputError, "Repetition period"),
    (dict(message_code=1024), CbcInputError, "Message code"),
    (dict(texts=[]), CbcInputError, "at least one text"),
    (dict(texts=[WarningText("hi", "xx")]), CbcInputError, "xx"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_sent(sims, cbc, change, error, words):
    loop, start = sims
    bsc = connect_bsc(cbc, start, "bsc1")
    with pytest.raises(error, match=words):
        cbc.send_warning(presidential(**change))
    assert issubclass(error, ValueError)
    time.sleep(0.05)
    assert not bsc.received_of(cbsp.WriteReplace)
    assert cbc.warnings() == []


def test_a_warning_with_no_connected_peer_is_refused(sims, cbc):
    with pytest.raises(NoPeerConnectedError):
        cbc.send_warning(presidential())
    cbc.configure_peer(PeerConfig("down", "cbsp", "client", "127.0.0.1", 1)).result(5)
    with pytest.raises(NoPeerConnectedError):
        cbc.send_warning(presidential()).result(5)
    with pytest.raises(UnknownPeerError):
        cbc.peer("missing")


def test_a_failing_event_subscriber_does_not_stop_the_engine(sims, cbc):
    loop, start = sims

    def broken(event):
        raise RuntimeError("GUI bug")

    cbc.subscribe(broken)
    connect_bsc(cbc, start, "bsc1")
    assert cbc.send_warning(presidential()).result(5).state is WarningState.ACTIVE
