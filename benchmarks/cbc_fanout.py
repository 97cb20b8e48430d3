"""CBC fan-out: 100 BSC simulators over loopback TCP + 100 MME simulators in memory (no kernel SCTP here).

Measures the time from send_warning to every peer acknowledged, and from stop_warning to every peer
acknowledged. Targets (issue 4): both under 1 s.  Run: .venv/bin/python benchmarks/cbc_fanout.py [--bsc N --mme N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

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
    args = parser.parse_args()

    network = MemoryNetwork()
    simulators = BackgroundLoop("simulators")
    bscs = [BscSimulator(f"bsc{i}") for i in range(args.bsc)]
    mmes = [MmeSimulator(f"mme{i}", default_mme_cells(2, tac=i + 1, enb_id=i + 1), network=network, enb_id=i + 1)
            for i in range(args.mme)]
    for sim in bscs + mmes:
        simulators.run(sim.start())
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


if __name__ == "__main__":
    sys.exit(main())
