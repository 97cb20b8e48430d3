"""CBC fan-out: 100 BSC simulators over loopback TCP + 100 MME simulators in memory (no kernel SCTP here).

Measures the time from send_warning to every peer acknowledged, and from stop_warning to every peer
acknowledged. Targets (issue 4): both under 1 s.  Run: .venv/bin/python benchmarks/cbc_fanout.py [--bsc N --mme N]

--through-database: the operator's path instead of the engine's — the warning is stored and queued
(store.submit_warning), the running centre (centre.BroadcastCentre) claims it, sends it and records every
peer's and cell's answer; timed until the stored warning shows every peer active (then stopped). Uses the
benchmark database (--data-dir, default /tmp/omnidesk-bench); its peers are added as simulated and removed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from omnidesk.cbc.engine import BackgroundLoop, CellBroadcastCentre, EngineTimers, PeerConfig, WarningRequest, WarningText
from omnidesk.cbc.links import LinkTimers
from omnidesk.cbc.message_fsm import WarningState
from omnidesk.cbc.peer_fsm import PeerWarningState
from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_mme_cells
from omnidesk.cbc.transport import MemoryNetwork, sctp_available


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bsc", type=int, default=100)
    parser.add_argument("--mme", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--through-database", action="store_true", help="store -> centre -> peers -> store")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BENCH_DIR", "/tmp/omnidesk-bench")))
    args = parser.parse_args()

    network = MemoryNetwork()
    simulators = BackgroundLoop("simulators")
    bscs = [BscSimulator(f"bsc{i}") for i in range(args.bsc)]
    mmes = [MmeSimulator(f"mme{i}", default_mme_cells(2, tac=i + 1, enb_id=i + 1), network=network, enb_id=i + 1)
            for i in range(args.mme)]
    for sim in bscs + mmes:
        simulators.run(sim.start())
    if args.through_database:
        try:
            return through_database(args, bscs, mmes, network)
        finally:
            for sim in bscs + mmes:
                simulators.run(sim.stop())
            simulators.stop()
    cbc = CellBroadcastCentre(EngineTimers(LinkTimers(keepalive_interval=30), answer_timeout=10, warning_timeout=15),
                              network)
    try:
        started = time.perf_counter()
        for bsc in bscs:
            cbc.configure_peer(PeerConfig(bsc.name, "cbsp", "client", "127.0.0.1", bsc.address[1])).result(10)
        for mme in mmes:
            cbc.configure_peer(PeerConfig(mme.name, "sbcap", "client", mme.name, 29168, transport="memory")).result(10)
        for sim in bscs + mmes:
            cbc.wait_for_link(sim.name, 30)
        print(f"{args.bsc} BSCs (loopback TCP) + {args.mme} MMEs (in memory"
              f"{'' if not sctp_available() else '; kernel SCTP exists but is not used here'}): "
              f"all links up in {time.perf_counter() - started:.2f} s")
        sends, stops = [], []
        for round_number in range(args.rounds):
            text = f"Benchmark warning {round_number}: take shelter now. This is a test of the warning system."
            t0 = time.perf_counter()
            status = cbc.send_warning(WarningRequest(4370, 100 + round_number, [WarningText(text, "en")],
                                                     repetition_period=60)).result(30)
            sends.append(time.perf_counter() - t0)
            assert status.state is WarningState.ACTIVE, status.reason
            not_active = [n for n, p in status.peers.items() if p.state is not PeerWarningState.ACTIVE]
            assert not not_active and len(status.peers) == args.bsc + args.mme, not_active
            t0 = time.perf_counter()
            stopped = cbc.stop_warning(status.warning_id).result(30)
            stops.append(time.perf_counter() - t0)
            assert all(p.state is PeerWarningState.STOPPED for p in stopped.peers.values())
        print(f"send -> all {args.bsc + args.mme} peers acknowledged: "
              f"median {statistics.median(sends) * 1000:.0f} ms, max {max(sends) * 1000:.0f} ms (target < 1000 ms)")
        print(f"stop -> all peers acknowledged:  median {statistics.median(stops) * 1000:.0f} ms, "
              f"max {max(stops) * 1000:.0f} ms (target < 1000 ms)")
        return 0 if max(sends) < 1 and max(stops) < 1 else 1
    finally:
        cbc.close()
        for sim in bscs + mmes:
            simulators.run(sim.stop())
        simulators.stop()


def through_database(args, bscs, mmes, network) -> int:
    from omnidesk.auth import builtin_admin
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import BroadcastCentre
    from omnidesk.config import load_settings
    from omnidesk.db.engine import open_database

    args.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["OMNIDESK_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("OMNIDESK_DATABASE_URL", None)
    os.environ["OMNIDESK_CONFIG"] = str(args.data_dir / "no-config.toml")
    db = open_database(load_settings())
    admin = builtin_admin(db)
    store.remove_simulated_peers(db)
    for bsc in bscs:
        store.add_peer(db, admin, name=bsc.name, protocol="cbsp", port=bsc.address[1], simulated=True)
    for mme in mmes:
        store.add_peer(db, admin, name=mme.name, protocol="sbcap", host=mme.name, transport="memory", simulated=True)
    total = len(bscs) + len(mmes)

    def wait(warning_id, done, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = store.get_warning(db, admin, warning_id)
            if done(record):
                return record
            time.sleep(0.005)
        raise TimeoutError(f"warning {warning_id}: {store.get_warning(db, admin, warning_id).state}")

    sends, stops = [], []
    try:
        with BroadcastCentre(db, network=network, poll_interval=1.0):
            started = time.perf_counter()
            while sum(p.link_state == "up" for p in store.list_peers(db, admin)) < total:
                time.sleep(0.05)
            print(f"{len(bscs)} BSCs (loopback TCP) + {len(mmes)} MMEs (in memory) through {db.display_name}: "
                  f"all links up and recorded in {time.perf_counter() - started:.2f} s; "
                  f"load average {os.getloadavg()[0]:.2f}")
            for round_number in range(args.rounds):
                text = f"Benchmark warning {round_number}: take shelter now. This is a test of the warning system."
                t0 = time.perf_counter()
                warning = store.submit_warning(db, admin, {"message_identifier": 4370, "repetition_period": 60,
                                                           "texts": [{"language": "en", "text": text}]})
                wait(warning.id, lambda w: len(w.peers) == total and all(p.state == "active" for p in w.peers))
                sends.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                store.request_stop(db, admin, warning.id)
                wait(warning.id, lambda w: w.state == "stopped")
                stops.append(time.perf_counter() - t0)
    finally:
        store.remove_simulated_peers(db)
        db.dispose()
    print(f"submit -> all {total} peers active in the database: median {statistics.median(sends) * 1000:.0f} ms, "
          f"max {max(sends) * 1000:.0f} ms (target < 1000 ms)")
    print(f"stop -> recorded stopped: median {statistics.median(stops) * 1000:.0f} ms, "
          f"max {max(stops) * 1000:.0f} ms (target < 1000 ms)")
    return 0 if max(sends) < 1 and max(stops) < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
