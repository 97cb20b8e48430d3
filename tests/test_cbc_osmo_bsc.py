"""Live CBSP against Debian's osmo-bsc on loopback (cbc-protocols.md §6.3): RESET, KEEP-ALIVE, a 2-page GSM 7-bit
WRITE-REPLACE, a replace with a new update number and KILL, all answered COMPLETE and recorded per cell."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from omnidesk.cbc.engine import CellBroadcastCentre, EngineTimers, EventKind, PeerConfig, WarningRequest, WarningText
from omnidesk.cbc.links import LinkTimers
from omnidesk.cbc.message_fsm import WarningState
from omnidesk.cbc.pages import measure
from omnidesk.cbc.peer_fsm import CellOutcome, PeerWarningState

CONFIG = Path(__file__).parent / "data" / "cbc" / "osmo-bsc.cfg.in"
OSMO_BSC = shutil.which("osmo-bsc")
CELL = "CGI 901-70-23-42"  # what osmo-bsc answers for its one configured BTS

pytestmark = pytest.mark.skipif(OSMO_BSC is None, reason="osmo-bsc is not installed (Debian package osmo-bsc; "
                                "scripts/bootstrap installs it)")


def test_osmo_bsc_answers_reset_keepalive_write_replace_and_kill_with_complete(tmp_path):
    timers = EngineTimers(LinkTimers(reset_timeout=5, keepalive_interval=0.5, keepalive_timeout=3),
                          answer_timeout=5, warning_timeout=8)
    with CellBroadcastCentre(timers) as cbc:
        events = []
        cbc.subscribe(events.append)
        listening = cbc.configure_peer(PeerConfig("osmo-bsc", "cbsp", "server", "127.0.0.1", 0)).result(5)
        config = tmp_path / "osmo-bsc.cfg"
        config.write_text(CONFIG.read_text().replace("{cbc_port}", str(listening.listen_address[1])))
        log = (tmp_path / "osmo-bsc.log").open("w")
        process = subprocess.Popen([OSMO_BSC, "-c", str(config)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                cbc.wait_for_link("osmo-bsc", 15)
            except TimeoutError as exc:
                if process.poll() is not None:
                    pytest.skip(f"osmo-bsc could not run here (exit {process.returncode}): "
                                f"{(tmp_path / 'osmo-bsc.log').read_text()[-500:]}")
                raise AssertionError(f"osmo-bsc did not complete the RESET handshake: {exc}")
            deadline = time.monotonic() + 5
            while not any(e.event == "keepalive-answered" for e in events) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert any(e.event == "keepalive-answered" for e in events), "KEEP-ALIVE was not answered"

            text = ("Flood warning for the river valley. Leave low ground now and move to higher floors or hills. "
                    "Do not drive through water. Follow the instructions of the emergency services.")
            assert measure(text).pages == 2
            future = cbc.send_warning(WarningRequest(4370, 17, [WarningText(text, "en")], repetition_period=30))
            written = future.result(15)
            peer = written.peers["osmo-bsc"]
            assert (written.state, peer.state) == (WarningState.ACTIVE, PeerWarningState.ACTIVE), peer.reason
            assert peer.cell(CELL, "en").outcome is CellOutcome.SUCCESS

            replaced = cbc.update_warning(future.warning_id, [text.replace("Flood", "Severe flood")]).result(15)
            peer = replaced.peers["osmo-bsc"]
            assert (replaced.state, peer.state) == (WarningState.ACTIVE, PeerWarningState.ACTIVE), peer.reason
            assert replaced.update_number == 1
            assert [h[1] for h in peer.history].count("replace-ack") == 1

            stopped = cbc.stop_warning(future.warning_id).result(15)
            peer = stopped.peers["osmo-bsc"]
            assert (stopped.state, peer.state) == (WarningState.STOPPED, PeerWarningState.STOPPED), peer.reason
            cell = peer.cell(CELL, "en")
            assert cell.outcome is CellOutcome.STOPPED and cell.broadcasts_completed is not None
            assert not [e for e in events if e.kind is EventKind.PEER_ERROR]
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
    bsc_log = (tmp_path / "osmo-bsc.log").read_text()
    assert "Added MsgId=0x1112/SerialNr=0x4110/Pages=2/Period=16" in bsc_log  # 30 s = 16 units of 1.883 s
    assert "Replaced MsgId=0x1112/Serial=0x4111" in bsc_log
    assert "Deleting MsgId=0x1112/SerialNr=0x4111" in bsc_log


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_osmo_bsc_through_the_running_centre_every_answer_is_recorded_in_the_database(db, admin, tmp_path):
    """The operator's path: peer and warning in the database, the centre sends, osmo-bsc answers, rows per cell."""
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import BroadcastCentre

    port = _free_port()
    store.add_peer(db, admin, name="osmo-bsc", protocol="cbsp", role="server", host="127.0.0.1", port=port)
    timers = EngineTimers(LinkTimers(reset_timeout=5, keepalive_interval=5, keepalive_timeout=3),
                          answer_timeout=5, warning_timeout=8)

    def wait_for(what, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    config = tmp_path / "osmo-bsc.cfg"
    config.write_text(CONFIG.read_text().replace("{cbc_port}", str(port)))
    with BroadcastCentre(db, timers=timers, poll_interval=0.2), (tmp_path / "osmo-bsc.log").open("w") as log:
        process = subprocess.Popen([OSMO_BSC, "-c", str(config)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for("the link", lambda: store.list_peers(db, admin)[0].link_state == "up")
            except AssertionError:
                if process.poll() is not None:
                    pytest.skip(f"osmo-bsc could not run here (exit {process.returncode})")
                raise
            text = ("Flood warning for the river valley. Leave low ground now and move to higher floors or hills. "
                    "Do not drive through water. Follow the instructions of the emergency services.")
            warning = store.submit_warning(db, admin, {"message_identifier": 4370, "message_code": 17,
                                                       "repetition_period": 30,
                                                       "texts": [{"language": "en", "text": text}]})
            active = wait_for("the write", lambda: (w := store.get_warning(db, admin, warning.id)).settled and w)
            assert active.state == "active" and active.peers[0].state == "active", active.peers[0].reason
            assert [(c.cell, c.outcome) for c in active.peers[0].cells] == [(CELL, "success")]

            store.request_update(db, admin, warning.id,
                                 {"texts": [{"language": "en", "text": text.replace("Flood", "Severe flood")}]})
            replaced = wait_for("the replace", lambda: (w := store.get_warning(db, admin, warning.id)).settled
                                and w.update_number == 1 and w)
            assert replaced.state == "active" and replaced.peers[0].state == "active"

            store.request_stop(db, admin, warning.id)
            stopped = wait_for("the kill", lambda: (w := store.get_warning(db, admin, warning.id)).state == "stopped"
                               and w)
            cell = stopped.peers[0].cells[0]
            assert (stopped.peers[0].state, cell.outcome) == ("stopped", "stopped")
            assert cell.broadcasts_completed is not None
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    bsc_log = (tmp_path / "osmo-bsc.log").read_text()
    assert "Added MsgId=0x1112/SerialNr=0x4110/Pages=2/Period=16" in bsc_log
    assert "Deleting MsgId=0x1112/SerialNr=0x4111" in bsc_log
