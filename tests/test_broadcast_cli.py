"""`omnidesk broadcast ...`: the whole lifecycle scripted from a shell against the real database and the
simulated network of `omnidesk cbc simulate` in its own process."""

from __future__ import annotations

import json

from cli_helpers import run
from security_helpers import signed_in
from tests.test_broadcast_database import Clock
from tests.test_cli_cbc_centre import simulation  # noqa: F401 - shared fixture

SITES = """lat,lng,name,sector1,sector2,sector3,peer,mcc,mnc,lac_tac,ci1,ci2,ci3
-6.80,39.28,Kariakoo,0,120,240,sim-bsc-1,901,70,101,42,43,42
-6.78,39.27,Upanga,90,,,sim-mme-1,001,01,1,,,
-6.60,39.10,Bagamoyo Rd,10,130,250,sim-bsc-2,901,70,102,42,42,43
"""


def test_templates_are_listed_with_their_identifiers(env, capsys):
    code, out, err = run(capsys, "broadcast", "templates", "--json")
    assert code == 0, err
    by_name = {t["name"]: t for t in json.loads(out)}
    assert by_name["Flood"]["message_identifier"] == 4371 and by_name["Monthly test"]["message_identifier"] == 4380
    code, out, _ = run(capsys, "broadcast", "templates")
    assert "Earthquake" in out and "4352" in out


def test_a_message_needs_a_target_or_all_cells_said_explicitly_and_bad_text_is_refused(env, capsys):
    code, _, err = run(capsys, "broadcast", "create", "--template", "Flood")
    assert code == 2 and "one of the arguments --polygon --circle --rectangle --zone --all-cells is required" in err
    code, _, err = run(capsys, "broadcast", "create", "--template", "Flood", "--all-cells", "--text", "en=" + "x" * 501)
    assert code == 1 and "501 characters where the console allows 500" in err
    code, _, err = run(capsys, "broadcast", "create", "--template", "Flood", "--circle=-6.8,39.28,0")
    assert code == 1 and "radius above 0 m" in err
    code, out, _ = run(capsys, "broadcast", "history", "--json")
    assert json.loads(out) == []


def test_the_whole_lifecycle_from_the_shell(env, admin, simulation, capsys, tmp_path):  # noqa: F811
    clock = Clock(env)
    _, carol = signed_in(env, admin, "carol", ["Broadcast Creator"])
    _, alice = signed_in(env, admin, "alice", ["Broadcast Approver"])
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    code, out, err = run(capsys, "broadcast", "import-sites", str(sites))
    assert code == 0, err
    assert out.strip() == "Imported 3 cell sites with 7 sectors."

    code, out, err = run(capsys, "broadcast", "create", "--as", "carol", "--template", "Flood",
                         "--text", "en=FLOOD WARNING. Leave the river banks now.", "--expiry", "60",
                         "--polygon=-6.85,39.20;-6.85,39.35;-6.74,39.35;-6.74,39.20", "--save-zone", "City",
                         "--code", clock.code(carol), "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["status"] == "pending_approval" and created["message_identifier"] == 4371
    assert created["review"]["peers"] == {"sim-bsc-1": 2, "sim-mme-1": 1}
    message_id = str(created["id"])

    # the creator cannot approve: no permission, and the two-person rule besides
    code, _, err = run(capsys, "broadcast", "approve", message_id, "--as", "carol", "--code", clock.code(carol))
    assert code == 1 and "needs the approve_cbc_message permission" in err
    code, _, err = run(capsys, "broadcast", "transmit", message_id, "--as", "carol")
    assert code == 1 and "pending approval" in err
    approval = clock.code(alice)
    code, out, err = run(capsys, "broadcast", "approve", message_id, "--as", "alice", "--code", approval)
    assert code == 0, err
    assert "approved — Flood, identifier 4371, created by carol" in out and "approved by alice" in out

    code, out, err = run(capsys, "broadcast", "transmit", message_id, "--as", "carol", "--json")
    assert code == 0, err
    sent = json.loads(out)
    assert sent["status"] == "active"
    peers = {p["peer"]: p for p in sent["results"]["peers"]}
    assert set(peers) == {"sim-bsc-1", "sim-mme-1"}
    assert {(c["cell"], c["outcome"]) for c in peers["sim-bsc-1"]["cells"]} == {
        ("CGI 901-70-101-42", "success"), ("CGI 901-70-101-43", "success")}

    # the engine's own update command cannot go around the approval, not even from the owner's CLI
    bypass = tmp_path / "update.json"
    bypass.write_text(json.dumps({"texts": [{"language": "en", "text": "FLOOD WARNING. Unapproved."}]}))
    code, _, err = run(capsys, "cbc", "update", str(sent["warning_id"]), str(bypass), "--wait", "0")
    assert code == 1 and f"carries broadcast message #{message_id}: it is updated only by an approved update" in err

    # the update takes carol's code and waits for a second person under the two-person rule
    code, _, err = run(capsys, "broadcast", "update", message_id, "--as", "carol",
                       "--text", "en=FLOOD WARNING. Water is rising. Leave now.")
    assert code == 2 and "the following arguments are required: --code" in err
    code, out, err = run(capsys, "broadcast", "update", message_id, "--as", "carol",
                         "--text", "en=FLOOD WARNING. Water is rising. Leave now.", "--code", clock.code(carol))
    assert code == 0, err
    assert "Update #1 is waiting for approval by another user (two-person rule)." in out
    assert "omnidesk broadcast approve-update 1 --as USER --code CODE" in out
    code, out, _ = run(capsys, "broadcast", "status", message_id, "--json")
    waiting = json.loads(out)
    assert waiting["update_count"] == 0 and waiting["results"]["update_number"] == 0
    assert waiting["updates"][0]["status"] == "pending_approval"
    code, _, err = run(capsys, "broadcast", "approve-update", "1", "--as", "carol", "--code", clock.code(carol))
    assert code == 1 and "needs the approve_cbc_message permission" in err
    code, _, err = run(capsys, "broadcast", "reject-update", "1", "--as", "alice", "--code", approval, "--reason", "x")
    assert code == 1 and "Wrong code for alice" in err  # her code of the message's approval is long gone
    code, out, err = run(capsys, "broadcast", "approve-update", "1", "--as", "alice", "--code", clock.code(alice))
    assert code == 0, err
    assert "Update #1 by carol: approved, approved by alice" in out
    assert "omnidesk broadcast send-update 1" in out  # alice may not send; a holder of update_cbc_message does
    code, out, err = run(capsys, "broadcast", "send-update", "1", "--as", "carol", "--json")
    assert code == 0, err
    sent = json.loads(out)
    assert sent["results"]["update_number"] == 1 and sent["update_count"] == 1
    assert sent["texts"] == [{"language": "en", "text": "FLOOD WARNING. Water is rising. Leave now."}]
    assert [u["status"] for u in sent["updates"]] == ["sent"]

    code, out, err = run(capsys, "broadcast", "stop", message_id, "--as", "carol", "--json")
    assert code == 0, err
    stopped = json.loads(out)
    assert stopped["status"] == "cancelled" and stopped["results"]["state"] == "stopped"

    code, out, _ = run(capsys, "broadcast", "status", message_id)
    assert "cancelled" in out and "CGI 901-70-101-42 [en]" in out
    code, out, _ = run(capsys, "broadcast", "history", "--status", "cancelled", "--json")
    [entry] = json.loads(out)
    assert (entry["id"], entry["created_by"], entry["approved_by"]) == (int(message_id), "carol", "alice")
    code, out, _ = run(capsys, "broadcast", "create", "--as", "carol", "--template", "Exercise", "--zone", "City")
    assert code == 0 and "2 of 3 cell sites" in out
