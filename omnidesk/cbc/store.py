"""Cell broadcast service functions: peers, warnings and their results in PostgreSQL.

Operators (GUI, CLI) configure peers and ask for a warning to be sent, updated or stopped; the
request is stored with a command for the running centre (centre.py), which sends it and records what
every peer and cell answered. So every workstation sees the same state, and a warning asked for from
one workstation goes out through the one centre that holds the links to the BSCs and MMEs.

Permissions (seed 003, "Core CBC Permissions"): view_cbc_message to read, create_cbc_message to send,
update_cbc_message to update, delete_cbc_message to stop; peers are shared settings (manage_settings).
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.cbc import cbsp
from omnidesk.cbc.engine import CbcInputError, PeerConfig, WarningRequest, WarningStatus, check_warning
from omnidesk.cbc.models import CbcCommand, CbcPeer, CbcWarning, CbcWarningCell, CbcWarningPeer
from omnidesk.cbc.peer_fsm import WarningContent
from omnidesk.cbc.period import RepetitionPeriodLayout
from omnidesk.cbc.warning_json import request_from_json, request_to_json, update_from_json
from omnidesk.db.models import StaffUser
from omnidesk.errors import NotFound, ServiceError, first_line

# Warnings that still hold their message code (a new warning with the same identifier needs another one).
LIVE_STATES = ("queued", "init", "wait-write-ack", "active", "wait-replace-ack", "wait-stop-ack", "failed")
# Live and handed to a centre: what a restarted centre takes over.
SENT_STATES = tuple(s for s in LIVE_STATES if s != "queued")
# Live on some peer: a peer carrying one of these may not be removed.
ON_PEER_STATES = tuple(s for s in SENT_STATES if s != "failed")
FINAL_STATES = ("stopped", "expired")
# Held (session level) by the one running centre of a database; see centre.py.
CENTRE_LOCK_KEY = 0x0CBC_0001


class BroadcastRefused(ServiceError):
    """A warning or peer request was refused before anything was stored or sent; the message says why."""


@dataclass(frozen=True)
class PeerRecord:
    name: str
    protocol: str
    role: str
    host: str
    port: int | None
    transport: str | None
    repetition_period_layout: str
    remote_host: str | None
    enabled: bool
    simulated: bool
    link_state: str
    link_reason: str
    link_changed_at: dt.datetime | None

    def config(self) -> PeerConfig:
        return PeerConfig(self.name, self.protocol, self.role, self.host, self.port, self.transport,
                          RepetitionPeriodLayout(self.repetition_period_layout), self.remote_host)


@dataclass(frozen=True)
class CellRecord:
    cell: str
    language: str | None
    outcome: str
    cause: str | None
    broadcasts_completed: int | None


@dataclass(frozen=True)
class WarningPeerRecord:
    peer: str
    protocol: str
    state: str
    reason: str
    writes_sent: int
    cells: tuple[CellRecord, ...]


@dataclass(frozen=True)
class WarningRecord:
    id: int
    message_identifier: int
    message_code: int
    geographical_scope: int
    update_number: int
    category: str
    repetition_period: int
    number_of_broadcasts: int
    warning_period: int | None
    texts: list[dict[str, Any]]
    targets: dict[str, list] | None
    state: str
    reason: str
    created_by: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    finished_at: dt.datetime | None
    peers: tuple[WarningPeerRecord, ...]
    pending_commands: int

    @property
    def settled(self) -> bool:
        """No command waits for the centre and no peer answer is outstanding."""
        return self.pending_commands == 0 and self.state not in ("queued", "init", "wait-write-ack",
                                                                  "wait-replace-ack", "wait-stop-ack")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "reason": self.reason,
            "message_identifier": self.message_identifier, "message_code": self.message_code,
            "update_number": self.update_number, "category": self.category,
            "repetition_period": self.repetition_period, "number_of_broadcasts": self.number_of_broadcasts,
            "warning_period": self.warning_period, "texts": self.texts, "targets": self.targets,
            "created_by": self.created_by, "created_at": _iso(self.created_at), "sent_at": _iso(self.sent_at),
            "finished_at": _iso(self.finished_at), "pending_commands": self.pending_commands,
            "peers": [{"peer": p.peer, "protocol": p.protocol, "state": p.state, "reason": p.reason,
                       "writes_sent": p.writes_sent,
                       "cells": [{"cell": c.cell, "language": c.language, "outcome": c.outcome, "cause": c.cause,
                                  "broadcasts_completed": c.broadcasts_completed} for c in p.cells]}
                      for p in self.peers],
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------------------------
# Peers


def list_peers(db, actor: Actor) -> list[PeerRecord]:
    actor.require("view_cbc_message", "see the cell broadcast peers")
    with db.read() as s:
        return [_peer_record(p) for p in s.scalars(select(CbcPeer).order_by(CbcPeer.name))]


def peer_configs(db) -> dict[str, PeerConfig]:
    """The enabled peers as the engine takes them (for the centre and for checking a warning)."""
    with db.read() as s:
        rows = s.scalars(select(CbcPeer).where(CbcPeer.enabled).order_by(CbcPeer.name))
        return {p.name: _peer_record(p).config() for p in rows}


def add_peer(db, actor: Actor, *, name: str, protocol: str, role: str = "client", host: str = "127.0.0.1",
             port: int | None = None, transport: str | None = None,
             repetition_period_layout: str = RepetitionPeriodLayout.OSMOCOM.value, remote_host: str | None = None,
             simulated: bool = False) -> PeerRecord:
    """Configure a BSC (protocol 'cbsp') or an MME ('sbcap'); the running centre connects to it."""
    actor.require("manage_settings", "configure cell broadcast peers")
    try:
        layout = RepetitionPeriodLayout(repetition_period_layout)
    except ValueError:
        raise BroadcastRefused(f"Peer {name}: repetition period layout must be 'osmocom' or 'spec-figure', "
                               f"not {repetition_period_layout!r}.") from None
    try:
        config = PeerConfig(name, protocol, role, host, port, transport, layout, remote_host).resolved()
    except CbcInputError as exc:
        raise BroadcastRefused(str(exc)) from None
    if not _PEER_NAME.fullmatch(name) or len(name) > 64:
        raise BroadcastRefused(f"Peer name {name!r}: up to 64 letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit.")
    try:
        with db.transaction() as s:
            peer = CbcPeer(name=config.name, protocol=config.protocol, role=config.role, host=config.host,
                           port=int(config.port) if config.transport != "memory" else None,
                           transport=transport, repetition_period_layout=layout.value, remote_host=remote_host,
                           simulated=simulated)
            s.add(peer)
            s.flush()
            activity.record(s, actor, action="cbc_peer_added", entity_type="cbc_peer", entity_id=peer.id,
                            summary=f"Added {config.protocol.upper()} peer {name} ({config.role} "
                                    f"{config.host}:{config.port})")
            return _peer_record(peer)
    except IntegrityError as exc:
        if "uq_cbc_peer_name" in str(exc.orig):
            raise BroadcastRefused(f"There is already a peer named {name}.") from None
        raise


def remove_peer(db, actor: Actor, name: str) -> None:
    """Remove a peer. Refused while a live warning is on it (stop the warning first)."""
    actor.require("manage_settings", "configure cell broadcast peers")
    with db.transaction() as s:
        peer = s.scalar(select(CbcPeer).where(CbcPeer.name == name).with_for_update())
        if peer is None:
            raise NotFound(f"There is no peer named {name!r}.")
        busy = s.scalars(
            select(CbcWarningPeer.warning_id).join(CbcWarning, CbcWarning.id == CbcWarningPeer.warning_id)
            .where(CbcWarningPeer.peer == name, CbcWarning.state.in_(ON_PEER_STATES),
                   CbcWarningPeer.state.not_in(("stopped",)))
            .order_by(CbcWarningPeer.warning_id)).all()
        if busy:
            raise BroadcastRefused(f"Peer {name} carries live warning(s) {', '.join(f'#{w}' for w in busy)}; "
                                   "stop them before removing the peer.")
        s.delete(peer)
        activity.record(s, actor, action="cbc_peer_removed", entity_type="cbc_peer", entity_id=peer.id,
                        summary=f"Removed {peer.protocol.upper()} peer {name}")


def record_link_state(db, name: str, state: str, reason: str) -> None:
    """What the running centre last saw of a peer's link (for every workstation's peer list)."""
    with db.transaction() as s:
        s.execute(update(CbcPeer).where(CbcPeer.name == name)
                  .values(link_state=state, link_reason=reason[:2000], link_changed_at=func.now()))


def remove_simulated_peers(db) -> int:
    """Remove the peers `cbc simulate` added; warnings that went only to them end with them."""
    with db.transaction() as s:
        simulated = select(CbcPeer.name).where(CbcPeer.simulated).scalar_subquery()
        only_simulated = select(CbcWarningPeer.warning_id).group_by(CbcWarningPeer.warning_id).having(
            func.bool_and(CbcWarningPeer.peer.in_(simulated)))
        s.execute(update(CbcWarning).where(CbcWarning.state.in_(SENT_STATES), CbcWarning.id.in_(only_simulated))
                  .values(state="stopped", reason="the simulated network it went to was shut down",
                          finished_at=func.now()))
        return s.execute(delete(CbcPeer).where(CbcPeer.simulated)).rowcount


def _peer_record(p: CbcPeer) -> PeerRecord:
    return PeerRecord(p.name, p.protocol, p.role, p.host, p.port, p.transport, p.repetition_period_layout,
                      p.remote_host, p.enabled, p.simulated, p.link_state, p.link_reason, p.link_changed_at)


_PEER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


# ---------------------------------------------------------------------------------------------
# Warnings: what operators ask for


def centre_running(db) -> bool:
    """Whether a centre holds this database's CBC lock (it dies with the centre's connection)."""
    with db.read() as s:
        return bool(s.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = :key)"), {"key": CENTRE_LOCK_KEY}))


def require_running_centre(db) -> None:
    """BroadcastRefused unless a centre runs for this database (nothing would go out)."""
    if not centre_running(db):
        raise BroadcastRefused("No cell broadcast centre is running for this database, so nothing would go out: "
                               "start one with `omnidesk cbc serve` (or `omnidesk cbc simulate` for a demo network). "
                               "Nothing was sent.")


def submit_warning(db, actor: Actor, data: Mapping[str, Any], *, require_centre: bool = True) -> WarningRecord:
    """Check a warning (as WARNING.json describes it), store it and queue it for the running centre.
    Bad input raises BroadcastRefused / NotFound naming the problem; nothing is stored or sent."""
    actor.require("create_cbc_message", "send cell broadcast warnings")
    if require_centre:
        require_running_centre(db)
    peers = peer_configs(db)
    with _database_refusals(), db.transaction() as s:
        warning_id = queue_warning(s, actor, data, peers).id
    return get_warning(db, actor, warning_id)


@contextmanager
def _database_refusals() -> Iterator[None]:
    """The database's refusals of a staff login (42501: a send that is not an approved broadcast message's,
    migration 0016; an update or stop of a warning that is not theirs) as BroadcastRefused."""
    try:
        yield
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":
            raise
        raise BroadcastRefused(first_line(exc.orig, "Refused by the database").rstrip(".") + ". Nothing was sent.") from None


def queue_warning(s, actor: Actor, data: Mapping[str, Any], peers: Mapping[str, PeerConfig]) -> CbcWarning:
    """submit_warning's work inside the caller's transaction (session s): the warning row and its send
    command, flushed, not committed. broadcast.service.transmit activates its message in the same
    transaction, as the database requires of a staff login (migration 0016)."""
    actor.require("create_cbc_message", "send cell broadcast warnings")
    try:
        request = request_from_json(dict(data), peers, message_code=0)
    except CbcInputError as exc:
        raise BroadcastRefused(str(exc)) from None
    # one sender at a time per message identifier, so two never take the same message code
    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x0CBC_0000_0000 + request.message_identifier})
    code = _message_code(s, request, "message_code" in data)
    request = WarningRequest(request.message_identifier, code, request.texts, request.repetition_period,
                             request.number_of_broadcasts, request.warning_period, request.category,
                             request.geographical_scope, request.update_number, request.targets)
    try:
        check_warning(request, peers)
    except CbcInputError as exc:
        raise BroadcastRefused(str(exc)) from None
    stored = request_to_json(request, peers)
    warning = CbcWarning(
        message_identifier=request.message_identifier, message_code=code,
        geographical_scope=int(request.geographical_scope), update_number=request.update_number,
        category=stored["category"].lower().replace("_", "-"), repetition_period=request.repetition_period,
        number_of_broadcasts=request.number_of_broadcasts,
        warning_period=None if request.warning_period is None else int(round(request.warning_period)),
        texts=stored["texts"], targets=stored["targets"], state="queued", created_by=actor.user_id)
    s.add(warning)
    s.flush()
    s.add(CbcCommand(warning_id=warning.id, kind="send", requested_by=actor.user_id))
    languages = ", ".join(t["language"] or "-" for t in stored["texts"])
    activity.record(s, actor, action="cbc_warning_sent", entity_type="cbc_warning", entity_id=warning.id,
                    summary=f"Sent warning #{warning.id}: message identifier {request.message_identifier}, "
                            f"code {code}, {languages}, to "
                            + ("every connected peer" if request.targets is None
                               else ", ".join(sorted(request.targets))))
    s.flush()
    return warning


def _message_code(s, request: WarningRequest, given: bool) -> int:
    """The code the request asked for if it is free, else (when none was given) the lowest free run."""
    count = len(request.texts)
    rows = s.execute(select(CbcWarning.id, CbcWarning.message_code, func.jsonb_array_length(CbcWarning.texts))
                     .where(CbcWarning.message_identifier == request.message_identifier,
                            CbcWarning.state.in_(LIVE_STATES))).all()
    used: dict[int, int] = {}
    for warning_id, code, n in rows:
        for c in range(code, code + n):
            used[c] = warning_id
    if given:
        clash = sorted({used[c] for c in range(request.message_code, request.message_code + count) if c in used})
        if clash:
            raise BroadcastRefused(
                f"Message code {request.message_code} of message identifier {request.message_identifier} is in use "
                f"by live warning {', '.join(f'#{w}' for w in clash)}; update or stop that warning, or leave "
                "message_code out to get a free one.")
        return request.message_code
    for code in range(0, 1024 - count + 1):
        if all(c not in used for c in range(code, code + count)):
            return code
    raise BroadcastRefused(f"Every message code of message identifier {request.message_identifier} is in use by "
                           "live warnings; stop some first.")


def request_update(db, actor: Actor, warning_id: int, changes: Mapping[str, Any]) -> WarningRecord:
    """Ask the centre to replace a live warning's texts or parameters (same code, update number + 1).
    changes: any of texts, repetition_period, number_of_broadcasts, category (as in WARNING.json)."""
    actor.require("update_cbc_message", "update cell broadcast warnings")
    try:
        update_from_json(dict(changes))
    except CbcInputError as exc:
        raise BroadcastRefused(str(exc)) from None
    require_running_centre(db)
    peers = peer_configs(db)
    with db.transaction() as s:
        warning = _locked_warning(s, warning_id)
        if warning.state not in ("active", "wait-replace-ack"):
            raise BroadcastRefused(f"Warning #{warning_id} is {warning.state}; only an active warning can be updated.")
        merged = _stored_json(warning) | dict(changes)
        merged["update_number"] = (warning.update_number + 1) % 16
        try:
            request = request_from_json(merged, peers)
            if request.texts and [t.language for t in request.texts] != [t["language"] for t in warning.texts]:
                raise CbcInputError("An update keeps the warning's languages ("
                                    + ", ".join(t["language"] or "-" for t in warning.texts)
                                    + ", in that order); stop it and send a new warning to change them.")
            check_warning(request, peers)
        except CbcInputError as exc:
            raise BroadcastRefused(str(exc)) from None
        s.add(CbcCommand(warning_id=warning_id, kind="update", requested_by=actor.user_id,
                         payload=dict(changes)))
        try:
            s.flush()
        except DBAPIError as exc:  # a broadcast message's warning changes only by its approved update (0013)
            if getattr(exc.orig, "sqlstate", None) != "42501":
                raise
            raise BroadcastRefused(first_line(exc.orig, "Refused by the database").rstrip(".") + ".") from None
        activity.record(s, actor, action="cbc_warning_update", entity_type="cbc_warning", entity_id=warning_id,
                        summary=f"Asked for an update of warning #{warning_id}",
                        changes={k: ["", str(v)[:200]] for k, v in changes.items()})
    return get_warning(db, actor, warning_id)


def request_stop(db, actor: Actor, warning_id: int) -> WarningRecord:
    """Ask the centre to stop a warning on every peer (KILL / Stop-Warning). A warning still queued is
    withdrawn at once."""
    actor.require("delete_cbc_message", "stop cell broadcast warnings")
    with _database_refusals(), db.transaction() as s:
        warning = _locked_warning(s, warning_id)
        if warning.state in FINAL_STATES:
            raise BroadcastRefused(f"Warning #{warning_id} is already {warning.state}.")
        if warning.state == "queued" and not centre_running(db):
            s.execute(update(CbcCommand).where(CbcCommand.warning_id == warning_id, CbcCommand.done_at.is_(None))
                      .values(done_at=func.now(), error="withdrawn before it was sent"))
            warning.state, warning.reason, warning.finished_at = "stopped", "withdrawn before it was sent", func.now()
        else:
            require_running_centre(db)
            s.add(CbcCommand(warning_id=warning_id, kind="stop", requested_by=actor.user_id))
        activity.record(s, actor, action="cbc_warning_stop", entity_type="cbc_warning", entity_id=warning_id,
                        summary=f"Stopped warning #{warning_id}")
    return get_warning(db, actor, warning_id)


def _locked_warning(s, warning_id: int) -> CbcWarning:
    warning = s.scalar(select(CbcWarning).where(CbcWarning.id == warning_id).with_for_update())
    if warning is None:
        raise NotFound(f"There is no warning #{warning_id}.")
    return warning


def _stored_json(w: CbcWarning) -> dict[str, Any]:
    from omnidesk.cbc.pages import GeographicalScope

    return {
        "message_identifier": w.message_identifier, "message_code": w.message_code,
        "geographical_scope": GeographicalScope(w.geographical_scope).name,
        "category": w.category.upper().replace("-", "_"),
        "repetition_period": w.repetition_period, "number_of_broadcasts": w.number_of_broadcasts,
        "warning_period": w.warning_period, "texts": w.texts, "targets": w.targets,
        "update_number": w.update_number,
    }


def stored_request(db, warning_id: int, peers: Mapping[str, PeerConfig]) -> tuple[WarningRequest, CbcWarning]:
    """The request a stored warning describes (for the centre)."""
    with db.read() as s:
        warning = s.get(CbcWarning, warning_id)
        if warning is None:
            raise NotFound(f"There is no warning #{warning_id}.")
        s.expunge(warning)
    return request_from_json(_stored_json(warning), peers), warning


# ---------------------------------------------------------------------------------------------
# Warnings: reading


def _warnings_query():
    """Warnings with their creator's name and how many of their commands wait, in one query."""
    creator = select(StaffUser.username).where(StaffUser.id == CbcWarning.created_by).scalar_subquery()
    pending = (select(func.count()).select_from(CbcCommand)
               .where(CbcCommand.warning_id == CbcWarning.id, CbcCommand.done_at.is_(None)).scalar_subquery())
    return select(CbcWarning, creator, pending)


def get_warning(db, actor: Actor, warning_id: int) -> WarningRecord:
    actor.require("view_cbc_message", "see cell broadcast warnings")
    with db.read() as s:
        row = s.execute(_warnings_query().where(CbcWarning.id == warning_id)).first()
        if row is None:
            raise NotFound(f"There is no warning #{warning_id}.")
        return _warning_record(s, *row)


def list_warnings(db, actor: Actor, *, limit: int = 50, live_only: bool = False) -> list[WarningRecord]:
    actor.require("view_cbc_message", "see cell broadcast warnings")
    with db.read() as s:
        query = _warnings_query().order_by(CbcWarning.id.desc()).limit(limit)
        if live_only:
            query = query.where(CbcWarning.state.in_(LIVE_STATES))
        return [_warning_record(s, *row, with_cells=False) for row in s.execute(query)]


def _warning_record(s, w: CbcWarning, creator: str | None, pending: int, *, with_cells: bool = True) -> WarningRecord:
    cells: dict[str, list[CellRecord]] = {}
    if with_cells:
        for c in s.scalars(select(CbcWarningCell).where(CbcWarningCell.warning_id == w.id)
                           .order_by(CbcWarningCell.peer, CbcWarningCell.cell, CbcWarningCell.language)):
            cells.setdefault(c.peer, []).append(CellRecord(c.cell, c.language or None, c.outcome, c.cause,
                                                           c.broadcasts_completed))
    peers = tuple(WarningPeerRecord(p.peer, p.protocol, p.state, p.reason, p.writes_sent, tuple(cells.get(p.peer, ())))
                  for p in s.scalars(select(CbcWarningPeer).where(CbcWarningPeer.warning_id == w.id)
                                     .order_by(CbcWarningPeer.peer)))
    return WarningRecord(w.id, w.message_identifier, w.message_code, w.geographical_scope, w.update_number, w.category,
                         w.repetition_period, w.number_of_broadcasts, w.warning_period, w.texts, w.targets, w.state,
                         w.reason, creator, w.created_at, w.sent_at, w.finished_at, peers, pending or 0)


# ---------------------------------------------------------------------------------------------
# The centre's side: commands in, results out


@dataclass(frozen=True)
class Command:
    id: int
    warning_id: int
    kind: str
    payload: dict


def claim_commands(db, limit: int = 50) -> list[Command]:
    """Take the oldest unclaimed commands (each is taken once, even with a second centre racing)."""
    with db.transaction() as s:
        rows = s.scalars(select(CbcCommand).where(CbcCommand.claimed_at.is_(None), CbcCommand.done_at.is_(None))
                         .order_by(CbcCommand.id).limit(limit).with_for_update(skip_locked=True)).all()
        for row in rows:
            row.claimed_at = func.now()
        return [Command(r.id, r.warning_id, r.kind, dict(r.payload or {})) for r in rows]


def finish_command(db, command_id: int, error: str | None = None) -> None:
    with db.transaction() as s:
        s.execute(update(CbcCommand).where(CbcCommand.id == command_id).values(done_at=func.now(), error=error))


def unclaim_interrupted_commands(db) -> int:
    """Commands a centre claimed but never finished (it died): hand them to the next one."""
    with db.transaction() as s:
        return s.execute(update(CbcCommand).where(CbcCommand.claimed_at.is_not(None), CbcCommand.done_at.is_(None))
                         .values(claimed_at=None)).rowcount


def live_warning_ids(db) -> list[int]:
    """Warnings a restarted centre must take over (sent, not stopped)."""
    with db.read() as s:
        return list(s.scalars(select(CbcWarning.id).where(CbcWarning.state.in_(SENT_STATES))
                              .order_by(CbcWarning.id)))


def recorded_peers(db, warning_id: int) -> list[WarningPeerRecord]:
    with db.read() as s:
        row = s.execute(_warnings_query().where(CbcWarning.id == warning_id)).first()
        return list(_warning_record(s, *row).peers) if row is not None else []


def record_status(db, status: WarningStatus) -> None:
    """Store the engine's view of one warning: its state, each peer's state, each cell's result."""
    state = status.state.value
    with db.transaction() as s:
        # the update number is recorded with the content it numbers (record_update), never on its own
        values: dict[str, Any] = {"state": state, "reason": status.reason[:4000]}
        if state not in ("queued", "init"):
            values["sent_at"] = func.coalesce(CbcWarning.sent_at, func.now())
        if state in FINAL_STATES:
            values["finished_at"] = func.coalesce(CbcWarning.finished_at, func.now())
        s.execute(update(CbcWarning).where(CbcWarning.id == status.warning_id).values(**values))
        if status.peers:
            rows = [{"warning_id": status.warning_id, "peer": p.peer, "protocol": p.protocol, "state": p.state.value,
                     "reason": p.reason[:4000], "writes_sent": p.writes_sent} for p in status.peers.values()]
            stmt = insert(CbcWarningPeer).values(rows)
            changed = stmt.excluded
            s.execute(stmt.on_conflict_do_update(
                index_elements=["warning_id", "peer"],
                set_={"state": changed.state, "reason": changed.reason, "writes_sent": changed.writes_sent,
                      "updated_at": func.now()},
                where=text("(cbc_warning_peer.state, cbc_warning_peer.reason, cbc_warning_peer.writes_sent) "
                           "IS DISTINCT FROM (excluded.state, excluded.reason, excluded.writes_sent)")))
        cells = [{"warning_id": status.warning_id, "peer": p.peer, "cell": c.cell[:80], "language": c.language or "",
                  "outcome": c.outcome.value, "cause": c.cause, "broadcasts_completed": c.broadcasts_completed}
                 for p in status.peers.values() for c in p.cells]
        for chunk in _chunks(cells, 2000):
            stmt = insert(CbcWarningCell).values(chunk)
            changed = stmt.excluded
            s.execute(stmt.on_conflict_do_update(
                index_elements=["warning_id", "peer", "cell", "language"],
                set_={"outcome": changed.outcome, "cause": changed.cause,
                      "broadcasts_completed": changed.broadcasts_completed, "updated_at": func.now()},
                where=text("(cbc_warning_cell.outcome, cbc_warning_cell.cause, cbc_warning_cell.broadcasts_completed) "
                           "IS DISTINCT FROM (excluded.outcome, excluded.cause, excluded.broadcasts_completed)")))


def record_update(db, command_id: int, warning_id: int, content: WarningContent) -> None:
    """The engine accepted the update command `command_id`: from now on the warning is `content` (texts,
    parameters, update number) on every peer and in every re-send. Recorded with the command done, in one
    transaction, so a restarted centre adopts (and a later update builds on) what the peers broadcast; an
    update the centre never marked done is run again by the next centre, from the content recorded before."""
    with db.transaction() as s:
        _record_content(s, warning_id, content)
        s.execute(update(CbcCommand).where(CbcCommand.id == command_id).values(done_at=func.now(), error=None))


def record_content(db, warning_id: int, content: WarningContent) -> None:
    """An accepted update never went out (the warning ended first): the warning's previous content again."""
    with db.transaction() as s:
        _record_content(s, warning_id, content)


def _record_content(s, warning_id: int, content: WarningContent) -> None:
    warning = _locked_warning(s, warning_id)
    stored = list(warning.texts)
    texts = []
    for index, broadcast in enumerate(content.broadcasts):
        before = stored[index] if index < len(stored) else {}
        if before.get("language") == broadcast.language:  # as the operator gave it (null = the warning's)
            identifier = before.get("message_identifier")
        else:
            identifier = None if broadcast.message_identifier == warning.message_identifier \
                else broadcast.message_identifier
        texts.append({"language": broadcast.language, "text": broadcast.text, "message_identifier": identifier})
    warning.texts = texts
    warning.repetition_period = content.repetition_period
    warning.number_of_broadcasts = content.number_of_broadcasts
    warning.category = cbsp.Category(content.category).name.lower().replace("_", "-")
    warning.update_number = content.broadcasts[0].serial_number.update_number
    try:
        s.flush()
    except DBAPIError as exc:  # the guard (0013, 0014): only the system role (the centre) rewrites a warning
        if getattr(exc.orig, "sqlstate", None) != "42501":
            raise
        raise BroadcastRefused(first_line(exc.orig, "Refused by the database").rstrip(".") + ".") from None


def record_failure(db, warning_id: int, reason: str) -> None:
    """The centre could not send a warning at all (no peer connected, peer removed ...)."""
    with db.transaction() as s:
        s.execute(update(CbcWarning).where(CbcWarning.id == warning_id)
                  .values(state="failed", reason=reason[:4000]))


def record_stopped(db, warning_id: int, reason: str) -> None:
    """A stop for a warning that never reached a peer: it simply ends."""
    with db.transaction() as s:
        s.execute(update(CbcWarning).where(CbcWarning.id == warning_id)
                  .values(state="stopped", reason=reason[:4000], finished_at=func.now()))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
