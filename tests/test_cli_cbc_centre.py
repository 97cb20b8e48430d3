"""`omnidesk cbc peers|send|update|status|warnings|stop|simulate` against the real database and a simulated
network run by `omnidesk cbc simulate` in its own process, as an operator would use them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from omnidesk.cbc import store
from cli_helpers import run

WARNING = {"message_identifier": 4370, "repetition_period": 30,
           "texts": [{"language": "en", "text": "Flood warning for the river valley. Move to higher ground now."},
                     {"language": "de", "text": "Hochwasserwarnung für das Flusstal."}]}


def _interruptible() -> None:
    """In the child: Ctrl-C as a terminal gives it. A full suite once handed the child SIGINT and SIGQUIT
    ignored (a library in this process had them ignored for a moment, as C's system() does while it
    waits), and a Python started with SIGINT ignored never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


@pytest.fixture
def simulation(env, admin):
    """`omnidesk cbc simulate --bsc 2 --mme 1` in a child process, until its three links are up."""
    process = subprocess.Popen([sys.executable, "-m", "omnidesk", "cbc", "simulate", "--bsc", "2", "--mme", "1",
                                "--cells", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ), preexec_fn=_interruptible)
    deadline = time.monotonic() + 30
    while True:
        peers = store.list_peers(env, admin)
        if len(peers) == 3 and all(p.link_state == "up" for p in peers) and store.centre_running(env):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"simulation did not come up: {process.communicate()[0]}")
        time.sleep(0.1)
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def test_a_warning_sent_from_the_shell_reaches_the_simulated_network_and_stops_again(env, admin, simulation, capsys,
                                                                                     tmp_path):
    path = tmp_path / "warning.json"
    path.write_text(json.dumps(WARNING), encoding="utf-8")
    code, out, err = run(capsys, "cbc", "send", str(path), "--json")
    assert code == 0, err
    sent = json.loads(out)
    assert sent["state"] == "active" and sent["message_code"] == 0
    assert {p["peer"]: p["state"] for p in sent["peers"]} == {
        "sim-bsc-1": "active", "sim-bsc-2": "active", "sim-mme-1": "active"}
    bsc_cells = next(p for p in sent["peers"] if p["peer"] == "sim-bsc-1")["cells"]
    assert {(c["cell"], c["language"], c["outcome"]) for c in bsc_cells} == {
        ("CGI 901-70-101-42", "en", "success"), ("CGI 901-70-101-43", "en", "success"),
        ("CGI 901-70-101-42", "de", "success"), ("CGI 901-70-101-43", "de", "success")}

    code, out, _ = run(capsys, "cbc", "status", str(sent["id"]))
    assert code == 0
    assert f"Warning #{sent['id']}: active" in out and "sim-mme-1  sbcap     active" in out
    assert "[de] Hochwasserwarnung für das Flusstal." in out

    update = tmp_path / "update.json"
    update.write_text(json.dumps({"texts": [{"language": "en", "text": "Flood: the water is still rising."},
                                            {"language": "de", "text": "Hochwasser: das Wasser steigt weiter."}]}))
    code, out, err = run(capsys, "cbc", "update", str(sent["id"]), str(update), "--json")
    assert code == 0, err
    assert json.loads(out)["update_number"] == 1

    code, out, _ = run(capsys, "cbc", "warnings", "--live")
    assert code == 0 and f"{sent['id']}  active" in out

    code, out, err = run(capsys, "cbc", "stop", str(sent["id"]), "--json")
    assert code == 0, err
    stopped = json.loads(out)
    assert stopped["state"] == "stopped" and {p["state"] for p in stopped["peers"]} == {"stopped"}

    simulation.send_signal(signal.SIGINT)
    output, _ = simulation.communicate(timeout=20)
    assert simulation.returncode == 0, output
    assert "removed 3 simulated peer(s)" in output
    assert store.list_peers(env, admin) == [] and not store.centre_running(env)


def test_bad_warnings_from_the_shell_are_refused_with_the_reason_and_nothing_is_sent(env, admin, simulation, capsys,
                                                                                     tmp_path):
    cases = [
        (WARNING | {"texts": [{"language": "en", "text": "x" * 1400}]}, "too long"),
        (WARNING | {"message_identifier": 70000}, "Message identifier 70000"),
        (WARNING | {"targets": {"sim-bsc-1": []}}, "target list for peer sim-bsc-1 is empty"),
        (WARNING | {"targets": {"nowhere": []}}, "no peer named 'nowhere'"),
    ]
    for data, message in cases:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data))
        code, out, err = run(capsys, "cbc", "send", str(path))
        assert (code, out) == (1, ""), (message, err)
        assert message in err
    path.write_text("{not json")
    code, out, err = run(capsys, "cbc", "send", str(path))
    assert code == 1 and "is not JSON" in err
    assert store.list_warnings(env, admin) == []


def test_send_without_a_running_centre_says_how_to_start_one(env, capsys, tmp_path):
    path = tmp_path / "warning.json"
    path.write_text(json.dumps(WARNING))
    code, out, err = run(capsys, "cbc", "send", str(path))
    assert code == 1 and "omnidesk cbc serve" in err and out == ""


def test_peers_are_added_listed_and_removed_from_the_shell(env, capsys):
    code, out, err = run(capsys, "cbc", "peers", "add", "bsc-north", "--protocol", "cbsp", "--host", "10.0.0.5")
    assert code == 0, err
    assert "Added CBSP peer bsc-north (client, 10.0.0.5:48049)" in out
    code, out, err = run(capsys, "cbc", "peers", "add", "bsc-north", "--protocol", "cbsp")
    assert code == 1 and "already a peer named bsc-north" in err
    code, out, err = run(capsys, "cbc", "peers", "add", "mme-1", "--protocol", "sbcap", "--transport", "tcp")
    assert code == 1 and "sbcap runs over sctp or memory, not 'tcp'" in err
    code, out, _ = run(capsys, "cbc", "peers")
    assert "bsc-north  cbsp      client  10.0.0.5:48049  no centre" in out
    assert "No centre is running" in out
    code, out, _ = run(capsys, "cbc", "peers", "remove", "bsc-north")
    assert code == 0 and "Removed peer bsc-north." in out
    code, out, err = run(capsys, "cbc", "peers", "remove", "bsc-north")
    assert code == 1 and "no peer named 'bsc-north'" in err


def test_status_of_an_unknown_warning_is_a_message(env, capsys):
    code, out, err = run(capsys, "cbc", "status", "42")
    assert (code, out) == (1, "") and "There is no warning #42." in err
