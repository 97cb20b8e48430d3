"""`omnidesk cbc peers|send|update|status|warnings|stop|serve|simulate`: the cell broadcast centre from a shell.

Peers and warnings live in the database (omnidesk/cbc/store.py); one running centre (`serve`, or
`simulate` with its own demo network) holds the links and acts on what is asked here.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

PEER_PROTOCOLS = ("cbsp", "sbcap")
PEER_ROLES = ("client", "server")
PEER_TRANSPORTS = ("tcp", "sctp", "memory")
LAYOUTS = {"osmocom": "osmocom", "spec": "spec-figure"}
WAITING_STATES = ("queued", "init", "wait-write-ack", "wait-replace-ack", "wait-stop-ack")


def add_commands(cbc: argparse._SubParsersAction, positive, non_negative) -> None:
    peers = cbc.add_parser("peers", help="list, add or remove the BSCs and MMEs the centre connects to",
                           description="With no action: list the peers and the link state the running centre reports.")
    peers.add_argument("--json", action="store_true", help="print JSON for scripts")
    peers.set_defaults(run=peers_list)
    peer_actions = peers.add_subparsers(dest="peers_command", metavar="action")
    add = peer_actions.add_parser("add", help="configure a BSC (cbsp) or MME (sbcap)")
    add.add_argument("name", help="a short name: letters, digits, '.', '_' or '-'")
    add.add_argument("--protocol", choices=PEER_PROTOCOLS, required=True)
    add.add_argument("--host", default="127.0.0.1", help="the peer's address (client role) or ours to listen on")
    add.add_argument("--port", type=non_negative, help="default 48049 for CBSP, 29168 for SBc-AP")
    add.add_argument("--role", choices=PEER_ROLES, default="client",
                     help="client: the centre connects (default); server: the centre listens for the peer")
    add.add_argument("--transport", choices=PEER_TRANSPORTS, help="default tcp for CBSP, sctp for SBc-AP")
    add.add_argument("--layout", choices=tuple(LAYOUTS), default="osmocom",
                     help="CBSP Repetition Period layout: osmocom (osmo-bsc) or spec (TS 48.049 figure)")
    add.add_argument("--remote-host", help="server role: accept this peer only from this address")
    add.set_defaults(run=peers_add)
    remove = peer_actions.add_parser("remove", help="remove a peer (refused while a live warning is on it)")
    remove.add_argument("name")
    remove.set_defaults(run=peers_remove)

    wait_help = "seconds to wait for every peer's answer (default 30; 0 returns at once)"
    send = cbc.add_parser("send", help="send a warning described in JSON (shape in the README)",
                          description="Check the warning, store it and hand it to the running centre; then wait "
                                      "for the peers' answers and print the outcome per peer and per cell.")
    send.add_argument("file", metavar="WARNING.json", help="the warning as JSON; - reads standard input")
    send.add_argument("--wait", type=non_negative, default=30, help=wait_help)
    send.add_argument("--json", action="store_true", help="print JSON for scripts")
    send.set_defaults(run=warning_send)
    update = cbc.add_parser("update", help="replace a live warning's texts or parameters (update number + 1)")
    update.add_argument("id", type=positive, metavar="ID")
    update.add_argument("file", metavar="UPDATE.json",
                        help='JSON with any of texts, repetition_period, number_of_broadcasts, category; - reads stdin')
    update.add_argument("--wait", type=non_negative, default=30, help=wait_help)
    update.add_argument("--json", action="store_true", help="print JSON for scripts")
    update.set_defaults(run=warning_update)
    status = cbc.add_parser("status", help="one warning: its state per peer and per cell")
    status.add_argument("id", type=positive, metavar="ID")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(run=warning_status)
    warnings = cbc.add_parser("warnings", help="the latest warnings")
    warnings.add_argument("--live", action="store_true", help="only warnings not yet stopped")
    warnings.add_argument("--limit", type=positive, default=50)
    warnings.add_argument("--json", action="store_true", help="print JSON for scripts")
    warnings.set_defaults(run=warnings_list)
    stop = cbc.add_parser("stop", help="stop a warning on every peer (KILL / Stop-Warning)")
    stop.add_argument("id", type=positive, metavar="ID")
    stop.add_argument("--wait", type=non_negative, default=30, help=wait_help)
    stop.add_argument("--json", action="store_true", help="print JSON for scripts")
    stop.set_defaults(run=warning_stop)
    serve = cbc.add_parser("serve", help="run the cell broadcast centre for this database until interrupted",
                           description="Connect to the configured peers, send what is asked for (from any "
                                       "workstation or `omnidesk cbc send`) and record every answer. One per database.")
    serve.set_defaults(run=centre_serve)
    simulate = cbc.add_parser("simulate", help="a demo network: simulated BSCs and MMEs with a centre for them",
                              description="Start simulated BSCs (loopback TCP) and MMEs (SCTP where the kernel has "
                                          "it, otherwise in memory), add them as peers and run the centre until "
                                          "interrupted; the simulated peers are removed afterwards.")
    simulate.add_argument("--bsc", type=non_negative, default=2, help="number of BSCs (default 2)")
    simulate.add_argument("--mme", type=non_negative, default=1, help="number of MMEs (default 1)")
    simulate.add_argument("--cells", type=positive, default=3, help="cells per peer (default 3)")
    simulate.set_defaults(run=centre_simulate)


# --- peers ---


def peers_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        peers = store.list_peers(db, actor)
        running = store.centre_running(db)
    if args.json:
        cli._print_json({"centre_running": running, "peers": [p.__dict__ for p in peers]})
        return 0
    if not peers:
        print("No peers are configured. Add one with `omnidesk cbc peers add NAME --protocol cbsp --host ADDRESS`.")
        return 0
    cli._table(("Name", "Protocol", "Role", "Address", "Link", "Since", "Reason"),
               [(p.name + (" (simulated)" if p.simulated else ""), p.protocol, p.role,
                 f"{p.host}:{p.port}" if p.port is not None else p.host, p.link_state if running else "no centre",
                 cli._when(p.link_changed_at), p.link_reason) for p in peers])
    if not running:
        print("\nNo centre is running for this database, so no link is open (`omnidesk cbc serve`).")
    return 0


def peers_add(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        peer = store.add_peer(db, actor, name=args.name, protocol=args.protocol, role=args.role, host=args.host,
                              port=args.port, transport=args.transport, repetition_period_layout=LAYOUTS[args.layout],
                              remote_host=args.remote_host)
    print(f"Added {peer.protocol.upper()} peer {peer.name} ({peer.role}, {peer.host}:{peer.port}); "
          "a running centre connects to it now.")
    return 0


def peers_remove(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        store.remove_peer(db, actor, args.name)
    print(f"Removed peer {args.name}.")
    return 0


# --- warnings ---


def _read_json(path: str):
    from omnidesk.cbc.warning_json import WarningJsonError

    name = "standard input" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WarningJsonError(f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WarningJsonError(f"{name} is not JSON: {exc}.") from None


def _wait_and_report(db, actor, warning_id: int, args, done) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    deadline = time.monotonic() + args.wait
    record = store.get_warning(db, actor, warning_id)
    while not done(record) and time.monotonic() < deadline:
        time.sleep(0.1)
        record = store.get_warning(db, actor, warning_id)
    if args.json:
        cli._print_json(record.as_json())
    else:
        _print_warning(record)
    if not done(record):
        if args.wait:
            print(f"\nStill {record.state} after {args.wait} s; `omnidesk cbc status {warning_id}` shows how it goes on.",
                  file=sys.stderr)
        return 0 if not args.wait else 3
    return 1 if record.state == "failed" else 0


def warning_send(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    data = _read_json(args.file)
    with cli._opened(settings) as (db, actor):
        record = store.submit_warning(db, actor, data)
        return _wait_and_report(db, actor, record.id, args, lambda w: w.settled)


def warning_update(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    data = _read_json(args.file)
    with cli._opened(settings) as (db, actor):
        before = store.get_warning(db, actor, args.id)
        store.request_update(db, actor, args.id, data)
        return _wait_and_report(db, actor, args.id, args,
                                lambda w: w.settled and (w.update_number != before.update_number or w.state == "failed"))


def warning_stop(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        store.request_stop(db, actor, args.id)
        return _wait_and_report(db, actor, args.id, args, lambda w: w.state in store.FINAL_STATES)


def warning_status(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        record = store.get_warning(db, actor, args.id)
    if args.json:
        cli._print_json(record.as_json())
    else:
        _print_warning(record)
    return 0


def warnings_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store

    with cli._opened(settings) as (db, actor):
        records = store.list_warnings(db, actor, limit=args.limit, live_only=args.live)
    if args.json:
        cli._print_json([r.as_json() for r in records])
        return 0
    if not records:
        print("No live warnings." if args.live else "No warnings have been sent.")
        return 0
    cli._table(("ID", "State", "Identifier", "Code", "Update", "Languages", "Peers", "Created", "By"),
               [(r.id, r.state, r.message_identifier, r.message_code, r.update_number,
                 ", ".join(t["language"] or "-" for t in r.texts), len(r.peers), cli._when(r.created_at),
                 r.created_by or "") for r in records], right=(0, 2, 3, 4, 6))
    return 0


_CELL_LINES = 40


def _print_warning(w) -> None:
    from omnidesk import cli

    print(f"Warning #{w.id}: {w.state}" + (f" — {w.reason}" if w.reason else ""))
    cli._key_values([
        ("Message identifier", f"{w.message_identifier}, message code {w.message_code}, update {w.update_number}"),
        ("Category", w.category),
        ("Repetition", f"every {w.repetition_period} s, "
                       + (f"{w.number_of_broadcasts} broadcasts" if w.number_of_broadcasts else "until stopped")),
        ("Warning period", f"{w.warning_period} s" if w.warning_period else "until stopped"),
        ("Targets", "every cell of every connected peer" if w.targets is None
         else "; ".join(f"{peer}: {len(cells)}" for peer, cells in w.targets.items())),
        ("Created", f"{cli._when(w.created_at)} by {w.created_by or 'unknown'}"),
        ("Sent", cli._when(w.sent_at) or ("waiting for the centre" if w.state == "queued" else "")),
        ("Finished", cli._when(w.finished_at)),
        ("Waiting commands", str(w.pending_commands) if w.pending_commands else ""),
    ], indent="  ")
    for t in w.texts:
        print(f"  [{t['language'] or '-'}] {t['text']}")
    if not w.peers:
        return
    print()
    cli._table(("Peer", "Protocol", "State", "Cells ok", "Failed", "Reason"),
               [(p.peer, p.protocol, p.state, sum(c.outcome == "success" for c in p.cells),
                 sum(c.outcome == "failure" for c in p.cells), p.reason) for p in w.peers], right=(3, 4), indent="  ")
    cells = [(p.peer, c) for p in w.peers for c in p.cells]
    if cells:
        print()
        cli._table(("Peer", "Cell", "Language", "Outcome", "Cause", "Broadcasts"),
                   [(peer, c.cell, c.language or "-", c.outcome, c.cause or "",
                     "" if c.broadcasts_completed is None else c.broadcasts_completed)
                    for peer, c in cells[:_CELL_LINES]], right=(5,), indent="  ")
        if len(cells) > _CELL_LINES:
            print(f"  … and {len(cells) - _CELL_LINES} more cells (--json lists them all)")


# --- the centre ---


def _until_interrupted() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_link_events(event) -> None:
    from omnidesk.cbc.engine import EventKind

    if event.kind in (EventKind.LINK_UP, EventKind.LINK_DOWN, EventKind.PEER_RESTART, EventKind.CONNECTION_REFUSED):
        print(f"{time.strftime('%H:%M:%S')}  {event.peer or '-'}: {event.kind.value} {event.detail}".rstrip(), flush=True)
    elif event.kind.value == "warning-state":
        print(f"{time.strftime('%H:%M:%S')}  warning #{event.warning_id}: {event.state} ({event.detail})", flush=True)


def centre_serve(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import BroadcastCentre

    with cli._opened(settings) as (db, actor):
        with BroadcastCentre(db, on_event=_print_link_events):
            peers = store.list_peers(db, actor)
            print(f"Cell broadcast centre running for {db.display_name} with {len(peers)} peer(s); "
                  "Ctrl-C stops it.", flush=True)
            _until_interrupted()
        print("Centre stopped; its links are closed (the peers keep broadcasting what they have).")
        return 0


def centre_simulate(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import CentreAlreadyRunning

    with cli._opened(settings) as (db, actor):
        if store.centre_running(db):
            raise CentreAlreadyRunning("A cell broadcast centre is already running for this database; stop it first — "
                                       "`simulate` runs its own centre for the simulated network.")
        _simulate(args, db, actor)
    return 0


def _simulate(args, db, actor) -> None:
    from omnidesk.cbc import store
    from omnidesk.cbc.centre import BroadcastCentre
    from omnidesk.cbc.engine import BackgroundLoop
    from omnidesk.cbc.simulator import BscSimulator, MmeSimulator, default_bsc_cells, default_mme_cells
    from omnidesk.cbc.transport import MemoryNetwork, sctp_available

    network = MemoryNetwork()
    loop = BackgroundLoop("simulators")
    sctp = sctp_available()
    sims = []
    try:
        store.remove_simulated_peers(db)  # left over by a simulation that was killed
        for i in range(1, args.bsc + 1):
            bsc = BscSimulator(f"sim-bsc-{i}", default_bsc_cells(args.cells, lac=100 + i))
            loop.run(bsc.start())
            sims.append(bsc)
            store.add_peer(db, actor, name=bsc.name, protocol="cbsp", port=bsc.address[1], simulated=True)
        for i in range(1, args.mme + 1):
            name = f"sim-mme-{i}"
            cells = default_mme_cells(args.cells, tac=i, enb_id=i)
            mme = (MmeSimulator(name, cells, host="127.0.0.1", port=0, transport="sctp", enb_id=i) if sctp
                   else MmeSimulator(name, cells, network=network, enb_id=i))
            loop.run(mme.start())
            sims.append(mme)
            if sctp:
                store.add_peer(db, actor, name=name, protocol="sbcap", port=mme.address[1], simulated=True)
            else:
                store.add_peer(db, actor, name=name, protocol="sbcap", host=name, transport="memory", simulated=True)
        print(f"Simulating {args.bsc} BSC(s) on loopback TCP and {args.mme} MME(s) "
              f"{'over SCTP' if sctp else 'in memory (this kernel has no SCTP)'}, {args.cells} cells each, "
              "with a centre for them. Send warnings from another shell (`omnidesk cbc send WARNING.json`); "
              "Ctrl-C stops.", flush=True)
        with BroadcastCentre(db, network=network, on_event=_print_link_events):
            _until_interrupted()
    finally:
        for sim in sims:
            loop.run(sim.stop())
        loop.stop()
        removed = store.remove_simulated_peers(db)
        print(f"Simulation over; removed {removed} simulated peer(s).")
