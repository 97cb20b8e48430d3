"""Broadcast workstation: from pressing Transmit to the first peer acknowledgement, through the database.

Target (issue 8): under 300 ms with the simulator on loopback. Each round takes an approved message
(made from the "Monthly test" template, approved directly by the owner's connection: the approval is not
what is timed), calls broadcast.service.transmit — claim, queue the warning and its send command, activate the
message, one transaction — and polls the
database every 2 ms until the running centre has recorded a peer as active (what the monitor of every
workstation shows), then until all peers are; then stops it. Uses an embedded database of its own
(--data-dir, default /tmp/omnidesk-bench-broadcast: not the shared /tmp/omnidesk-bench, which this
migration would upgrade); its simulated peers are removed at the end. Messages stay (history is never
deleted). --as-staff transmits as a signed-in Broadcast Creator (a new staff user each run) instead of the
owner's connection, so the database's commit-time check of migration 0016 is part of what is timed.
Run: PYTHONPATH=. .venv/bin/python benchmarks/broadcast_transmit.py [--bsc N --mme N] [--as-staff]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bsc", type=int, default=10)
    parser.add_argument("--mme", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("OMNIDESK_BROADCAST_BENCH_DIR", "/tmp/omnidesk-bench-broadcast")))
    parser.add_argument("--as-staff", action="store_true", help="transmit as a signed-in Broadcast Creator")
    args = parser.parse_args()

    from omnidesk.auth import builtin_admin
    from omnidesk.broadcast import service as bs
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import BroadcastCentre
    from omnidesk.cbc.engine import BackgroundLoop
    from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_mme_cells
    from omnidesk.cbc.transport import MemoryNetwork
    from omnidesk.config import load_settings
    from omnidesk.db.engine import open_database

    args.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["OMNIDESK_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("OMNIDESK_DATABASE_URL", None)
    os.environ["OMNIDESK_CONFIG"] = str(args.data_dir / "no-config.toml")
    db = open_database(load_settings())
    admin = builtin_admin(db)
    network = MemoryNetwork()
    loop = BackgroundLoop("simulators")
    bscs = [BscSimulator(f"bench-bsc{i}") for i in range(args.bsc)]
    mmes = [MmeSimulator(f"bench-mme{i}", default_mme_cells(2, tac=i + 1, enb_id=i + 1), network=network, enb_id=i + 1)
            for i in range(args.mme)]
    for sim in bscs + mmes:
        loop.run(sim.start())
    store.remove_simulated_peers(db)
    for bsc in bscs:
        store.add_peer(db, admin, name=bsc.name, protocol="cbsp", port=bsc.address[1], simulated=True)
    for mme in mmes:
        store.add_peer(db, admin, name=mme.name, protocol="sbcap", host=mme.name, transport="memory", simulated=True)
    total = len(bscs) + len(mmes)
    sender_db, sender = db, admin
    if args.as_staff:
        sender_db, sender = _broadcast_creator(db, admin)
    firsts, alls = [], []

    def peers_active(warning_id: int) -> int:
        with db.read() as s:
            return s.scalar(text("SELECT count(*) FROM cbc_warning_peer WHERE warning_id = :w AND state = 'active'"),
                            {"w": warning_id})

    try:
        with BroadcastCentre(db, network=network, poll_interval=1.0):
            while sum(p.link_state == "up" for p in store.list_peers(db, admin)) < total:
                time.sleep(0.05)
            print(f"{len(bscs)} BSCs (loopback TCP) + {len(mmes)} MMEs (in memory) through {db.display_name}; "
                  f"load average {os.getloadavg()[0]:.2f}")
            for _ in range(args.rounds):
                message = bs.create_message(db, admin, template="Monthly test")
                with db.transaction() as s:
                    s.execute(text("UPDATE broadcast_message SET status = 'approved', approved_by = :a, "
                                   "approved_at = now() WHERE id = :i"), {"a": admin.user_id, "i": message.id})
                t0 = time.perf_counter()
                sent = bs.transmit(sender_db, sender, message.id)
                while peers_active(sent.warning_id) == 0:
                    time.sleep(0.002)
                firsts.append(time.perf_counter() - t0)
                while peers_active(sent.warning_id) < total:
                    time.sleep(0.002)
                alls.append(time.perf_counter() - t0)
                bs.stop(db, admin, message.id)
                deadline = time.monotonic() + 10
                while bs.get_message(db, admin, message.id).warning.state != "stopped" and time.monotonic() < deadline:
                    time.sleep(0.02)
    finally:
        store.remove_simulated_peers(db)
        for sim in bscs + mmes:
            loop.run(sim.stop())
        loop.stop()
        if sender_db is not db:
            sender_db.dispose()
        db.dispose()
    def p95(values):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]

    print(f"Transmit -> first peer acknowledged in the database: median {statistics.median(firsts) * 1000:.0f} ms, "
          f"p95 {p95(firsts) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms over {len(firsts)} runs (target < 300 ms)")
    print(f"Transmit -> all {total} peers acknowledged: median {statistics.median(alls) * 1000:.0f} ms, "
          f"p95 {p95(alls) * 1000:.0f} ms, max {max(alls) * 1000:.0f} ms")
    return 0 if p95(firsts) < 0.3 else 1


def _broadcast_creator(db, admin):
    """(database, actor) of a new Broadcast Creator signed in with password and TOTP, as a workstation is."""
    import pyotp

    from omnidesk.auth import session as auth_session
    from omnidesk.auth import users

    url = db.engine.url.render_as_string(hide_password=False)
    with db.read() as s:
        role_suffix = s.scalar(text("SELECT role_suffix FROM security_config"))
    username = f"bench_creator_{int(time.time())}"
    _, temporary = users.create_user(db, admin, username=username, full_name="Transmit benchmark",
                                     roles=["Broadcast Creator"])
    login = auth_session.sign_in(url, username, temporary, role_suffix=role_suffix)
    login.change_password("Bench-Transmit-42")
    login.abandon()
    login = auth_session.sign_in(url, username, "Bench-Transmit-42", role_suffix=role_suffix)
    enrolment = login.begin_enrolment()
    session = login.confirm_enrolment(enrolment, pyotp.TOTP(enrolment.secret).now())
    return session.db, session.actor


if __name__ == "__main__":
    sys.exit(main())
