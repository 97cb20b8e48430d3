"""Broadcast workstation service functions, shared by the GUI, the CLI and the tests. No Qt.

Lifecycle (DECISIONS.md, Cell broadcast): a message is made from a template (its 3GPP identifier comes
from there, never from the operator) as a draft → its creator submits it with their TOTP code →
"pending_approval" while the two-person rule is on, until a different user holding approve_cbc_message
approves (or rejects, with a reason) with their own code → "approved" → transmit hands it to the CBC
engine (cbc.store.submit_warning) → "active" → update (update number + 1) → stop ("cancelled") or the
warning period ends ("expired"). Submit / approve / reject are the database's SECURITY DEFINER functions
(omnidesk/db/sql/broadcast_0009.sql): the code check and the state change happen there together.

An update of an active message follows the same rule (broadcast_update_0013.sql): request_update takes the
requester's code; under the two-person rule another approver's code approves it (approve_update); then
send_update claims it and hands it to the engine, and the database applies it to the message in the same
transaction as the engine's command.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from sqlalchemy import Text, cast, func, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from omnidesk.auth import Actor
from omnidesk.broadcast import coverage, sites as sites_mod, texts as texts_mod
from omnidesk.broadcast.models import (BroadcastEvent, BroadcastMessage, BroadcastSetting, BroadcastTemplate,
                                       BroadcastUpdate, BroadcastZone, CATEGORIES, STATUSES)
from omnidesk.cbc import store as cbc_store
from omnidesk.cbc.engine import CbcInputError, check_message_identifier
from omnidesk.db.models import StaffUser
from omnidesk.errors import NotFound, PermissionDenied, ServiceError, ValidationError, first_line

CATEGORY_JSON = {"high-priority": "HIGH_PRIORITY", "background": "BACKGROUND", "normal": "NORMAL"}
MAX_EXPIRY_MINUTES = 7 * 24 * 60
# A transmit claim (or an update request's claim) older than this is from a workstation that died before
# the engine got the command; it can be released / taken over.
CLAIM_STALE = dt.timedelta(minutes=5)


class ApprovalRefused(ServiceError):
    """The database refused a lifecycle step (wrong state, the two-person rule, a locked account ...)."""


class CodeRefused(ApprovalRefused):
    """The TOTP code was wrong or already used; nothing changed except the count of wrong codes."""

    def __init__(self, message: str, kind: str, attempts_left: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.attempts_left = attempts_left


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The database's refusals (permission, the guard trigger, the approval functions) as ServiceErrors."""
    try:
        yield
    except DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        message = first_line(exc.orig, "Refused by the database.").rstrip(".") + "."
        if sqlstate == "42501":
            raise PermissionDenied(message) from exc
        if sqlstate and sqlstate.startswith("OD"):
            raise ApprovalRefused(message) from exc
        raise


# --------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class BroadcastSettings:
    two_person_rule: bool
    text_limit: int


def get_settings(db, actor: Actor) -> BroadcastSettings:
    with db.read() as s:
        row = s.get(BroadcastSetting, 1)
        if row is None:
            return BroadcastSettings(True, texts_mod.DEFAULT_TEXT_LIMIT)
        return BroadcastSettings(row.two_person_rule, row.text_limit)


def set_settings(db, actor: Actor, *, two_person_rule: bool | None = None, text_limit: int | None = None) -> BroadcastSettings:
    actor.require("manage_settings", "change the broadcast settings")
    if text_limit is not None and not (isinstance(text_limit, int) and 1 <= text_limit <= 1395):
        raise ValidationError({"text_limit": "The console's text limit is 1 to 1395 characters per language."})
    with _refusals(), db.transaction() as s:
        row = s.get(BroadcastSetting, 1, with_for_update=True)
        if two_person_rule is not None:
            row.two_person_rule = bool(two_person_rule)
        if text_limit is not None:
            row.text_limit = text_limit
    return get_settings(db, actor)


# --------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    id: int
    name: str
    scenario: str
    message_identifier: int
    category: str
    repetition_period: int
    number_of_broadcasts: int
    warning_period: int | None
    texts: list[dict[str, str]]
    active: bool

    @property
    def expiry_minutes(self) -> int | None:
        return None if self.warning_period is None else max(1, self.warning_period // 60)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scenario": self.scenario,
                "message_identifier": self.message_identifier, "category": self.category,
                "repetition_period": self.repetition_period, "number_of_broadcasts": self.number_of_broadcasts,
                "warning_period": self.warning_period, "expiry_minutes": self.expiry_minutes, "texts": self.texts,
                "active": self.active}


def _template(t: BroadcastTemplate) -> Template:
    return Template(t.id, t.name, t.scenario, t.message_identifier, t.category, t.repetition_period,
                    t.number_of_broadcasts, t.warning_period, list(t.texts), t.active)


def list_templates(db, actor: Actor, *, include_inactive: bool = False) -> list[Template]:
    _require_view(actor)
    with db.read() as s:
        query = select(BroadcastTemplate).order_by(BroadcastTemplate.name)
        if not include_inactive:
            query = query.where(BroadcastTemplate.active)
        return [_template(t) for t in s.scalars(query)]


def get_template(db, actor: Actor, template: str | int) -> Template:
    _require_view(actor)
    with db.read() as s:
        row = _find_template(s, template)
        return _template(row)


def _find_template(s, template: str | int) -> BroadcastTemplate:
    if isinstance(template, int) or (isinstance(template, str) and template.isdigit()):
        row = s.get(BroadcastTemplate, int(template))
    else:
        row = s.scalar(select(BroadcastTemplate).where(func.lower(BroadcastTemplate.name) == str(template).strip().lower()))
    if row is None:
        names = ", ".join(s.scalars(select(BroadcastTemplate.name).where(BroadcastTemplate.active)
                                    .order_by(BroadcastTemplate.name)))
        raise NotFound(f"There is no broadcast template {template!r}; the templates are: {names or 'none'}.")
    return row


def save_template(db, actor: Actor, *, name: str, scenario: str, message_identifier: Any, texts: Any,
                  category: str = "normal", repetition_period: int = 60, number_of_broadcasts: int = 0,
                  warning_period: int | None = 3600, active: bool = True, template_id: int | None = None) -> Template:
    """Create (template_id None) or change a template. Templates are reviewed settings: manage_settings."""
    actor.require("manage_settings", "create or change broadcast templates")
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "A template needs a name."
    if message_identifier in (None, ""):
        errors["message_identifier"] = ("A template needs its 3GPP message identifier (e.g. 4371 for an extreme "
                                        "alert); operators never type one, so the template must carry it.")
    else:
        try:
            message_identifier = check_message_identifier(int(message_identifier))
        except (CbcInputError, ValueError, TypeError) as exc:
            errors["message_identifier"] = str(exc) or f"{message_identifier!r} is not a message identifier."
    if category not in CATEGORIES:
        errors["category"] = f"The category is one of {', '.join(CATEGORIES)}."
    if not (isinstance(repetition_period, int) and 1 <= repetition_period <= 4095):
        errors["repetition_period"] = "The repetition period is 1 to 4095 seconds."
    if not (isinstance(number_of_broadcasts, int) and 0 <= number_of_broadcasts <= 65535):
        errors["number_of_broadcasts"] = "The number of broadcasts is 0 (until stopped) to 65535."
    if warning_period is not None and not (isinstance(warning_period, int) and warning_period > 0):
        errors["warning_period"] = "The warning period is a number of seconds above 0."
    try:
        checked = texts_mod.normalise(texts or [])
        texts_mod.check(checked, get_settings(db, actor).text_limit)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    with _refusals(), db.transaction() as s:
        row = BroadcastTemplate(created_by=actor.user_id) if template_id is None else s.get(BroadcastTemplate, template_id)
        if row is None:
            raise NotFound(f"There is no broadcast template #{template_id}.")
        row.name, row.scenario, row.message_identifier, row.category = name, scenario or "other", message_identifier, category
        row.repetition_period, row.number_of_broadcasts, row.warning_period = repetition_period, number_of_broadcasts, warning_period
        row.texts, row.active = checked, active
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise ValidationError({"name": f"A template named {name!r} exists already."}) from None
        return _template(row)


# --------------------------------------------------------------------------------------------- targeting


@dataclass(frozen=True)
class Coverage:
    """What a target reaches: the covered sites and, per peer, the cells the engine will be given."""

    shape: coverage.Shape | None
    sites: tuple[sites_mod.Site, ...]
    targets: dict[str, list[dict]] | None  # None = every cell of every connected peer
    unmapped: tuple[str, ...]
    summary: str

    @property
    def cell_count(self) -> int:
        return sum(len(v) for v in (self.targets or {}).values())

    def as_json(self) -> dict[str, Any]:
        return {"shape": None if self.shape is None else self.shape.to_geojson(), "summary": self.summary,
                "sites": [s.name for s in self.sites], "site_count": len(self.sites),
                "targets": self.targets, "unmapped_sites": list(self.unmapped)}


ALL_CELLS = "No target: every cell of every connected peer transmits (the whole network)."


def compute_coverage(db, actor: Actor, shape: coverage.Shape | Mapping | None, *,
                     site_list: Sequence[sites_mod.Site] | None = None) -> Coverage:
    """The sites and cells inside a shape (None = all cells). Refuses a shape that covers no site."""
    if shape is None:
        return Coverage(None, (), None, (), ALL_CELLS)
    if not isinstance(shape, coverage.Shape):
        shape = coverage.shape_from_json(shape)
    every = list(site_list) if site_list is not None else sites_mod.list_sites(db, actor)
    index = coverage.SiteIndex([s.lat for s in every], [s.lng for s in every])
    covered = tuple(every[i] for i in index.covered(shape))
    peers = {name: c.protocol for name, c in cbc_store.peer_configs(db).items()}
    targets, unmapped = sites_mod.targets_for(covered, peers)
    cells = sum(len(v) for v in targets.values())
    summary = (f"{shape.describe().capitalize()}: {len(covered):,} of {len(every):,} cell sites, "
               f"{cells:,} cells on {len(targets)} {'peer' if len(targets) == 1 else 'peers'}")
    if unmapped:
        summary += f" ({len(unmapped)} covered sites have no cell identity and are left out)"
    return Coverage(shape, covered, targets, tuple(unmapped), summary + ".")


# --------------------------------------------------------------------------------------------- zones


@dataclass(frozen=True)
class Zone:
    id: int
    name: str
    shape: coverage.Shape

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "shape": self.shape.kind, "geojson": self.shape.to_geojson(),
                "description": self.shape.describe()}


def save_zone(db, actor: Actor, name: str, shape: coverage.Shape | Mapping) -> Zone:
    actor.require("create_cbc_message", "save target zones")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": "A zone needs a name of 1 to 80 characters."})
    if not isinstance(shape, coverage.Shape):
        shape = coverage.shape_from_json(shape)
    with _refusals(), db.transaction() as s:
        if s.scalar(select(BroadcastZone.id).where(func.lower(BroadcastZone.name) == name.lower())):
            raise ValidationError({"name": f"A zone named {name!r} exists already; pick another name."})
        row = BroadcastZone(name=name, shape=shape.kind, geojson=shape.to_geojson(), created_by=actor.user_id)
        s.add(row)
        s.flush()
        return Zone(row.id, row.name, shape)


def list_zones(db, actor: Actor) -> list[Zone]:
    _require_view(actor)
    with db.read() as s:
        return [Zone(z.id, z.name, coverage.shape_from_json(z.geojson))
                for z in s.scalars(select(BroadcastZone).order_by(BroadcastZone.name))]


def get_zone(db, actor: Actor, name: str) -> Zone:
    for zone in list_zones(db, actor):
        if zone.name.lower() == (name or "").strip().lower():
            return zone
    raise NotFound(f"There is no saved zone {name!r}.")


# --------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    actor: str
    event: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class UpdateRequest:
    """A request to update an active message: new texts and/or parameters, who asked, who decided, and
    what became of it (pending_approval, approved, rejected, sent, failed)."""

    id: int
    message_id: int
    status: str
    requested_by: str
    requested_at: dt.datetime
    texts: list[dict[str, str]] | None
    number_of_broadcasts: int | None
    repetition_period: int | None
    approved_by: str | None
    approved_at: dt.datetime | None
    rejected_by: str | None
    reject_reason: str | None
    claimed_at: dt.datetime | None
    sent_at: dt.datetime | None
    update_number: int | None
    failure_reason: str | None

    def changes(self) -> dict[str, Any]:
        """As the CBC engine's update command carries them."""
        out: dict[str, Any] = {}
        if self.texts is not None:
            out["texts"] = self.texts
        if self.number_of_broadcasts is not None:
            out["number_of_broadcasts"] = self.number_of_broadcasts
        if self.repetition_period is not None:
            out["repetition_period"] = self.repetition_period
        return out

    def lines(self) -> list[str]:
        """What the update changes, one line each, for reading before the decision."""
        out = [f"{t['language']}: {t['text']}" for t in self.texts or []]
        if self.number_of_broadcasts is not None:
            out.append("Repetitions: " + ("until stopped or expired" if self.number_of_broadcasts == 0
                                          else str(self.number_of_broadcasts)))
        if self.repetition_period is not None:
            out.append(f"Every {self.repetition_period} s")
        return out

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "message": self.message_id, "status": self.status,
                "requested_by": self.requested_by, "requested_at": _iso(self.requested_at), **self.changes(),
                "approved_by": self.approved_by, "approved_at": _iso(self.approved_at),
                "rejected_by": self.rejected_by, "reject_reason": self.reject_reason,
                "sent_at": _iso(self.sent_at), "update_number": self.update_number,
                "failure_reason": self.failure_reason}


def _update_request(u: BroadcastUpdate, names: dict[int, str]) -> UpdateRequest:
    return UpdateRequest(u.id, u.message_id, u.status, names.get(u.requested_by, "?"), u.requested_at,
                         None if u.texts is None else list(u.texts), u.number_of_broadcasts, u.repetition_period,
                         names.get(u.approved_by), u.approved_at, names.get(u.rejected_by), u.reject_reason,
                         u.claimed_at, u.sent_at, u.update_number, u.failure_reason)


@dataclass(frozen=True)
class Message:
    id: int
    template: str | None
    message_identifier: int
    category: str
    repetition_period: int
    number_of_broadcasts: int
    warning_period: int | None
    texts: list[dict[str, str]]
    target: dict | None
    target_cells: dict[str, list] | None
    target_summary: str
    status: str
    created_by: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None
    rejected_by: str | None
    reject_reason: str | None
    transmitted_at: dt.datetime | None
    finished_at: dt.datetime | None
    warning_id: int | None
    update_count: int
    events: tuple[Event, ...] = ()
    warning: cbc_store.WarningRecord | None = None
    offline_peers: tuple[str, ...] = field(default=())
    updates: tuple["UpdateRequest", ...] = ()
    transmit_claimed_at: dt.datetime | None = None  # a workstation is handing it to the engine (or died doing so)

    @property
    def open_update(self) -> "UpdateRequest | None":
        """The update request waiting for approval or to be sent, if any (one at a time)."""
        return next((u for u in self.updates if u.status in ("pending_approval", "approved")), None)

    @property
    def expiry_minutes(self) -> int | None:
        return None if self.warning_period is None else max(1, self.warning_period // 60)

    def results(self) -> dict[str, Any]:
        """Per peer and per cell: acknowledged / failed (cause) / broadcasts completed; offline peers flagged."""
        if self.warning is None:
            return {"state": None, "peers": [], "cells_ok": 0, "cells_failed": 0, "offline_peers": list(self.offline_peers)}
        peers = []
        ok = failed = 0
        for p in self.warning.peers:
            good = sum(1 for c in p.cells if c.outcome == "success")
            bad = sum(1 for c in p.cells if c.outcome == "failure")
            ok, failed = ok + good, failed + bad
            peers.append({"peer": p.peer, "protocol": p.protocol, "state": p.state, "reason": p.reason,
                          "acknowledged": good, "failed": bad, "offline": p.peer in self.offline_peers,
                          "cells": [{"cell": c.cell, "language": c.language, "outcome": c.outcome, "cause": c.cause,
                                     "broadcasts_completed": c.broadcasts_completed} for c in p.cells]})
        return {"state": self.warning.state, "update_number": self.warning.update_number, "peers": peers,
                "cells_ok": ok, "cells_failed": failed, "offline_peers": list(self.offline_peers)}

    def as_json(self, *, with_results: bool = True) -> dict[str, Any]:
        data = {"id": self.id, "status": self.status, "template": self.template,
                "message_identifier": self.message_identifier, "category": self.category,
                "repetition_period": self.repetition_period, "number_of_broadcasts": self.number_of_broadcasts,
                "expiry_minutes": self.expiry_minutes, "texts": self.texts, "target": self.target,
                "target_cells": self.target_cells, "target_summary": self.target_summary,
                "created_by": self.created_by, "created_at": _iso(self.created_at),
                "submitted_at": _iso(self.submitted_at), "approved_by": self.approved_by,
                "approved_at": _iso(self.approved_at), "rejected_by": self.rejected_by,
                "reject_reason": self.reject_reason, "transmitted_at": _iso(self.transmitted_at),
                "finished_at": _iso(self.finished_at), "warning_id": self.warning_id,
                "update_count": self.update_count,
                "updates": [u.as_json() for u in self.updates],
                "events": [{"at": _iso(e.at), "actor": e.actor, "event": e.event, "detail": e.detail}
                           for e in self.events]}
        if with_results:
            data["results"] = self.results()
        return data


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _require_view(actor: Actor) -> None:
    if not any(actor.can(p) for p in ("view_cbc_message", "create_cbc_message", "approve_cbc_message")):
        actor.require("view_cbc_message", "see cell broadcasts")


def _names(s, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(s.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(wanted))).all())


def _message(s, m: BroadcastMessage, *, full: bool) -> Message:
    names = _names(s, m.created_by, m.approved_by, m.rejected_by)
    template = s.scalar(select(BroadcastTemplate.name).where(BroadcastTemplate.id == m.template_id)) if m.template_id else None
    events: tuple[Event, ...] = ()
    updates: tuple[UpdateRequest, ...] = ()
    if full:
        events = tuple(Event(e.at, e.actor_name, e.event, e.detail) for e in s.scalars(
            select(BroadcastEvent).where(BroadcastEvent.message_id == m.id).order_by(BroadcastEvent.id)))
        rows = list(s.scalars(select(BroadcastUpdate).where(BroadcastUpdate.message_id == m.id)
                              .order_by(BroadcastUpdate.id)))
        who = _names(s, *(i for u in rows for i in (u.requested_by, u.approved_by, u.rejected_by)))
        updates = tuple(_update_request(u, who) for u in rows)
    return Message(m.id, template, m.message_identifier, m.category, m.repetition_period, m.number_of_broadcasts,
                   m.warning_period, list(m.texts), m.target, m.target_cells, m.target_summary, m.status,
                   names.get(m.created_by, "?"), m.created_at, m.submitted_at, names.get(m.approved_by),
                   m.approved_at, names.get(m.rejected_by), m.reject_reason, m.transmitted_at, m.finished_at,
                   m.warning_id, m.update_count, events, updates=updates, transmit_claimed_at=m.transmit_claimed_at)


def get_message(db, actor: Actor, message_id: int) -> Message:
    _require_view(actor)
    with db.read() as s:
        m = s.get(BroadcastMessage, message_id)
        if m is None:
            raise NotFound(f"There is no broadcast message #{message_id}.")
        message = _message(s, m, full=True)
    if message.warning_id is None:
        return message
    warning = cbc_store.get_warning(db, _viewer(actor), message.warning_id)
    offline = tuple(p.name for p in cbc_store.list_peers(db, _viewer(actor))
                    if p.enabled and p.link_state != "up" and p.name in {w.peer for w in warning.peers})
    return _replace(message, warning=warning, offline_peers=offline)


def _viewer(actor: Actor) -> Actor:
    """The engine's store asks for view_cbc_message; an approver or creator sees the results they act on."""
    if actor.can("view_cbc_message"):
        return actor
    return Actor(actor.user_id, actor.username, actor.permissions | {"view_cbc_message"})


def _replace(message: Message, **changes) -> Message:
    import dataclasses

    return dataclasses.replace(message, **changes)


def create_message(db, actor: Actor, *, template: str | int, texts: Any = None, expiry_minutes: int | None = None,
                   repetitions: int | None = None, repetition_period: int | None = None,
                   target: coverage.Shape | Mapping | None = None, zone: str | None = None) -> Message:
    """A draft from a template: the operator may change the texts, expiry (minutes), repetitions and the
    target, never the message identifier. Nothing is stored when anything is wrong."""
    actor.require("create_cbc_message", "create cell broadcasts")
    settings = get_settings(db, actor)
    with db.read() as s:
        chosen = _template(_find_template(s, template))
    if not chosen.active:
        raise ValidationError({"template": f"The template {chosen.name!r} is retired; pick another."})
    texts = texts_mod.normalise(chosen.texts if texts is None else texts)
    errors: dict[str, str] = {}
    try:
        texts_mod.check(texts, settings.text_limit)
    except ValidationError as exc:
        errors.update(exc.errors)
    warning_period = chosen.warning_period
    if expiry_minutes is not None:
        if not (isinstance(expiry_minutes, int) and 1 <= expiry_minutes <= MAX_EXPIRY_MINUTES):
            errors["expiry_minutes"] = f"The expiry is 1 to {MAX_EXPIRY_MINUTES:,} minutes."
        else:
            warning_period = expiry_minutes * 60
    broadcasts = chosen.number_of_broadcasts if repetitions is None else repetitions
    if not (isinstance(broadcasts, int) and 0 <= broadcasts <= 65535):
        errors["repetitions"] = "Repetitions are 0 (until stopped or expired) to 65535."
    period = chosen.repetition_period if repetition_period is None else repetition_period
    if not (isinstance(period, int) and 1 <= period <= 4095):
        errors["repetition_period"] = "The repetition period is 1 to 4095 seconds."
    if errors:
        raise ValidationError(errors)
    if zone is not None and target is not None:
        raise ValidationError({"target": "Give either a drawn shape or a saved zone, not both."})
    if zone is not None:
        target = get_zone(db, actor, zone).shape
    reach = compute_coverage(db, actor, target)
    if reach.shape is not None and not reach.targets:
        raise ValidationError({"target": (f"{reach.summary} Nothing would be sent: draw the shape over cell sites "
                                          "with cell identities, or send to all cells.")})
    with _refusals(), db.transaction() as s:
        row = BroadcastMessage(
            template_id=chosen.id, message_identifier=chosen.message_identifier, category=chosen.category,
            repetition_period=period, number_of_broadcasts=broadcasts, warning_period=warning_period,
            texts=texts, target=None if reach.shape is None else reach.shape.to_geojson(),
            target_cells=reach.targets, target_summary=reach.summary, status="draft", created_by=actor.user_id)
        s.add(row)
        s.flush()
        _event(s, actor, row.id, "created", {"template": chosen.name, "target": reach.summary})
        message_id = row.id
    return get_message(db, actor, message_id)


def _event(s, actor: Actor, message_id: int, event: str, detail: dict | None = None) -> None:
    s.add(BroadcastEvent(message_id=message_id, actor_user_id=actor.user_id, actor_name=actor.username[:63],
                         event=event, detail=detail or {}))


def _answer(result: Any) -> str:
    result = result if isinstance(result, dict) else json.loads(result)
    if not result.get("ok"):
        raise CodeRefused(result.get("message", "Wrong code.").rstrip(".") + ".", result.get("error", "wrong_code"),
                          result.get("attempts_left"))
    return result["status"]


def submit(db, actor: Actor, message_id: int, code: str) -> Message:
    """The creator confirms their draft with their TOTP code (checked in the database)."""
    # the answer is read after the commit: a wrong code is counted and written to the history
    with _refusals(), db.transaction() as s:
        result = s.execute(text("SELECT omnidesk_broadcast_submit(:m, :c)"), {"m": message_id, "c": code}).scalar()
    _answer(result)
    return get_message(db, actor, message_id)


def approve(db, actor: Actor, message_id: int, code: str, *, approver: str | None = None) -> Message:
    """Approve with the approver's TOTP code. approver: the colleague whose code it is, when they confirm at
    this workstation; by default the signed-in user. (The CLI's connection must name them.)"""
    return _decide(db, actor, message_id, "approve", code, None, approver)


def reject(db, actor: Actor, message_id: int, code: str, reason: str, *, approver: str | None = None) -> Message:
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the message is rejected: its creator reads the reason."})
    return _decide(db, actor, message_id, "reject", code, reason, approver)


def _decide(db, actor, message_id, decision, code, reason, approver) -> Message:
    with _refusals(), db.transaction() as s:
        result = s.execute(text("SELECT omnidesk_broadcast_decide(:m, :d, :c, :r, :a)"),
                           {"m": message_id, "d": decision, "c": code, "r": reason, "a": approver}).scalar()
    _answer(result)
    return get_message(db, actor, message_id)


@dataclass(frozen=True)
class Review:
    """Everything that will go out, per language and per peer / cell count: the screen before Transmit."""

    message: Message
    languages: tuple[texts_mod.LanguageCount, ...]
    peers: dict[str, int] | None  # peer -> cells; None = all cells
    lines: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message.id, "status": self.message.status,
                "languages": [c.as_json() for c in self.languages], "peers": self.peers, "lines": list(self.lines)}


def review(db, actor: Actor, message_id: int) -> Review:
    message = get_message(db, actor, message_id)
    limit = get_settings(db, actor).text_limit
    counts = tuple(texts_mod.count(t["language"], t["text"], limit) for t in message.texts)
    peers = None if message.target_cells is None else {p: len(c) for p, c in sorted(message.target_cells.items())}
    lines = [f"Message #{message.id} ({message.template}), identifier {message.message_identifier}, "
             f"{message.category}, every {message.repetition_period} s, "
             + ("until stopped or expired" if message.number_of_broadcasts == 0 else f"{message.number_of_broadcasts} times")
             + (f", expires after {message.expiry_minutes} minutes" if message.expiry_minutes else "") + "."]
    lines += [f"{c.summary()}: {c.text}" for c in counts]
    if peers is None:
        lines.append(ALL_CELLS)
    else:
        lines.append(message.target_summary)
        lines += [f"  {peer}: {n} {'cell' if n == 1 else 'cells'}" for peer, n in peers.items()]
    return Review(message, counts, peers, tuple(lines))


def _warning_json(m: BroadcastMessage) -> dict[str, Any]:
    return {"message_identifier": m.message_identifier, "category": CATEGORY_JSON[m.category],
            "repetition_period": m.repetition_period, "number_of_broadcasts": m.number_of_broadcasts,
            "warning_period": m.warning_period,
            "texts": [{"language": t["language"], "text": t["text"]} for t in m.texts],
            "targets": m.target_cells}


def _claimed(message_id: int, claimed_at: dt.datetime, now: dt.datetime) -> str:
    """Why a message being transmitted elsewhere cannot be transmitted or stopped now, and what to do."""
    since = claimed_at.astimezone().strftime("%H:%M:%S")
    if now - claimed_at < CLAIM_STALE:
        return (f"Message #{message_id} is being transmitted from another workstation (since {since}); wait until "
                "it is active, then stop or update it.")
    return (f"Message #{message_id} was claimed for transmission at {since} by a workstation that never finished. "
            f"Check with `omnidesk cbc warnings` that it did not go out, then release the claim "
            f"(`omnidesk broadcast release {message_id}`, or ‘Release transmit claim’ in its detail) to transmit or "
            "cancel it.")


def release_transmit_claim(db, actor: Actor, message_id: int) -> Message:
    """Release the transmit claim of an approved message left by a workstation that died while transmitting
    (older than CLAIM_STALE); a younger claim is refused, as its workstation may still be sending."""
    actor.require("create_cbc_message", "release a transmit claim")
    with _refusals(), db.transaction() as s:
        m = s.get(BroadcastMessage, message_id, with_for_update=True)
        if m is None:
            raise NotFound(f"There is no broadcast message #{message_id}.")
        if m.status != "approved" or m.transmit_claimed_at is None:
            raise ApprovalRefused(f"Message #{message_id} is {m.status.replace('_', ' ')} and not claimed for "
                                  "transmission; there is nothing to release.")
        now = s.scalar(select(func.now()))
        if now - m.transmit_claimed_at < CLAIM_STALE:
            raise ApprovalRefused(_claimed(message_id, m.transmit_claimed_at, now) + " A claim is released only "
                                  f"after {int(CLAIM_STALE.total_seconds() // 60)} minutes.")
        m.transmit_claimed_at = None
    return get_message(db, actor, message_id)


def transmit(db, actor: Actor, message_id: int, *, require_centre: bool = True) -> Message:
    """Hand an approved message to the CBC engine. One transaction claims the message (locked, so two
    workstations never send it twice), queues its warning and send command, and makes it active: a failure
    anywhere leaves it approved with nothing sent. The database checks at commit that the warning says what
    was approved (migration 0016)."""
    actor.require("create_cbc_message", "transmit cell broadcasts")
    with _refusals(), db.transaction() as s:
        m = s.get(BroadcastMessage, message_id, with_for_update=True)
        if m is None:
            raise NotFound(f"There is no broadcast message #{message_id}.")
        if m.status != "approved":
            raise ApprovalRefused(f"Message #{message_id} is {m.status.replace('_', ' ')}; only an approved message "
                                  "is transmitted." + (" It waits for a second user's approval."
                                                       if m.status == "pending_approval" else ""))
        if m.transmit_claimed_at is not None:  # left by a workstation of an earlier version that died midway
            raise ApprovalRefused(_claimed(message_id, m.transmit_claimed_at, s.scalar(select(func.now()))))
        if require_centre:
            cbc_store.require_running_centre(db)
        m.transmit_claimed_at = func.now()
        s.flush()
        data = _warning_json(m)
        warning = cbc_store.queue_warning(s, actor, data, cbc_store.peer_configs(db))
        m.status, m.warning_id, m.transmitted_at = "active", warning.id, func.now()
        _event(s, actor, message_id, "transmitted",
               {"warning_id": warning.id, "message_code": warning.message_code,
                "peers": sorted(data["targets"]) if data["targets"] else "all"})
    return get_message(db, actor, message_id)


class UpdateFailed(ApprovalRefused):
    """The CBC engine refused an approved update; the request is marked failed and the message keeps its content."""


def update_request(db, actor: Actor, update_id: int) -> UpdateRequest:
    _require_view(actor)
    with db.read() as s:
        u = s.get(BroadcastUpdate, update_id)
        if u is None:
            raise NotFound(f"There is no update request #{update_id}.")
        return _update_request(u, _names(s, u.requested_by, u.approved_by, u.rejected_by))


def request_update(db, actor: Actor, message_id: int, code: str, *, texts: Any = None, repetitions: int | None = None,
                   repetition_period: int | None = None) -> Message:
    """Ask for new texts or parameters of an active message, confirmed with the requester's TOTP code (checked
    in the database). Under the two-person rule the request waits for another user's approval
    (approve_update); without it, it is approved by that confirmation and sent at once (same message code,
    update number + 1). Nothing is written when the input is wrong."""
    actor.require("update_cbc_message", "update cell broadcasts")
    current = get_message(db, actor, message_id)
    errors: dict[str, str] = {}
    if texts is not None:
        texts = texts_mod.normalise(texts)
        try:
            texts_mod.check(texts, get_settings(db, actor).text_limit)
        except ValidationError as exc:
            errors.update(exc.errors)
        languages = [t["language"] for t in current.texts]
        if not errors and [t["language"] for t in texts] != languages:
            errors["texts"] = (f"An update keeps the message's languages ({', '.join(languages)}, in that order); "
                               "stop it and send a new warning to change them.")
    if repetitions is not None and not (isinstance(repetitions, int) and 0 <= repetitions <= 65535):
        errors["repetitions"] = "Repetitions are 0 (until stopped or expired) to 65535."
    if repetition_period is not None and not (isinstance(repetition_period, int) and 1 <= repetition_period <= 4095):
        errors["repetition_period"] = "The repetition period is 1 to 4095 seconds."
    if errors:
        raise ValidationError(errors)
    if texts == current.texts:
        texts = None  # unchanged texts are not part of the update
    if texts is None and repetitions is None and repetition_period is None:
        raise ValidationError({"update": "The update changes nothing: give new texts or parameters."})
    if current.status != "active":
        raise ApprovalRefused(f"Message #{message_id} is {current.status.replace('_', ' ')}; only an active message "
                              "can be updated.")
    # the answer is read after the commit: a wrong code is counted and written to the history
    with _refusals(), db.transaction() as s:
        result = s.execute(text("SELECT omnidesk_broadcast_request_update(:m, :c, CAST(:t AS jsonb), :n, :p, :u)"),
                           {"m": message_id, "c": code, "t": None if texts is None else json.dumps(texts),
                            "n": repetitions, "p": repetition_period, "u": actor.username}).scalar()
    if _answer(result) == "approved":
        return send_update(db, actor, result["update"])
    return get_message(db, actor, message_id)


def approve_update(db, actor: Actor, update_id: int, code: str, *, approver: str | None = None) -> Message:
    """Approve an update request with the approver's TOTP code (a different user from its requester while
    the two-person rule is on). Sent at once when the approver may update broadcasts; otherwise it waits
    for a holder of update_cbc_message to send it (send_update)."""
    message = _decide_update(db, actor, update_id, "approve", code, None, approver)
    if actor.can("update_cbc_message") and (approver is None or approver.lower() == actor.username.lower()):
        return send_update(db, actor, update_id)
    return message


def reject_update(db, actor: Actor, update_id: int, code: str, reason: str, *, approver: str | None = None) -> Message:
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the update is rejected: its requester reads the reason."})
    return _decide_update(db, actor, update_id, "reject", code, reason, approver)


def _decide_update(db, actor, update_id, decision, code, reason, approver) -> Message:
    with _refusals(), db.transaction() as s:
        result = s.execute(text("SELECT omnidesk_broadcast_decide_update(:u, :d, :c, :r, :a)"),
                           {"u": update_id, "d": decision, "c": code, "r": reason, "a": approver}).scalar()
        message_id = s.scalar(select(BroadcastUpdate.message_id).where(BroadcastUpdate.id == update_id))
    _answer(result)
    return get_message(db, actor, message_id)


def send_update(db, actor: Actor, update_id: int) -> Message:
    """Hand an approved update request to the CBC engine. Claimed first, so two workstations never send it
    twice; the database applies it to the message (update_count + 1) in the same transaction as the engine's
    command. If the engine refuses, the request is marked failed with the reason and the message keeps its
    content (UpdateFailed)."""
    actor.require("update_cbc_message", "send updates of cell broadcasts")
    with _refusals(), db.transaction() as s:
        claim = s.execute(text("SELECT omnidesk_broadcast_claim_update(:u, :a)"),
                          {"u": update_id, "a": actor.username}).scalar()
    if not claim.get("ok"):
        raise ApprovalRefused(claim["message"].rstrip(".") + ".")
    message_id = claim["message"]
    try:
        cbc_store.request_update(db, actor, claim["warning"], claim["changes"])
    except (ServiceError, CbcInputError) as exc:
        reason = first_line(exc, "refused by the cell broadcast centre").rstrip(".")
        with _refusals(), db.transaction() as s:
            s.execute(text("SELECT omnidesk_broadcast_update_failed(:u, :r, :a)"),
                      {"u": update_id, "r": reason, "a": actor.username})
        raise UpdateFailed(f"Update #{update_id} of message #{message_id} was not sent: {reason}. The message keeps "
                           "its texts and parameters; ask for the update again once that is fixed.") from exc
    return get_message(db, actor, message_id)


def stop(db, actor: Actor, message_id: int) -> Message:
    """Stop an active message on every peer (KILL / Stop-Warning); a message not yet sent is archived."""
    with db.read() as s:
        m = s.get(BroadcastMessage, message_id)
        if m is None:
            raise NotFound(f"There is no broadcast message #{message_id}.")
        status, warning_id, creator, claimed_at = m.status, m.warning_id, m.created_by, m.transmit_claimed_at
        now = s.scalar(select(func.now()))
    if status in ("rejected", "expired", "cancelled"):
        raise ApprovalRefused(f"Message #{message_id} is already {status}.")
    if status == "approved" and claimed_at is not None:
        # another workstation is handing it to the engine: cancelling now would leave a warning on air that
        # no message follows. A claim that went stale must be released first (the message says how).
        raise ApprovalRefused(_claimed(message_id, claimed_at, now))
    if status == "active":
        actor.require("delete_cbc_message", "stop cell broadcasts")
        # Who asked goes in the history first: the centre may report the warning stopped (and the
        # message cancelled, by the trigger of 0009) before this function's last step runs.
        with _refusals(), db.transaction() as s:
            _event(s, actor, message_id, "stop_requested", {"warning_id": warning_id})
        cbc_store.request_stop(db, actor, warning_id)
    elif not (creator == actor.user_id and status in ("draft", "pending_approval")):
        actor.require("delete_cbc_message", "cancel cell broadcasts")
    with _refusals(), db.transaction() as s:
        m = s.get(BroadcastMessage, message_id, with_for_update=True)
        if status == "approved" and m.status == status and m.transmit_claimed_at is not None:
            raise ApprovalRefused(_claimed(message_id, m.transmit_claimed_at, s.scalar(select(func.now()))))
        if m.status == status:  # else the centre's report got here first and wrote the 'stopped' entry
            m.status, m.finished_at = "cancelled", func.now()
            _event(s, actor, message_id, "stopped" if status == "active" else "cancelled", {"was": status})
    return get_message(db, actor, message_id)


def history(db, actor: Actor, *, status: str | None = None, search: str | None = None, creator: str | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None, limit: int = 200) -> list[Message]:
    """Every message, newest first; filters combine. Nothing is ever deleted, so this is the whole record."""
    _require_view(actor)
    if status is not None and status not in STATUSES:
        raise ValidationError({"status": f"A status is one of {', '.join(STATUSES)}."})
    with db.read() as s:
        query = select(BroadcastMessage).order_by(BroadcastMessage.id.desc()).limit(limit)
        if status:
            query = query.where(BroadcastMessage.status == status)
        if search:
            like = f"%{search.strip()}%"
            query = query.where(or_(cast(BroadcastMessage.texts, Text).ilike(like),
                                    BroadcastMessage.target_summary.ilike(like),
                                    BroadcastMessage.reject_reason.ilike(like)))
        if creator:
            query = query.where(BroadcastMessage.created_by.in_(
                select(StaffUser.id).where(func.lower(StaffUser.username) == creator.strip().lower())))
        if since:
            query = query.where(BroadcastMessage.created_at >= since)
        if until:
            query = query.where(BroadcastMessage.created_at < until)
        return [_message(s, m, full=False) for m in s.scalars(query)]

