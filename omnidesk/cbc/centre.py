"""The running cell broadcast centre: the engine, fed from and recorded to PostgreSQL.

One centre runs per database (`omnidesk cbc serve`, `omnidesk cbc simulate`, or later a broadcast
workstation); it holds a session-level advisory lock, so a second one is refused and the lock goes
away with the process. It:

- connects to the enabled peers of cbc_peer and follows changes to that table;
- takes over the warnings a previous run left live (adopt: a stop still reaches them, a peer that
  restarts gets them again, an expired warning period stops them);
- claims send / update / stop commands (LISTEN/NOTIFY on 'omnidesk_cbc', with a poll as a fallback)
  and hands them to the engine;
- records link states, warning and per-peer states and per-cell results as the engine reports them;
- records an update's content (texts, parameters, update number) on the warning when the engine accepts it,
  in the transaction that marks its command done. From that moment the engine broadcasts it (a peer that
  restarts gets it, the next update builds on it), so a restarted centre must adopt exactly that: recorded
  earlier, a refused update would be adopted; recorded when the peers answer, a restart in between would
  adopt the old text under an update number the peers have already seen with the new one. An update the
  engine refuses leaves the content as it was.

All database work happens on one worker thread, never on the engine's event loop: engine callbacks only
mark what changed. If the database goes away, the engine keeps its links and warnings; recording
resumes (with the latest state) when the database is back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Callable

import psycopg

from omnidesk.cbc import store
from omnidesk.cbc.engine import (
    CbcEvent,
    CbcInputError,
    CellBroadcastCentre,
    EngineTimers,
    EventKind,
    PeerWarningStatus,
    UnknownWarningError,
    UpdateOvertakenError,
)
from omnidesk.cbc.peer_fsm import CellOutcome, CellResult, PeerWarningState, WarningContent
from omnidesk.cbc.transport import MemoryNetwork
from omnidesk.cbc.warning_json import update_from_json
from omnidesk.db.notify import ChangeListener
from omnidesk.errors import DatabaseUnavailable, ServiceError

log = logging.getLogger(__name__)

__all__ = ["BroadcastCentre", "CentreAlreadyRunning"]


class CentreAlreadyRunning(ServiceError):
    """Another centre holds this database's CBC lock."""


class BroadcastCentre:
    """See the module docstring. `with BroadcastCentre(db) as centre: ...` or start() / close()."""

    def __init__(self, db, *, timers: EngineTimers | None = None, network: MemoryNetwork | None = None,
                 link_grace: float = 5.0, poll_interval: float = 2.0,
                 on_event: Callable[[CbcEvent], None] | None = None):
        self.db = db
        self.timers = timers
        self.network = network or MemoryNetwork()
        self.link_grace = link_grace
        self.poll_interval = poll_interval
        self.engine: CellBroadcastCentre | None = None
        self._on_event = on_event
        self._lock_connection: psycopg.Connection | None = None
        self._listener: ChangeListener | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._mutex = threading.Lock()
        self._dirty_warnings: set[int] = set()
        self._dirty_links: dict[str, tuple[str, str]] = {}
        self._failed_sends: dict[int, str] = {}
        self._peers_changed = True
        self._commands_waiting = True
        self._queue: list[store.Command] = []  # claimed, not yet handed to the engine
        # handed to the engine, not yet marked done: command id -> (warning id, the content of an accepted update)
        self._dispatched: dict[int, tuple[int, WarningContent | None]] = {}
        self._overtaken: dict[int, WarningContent] = {}  # accepted updates that never went out: content to restore
        self._inflight = 0
        self._started_at = 0.0
        self.last_error = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> BroadcastCentre:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> BroadcastCentre:
        self._take_lock()
        try:
            self.engine = CellBroadcastCentre(self.timers, self.network)
            self.engine.subscribe(self._engine_event)
            self._started_at = time.monotonic()
            store.unclaim_interrupted_commands(self.db)
            self._sync_peers()
            self._adopt_live_warnings()
            self._listener = ChangeListener(self.db.raw_connection_string(), ("omnidesk_cbc",), self._notified).start()
            self._thread = threading.Thread(target=self._work, name="cbc-centre", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self.engine is not None:
            names = list(self.engine.configs())
            self.engine.close()
            self.engine = None
            self._record_quietly(lambda: [store.record_link_state(self.db, n, "disabled", "the centre stopped")
                                          for n in names])
        if self._lock_connection is not None:
            self._lock_connection.close()
            self._lock_connection = None

    def _take_lock(self) -> None:
        application = f"omnidesk-cbc {socket.gethostname()} pid {os.getpid()}"[:63]
        conn = psycopg.connect(self.db.raw_connection_string(), autocommit=True, application_name=application)
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (store.CENTRE_LOCK_KEY,)).fetchone()[0]:
            holder = conn.execute(
                "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s", (store.CENTRE_LOCK_KEY,)).fetchone()
            conn.close()
            who = f" ({holder[0]}, since {holder[2]:%Y-%m-%d %H:%M})" if holder else ""
            raise CentreAlreadyRunning(f"A cell broadcast centre is already running for this database{who}; "
                                       "only one may hold the links to the BSCs and MMEs.")
        self._lock_connection = conn

    def _keep_lock(self) -> None:
        """The lock dies with its connection (a database restart): take it again, or give way."""
        try:
            self._lock_connection.execute("SELECT 1")
            return
        except psycopg.Error:
            self._lock_connection.close()
        self._take_lock()  # OperationalError: retried next round; CentreAlreadyRunning: another centre took over

    # -- what wakes the worker ---------------------------------------------------------------

    def _notified(self, payload: dict) -> None:
        table = payload.get("table")
        if table == "cbc_command":
            self._commands_waiting = True
            self._wake.set()
        elif table == "cbc_peer":
            self._peers_changed = True
            self._wake.set()

    def _engine_event(self, event: CbcEvent) -> None:  # on the engine's loop: only note what changed
        with self._mutex:
            if event.kind is EventKind.LINK_STATE and event.peer is not None:
                self._dirty_links[event.peer] = (event.state or "disabled", event.detail)
            elif event.warning_id is not None:
                self._dirty_warnings.add(event.warning_id)
        self._wake.set()
        if self._on_event is not None:
            self._on_event(event)

    def _sent(self, warning_id: int, future: Future, kind: str = "send") -> None:
        exc = future.exception()
        overtaken = exc.previous if isinstance(exc, UpdateOvertakenError) else None
        if exc is not None and kind != "send":  # the warning itself stays as the engine has it
            log.error("cell broadcast centre: %s of warning %s failed: %s", kind, warning_id, exc)
            exc = None
        with self._mutex:
            if overtaken is not None:  # the first one overtaken holds what the peers last had
                self._overtaken.setdefault(warning_id, overtaken)
            self._inflight -= 1
            if exc is not None:
                self._failed_sends[warning_id] = str(exc) if isinstance(exc, (CbcInputError, ConnectionError)) \
                    else f"{type(exc).__name__}: {exc}"
            else:
                self._dirty_warnings.add(warning_id)
        self._wake.set()

    @property
    def idle(self) -> bool:
        """Nothing waits to be sent or recorded (tests and the CLI wait for this)."""
        with self._mutex:
            return not (self._dirty_warnings or self._dirty_links or self._failed_sends or self._queue
                        or self._inflight or self._commands_waiting or self._overtaken)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle:
                return True
            time.sleep(0.02)
        return False

    # -- the worker --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.1 if self._queue else self.poll_interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._round()
                self.last_error = ""
            except (DatabaseUnavailable, psycopg.OperationalError) as exc:
                self.last_error = str(exc)
                log.warning("cell broadcast centre: database unavailable, will retry: %s", exc)
                self._stopping.wait(1.0)
                self._wake.set()
            except CentreAlreadyRunning as exc:
                self.last_error = str(exc)
                log.error("cell broadcast centre: lost the database lock to another centre; closing the links: %s", exc)
                self.engine.close()
                return
            except Exception:  # noqa: BLE001 - the centre must outlive one bad round
                log.exception("cell broadcast centre: round failed")
                self._stopping.wait(1.0)
        self._record_quietly(self._record_changes)

    def _round(self) -> None:
        self._keep_lock()
        if self._peers_changed:
            self._peers_changed = False
            self._sync_peers()
        self._record_changes()
        self._commands_waiting = False
        self._queue.extend(store.claim_commands(self.db))
        self._run_queue()
        self._record_changes()

    def _record_changes(self) -> None:
        with self._mutex:
            links, self._dirty_links = self._dirty_links, {}
            warnings, self._dirty_warnings = self._dirty_warnings, set()
            failures, self._failed_sends = self._failed_sends, {}
            # after the update it undoes is recorded (that waits in _dispatched if the database failed)
            waiting = {w for w, _ in self._dispatched.values()}
            overtaken = {w: c for w, c in self._overtaken.items() if w not in waiting}
            for warning_id in overtaken:
                del self._overtaken[warning_id]
        try:
            for name, (state, reason) in links.items():
                store.record_link_state(self.db, name, state, reason)
            for warning_id, reason in failures.items():
                store.record_failure(self.db, warning_id, reason)
            for warning_id, content in overtaken.items():
                store.record_content(self.db, warning_id, content)
            for warning_id in sorted(warnings):
                try:
                    status = self.engine.status(warning_id)
                except UnknownWarningError:
                    continue
                store.record_status(self.db, status)
        except BaseException:
            with self._mutex:  # keep them for the next round (newer states win)
                for name, value in links.items():
                    self._dirty_links.setdefault(name, value)
                self._dirty_warnings |= warnings
                for warning_id, reason in failures.items():
                    self._failed_sends.setdefault(warning_id, reason)
                for warning_id, content in overtaken.items():
                    self._overtaken.setdefault(warning_id, content)
            raise

    def _record_quietly(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - shutting down with the database gone
            log.warning("cell broadcast centre: could not record the final state: %s", exc)

    # -- peers -------------------------------------------------------------------------------

    def _sync_peers(self) -> None:
        wanted = store.peer_configs(self.db)
        have = {p.name: p for p in self.engine.peers()}
        current = self.engine.configs()
        for name in sorted(set(have) - set(wanted)):
            self.engine.remove_peer(name).result(10)
        for name, config in wanted.items():
            if name not in current or current[name] != config.resolved():
                self.engine.configure_peer(config).result(10)

    # -- warnings ----------------------------------------------------------------------------

    def _adopt_live_warnings(self) -> None:
        peers = store.peer_configs(self.db)
        for warning_id in store.live_warning_ids(self.db):
            request, row = store.stored_request(self.db, warning_id, peers)
            recorded = {p.peer: _peer_status(p) for p in store.recorded_peers(self.db, warning_id)}
            left = None
            if row.warning_period is not None and row.sent_at is not None:
                left = row.warning_period - (datetime.now(timezone.utc) - row.sent_at).total_seconds()
            try:
                self.engine.adopt_warning(warning_id, request, recorded, left).result(10)
            except CbcInputError as exc:
                store.record_failure(self.db, warning_id, f"could not be taken over after a restart: {exc}")
                continue
            if row.state == "wait-stop-ack":  # the previous centre died while stopping it: finish that
                self.engine.stop_warning(warning_id)
            with self._mutex:
                self._dirty_warnings.add(warning_id)

    def _run_queue(self) -> None:
        """Act on the claimed commands in order. One that must wait for links stays queued; if the database
        fails midway the rest stay queued too (claimed by this centre) for the next round."""
        waiting: list[store.Command] = []
        try:
            while self._queue:
                command = self._queue[0]
                if command.kind == "send" and not self._links_ready(command):
                    waiting.append(self._queue.pop(0))
                    continue
                self._execute(command)
                self._queue.pop(0)
        finally:
            self._queue[:0] = waiting

    def _execute(self, command: store.Command) -> None:
        try:
            if command.id not in self._dispatched:  # not twice when only marking it done failed last round
                accepted = self._dispatch(command)
                with self._mutex:
                    self._dispatched[command.id] = (command.warning_id, accepted)
        except (CbcInputError, store.BroadcastRefused) as exc:  # refused: the warning keeps what it had
            if command.kind == "send":
                store.record_failure(self.db, command.warning_id, str(exc))
            store.finish_command(self.db, command.id, str(exc))
            return
        _, accepted = self._dispatched[command.id]
        if accepted is not None:  # an update the engine took: the warning is that content from now on
            store.record_update(self.db, command.id, command.warning_id, accepted)
        else:
            store.finish_command(self.db, command.id)
        with self._mutex:
            del self._dispatched[command.id]

    def _links_ready(self, command: store.Command) -> bool:
        """Just after start the links are still coming up: give the targeted peers `link_grace` seconds."""
        if time.monotonic() - self._started_at >= self.link_grace:
            return True
        request, _ = store.stored_request(self.db, command.warning_id, store.peer_configs(self.db))
        statuses = {p.name: p for p in self.engine.peers()}
        names = request.targets.keys() if request.targets is not None else statuses.keys()
        return all(statuses[n].is_up for n in names if n in statuses)

    def _dispatch(self, command: store.Command) -> WarningContent | None:
        """Hand a command to the engine (CbcInputError if it refuses); an accepted update's content."""
        engine = self.engine
        if command.kind == "send":
            request, _ = store.stored_request(self.db, command.warning_id, store.peer_configs(self.db))
            self._track(command.warning_id, engine.send_warning(request, warning_id=command.warning_id), "send")
            return
        try:
            engine.status(command.warning_id)
        except UnknownWarningError:
            if command.kind == "stop":  # never reached a peer (failed before sending, or still queued)
                store.record_stopped(self.db, command.warning_id, "stopped before any peer had it")
                return
            raise CbcInputError(f"Warning #{command.warning_id} is not live on this centre.") from None
        if command.kind == "stop":
            self._track(command.warning_id, engine.stop_warning(command.warning_id), "stop")
            return
        future = engine.update_warning(command.warning_id, **update_from_json(command.payload))
        self._track(command.warning_id, future, "update")
        return future.content

    def _track(self, warning_id: int, future: Future, kind: str) -> None:
        with self._mutex:
            self._inflight += 1
        future.add_done_callback(lambda f: self._sent(warning_id, f, kind))


def _peer_status(record: store.WarningPeerRecord) -> PeerWarningStatus:
    cells = tuple(CellResult(c.cell, c.language, CellOutcome(c.outcome), c.cause, c.broadcasts_completed)
                  for c in record.cells)
    return PeerWarningStatus(record.peer, record.protocol, PeerWarningState(record.state), record.reason, cells,
                             record.writes_sent, ())

