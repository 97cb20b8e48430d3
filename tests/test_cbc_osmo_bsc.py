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
