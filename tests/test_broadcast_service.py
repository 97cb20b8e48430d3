"""The broadcast lifecycle through the service functions the GUI and CLI share, against the real database,
the real running centre and simulated BSCs and MMEs on loopback: create from a template, target with a
polygon over sample sites, approve with a second user's TOTP, transmit, per-cell results, update, stop.
Also the text rules, the cell-site CSV import and bad input, each refused with a message."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from omnidesk.broadcast import service as bs
from omnidesk.broadcast import sites, texts
from omnidesk.cbc import cbsp, sbcap, store
from omnidesk.cbc.centre import BroadcastCentre
from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_bsc_cells, default_mme_cells
from omnidesk.errors import NotFound, PermissionDenied, ValidationError

from security_helpers import signed_in
from tests.test_broadcast_database import Clock
from tests.test_cbc_centre import FAST, links_up
from tests.test_cbc_links import network, sims  # noqa: F401 - shared fixtures

# Two sites inside the polygon (one on bsc1, one on mme1), two outside (bsc2, and bsc1's other cell).
SITES_CSV = """lat,lng,name,sector1,sector2,sector3,peer,mcc,mnc,lac_tac,ci1,ci2,ci3
-6.80,39.28,Kariakoo,0,120,240,bsc1,901,70,23,42,42,42
-6.78,39.27,Upanga,90,,,mme1,001,01,1,,,
-6.60,39.10,Bagamoyo Rd,10,130,250,bsc2,901,70,23,42,42,42
-7.20,39.50,Kigamboni,45,,,bsc1,901,70,23,43,,
"""
OVER_CITY = {"shape": "polygon", "points": [[-6.85, 39.20], [-6.85, 39.35], [-6.74, 39.35], [-6.74, 39.20]]}


# --------------------------------------------------------------------------------------------- text rules


def test_a_text_is_gsm7_until_its_first_non_gsm_character_switches_it_to_ucs2_and_says_so():
    plain = texts.count("en", "FLOOD WARNING. Move to higher ground.")
    assert (plain.alphabet, plain.pages, plain.characters_per_page, plain.notice) == ("GSM 7-bit", 1, 93, "")
    assert plain.encoding_left == 15 * 93 - 37 and plain.console_left == 500 - 37 and plain.ok
    swahili = texts.count("sw", "Mafuriko: hamia sehemu ya juu — sasa")  # the dash is not GSM 7-bit
    assert swahili.alphabet == "UCS-2" and swahili.characters_per_page == 41
    assert "'—' is not in the GSM 7-bit alphabet" in swahili.notice
    euro = texts.count("en", "Price €5")  # an extension character costs two septets, stays GSM 7-bit
    assert euro.alphabet == "GSM 7-bit" and euro.units == 9 and euro.characters == 8


def test_texts_over_the_console_limit_or_the_15_pages_or_empty_are_refused_by_language():
    with pytest.raises(ValidationError) as refused:
        texts.check([{"language": "en", "text": "A" * 501}, {"language": "ar", "text": "تحذير" * 130},
                     {"language": "fr", "text": "   "}], limit=500)
    errors = refused.value.errors
    assert errors["texts.en"] == "en: 501 characters where the console allows 500; remove 1."
    assert "650 UCS-2 characters need 16 pages where at most 15 (615 characters) fit" in errors["texts.ar"]
    assert errors["texts.fr"] == "fr: the text is empty."
    with pytest.raises(ValidationError, match="at least one language"):
        texts.check([])
    assert [c.language for c in texts.check({"en": "Go", "fr": "Allez"})] == ["en", "fr"]


# --------------------------------------------------------------------------------------------- cell sites


def test_a_csv_with_bad_rows_imports_nothing_and_names_every_bad_line(db, admin):
    sites.import_csv(db, admin, "-6.8,39.2,Old site,0,,\n")
    bad = ("lat,lng,name,sector1,sector2,sector3\n"
           "-6.80,39.28,Kariakoo,0,120,240\n"
           "-96.0,39.28,Nowhere,0,,\n"
           "-6.81,east,Mbezi,0,,\n"
           "-6.82,39.30,Kariakoo,10,,\n"
           "-6.83,39.31,,400,,\n"
           "-6.84,39.32,Short row\n")
    with pytest.raises(sites.ImportRefused) as refused:
        sites.import_csv(db, admin, bad)
    assert [line for line, _ in refused.value.problems] == [3, 4, 5, 6, 7]
    message = str(refused.value)
    assert message.startswith("Nothing was imported: 5 bad rows of 6")
    assert "line 3: latitude -96.0 is outside -90 to 90" in message
    assert "line 4: longitude 'east' is not a number" in message
    assert "line 5: the name 'Kariakoo' is already on line 2" in message
    assert "line 6: the site has no name; sector1 azimuth 400 is outside 0 to 360" in message
    assert "line 7: expected 6 columns" in message
    assert [s.name for s in sites.list_sites(db, admin)] == ["Old site"]  # untouched


def test_a_good_csv_replaces_the_sites_with_their_sectors_and_cells(db, admin):
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=1)
    store.add_peer(db, admin, name="bsc2", protocol="cbsp", port=2)
    store.add_peer(db, admin, name="mme1", protocol="sbcap", host="mme1", transport="memory")
    result = sites.import_csv(db, admin, SITES_CSV)
    assert (result.sites, result.sectors) == (4, 8)
    kariakoo = next(s for s in sites.list_sites(db, admin) if s.name == "Kariakoo")
    assert [(x.sector, x.azimuth, x.cell_label("cbsp")) for x in kariakoo.sectors] == [
        (1, 0.0, "CGI 901-70-23-42"), (2, 120.0, "CGI 901-70-23-42"), (3, 240.0, "CGI 901-70-23-42")]
    with pytest.raises(sites.ImportRefused, match="line 1: peer 'bsc9' is not configured"):
        sites.import_csv(db, admin, "-6.8,39.2,X,0,,,bsc9,901,70,23,42,,\n")


# --------------------------------------------------------------------------------------------- lifecycle


@pytest.fixture
def broadcast_network(db, admin, sims, network):  # noqa: F811
    """bsc1 and bsc2 on loopback TCP, mme1 in memory, the sample sites, and a running centre."""
    _, start = sims
    bscs = [start(BscSimulator(f"bsc{i}", default_bsc_cells(2))) for i in (1, 2)]
    mme = start(MmeSimulator("mme1", default_mme_cells(2), network=network))
    for bsc in bscs:
        store.add_peer(db, admin, name=bsc.name, protocol="cbsp", host="127.0.0.1", port=bsc.address[1])
    store.add_peer(db, admin, name="mme1", protocol="sbcap", host="mme1", transport="memory")
    sites.import_csv(db, admin, SITES_CSV)
    with BroadcastCentre(db, timers=FAST, network=network, poll_interval=0.2):
        links_up(db, admin, ["bsc1", "bsc2", "mme1"])
        yield bscs, mme


def _until(read, what, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if what(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached: {value}")
        time.sleep(0.05)


def test_from_template_to_polygon_approval_transmit_results_update_and_stop(db, admin, broadcast_network):
    bscs, mme = broadcast_network
    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])

    # create from the Flood template, texts edited, targeted by a polygon over two of the four sites
    draft = bs.create_message(carol.db, carol.actor, template="Flood", expiry_minutes=90,
                              texts=[{"language": "en", "text": "FLOOD WARNING. Leave the river banks now."},
                                     {"language": "fr", "text": "ALERTE CRUE. Quittez les berges maintenant."}],
                              target=OVER_CITY)
    assert draft.status == "draft" and draft.message_identifier == 4371 and draft.warning_period == 5400
    assert draft.target_cells == {
        "bsc1": [{"type": "CellGlobalId", "plmn": {"mcc": "901", "mnc": "70"}, "lac": 23, "ci": 42}],
        "mme1": [{"type": "TrackingAreaId", "plmn": {"mcc": "001", "mnc": "01"}, "tac": 1}]}
    assert draft.target_summary == "Polygon of 4 corners: 2 of 4 cell sites, 2 cells on 2 peers."

    # nothing goes out before approval
    with pytest.raises(bs.ApprovalRefused, match="is draft; only an approved message is transmitted"):
        bs.transmit(carol.db, carol.actor, draft.id)
    pending = bs.submit(carol.db, carol.actor, draft.id, clock.code(carol_totp))
    assert pending.status == "pending_approval"
    with pytest.raises(PermissionDenied):  # carol holds no approve_cbc_message
        bs.approve(carol.db, carol.actor, draft.id, clock.code(carol_totp))
    with pytest.raises(bs.CodeRefused, match="Wrong code for alice"):
        bs.approve(alice.db, alice.actor, draft.id, "000000" if clock.code(alice_totp) != "000000" else "111111")
    approved = bs.approve(alice.db, alice.actor, draft.id, clock.code(alice_totp))
    assert approved.status == "approved" and approved.approved_by == "alice" and approved.created_by == "carol"

    review = bs.review(carol.db, carol.actor, draft.id)
    assert review.peers == {"bsc1": 1, "mme1": 1}
    assert [c.alphabet for c in review.languages] == ["GSM 7-bit", "GSM 7-bit"]
    assert "Polygon of 4 corners: 2 of 4 cell sites, 2 cells on 2 peers." in review.lines

    active = bs.transmit(carol.db, carol.actor, draft.id)
    assert active.status == "active" and active.warning_id is not None
    with pytest.raises(bs.ApprovalRefused, match="is active"):
        bs.transmit(carol.db, carol.actor, draft.id)  # never twice

    def results():
        return bs.get_message(carol.db, carol.actor, draft.id)

    done = _until(results, lambda m: m.warning and m.warning.settled and len(m.results()["peers"]) == 2
                  and all(p["cells"] for p in m.results()["peers"]))
    by_peer = {p["peer"]: p for p in done.results()["peers"]}
    assert set(by_peer) == {"bsc1", "mme1"}  # bsc2's site is outside the polygon
    assert {(c["cell"], c["language"], c["outcome"]) for c in by_peer["bsc1"]["cells"]} == {
        ("CGI 901-70-23-42", "en", "success"), ("CGI 901-70-23-42", "fr", "success")}
    assert by_peer["mme1"]["acknowledged"] >= 1 and done.results()["cells_failed"] == 0
    assert not bscs[1].received_of(cbsp.WriteReplace)
    written = {w.text for w in bscs[0].received_of(cbsp.WriteReplace)}
    assert written == {"FLOOD WARNING. Leave the river banks now.", "ALERTE CRUE. Quittez les berges maintenant."}
    assert mme.received_of(sbcap.WriteReplaceWarningRequest)

    # the update needs carol's code and, under the two-person rule, alice's approval before anything goes out
    new_texts = [{"language": "en", "text": "FLOOD WARNING. Water is rising. Leave now."},
                 {"language": "fr", "text": "ALERTE CRUE. L eau monte. Partez."}]
    with pytest.raises(bs.CodeRefused, match="Wrong code for carol"):
        bs.request_update(carol.db, carol.actor, draft.id, "000000" if clock.code(carol_totp) != "000000" else "111111",
                          texts=new_texts)
    asked = bs.request_update(carol.db, carol.actor, draft.id, clock.code(carol_totp), texts=new_texts)
    request = asked.open_update
    assert asked.update_count == 0 and (request.status, request.requested_by) == ("pending_approval", "carol")
    assert asked.texts[0]["text"] == "FLOOD WARNING. Leave the river banks now."  # asked for, not applied
    with pytest.raises(bs.ApprovalRefused, match="only an approved update is sent"):
        bs.send_update(carol.db, carol.actor, request.id)
    time.sleep(0.5)
    assert not any("Water is rising" in w.text for w in bscs[0].received_of(cbsp.WriteReplace))
    approved = bs.approve_update(alice.db, alice.actor, request.id, clock.code(alice_totp))
    assert approved.open_update.status == "approved" and approved.open_update.approved_by == "alice"
    assert not any("Water is rising" in w.text for w in bscs[0].received_of(cbsp.WriteReplace))
    updated = bs.send_update(carol.db, carol.actor, request.id)
    assert updated.update_count == 1 and updated.open_update is None
    assert updated.texts == new_texts and (updated.updates[0].status, updated.updates[0].update_number) == ("sent", 1)
    with pytest.raises(bs.ApprovalRefused, match="is sent; only an approved update is sent"):
        bs.send_update(carol.db, carol.actor, request.id)  # never twice
    _until(results, lambda m: m.warning.settled and m.warning.update_number == 1)
    replace = bscs[0].received_of(cbsp.WriteReplace)[-1]
    assert replace.new_serial_number.update_number == 1 and "Water is rising" in "".join(
        w.text for w in bscs[0].received_of(cbsp.WriteReplace)[-2:])

    stopped = bs.stop(carol.db, carol.actor, draft.id)
    assert stopped.status == "cancelled" and stopped.finished_at is not None
    _until(results, lambda m: m.warning.state == "stopped")
    assert bscs[0].received_of(cbsp.Kill) and mme.received_of(sbcap.StopWarningRequest)

    history = bs.history(alice.db, alice.actor)
    assert [(m.id, m.status, m.created_by, m.approved_by) for m in history] == [(draft.id, "cancelled", "carol", "alice")]
    events = [e.event for e in bs.get_message(alice.db, alice.actor, draft.id).events]
    assert events == ["created", "submitted", "code_refused", "approved", "transmitted", "code_refused",
                      "update_requested", "update_approved", "updated", "stop_requested", "stopped"]  # one "stopped", by carol or by the centre reporting it, whichever came first


def test_no_target_means_every_cell_and_the_review_says_so_plainly(db, admin):
    message = bs.create_message(db, admin, template="Monthly test")
    assert message.target_cells is None and message.target is None
    assert message.target_summary == "No target: every cell of every connected peer transmits (the whole network)."
    assert bs.review(db, admin, message.id).peers is None


def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(db, admin):
    sites.import_csv(db, admin, "-6.8,39.28,Kariakoo,0,,\n")
    with pytest.raises(ValidationError, match="the text is empty"):
        bs.create_message(db, admin, template="Flood", texts=[{"language": "en", "text": ""}])
    with pytest.raises(ValidationError, match="501 characters where the console allows 500"):
        bs.create_message(db, admin, template="Flood", texts={"en": "x" * 501})
    with pytest.raises(ValidationError, match="crosses itself"):
        bs.create_message(db, admin, template="Flood",
                          target={"shape": "polygon", "points": [[-7, 39], [-6.6, 39.6], [-7, 39.6], [-6.6, 39]]})
    with pytest.raises(ValidationError, match="radius above 0 m"):
        bs.create_message(db, admin, template="Flood", target={"shape": "circle", "center": [-6.8, 39.28], "radius_m": 0})
    with pytest.raises(ValidationError, match="no cell identity .* Nothing would be sent"):
        bs.create_message(db, admin, template="Flood", target={"shape": "circle", "center": [-6.8, 39.28], "radius_m": 900})
    with pytest.raises(NotFound, match="no broadcast template 'Volcano'; the templates are: AMBER alert"):
        bs.create_message(db, admin, template="Volcano")
    with pytest.raises(ValidationError, match="needs its 3GPP message identifier"):
        bs.save_template(db, admin, name="Volcano", scenario="volcano", message_identifier=None,
                         texts={"en": "VOLCANO WARNING"})
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM broadcast_message")) == 0
        assert s.scalar(text("SELECT count(*) FROM broadcast_template WHERE name = 'Volcano'")) == 0


def test_a_saved_zone_is_reused_as_a_target(db, admin):
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=1)
    store.add_peer(db, admin, name="bsc2", protocol="cbsp", port=2)
    store.add_peer(db, admin, name="mme1", protocol="sbcap", host="mme1", transport="memory")
    sites.import_csv(db, admin, SITES_CSV)
    zone = bs.save_zone(db, admin, "City centre", OVER_CITY)
    assert [z.name for z in bs.list_zones(db, admin)] == ["City centre"]
    with pytest.raises(ValidationError, match="exists already"):
        bs.save_zone(db, admin, "city centre", OVER_CITY)
    message = bs.create_message(db, admin, template="Exercise", zone="City centre")
    assert sorted(message.target_cells) == ["bsc1", "mme1"] and message.target == zone.shape.to_geojson()


def test_the_monitor_flags_a_peer_whose_link_went_down(db, admin, broadcast_network, sims):  # noqa: F811
    bscs, _ = broadcast_network
    loop, _ = sims
    message = bs.create_message(db, admin, template="Flood", target=OVER_CITY)
    with db.transaction() as s:  # approval is not what this test is about
        s.execute(text("UPDATE broadcast_message SET status = 'approved', approved_by = :a WHERE id = :i"),
                  {"a": admin.user_id, "i": message.id})
    bs.transmit(db, admin, message.id)
    settled = _until(lambda: bs.get_message(db, admin, message.id), lambda m: m.warning and m.warning.settled)
    assert settled.results()["offline_peers"] == []
    loop.run(bscs[0].stop())  # bsc1 goes away
    flagged = _until(lambda: bs.get_message(db, admin, message.id), lambda m: m.offline_peers)
    by_peer = {p["peer"]: p for p in flagged.results()["peers"]}
    assert flagged.offline_peers == ("bsc1",) and by_peer["bsc1"]["offline"] and not by_peer["mme1"]["offline"]


def test_history_filters_by_status_text_and_creator(db, admin):
    flood = bs.create_message(db, admin, template="Flood", texts={"en": "FLOOD WARNING. River Msimbazi."})
    drill = bs.create_message(db, admin, template="Exercise")
    bs.stop(db, admin, drill.id)  # a draft is archived, never deleted
    assert [m.id for m in bs.history(db, admin)] == [drill.id, flood.id]
    assert [m.id for m in bs.history(db, admin, status="cancelled")] == [drill.id]
    assert [m.id for m in bs.history(db, admin, search="msimbazi")] == [flood.id]
    assert [m.id for m in bs.history(db, admin, creator="admin")] == [drill.id, flood.id]
    assert bs.history(db, admin, creator="nobody") == []
    with pytest.raises(ValidationError, match="A status is one of draft"):
        bs.history(db, admin, status="deleted")


def _active(db, admin, creator, template="Flood"):
    """An active message of creator's with its engine warning, as transmit leaves it (no engine here)."""
    message = bs.create_message(db, admin, template=template)
    with db.transaction() as s:
        warning_id = s.execute(text(
            "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
            "VALUES (:i, :c, 60, CAST(:x AS jsonb), 'active') RETURNING id"),
            {"i": message.message_identifier, "c": message.id, "x": '[{"language": "en", "text": "x"}]'}).scalar()
        s.execute(text("UPDATE broadcast_message SET status = 'active', approved_by = :a, warning_id = :w, "
                       "created_by = :c WHERE id = :i"),
                  {"a": admin.user_id, "w": warning_id, "c": creator.actor.user_id, "i": message.id})
    return message


def test_an_update_the_engine_refuses_is_marked_failed_and_the_message_keeps_its_text(db, admin):
    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    bs.set_settings(db, admin, two_person_rule=False)
    message = _active(db, admin, carol)
    before = bs.get_message(carol.db, carol.actor, message.id).texts
    # bad input is refused before anything is written, and does not use the code
    with pytest.raises(ValidationError, match="501 characters where the console allows 500"):
        bs.request_update(carol.db, carol.actor, message.id, "123456", texts={"en": "x" * 501})
    with pytest.raises(ValidationError, match=r"keeps the message's languages \(en, in that order\)"):
        bs.request_update(carol.db, carol.actor, message.id, "123456", texts={"fr": "ALERTE"})
    with pytest.raises(ValidationError, match="changes nothing"):
        bs.request_update(carol.db, carol.actor, message.id, "123456", texts=before)
    # no centre runs for this database: the engine refuses the approved update
    with pytest.raises(bs.UpdateFailed, match="No cell broadcast centre is running") as failed:
        bs.request_update(carol.db, carol.actor, message.id, clock.code(carol_totp), texts={"en": "FLOOD. Leave now."})
    assert "keeps its texts and parameters" in str(failed.value)
    after = bs.get_message(carol.db, carol.actor, message.id)
    assert after.texts == before and after.update_count == 0 and after.open_update is None
    [request] = after.updates
    assert request.status == "failed" and "No cell broadcast centre is running" in request.failure_reason
    assert [e.event for e in after.events][-3:] == ["update_requested", "update_approved", "update_failed"]
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM cbc_command")) == 0


def test_a_stop_waits_for_a_transmission_in_flight_and_a_dead_workstations_claim_is_released(db, admin):
    message = bs.create_message(db, admin, template="Flood")
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_message SET status = 'approved', approved_by = :a, "
                       "transmit_claimed_at = now() - interval '1 minute' WHERE id = :i"),
                  {"a": admin.user_id, "i": message.id})
    with pytest.raises(bs.ApprovalRefused, match="being transmitted from another workstation .* wait until it is active"):
        bs.stop(db, admin, message.id)
    with pytest.raises(bs.ApprovalRefused, match="being transmitted from another workstation"):
        bs.transmit(db, admin, message.id)
    with pytest.raises(bs.ApprovalRefused, match="released only after 5 minutes"):
        bs.release_transmit_claim(db, admin, message.id)
    assert bs.get_message(db, admin, message.id).status == "approved"
    with db.transaction() as s:  # the workstation died 10 minutes ago
        s.execute(text("UPDATE broadcast_message SET transmit_claimed_at = now() - interval '10 minutes' WHERE id = :i"),
                  {"i": message.id})
    with pytest.raises(bs.ApprovalRefused, match=f"never finished.*omnidesk broadcast release {message.id}"):
        bs.stop(db, admin, message.id)
    bs.release_transmit_claim(db, admin, message.id)
    assert bs.stop(db, admin, message.id).status == "cancelled"


def test_an_update_is_rejected_with_a_reason_and_an_approved_one_is_sent_by_one_workstation_only(db, admin):
    from security_helpers import set_clock

    clock = Clock(db)
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    message = _active(db, admin, carol)
    asked = bs.request_update(carol.db, carol.actor, message.id, clock.code(carol_totp), repetitions=3)
    first = asked.open_update
    assert first.lines() == ["Repetitions: 3"]
    with pytest.raises(ValidationError, match="Say why the update is rejected"):
        bs.reject_update(alice.db, alice.actor, first.id, clock.code(alice_totp), " ")
    rejected = bs.reject_update(alice.db, alice.actor, first.id, clock.code(alice_totp), "Keep it until stopped")
    assert rejected.open_update is None and rejected.number_of_broadcasts == 0
    assert (rejected.updates[0].status, rejected.updates[0].rejected_by, rejected.updates[0].reject_reason) == (
        "rejected", "alice", "Keep it until stopped")
    with pytest.raises(bs.ApprovalRefused, match="is rejected; only one waiting for approval can be approved"):
        bs.approve_update(alice.db, alice.actor, first.id, clock.code(alice_totp))

    second = bs.request_update(carol.db, carol.actor, message.id, clock.code(carol_totp), repetition_period=120).open_update
    bs.approve_update(alice.db, alice.actor, second.id, clock.code(alice_totp))
    # another workstation claimed it and is sending: this one is refused, and nothing is sent twice
    with carol.db.transaction() as s:
        s.execute(text("SELECT omnidesk_broadcast_claim_update(:u, NULL)"), {"u": second.id})
    with pytest.raises(bs.ApprovalRefused, match=f"Update request #{second.id} is being sent from another workstation"):
        bs.send_update(carol.db, carol.actor, second.id)
    # that workstation died: after 5 minutes its claim is taken over (here the engine is not running)
    clock.offset += 6 * 60
    set_clock(db, f"interval '{clock.offset} seconds'")
    with pytest.raises(bs.UpdateFailed, match="No cell broadcast centre is running"):
        bs.send_update(carol.db, carol.actor, second.id)
    after = bs.get_message(alice.db, alice.actor, message.id)
    assert [u.status for u in after.updates] == ["rejected", "failed"] and after.repetition_period == 60
