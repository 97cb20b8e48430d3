"""Provisioning use cases: queue a job, claim it, run its playbook, apply or roll back its effects.

A job is checked and queued in one transaction: the product, customer and chosen inventory are
validated (a refusal changes nothing) and the chosen items are held for the job (Assigned to the
customer, no service yet) so two orders cannot pick the same SIM. Any runner claims queued jobs
with FOR UPDATE SKIP LOCKED, so the desktop's runner and any number of `omnidesk worker` processes
share one queue and never run a job twice.

While the playbook runs, each task is written as an event (NOTIFY tells other workstations) and
handed to the caller's hooks as it happens. The playbook reports what it made with `set_stats`
(`omnidesk_services`, `omnidesk_transactions`, `omnidesk_ocs`, `omnidesk_service_updates`,
`omnidesk_inventory_updates`); on success those effects are applied in ONE transaction: the held
items go to the new service, the service is created active with its OCS account id, and the setup
and first monthly charges are posted. On failure the playbook's rescue has already cleaned the
outside systems; the database keeps the failed job and its events, and the held items go back to
stock. A cancel or a timeout kills the run (every process of it) and runs the playbook again with
action=deprovision to undo what the killed run did outside, recording those as rollback events.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor, load_actor
from omnidesk.billing import rules as brules
from omnidesk.billing.models import EmailOutbox
from omnidesk.catalog import rules as catalog_rules
from omnidesk.catalog import services as catalog_services
from omnidesk.catalog.models import Product, ProductInventoryType
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import BillingTransaction, Customer, Service
from omnidesk.errors import DatabaseUnavailable, NotFound, ServiceError, ValidationError, first_line
from omnidesk.inventory import service as inventory
from omnidesk.inventory.models import InventoryItem, InventoryTemplate
from omnidesk.provisioning import variables as pvars
from omnidesk.provisioning.models import (
    EVENT_FAILED, EVENT_IGNORED, EVENT_OK, EVENT_RUNNING, JOB_STATUSES, ProvisioningEvent, ProvisioningJob,
    ProvisioningSetting,
)
from omnidesk.provisioning.runner import RunResult, TaskEvent, run_playbook

log = logging.getLogger(__name__)
CHANNEL = "omnidesk_provisioning"
DEFAULT_TIMEOUT = 300
FAILURE_TEMPLATE = "provisioning_failure"
DEFAULT_SETTINGS: dict[str, Any] = {
    "ocs.cgrates": "http://127.0.0.1:2080/jsonrpc",  # CGRateS JSON-RPC endpoint
    "ocs.tenant": "default_tenant",
    "hss.url": "http://127.0.0.1:8080",  # HSS REST base URL
    "sms.url": "",  # SMS gateway; empty = no SMS
    "provisioning.failure_list": [],  # e-mail addresses told of every failed job
    "provisioning.default_timeout": DEFAULT_TIMEOUT,  # seconds, when the product sets none
    # jobs each desktop's runner process takes at once (its user's jobs); 0: desktops run none,
    # servers' `omnidesk worker` processes do
    "provisioning.desktop_jobs": 4,
}
# How a job's error says its undoing failed ("the rollback failed at task …"); JobView.undo_failed reads it.
UNDO_FAILED = "the {} failed"
EVENT_LABELS = {EVENT_OK: "ok", EVENT_RUNNING: "running", EVENT_FAILED: "failed", EVENT_IGNORED: "failed (ignored)"}
MAX_PAGE = 1000


# --- results ---


@dataclass(frozen=True)
class EventView:
    id: int
    job_id: int
    number: int
    phase: str
    name: str
    status: int
    output: dict
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def status_label(self) -> str:
        return EVENT_LABELS[self.status]


@dataclass(frozen=True)
class JobView:
    id: int
    action: str
    status: str
    product_id: int
    product_name: str
    customer_id: int
    customer_name: str
    site_id: int | None
    service_id: int | None
    playbook: str
    playbook_description: str
    task_count: int
    inventory: dict
    overrides: dict
    variables: dict
    service_uuid: str
    effects: dict
    timeout_seconds: int
    cancel_requested: bool
    claimed_by: str | None
    error: str
    initiated_by: str
    retry_of: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    events: tuple[EventView, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in ("success", "failed", "cancelled")

    @property
    def tasks_done(self) -> int:
        """The run's tasks that ended well before the first one that failed (a rescue's cleanup steps
        after a failure are not progress: "1 of 6 tasks", not "6 of 6", for a job that failed at its second)."""
        done = 0
        for e in sorted(self.events, key=lambda e: e.number):
            if e.phase != "run":
                continue
            if e.status == EVENT_FAILED:
                break
            done += e.status in (EVENT_OK, EVENT_IGNORED)
        return done

    @property
    def undo_failed(self) -> bool:
        """The playbook's rescue or the rollback run after a stop did not finish cleanly (its error says
        so in _Cleanup.text's words)."""
        return self.finished and any(UNDO_FAILED.format(what) in self.error for what in ("rollback", "cleanup"))


@dataclass
class Hooks:
    """Called from the runner's thread as things happen (the GUI turns them into Qt signals)."""

    on_event: list[Callable[[EventView], None]] = field(default_factory=list)
    on_job: list[Callable[[JobView], None]] = field(default_factory=list)

    def event(self, view: EventView) -> None:
        for fn in self.on_event:
            fn(view)

    def job(self, view: JobView) -> None:
        for fn in self.on_job:
            fn(view)


def _event_view(e: ProvisioningEvent) -> EventView:
    return EventView(e.id, e.job_id, e.event_number, e.phase, e.name, e.status, dict(e.output or {}), e.started_at,
                     e.finished_at)


def _job_view(s: Session, j: ProvisioningJob, *, events: bool = True, names: tuple[str, str] | None = None) -> JobView:
    if names is None:
        names = (s.scalar(select(Product.name).where(Product.id == j.product_id)) or "",
                 s.scalar(select(Customer.name).where(Customer.id == j.customer_id)) or "")
    product_name, customer_name = names
    evs: tuple[EventView, ...] = ()
    if events:
        evs = tuple(_event_view(e) for e in s.scalars(
            select(ProvisioningEvent).where(ProvisioningEvent.job_id == j.id).order_by(ProvisioningEvent.event_number)))
    return JobView(
        id=j.id, action=j.action, status=j.status, product_id=j.product_id, product_name=product_name,
        customer_id=j.customer_id, customer_name=customer_name, site_id=j.site_id, service_id=j.service_id,
        playbook=j.playbook, playbook_description=j.playbook_description, task_count=j.task_count,
        inventory=dict(j.inventory or {}), overrides=dict(j.overrides or {}), variables=dict(j.variables or {}),
        service_uuid=j.service_uuid, effects=dict(j.effects or {}), timeout_seconds=j.timeout_seconds,
        cancel_requested=j.cancel_requested, claimed_by=j.claimed_by, error=j.error, initiated_by=j.initiated_by,
        retry_of=j.retry_of, created_at=j.created_at, started_at=j.started_at, finished_at=j.finished_at, events=evs,
    )


# --- settings ---


def get_settings(db) -> dict[str, Any]:
    with db.read() as s:
        stored = {k: v for k, v in s.execute(select(ProvisioningSetting.key, ProvisioningSetting.value)).all()}
    return {**DEFAULT_SETTINGS, **stored}


def set_setting(db, actor: Actor, key: str, value: Any) -> dict[str, Any]:
    """Change one shared provisioning setting (endpoints, failure list, default timeout)."""
    actor.require("manage_settings", "change provisioning settings")
    if key not in DEFAULT_SETTINGS:
        raise ValidationError({"key": f"Unknown provisioning setting {key!r}; known: {', '.join(DEFAULT_SETTINGS)}."})
    if key == "provisioning.failure_list":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in value if "@" not in str(v)]
        if bad:
            raise ValidationError({key: f"Not an e-mail address: {bad[0]!r}."})
    elif key == "provisioning.default_timeout":
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise ValidationError({key: f"The timeout is a whole number of seconds; got {value!r}."}) from None
        if not 1 <= value <= 86400:
            raise ValidationError({key: "The timeout is between 1 second and 24 hours."})
    elif key == "provisioning.desktop_jobs":
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise ValidationError({key: f"The number of jobs at once is a whole number; got {value!r}."}) from None
        if not 0 <= value <= 32:
            raise ValidationError({key: "A desktop runs 0 to 32 jobs at once (0: leave them to the servers' workers)."})
    else:
        value = str(value).strip()
    with db.transaction() as s:
        row = s.get(ProvisioningSetting, key)
        if row is None:
            s.add(ProvisioningSetting(key=key, value=value))
        else:
            row.value = value
        activity.record(s, actor, action="setting", entity_type="provisioning_setting", entity_id=None,
                        summary=f"Provisioning setting {key} set", changes={key: value})
    return get_settings(db)


# --- playbooks ---


def playbook_path(name: str, playbooks_dir: Path | None = None) -> Path:
    folder = Path(playbooks_dir) if playbooks_dir else catalog_rules.default_playbooks_dir()
    for suffix in (".yaml", ".yml"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    raise ServiceError(f"There is no playbook {name} in {folder} (looked for {name}.yaml and {name}.yml).")


def describe_playbook(path: Path) -> tuple[str, int]:
    """(the play's name, the number of tasks in its main blocks), or a clear refusal for bad YAML."""
    try:
        plays = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ServiceError(f"Playbook {path.name} is not valid YAML{where}: {problem}; nothing was queued.") from None
    if not isinstance(plays, list) or not all(isinstance(p, dict) for p in plays):
        raise ServiceError(f"Playbook {path.name} is not a list of plays; nothing was queued.")

    name = next((str(p["name"]) for p in plays if p.get("name")), path.stem)
    return name[:200], len(_main_task_names(plays))


def _main_task_names(plays) -> list[str]:
    """The tasks a provision runs: every block's tasks except the deprovision branch's."""

    def names(tasks) -> list[str]:
        out: list[str] = []
        for t in tasks or []:
            if not isinstance(t, dict):
                continue
            if "block" in t:
                when = str(t.get("when", ""))
                if "deprovision" in when and "!=" not in when:
                    continue  # the deprovision branch does not run on a provision
                out += names(t.get("block"))
            else:
                out.append(str(t.get("name") or next(iter(t), "task")))
        return out

    return [n for p in plays or [] if isinstance(p, dict) for n in names(p.get("tasks"))]


def task_names(playbook: str, playbooks_dir: Path | None = None) -> list[str]:
    """The names of the tasks a provision runs (its main blocks), for a progress list's pending rows."""
    path = playbook_path(playbook, playbooks_dir)
    try:
        return _main_task_names(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError:
        return []


# --- queueing ---


def _required_types(s: Session, product_id: int) -> list[str]:
    return list(s.execute(
        select(InventoryTemplate.name).join(ProductInventoryType, ProductInventoryType.template_id == InventoryTemplate.id)
        .where(ProductInventoryType.product_id == product_id).order_by(ProductInventoryType.position)
    ).scalars())


def _timeout(product: Product, settings: Mapping[str, Any]) -> int:
    raw = (product.provisioning_json_vars or {}).get("provisioning_timeout", settings["provisioning.default_timeout"])
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ServiceError(f"{product.name}'s provisioning_timeout must be a number of seconds, not {raw!r}.") from None
    return max(1, min(value, 86400))


def _check_ids(values: Mapping[str, Any]) -> dict[str, int]:
    out = {}
    for name, value in values.items():
        try:
            out[str(name)] = int(value)
        except (TypeError, ValueError):
            raise ValidationError({"inventory": f"{name}: an inventory item id is a number, not {value!r}."}) from None
    return out


def request_provision(
    db, actor: Actor, customer_id: int, product_id: int, *, inventory_items: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None, site_id: int | None = None, service_id: int | None = None,
    auto_renew: bool | None = None, playbooks_dir: Path | None = None, retry_of: int | None = None,
) -> JobView:
    """Check an order and queue its provisioning job; the chosen items are held for it.

    A standalone or bundle product makes a new service (one item per inventory type it needs); an
    addon (top-up, boost) works on `service_id`, an existing live service of the customer.
    """
    actor.require("create_provision", "provision services")
    chosen = _check_ids(inventory_items or {})
    extra = dict(overrides or {})
    bad = sorted(set(extra) & pvars.SYSTEM_KEYS)
    if bad:
        raise ValidationError({"overrides": f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} set by OmniDesk "
                                            "and cannot be overridden."})
    settings = get_settings(db)
    with db.transaction() as s:
        product = s.get(Product, product_id)
        if product is None:
            raise NotFound(f"There is no product {product_id}; nothing was queued.")
        if not product.provisioning_play:
            raise ServiceError(f"{product.name} has no provisioning playbook; set one on the product before provisioning it.")
        path = playbook_path(product.provisioning_play, playbooks_dir)
        description, task_count = describe_playbook(path)
        customer = inventory.receiving_customer(s, customer_id)
        now = dt.datetime.now(dt.timezone.utc)
        if not catalog_rules.available_at(product.enabled, product.available_from, product.available_until, now):
            raise ServiceError(f"{product.name} is not available to order now (disabled or outside its availability window).")
        if not catalog_rules.fits_customer_type(product.residential, product.business, customer.account_type):
            raise ServiceError(f"{product.name} is not offered to {customer.account_type} customers.")
        if site_id is not None:
            catalog_services._site(s, site_id, customer.id)
        renew = None
        if product.category in catalog_rules.SERVICE_CATEGORIES:
            if service_id is not None:
                raise ValidationError({"service_id": f"{product.name} makes a new service; it is not added to service {service_id}."})
            renew = catalog_services._auto_renew_choice(product, auto_renew)
        else:
            if service_id is None:
                raise ValidationError({"service_id": f"{product.name} is an {product.category}: choose the service to add it to."})
            target = s.get(Service, service_id)
            if target is None or target.customer_id != customer.id:
                raise ValidationError({"service_id": f"Service {service_id} is not one of {customer.name}'s services."})
            if target.status not in catalog_rules.LIVE_STATUSES:
                raise ServiceError(f"Service {target.id} ({target.name}) is {catalog_rules.STATUS_LABELS[target.status]}; "
                                   "add-ons go on a live service.")
            renew = catalog_services._auto_renew_choice(product, auto_renew)
        required = _required_types(s, product.id)
        unknown = sorted(set(chosen) - set(required))
        if unknown:
            needs = f"; it needs {', '.join(required)}" if required else "; it needs no inventory"
            raise ValidationError({"inventory": f"{product.name} does not need {', '.join(repr(u) for u in unknown)}{needs}."})
        missing = [t for t in required if t not in chosen]
        if missing:
            raise ValidationError({"inventory": f"Choose {' and '.join('a ' + m for m in missing)} for {product.name}; "
                                                "nothing was queued."})
        job = ProvisioningJob(
            action="provision", status="queued", product_id=product.id, customer_id=customer.id, site_id=site_id,
            service_id=service_id, playbook=product.provisioning_play, playbook_description=description,
            task_count=task_count, inventory=chosen, overrides=extra, service_uuid=_new_uuid(service_id, s),
            auto_renew=renew, timeout_seconds=_timeout(product, settings), initiated_by=actor.username,
            retry_of=retry_of,
        )
        s.add(job)
        flush_or_refuse(s)
        for type_name, item_id in chosen.items():
            kind = s.scalar(select(InventoryTemplate.name).join(InventoryItem, InventoryItem.template_id == InventoryTemplate.id)
                            .where(InventoryItem.id == item_id))
            if kind is None:
                raise ValidationError({"inventory": f"There is no inventory item {item_id}; nothing was queued."})
            if kind != type_name:
                raise ValidationError({"inventory": f"Item {item_id} is a {kind}, not a {type_name}; nothing was queued."})
            inventory.assign_item(db, actor, item_id, customer.id, reason=f"held for provisioning job {job.id}", session=s)
        job.variables = pvars.redact(_variables(s, job, product, settings))
        activity.record(s, actor, action="provision_queued", entity_type="provisioning_job", entity_id=job.id,
                        customer_id=customer.id, summary=f"Queued provisioning of {product.name} (job {job.id})",
                        changes={"inventory": chosen})
        flush_or_refuse(s)
        return _job_view(s, job)


def request_deprovision(db, actor: Actor, service_id: int, *, playbooks_dir: Path | None = None) -> JobView:
    """Queue the service's playbook with action=deprovision; success deactivates the service."""
    actor.require("create_provision", "deprovision services")
    settings = get_settings(db)
    with db.transaction() as s:
        # Locked: two requests for one service queue one after the other, and the second sees the first's job.
        service = s.scalar(select(Service).where(Service.id == service_id).with_for_update())
        if service is None:
            raise NotFound(f"There is no service {service_id}; nothing was queued.")
        if service.status == "deactivated":
            raise ServiceError(f"Service {service.id} ({service.name}) is already deactivated.")
        play = service.deprovisioning_play or service.provisioning_play
        if not play or service.product_id is None:
            raise ServiceError(f"Service {service.id} ({service.name}) has no provisioning playbook to deprovision it with.")
        busy = s.execute(select(ProvisioningJob.id, ProvisioningJob.action, ProvisioningJob.status)
                         .where(ProvisioningJob.service_id == service.id, ProvisioningJob.status.in_(("queued", "running")))
                         .order_by(ProvisioningJob.id).limit(1)).first()
        if busy:
            kind = "deprovisioning" if busy.action == "deprovision" else "provisioning"
            raise ServiceError(f"Service {service.id} ({service.name}) already has {kind} job {busy.id} {busy.status}; "
                               "nothing was queued. Wait for it to finish (or cancel it) first.")
        description, task_count = describe_playbook(playbook_path(play, playbooks_dir))
        product = s.get(Product, service.product_id)
        job = ProvisioningJob(
            action="deprovision", status="queued", product_id=service.product_id, customer_id=service.customer_id,
            site_id=service.site_id, service_id=service.id, playbook=play, playbook_description=description,
            task_count=task_count, service_uuid=service.service_uuid or f"Service_{service.id}",
            timeout_seconds=_timeout(product, settings), initiated_by=actor.username,
        )
        s.add(job)
        flush_or_refuse(s)
        job.variables = pvars.redact(_variables(s, job, product, settings))
        activity.record(s, actor, action="deprovision_queued", entity_type="provisioning_job", entity_id=job.id,
                        customer_id=service.customer_id,
                        summary=f"Queued deprovisioning of service {service.id} ({service.name}) (job {job.id})")
        return _job_view(s, job)


def _new_uuid(service_id: int | None, s: Session) -> str:
    if service_id is not None:
        existing = s.scalar(select(Service.service_uuid).where(Service.id == service_id))
        if existing:
            return existing
    return f"Service_{uuid.uuid4().hex[:12]}"


def _variables(s: Session, job: ProvisioningJob, product: Product, settings: Mapping[str, Any]) -> dict[str, Any]:
    """product < request < system < inventory (the source's merge order)."""
    product_vars = {k: v for k, v in (product.provisioning_json_vars or {}).items() if k != "provisioning_timeout"}
    items = {}
    for type_name, item_id in (job.inventory or {}).items():
        item = s.get(InventoryItem, item_id)
        if item is not None:
            items[type_name] = {"id": item.id, **{f"itemtext{i}": getattr(item, f"itemtext{i}", None)
                                                  for i in range(1, 6)}}
    if job.service_id is not None:  # a deprovision or an add-on: the service's own items
        linked = s.execute(select(InventoryItem, InventoryTemplate.name)
                           .join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
                           .where(InventoryItem.service_id == job.service_id).order_by(InventoryItem.id)).all()
        for item, type_name in linked:
            items.setdefault(type_name, {"id": item.id, **{f"itemtext{i}": getattr(item, f"itemtext{i}", None)
                                                           for i in range(1, 6)}})
    system = {
        "job_id": job.id, "action": job.action, "product_id": product.id, "customer_id": job.customer_id,
        "product_name": product.name, "product_slug": product.slug, "service_type": product.service_type,
        "retail_cost": str(product.retail_cost), "wholesale_cost": str(product.wholesale_cost),
        "retail_setup_cost": str(product.retail_setup_cost), "wholesale_setup_cost": str(product.wholesale_setup_cost),
        "tax_percentage": str(product.tax_percentage), "contract_days": product.contract_days,
        "service_uuid": job.service_uuid, "initiating_user": job.initiated_by,
        "auto_renew": bool(job.auto_renew) if job.auto_renew is not None else False,
        "omnidesk": {"ocs_url": settings["ocs.cgrates"], "ocs_tenant": settings["ocs.tenant"],
                     "hss_url": settings["hss.url"], "sms_url": settings["sms.url"], "inventory": items},
    }
    if job.service_id is not None:
        system["service_id"] = job.service_id
    if job.site_id is not None:
        system["site_id"] = job.site_id
    return pvars.merge(product_vars, job.overrides or {}, system, dict(job.inventory or {}))


# --- claiming and running ---


def claim_next(db, runner_name: str, *, initiated_by: str | None = None) -> int | None:
    """Take the oldest queued job nobody else is taking (FOR UPDATE SKIP LOCKED); None when there is none.

    `initiated_by`: only jobs that username ordered (a desktop's own runner works with its user's
    rights, so it leaves other people's jobs to their desktops and to the servers' workers)."""
    query = select(ProvisioningJob).where(ProvisioningJob.status == "queued")
    if initiated_by is not None:
        query = query.where(ProvisioningJob.initiated_by == initiated_by)
    with db.transaction() as s:
        job = s.scalar(query.order_by(ProvisioningJob.id).limit(1).with_for_update(skip_locked=True))
        if job is None:
            return None
        job.status, job.claimed_by, job.started_at = "running", runner_name, func.now()
        flush_or_refuse(s)
        return job.id


_local_cancels: dict[int, threading.Event] = {}
_local_lock = threading.Lock()


# A cleanup step that is the playbook's deliberate closing `fail` ("End the run as failed") is not a broken step.
_FAIL_MODULES = frozenset({"fail", "ansible.builtin.fail", "ansible.legacy.fail"})
# How long a runner whose database went away waits for it to come back to record the job's end;
# past that the job is left to `fail_stale_jobs`.
DATABASE_WAIT = 600.0
# The rollback run after a stop gets at most this long (and never more than the job's timeout).
ROLLBACK_TIMEOUT = 120


class _NotOurs(Exception):
    """The job is no longer this runner's to finish (a stale-job sweep or another runner ended it)."""

    def __init__(self, view: JobView):
        super().__init__(f"provisioning job {view.id} is already {view.status}")
        self.view = view


def _still_ours(job: ProvisioningJob | None, claim: tuple[str | None, dt.datetime | None] | None) -> bool:
    """The job is running and, when `claim` is given, still under that claim (claimed_by, started_at)."""
    return (job is not None and job.status == "running"
            and (claim is None or (job.claimed_by, job.started_at) == tuple(claim)))


def _failure_message(output: Mapping[str, Any]) -> str:
    msg = output.get("msg") or output.get("stderr") or ""
    answer = output.get("json")
    if isinstance(answer, dict) and answer.get("error"):
        msg = f"the service answered HTTP {output.get('status')} with error {answer['error']!r}"
    return str(msg)[:1000]


def _detail(exc: BaseException) -> str:
    return first_line(exc, exc.__class__.__name__)[:500]


def _lost_text(exc: BaseException) -> str:
    """Why a run was stopped because its events could not be recorded (the start of the job's error)."""
    if isinstance(exc, (DatabaseUnavailable, OperationalError)):
        return f"The database went away mid-run ({_detail(exc)}), so the run was stopped"
    if isinstance(exc, (DBAPIError, ServiceError)):
        return f"The database refused to record the run ({_detail(exc)}), so it was stopped"
    return f"Recording the run failed ({exc.__class__.__name__}: {_detail(exc)}), so it was stopped"


class _Recorder:
    """Writes each task event as it happens and tells the hooks; never raises into the runner.

    An event the database refuses stays pending (written, in order, by the next event or `flush`
    once the database answers again); the first refusal is kept in `lost` and given to `on_lost`
    (the main run is then stopped and rolled back).
    """

    def __init__(self, db, job_id: int, hooks: Hooks, secrets: list[str], phase: str, start_number: int,
                 on_lost: Callable[[BaseException], None] | None = None):
        self.db, self.job_id, self.hooks, self.secrets, self.phase = db, job_id, hooks, secrets, phase
        self.number = start_number
        self.on_lost = on_lost
        self.rows: dict[str, int] = {}
        self.numbers: dict[str, int] = {}
        self.pending: dict[str, tuple[int, TaskEvent, dict, dt.datetime]] = {}
        self.started: dict[str, dt.datetime] = {}
        self.first_failure: tuple[str, str] | None = None
        # Every task that ended failed (2) or failed-but-ignored (3): (name, status, module, message).
        self.failures: list[tuple[str, int, str, str]] = []
        self.lost: BaseException | None = None
        self.last_error: BaseException | None = None

    def __call__(self, ev: TaskEvent) -> None:
        output = pvars.redact(ev.output)
        if self.secrets:
            output = json.loads(pvars.redact_text(json.dumps(output, default=str), self.secrets))
        if ev.skipped:
            output["skipped"] = True
        if ev.status in (EVENT_FAILED, EVENT_IGNORED):
            message = _failure_message(output)
            self.failures.append((ev.name, ev.status, ev.action, message))
            if ev.status == EVENT_FAILED and self.first_failure is None:
                self.first_failure = (ev.name, message)
        if ev.status == EVENT_RUNNING or ev.key not in self.numbers:
            self.number += 1
            self.numbers[ev.key] = self.number
            self.started[ev.key] = ev.at
        self.pending[ev.key] = (self.numbers[ev.key], ev, output, self.started[ev.key])
        self.flush()

    def flush(self) -> bool:
        """Write what is pending, in order, one transaction each; False (the error kept) when one failed.

        While the database is away the unwritten events stay pending, for when it is back; an event
        the database refuses outright is dropped (the job's error says why the run was stopped).
        """
        written = True
        for key in list(self.pending):
            number, ev, output, started = self.pending[key]
            try:
                with self.db.transaction() as s:
                    row_id = self.rows.get(key)
                    row = s.get(ProvisioningEvent, row_id) if row_id is not None else None
                    if row is None:
                        row = ProvisioningEvent(job_id=self.job_id, event_number=number, phase=self.phase,
                                                name=ev.name[:300], status=ev.status, output=output, started_at=started)
                        s.add(row)
                    else:
                        row.status, row.output = ev.status, output
                    if ev.status != EVENT_RUNNING:
                        row.finished_at = ev.at
                    flush_or_refuse(s)
                    s.refresh(row)
                    view = _event_view(row)
            except Exception as exc:  # noqa: BLE001 — kept and reported; the run is never left unwatched
                self.last_error, written = exc, False
                if self.lost is None:
                    self.lost = exc
                    if self.on_lost is not None:
                        self.on_lost(exc)
                if isinstance(exc, DatabaseUnavailable):
                    return False
                log.warning("provisioning job %s: event %r could not be recorded: %s", self.job_id, ev.name, exc)
                self.pending.pop(key, None)
                continue
            self.rows[key] = view.id
            self.pending.pop(key, None)
            try:
                self.hooks.event(view)
            except Exception:  # noqa: BLE001 — a display's trouble does not stop a provisioning run
                log.exception("a provisioning event hook failed")
        return written

    def cleanup_failure(self, *, after_first_failure: bool) -> tuple[str, str] | None:
        """The first cleanup step that failed, ignored or not (its outside system may not be clean).

        In the run phase the cleanup is the playbook's rescue: what ran after the first failure,
        apart from its deliberate closing `fail`.
        """
        failures = self.failures
        if after_first_failure:
            first = next((i for i, f in enumerate(failures) if f[1] == EVENT_FAILED), None)
            failures = failures[first + 1:] if first is not None else []
        for name, _status, module, message in failures:
            if module not in _FAIL_MODULES:
                return name, message
        return None


@dataclass(frozen=True)
class _Cleanup:
    """How the undoing went: the playbook's rescue, or the rollback run after a stop."""

    ok: bool
    task: str = ""
    detail: str = ""

    def text(self, what: str = "rollback") -> str:
        """'the rollback failed at task 'X': why' (only meaningful when not ok)."""
        where = f" at task {self.task!r}" if self.task else ""
        why = f": {self.detail.rstrip('.')}" if self.detail else ""
        return UNDO_FAILED.format(what) + where + why


def _secrets_of(variables: Mapping[str, Any]) -> list[str]:
    return pvars.secret_values(variables)


def execute_job(db, job_id: int, *, hooks: Hooks | None = None, playbooks_dir: Path | None = None,
                cancel: threading.Event | None = None) -> JobView:
    """Run a claimed job to its end: success with its effects applied, or failed/cancelled and rolled back."""
    hooks = hooks or Hooks()
    cancel = cancel or threading.Event()
    with _local_lock:
        _local_cancels[job_id] = cancel
    try:
        return _execute(db, job_id, hooks, playbooks_dir, cancel)
    finally:
        with _local_lock:
            _local_cancels.pop(job_id, None)


def _when_database_back(recorders: list[_Recorder], finish: Callable[[], JobView]) -> JobView:
    """Write what the recorders kept and then `finish`, waiting (up to DATABASE_WAIT) for a lost database."""
    deadline = time.monotonic() + DATABASE_WAIT
    pause = 0.2
    while True:
        try:
            for recorder in recorders:
                if not recorder.flush() and isinstance(recorder.last_error, DatabaseUnavailable):
                    raise recorder.last_error
            return finish()
        except DatabaseUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _execute(db, job_id: int, hooks: Hooks, playbooks_dir: Path | None, cancel: threading.Event) -> JobView:
    settings = get_settings(db)
    # One connection at a time per job thread: a worker runs many jobs on a small pool.
    with db.read() as s:
        job = s.get(ProvisioningJob, job_id)
        if job is None:
            raise NotFound(f"There is no provisioning job {job_id}.")
        product = s.get(Product, job.product_id)
        variables = _variables(s, job, product, settings)
        initiated_by = job.initiated_by
        timeout = job.timeout_seconds
        action, playbook = job.action, job.playbook
        claim = (job.claimed_by, job.started_at)  # the finish must find the job still under this claim
        first_view = _job_view(s, job, events=job.status != "running")
    if first_view.status != "running":
        return first_view  # not claimed (or already ended): nothing for this runner to run
    actor = load_actor(db, initiated_by)
    hooks.job(first_view)
    recorders: list[_Recorder] = []

    def fail(reason: str, **kw: Any) -> JobView:
        return _when_database_back(recorders, lambda: _finish_failed(db, actor, job_id, reason, hooks, settings,
                                                                     claim=claim, **kw))

    try:
        path = playbook_path(playbook, playbooks_dir)
    except ServiceError as exc:
        return fail(str(exc))
    secrets = _secrets_of(variables)
    last_check = [0.0]
    lost: list[BaseException] = []  # the database refused mid-run
    taken: list[str] = []  # the job was ended by someone else (the stale sweep) mid-run

    def lose(exc: BaseException) -> None:
        if not lost:
            lost.append(exc)

    def should_cancel() -> bool:
        if lost or taken or cancel.is_set():
            return True
        now = time.monotonic()
        if now - last_check[0] >= 1.0:  # a cancel from another workstation: at most one query a second
            last_check[0] = now
            try:
                with db.read() as s:
                    row = s.execute(select(ProvisioningJob.cancel_requested, ProvisioningJob.status,
                                           ProvisioningJob.claimed_by, ProvisioningJob.started_at)
                                    .where(ProvisioningJob.id == job_id)).one_or_none()
            except Exception as exc:  # noqa: BLE001 — stop and roll back; never raise into ansible-runner
                lose(exc)
                return True
            if row is None or row.status != "running" or (row.claimed_by, row.started_at) != claim:
                taken.append(row.status if row is not None else "deleted")
                return True
            if row.cancel_requested:
                cancel.set()
                return True
        return False

    recorder = _Recorder(db, job_id, hooks, secrets, "run", 0, on_lost=lose)
    recorders.append(recorder)

    def rollback() -> _Cleanup:
        outcome, rolled = _rollback_run(db, job_id, path, variables, hooks, secrets, recorder.number, timeout)
        recorders.append(rolled)
        return outcome

    try:
        result = run_playbook(path, variables, on_task=recorder, should_cancel=should_cancel, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 — the runner could not start: the job fails with the reason
        result = RunResult("failed", None, {}, "", f"The playbook could not be started: {exc}")
    if result.callback_error is not None:
        lose(result.callback_error)
    effects = _effects(result.stats)
    if taken:
        return _late(db, actor, job_id, claim, rollback() if action == "provision" else None, recorders, settings)
    if lost:
        what = _lost_text(lost[0])
        if action != "provision":
            return fail(f"{what} part-way: the service may be partly removed from the network; deprovision it again.",
                        effects=effects)
        cleanup = rollback()
        return fail(f"{what} and rolled back." if cleanup.ok else f"{what}; {cleanup.text()}.", effects=effects,
                    cleanup=cleanup)
    if result.status == "successful":
        try:
            return _when_database_back(recorders, lambda: _finish_success(db, actor, job_id, effects, hooks, claim=claim))
        except _NotOurs as ended:
            if ended.view.status == "success" and (ended.view.claimed_by, ended.view.started_at) == claim:
                return ended.view  # our own commit, whose answer the lost connection swallowed
            return _late(db, actor, job_id, claim, rollback() if action == "provision" else None, recorders, settings)
        except ServiceError as exc:
            reason = f"The playbook succeeded but its results could not be recorded: {exc}"
        except Exception as exc:  # noqa: BLE001
            reason = f"The playbook succeeded but its results could not be recorded: {exc.__class__.__name__}: {exc}"
        if action != "provision":
            return fail(reason, effects=effects)
        cleanup = rollback()
        reason = reason.rstrip(".") + (". It was rolled back." if cleanup.ok else f"; {cleanup.text()}.")
        return fail(reason, effects=effects, cleanup=cleanup)
    if result.status in ("canceled", "timeout"):
        first = "Cancelled" if result.status == "canceled" else f"Timed out after {timeout} s"
        status = "cancelled" if result.status == "canceled" else "failed"
        if action != "provision":
            return fail(f"{first}; the deprovision was stopped part-way: the service may be partly removed from the "
                        "network; deprovision it again.", status=status, effects=effects)
        cleanup = rollback()
        reason = f"{first}; the run was stopped and rolled back." if cleanup.ok else f"{first}; the run was stopped, but {cleanup.text()}."
        return fail(reason, status=status, effects=effects, cleanup=cleanup)
    cleanup = None
    if recorder.first_failure:
        name, msg = recorder.first_failure
        reason = f"Task {name!r} failed: {str(msg).rstrip('.')}." if msg else f"Task {name!r} failed."
        if action == "provision":
            broken = recorder.cleanup_failure(after_first_failure=True)
            cleanup = _Cleanup(True) if broken is None else _Cleanup(False, *broken)
            reason += " The playbook's cleanup ran." if cleanup.ok else f" But {cleanup.text('cleanup')}."
    elif recorder.number == 0:
        reason = f"The playbook did not run: {result.error or 'ansible-playbook failed before its first task'}"
    else:
        reason = result.error or "The playbook failed."
    return fail(pvars.redact_text(reason, secrets), effects=effects, cleanup=cleanup)


def _rollback_run(db, job_id: int, path: Path, variables: dict[str, Any], hooks: Hooks, secrets: list[str],
                  after: int, timeout: int) -> tuple[_Cleanup, _Recorder]:
    """The playbook again with action=deprovision: its cleanup undoes what the stopped run did outside.

    Any cleanup step that fails (ignored or not), a run that fails, or one that cannot finish in
    time is a failed rollback: the outside systems may still hold what the run made.
    """
    recorder = _Recorder(db, job_id, hooks, secrets, "rollback", after)
    try:
        result = run_playbook(path, {**variables, "action": "deprovision", "rollback": True}, on_task=recorder,
                              timeout=min(timeout, ROLLBACK_TIMEOUT))
    except Exception as exc:  # noqa: BLE001
        return _Cleanup(False, "", f"it could not be started: {exc}"), recorder
    broken = recorder.cleanup_failure(after_first_failure=False)
    if broken is not None:
        return _Cleanup(False, *broken), recorder
    if result.status != "successful":
        why = {"timeout": f"it did not finish within {min(timeout, ROLLBACK_TIMEOUT)} s"}.get(result.status, result.error)
        return _Cleanup(False, "", pvars.redact_text(why or f"it ended {result.status}", secrets)), recorder
    return _Cleanup(True), recorder


def _late(db, actor: Actor, job_id: int, claim: tuple, cleanup: _Cleanup | None, recorders: list[_Recorder],
          settings: Mapping[str, Any]) -> JobView:
    """This runner finished after its job was ended by someone else (the stale sweep): their outcome
    stands; the job's error says what this runner did after, and when its rollback failed the job's
    items still in stock are taken out of it (Out Of Service, with a note)."""

    def note() -> JobView:
        with db.transaction() as s:
            job = s.scalar(select(ProvisioningJob).where(ProvisioningJob.id == job_id).with_for_update())
            if cleanup is None:
                after = "it did not undo what it had done outside."
            elif cleanup.ok:
                after = "what it had made outside was rolled back."
            else:
                after = f"{cleanup.text()}."
                kept = _quarantine(s, actor, job, _in_stock(s, job), f"provisioning job {job.id}'s late {cleanup.text()}")
                if kept:
                    after += (f" {_items_text(kept)} kept out of stock (Out Of Service) until the outside systems are "
                              f"checked for {job.service_uuid}.")
            job.error = f"{job.error}\nIts runner {claim[0]} finished later; {after}".strip()[:4000]
            if cleanup is not None and not cleanup.ok:
                _failure_mail(s, job, settings, cleanup)
            flush_or_refuse(s)
            s.refresh(job)
            return _job_view(s, job)

    return _when_database_back(recorders, note)


def _effects(stats: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("omnidesk_services", "omnidesk_transactions", "omnidesk_ocs", "omnidesk_service_updates",
            "omnidesk_inventory_updates")
    return {k[len("omnidesk_"):]: stats[k] for k in keys if k in stats}


def _amount(value: Any, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        raise ServiceError(f"{label}: the playbook reported {value!r}, not an amount.") from None
    if not amount.is_finite() or amount < 0:
        raise ServiceError(f"{label}: the playbook reported {value!r}, not an amount.")
    return amount.quantize(Decimal("0.01"))


def _finish_success(db, actor: Actor, job_id: int, effects: dict[str, Any], hooks: Hooks, *,
                    claim: tuple | None = None) -> JobView:
    """Apply the reported effects in one transaction; any refusal rolls all of them back.

    The job row is locked first and must still be running under `claim`: a job the stale sweep (or
    anyone) has ended meanwhile raises _NotOurs and nothing is applied.
    """
    with db.transaction() as s:
        job = s.scalar(select(ProvisioningJob).where(ProvisioningJob.id == job_id).with_for_update())
        if not _still_ours(job, claim):
            if job is None:
                raise NotFound(f"There is no provisioning job {job_id}.")
            raise _NotOurs(_job_view(s, job))
        product = s.get(Product, job.product_id)
        created: list[int] = []
        if job.action == "deprovision":
            children = list(s.scalars(select(Service.id).where(Service.bundled_parent_id == job.service_id,
                                                               Service.status != "deactivated").order_by(Service.id)))
            for service_id in [*children, job.service_id]:
                catalog_services.change_service_status(db, actor, service_id, "deactivated",
                                                       reason=f"deprovisioned by provisioning job {job.id}", session=s)
        else:
            services = list(effects.get("services") or [])
            if product.category in catalog_rules.SERVICE_CATEGORIES and not services:
                raise ServiceError(f"playbook {job.playbook} reported no service (omnidesk_services) for {product.name}.")
            held = sorted((job.inventory or {}).values())
            for index, spec in enumerate(services):
                spec = dict(spec or {})
                name = str(spec.get("name") or product.name)[:200]
                if index == 0:
                    if held:
                        inventory.release(db, actor, held, reason=f"handed to the service of provisioning job {job.id}",
                                          session=s)
                    view = catalog_services.create_service(
                        db, actor, job.customer_id, product.id, site_id=job.site_id, name=name,
                        inventory_items=dict(job.inventory or {}), auto_renew=job.auto_renew, status="active",
                        session=s)
                    catalog_services.record_service_uuid(db, actor, view.id, str(spec.get("service_uuid") or job.service_uuid),
                                                         session=s)
                    created.append(view.id)
                else:
                    parent = s.get(Service, created[0])
                    child = Service(
                        customer_id=job.customer_id, site_id=job.site_id, product_id=product.id, name=name,
                        service_type=str(spec.get("service_type") or product.service_type)[:40], icon=product.icon,
                        status="active", active_date=parent.active_date, deactivate_date=parent.deactivate_date,
                        contract_end_date=parent.contract_end_date,
                        retail_cost=_amount(spec.get("retail_cost", 0), "Service retail cost"),
                        wholesale_cost=_amount(spec.get("wholesale_cost", 0), "Service wholesale cost"),
                        service_uuid=str(spec["service_uuid"])[:64] if spec.get("service_uuid") else None,
                        provisioning_play=product.provisioning_play,
                        provisioning_json_vars=dict(product.provisioning_json_vars or {}),
                        deprovisioning_play=product.provisioning_play, bundled_parent_id=parent.id,
                    )
                    s.add(child)
                    flush_or_refuse(s)
                    activity.record(s, actor, action="create", entity_type="service", entity_id=child.id,
                                    customer_id=job.customer_id,
                                    summary=f"Added service {child.name}, part of {parent.name} (provisioning job {job.id})")
                    created.append(child.id)
            if created:
                job.service_id = created[0]
            target = job.service_id
            for update_spec in effects.get("service_updates") or []:
                _apply_service_update(s, actor, job, dict(update_spec or {}))
            for spec in effects.get("inventory_updates") or []:
                _apply_inventory_update(s, job, dict(spec or {}))
            for spec in effects.get("transactions") or []:
                spec = dict(spec or {})
                index = int(spec.get("service", 0) or 0)
                service_id = created[index] if index < len(created) else target
                amount = _amount(spec.get("amount"), f"Charge {spec.get('title')!r}")
                if amount == 0:
                    continue
                pct = product.tax_percentage or Decimal("0")
                try:
                    title = brules.title(spec.get("title"))
                except Exception as exc:  # FieldError
                    raise ServiceError(f"A charge the playbook reported has no usable title: {exc}") from None
                # Inserted without RETURNING: a provisioning role may post a product's charges without
                # the right to read customers' transactions (row security hides them from it).
                tax = brules.tax_amount(amount, pct)
                s.execute(insert(BillingTransaction.__table__).inline().values(
                    customer_id=job.customer_id, kind="charge", title=title,
                    description=str(spec.get("description") or "")[:2000], retail_cost=amount,
                    wholesale_cost=_amount(spec.get("wholesale_cost", 0), "Wholesale cost"), tax_percentage=pct,
                    tax_amount=tax, service_id=service_id, site_id=job.site_id))
                activity.record(s, actor, action="add_charge", entity_type="transaction", entity_id=None,
                                customer_id=job.customer_id,
                                summary=f"Charge '{title}' {amount} + tax {tax} posted by provisioning job {job.id}",
                                changes={"retail_cost": amount, "tax_percentage": pct, "tax_amount": tax,
                                         "service_id": service_id})
        job.effects = pvars.redact(effects)
        job.status, job.finished_at, job.error = "success", func.now(), ""
        flush_or_refuse(s)
        activity.record(s, actor, action="provisioned" if job.action == "provision" else "deprovisioned",
                        entity_type="provisioning_job", entity_id=job.id, customer_id=job.customer_id,
                        summary=f"Provisioning job {job.id} ({job.action} {product.name}) succeeded",
                        changes={"services": created} if created else None)
        s.refresh(job)
        view = _job_view(s, job)
    hooks.job(view)
    return view


def _apply_service_update(s: Session, actor: Actor, job: ProvisioningJob, spec: dict[str, Any]) -> None:
    service = s.scalar(select(Service).where(Service.id == job.service_id).with_for_update())
    if service is None:
        raise ServiceError("the playbook reported a service update but the job has no service.")
    changes: dict[str, list] = {}
    days = spec.get("extend_days")
    if days not in (None, ""):
        start = max(service.deactivate_date or dt.datetime.now(dt.timezone.utc), dt.datetime.now(dt.timezone.utc))
        new_end = start + dt.timedelta(days=int(days))
        changes["deactivate_date"] = [service.deactivate_date, new_end]
        service.deactivate_date = new_end
    if "auto_renew" in spec:
        value = str(spec["auto_renew"]).lower() in ("true", "1", "yes")
        changes["auto_renew"] = [service.auto_renew, value]
        service.auto_renew = value
    flush_or_refuse(s)
    if changes:
        activity.record(s, actor, action="update", entity_type="service", entity_id=service.id,
                        customer_id=service.customer_id,
                        summary=f"Service {service.name} updated by provisioning job {job.id}", changes=changes)


def _apply_inventory_update(s: Session, job: ProvisioningJob, spec: dict[str, Any]) -> None:
    type_name = spec.pop("type", None)
    item_id = (job.inventory or {}).get(type_name)
    if item_id is None:
        raise ServiceError(f"the playbook updated a {type_name!r} the job was not given.")
    item = s.get(InventoryItem, item_id)
    for key, value in spec.items():
        if key.startswith("itemtext") and key[8:].isdigit() and 3 <= int(key[8:]) <= 20:
            setattr(item, key, str(value)[:200])
        else:
            raise ServiceError(f"the playbook may set itemtext3-itemtext20 of an item, not {key!r}.")
    flush_or_refuse(s)


def _finish_failed(db, actor: Actor, job_id: int, reason: str, hooks: Hooks, settings: Mapping[str, Any], *,
                   status: str = "failed", effects: dict | None = None, claim: tuple | None = None,
                   cleanup: _Cleanup | None = None) -> JobView:
    """The job failed or was cancelled: only the job and its events stay; held items go back to stock.

    The job row is locked and must still be running (under `claim` when given); a job already ended
    is returned as it is, so a late finisher never overwrites an outcome nor releases items twice.
    When the cleanup failed (`cleanup.ok` false) the held items are not put back in stock: they are
    kept Out Of Service with a note, and the failure e-mail says so.
    """
    view, _ = _fail_if_ours(db, actor, job_id, reason, settings, status=status, effects=effects, claim=claim,
                            cleanup=cleanup)
    hooks.job(view)
    return view


def _fail_if_ours(db, actor: Actor, job_id: int, reason: str, settings: Mapping[str, Any], *, status: str,
                  effects: dict | None, claim: tuple | None, cleanup: _Cleanup | None) -> tuple[JobView, bool]:
    """(the job, whether this call ended it)."""
    with db.transaction() as s:
        job = s.scalar(select(ProvisioningJob).where(ProvisioningJob.id == job_id).with_for_update())
        if job is None:
            raise NotFound(f"There is no provisioning job {job_id}.")
        if not _still_ours(job, claim):
            return _job_view(s, job), False
        word = "failed" if status == "failed" else "cancelled"
        if cleanup is not None and not cleanup.ok:
            kept = _quarantine(s, actor, job, _held(s, job), f"provisioning job {job.id} {word} and {cleanup.text()}")
            if kept:
                reason = (f"{reason.rstrip()} {_items_text(kept)} kept out of stock (Out Of Service) until the "
                          f"outside systems are checked for {job.service_uuid}.")
        else:
            _release_held(s, actor, job, f"provisioning job {word}")
        job.status, job.error, job.finished_at = status, reason[:4000], func.now()
        if effects:
            job.effects = pvars.redact(effects)
        # Any event left "running" (the run was killed mid-task) ends as failed.
        s.execute(update(ProvisioningEvent).where(ProvisioningEvent.job_id == job.id, ProvisioningEvent.status == EVENT_RUNNING)
                  .values(status=EVENT_FAILED, finished_at=func.now()))
        product = s.get(Product, job.product_id)
        if status == "failed" or (cleanup is not None and not cleanup.ok):
            _failure_mail(s, job, settings, cleanup)
        flush_or_refuse(s)
        activity.record(s, actor, action=f"provision_{status}", entity_type="provisioning_job", entity_id=job.id,
                        customer_id=job.customer_id,
                        summary=f"Provisioning job {job.id} ({job.action} {product.name}) {status}: {job.error[:300]}")
        s.refresh(job)
        return _job_view(s, job), True


def _failure_mail(s: Session, job: ProvisioningJob, settings: Mapping[str, Any], cleanup: _Cleanup | None) -> None:
    """Tell `provisioning.failure_list` (through the outbox) about the job as it now stands."""
    recipients = [{"Email": a, "Name": ""} for a in settings.get("provisioning.failure_list") or []]
    if not recipients:
        return
    product, customer = s.get(Product, job.product_id), s.get(Customer, job.customer_id)
    rollback_failed = cleanup is not None and not cleanup.ok
    s.add(EmailOutbox(customer_id=job.customer_id, template=FAILURE_TEMPLATE, recipients=recipients,
                      variables={"job_id": job.id, "action": job.action, "customer_id": customer.id,
                                 "customer_name": customer.name, "product_name": product.name,
                                 "playbook": job.playbook, "service_id": job.service_id, "error": job.error,
                                 "status": job.status, "rollback_failed": rollback_failed,
                                 "rollback_failed_task": cleanup.task if rollback_failed else None,
                                 "service_uuid": job.service_uuid}))


def _held(s: Session, job: ProvisioningJob) -> list[int]:
    """The job's items still held for it (Assigned to its customer, no service), locked."""
    if job.action != "provision":
        return []
    held = sorted(int(i) for i in (job.inventory or {}).values())
    return list(s.scalars(select(InventoryItem.id).where(InventoryItem.id.in_(held), InventoryItem.item_state == "assigned",
                                                         InventoryItem.service_id.is_(None),
                                                         InventoryItem.customer_id == job.customer_id)
                          .order_by(InventoryItem.id).with_for_update()))


def _release_held(s: Session, actor: Actor, job: ProvisioningJob, reason: str) -> list[int]:
    still = _held(s, job)
    if still:
        inventory.release(None, actor, still, reason=f"{reason} (job {job.id})", session=s)
    return still


def _in_stock(s: Session, job: ProvisioningJob) -> list[int]:
    """The job's items that are back in stock (New or Used, nobody's), locked."""
    if job.action != "provision":
        return []
    ids = sorted(int(i) for i in (job.inventory or {}).values())
    return list(s.scalars(select(InventoryItem.id).where(InventoryItem.id.in_(ids), InventoryItem.item_state.in_(("new", "used")))
                          .order_by(InventoryItem.id).with_for_update()))


def _quarantine(s: Session, actor: Actor, job: ProvisioningJob, kept: list[int], why: str) -> list[int]:
    """A cleanup failed: `kept` go Out Of Service (a held item stays linked to the customer), with a note.

    Not back in stock: the OCS or HSS may still hold the SIM or number. Staff check the outside
    systems and then set the item to Used (Out Of Service → Used), which returns it to stock.
    """
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = (f"[{stamp}] Kept out of stock: {why}. The OCS/HSS may still hold it (service {job.service_uuid}); "
            "check them, then set the item to Used to return it to stock.")
    for item_id in kept:
        inventory.change_state(None, actor, item_id, "out_of_service", reason=note[:500], session=s)
        item = s.get(InventoryItem, item_id)
        item.notes = f"{item.notes}\n{note}".strip() if item.notes else note
    flush_or_refuse(s)
    return kept


def _items_text(ids: list[int]) -> str:
    return f"Item {ids[0]} is" if len(ids) == 1 else f"Items {', '.join(map(str, ids))} are"


# --- operator actions ---


def cancel_job(db, actor: Actor, job_id: int) -> JobView:
    """A queued job is cancelled at once; a running one is stopped (its process tree killed) and rolled back."""
    actor.require("update_provision", "cancel provisioning jobs")
    with db.transaction() as s:
        job = s.scalar(select(ProvisioningJob).where(ProvisioningJob.id == job_id).with_for_update())
        if job is None:
            raise NotFound(f"There is no provisioning job {job_id}.")
        if job.status in ("success", "failed", "cancelled"):
            raise ServiceError(f"Provisioning job {job.id} has already ended ({job.status}); there is nothing to cancel.")
        if job.status == "queued":
            _release_held(s, actor, job, "provisioning job cancelled")
            job.status, job.error, job.finished_at = "cancelled", f"Cancelled by {actor.username} before it ran.", func.now()
        else:
            job.cancel_requested = True
        flush_or_refuse(s)
        activity.record(s, actor, action="provision_cancel", entity_type="provisioning_job", entity_id=job.id,
                        customer_id=job.customer_id, summary=f"Cancel of provisioning job {job.id} requested")
        s.refresh(job)
        view = _job_view(s, job)
    with _local_lock:
        local = _local_cancels.get(job_id)
    if local is not None:
        local.set()
    return view


def retry_job(db, actor: Actor, job_id: int, *, playbooks_dir: Path | None = None) -> JobView:
    """Queue a failed or cancelled job again with the same order (its items are held again)."""
    actor.require("create_provision", "retry provisioning jobs")
    with db.read() as s:
        job = s.get(ProvisioningJob, job_id)
        if job is None:
            raise NotFound(f"There is no provisioning job {job_id}.")
        if job.status not in ("failed", "cancelled"):
            raise ServiceError(f"Provisioning job {job.id} is {job.status}; only a failed or cancelled job can be retried.")
        order = (job.action, job.customer_id, job.product_id, dict(job.inventory or {}), dict(job.overrides or {}),
                 job.site_id, job.service_id, job.auto_renew)
    action, customer_id, product_id, items, extra, site_id, service_id, renew = order
    if action == "deprovision":
        return request_deprovision(db, actor, service_id, playbooks_dir=playbooks_dir)
    with db.read() as s:
        product = s.get(Product, product_id)
        makes_service = product is not None and product.category in catalog_rules.SERVICE_CATEGORIES
    return request_provision(db, actor, customer_id, product_id, inventory_items=items, overrides=extra,
                             site_id=site_id, service_id=None if makes_service else service_id, auto_renew=renew,
                             playbooks_dir=playbooks_dir, retry_of=job_id)


def get_job(db, actor: Actor, job_id: int) -> JobView:
    actor.require("view_provision", "view provisioning jobs")
    with db.read() as s:
        job = s.get(ProvisioningJob, job_id)
        if job is None:
            raise NotFound(f"There is no provisioning job {job_id}.")
        return _job_view(s, job)


def list_jobs(db, actor: Actor, *, status: str | None = None, customer_id: int | None = None, search: str = "",
              initiated_by: str | None = None, offset: int = 0, limit: int = 100) -> list[JobView]:
    """Jobs newest first; search matches the playbook's description, the product or the customer;
    initiated_by: only the jobs that username ordered."""
    actor.require("view_provision", "view provisioning jobs")
    stmt = (select(ProvisioningJob, Product.name, Customer.name).join(Product, Product.id == ProvisioningJob.product_id)
            .join(Customer, Customer.id == ProvisioningJob.customer_id).order_by(ProvisioningJob.id.desc()))
    if status:
        if status not in JOB_STATUSES:
            raise ValidationError({"status": f"A job is {', '.join(JOB_STATUSES)}; not {status!r}."})
        stmt = stmt.where(ProvisioningJob.status == status)
    if customer_id is not None:
        stmt = stmt.where(ProvisioningJob.customer_id == customer_id)
    if initiated_by is not None:
        stmt = stmt.where(ProvisioningJob.initiated_by == initiated_by)
    q = search.strip().lower()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(func.lower(ProvisioningJob.playbook_description).like(like),
                              func.lower(Product.name).like(like), func.lower(Customer.name).like(like)))
    with db.read() as s:  # one query for the page (names joined in), however many jobs it shows
        rows = s.execute(stmt.offset(max(0, offset)).limit(max(1, min(limit, MAX_PAGE)))).all()
        return [_job_view(s, j, events=False, names=(product, customer)) for j, product, customer in rows]


def fail_stale_jobs(db, actor: Actor, *, grace_seconds: int = 60) -> list[int]:
    """Running jobs whose runner vanished are failed and their items released; returns the ones it failed.

    A job is stale past its timeout, the rollback a live runner may still be running after it, and
    `grace_seconds`. Each is failed only under the claim that was judged stale (row lock, status and
    claim re-checked): a runner that finishes first keeps its outcome, and one that finishes later
    finds the job ended and rolls back instead of creating a service.
    """
    allowed = (ProvisioningJob.timeout_seconds + func.least(ProvisioningJob.timeout_seconds, ROLLBACK_TIMEOUT)
               + grace_seconds)
    with db.read() as s:
        stale = s.execute(select(ProvisioningJob.id, ProvisioningJob.claimed_by, ProvisioningJob.started_at).where(
            ProvisioningJob.status == "running",
            ProvisioningJob.started_at + func.make_interval(0, 0, 0, 0, 0, 0, allowed) < func.now(),
        ).order_by(ProvisioningJob.id)).all()
    settings = get_settings(db)
    failed = []
    for job_id, claimed_by, started_at in stale:
        _, ended = _fail_if_ours(db, actor, job_id, "Its runner stopped before the job finished (timed out).", settings,
                                 status="failed", effects=None, claim=(claimed_by, started_at), cleanup=None)
        if ended:
            failed.append(job_id)
    return failed


# --- runners ---


class Worker:
    """Claims and runs queued jobs on `concurrency` threads until stopped (a desktop's runner process and `omnidesk worker`).

    Idle threads wake on the NOTIFY of a new job (`wake_on_notify`), and look again every
    `idle_wait` seconds in case a notice was missed while the listening connection was down."""

    def __init__(self, db, *, concurrency: int = 1, name: str | None = None, hooks: Hooks | None = None,
                 playbooks_dir: Path | None = None, idle_wait: float = 0.5, stop_when_idle: bool = False,
                 initiated_by: str | None = None, wake_on_notify: bool = False):
        self.db, self.concurrency, self.hooks, self.playbooks_dir = db, max(1, concurrency), hooks or Hooks(), playbooks_dir
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.idle_wait, self.stop_when_idle, self.initiated_by = idle_wait, stop_when_idle, initiated_by
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._notices = 0  # counts job notices, so a notice between a claim and the wait is not slept through
        self._threads: list[threading.Thread] = []
        self._listener = None
        if wake_on_notify:
            from omnidesk.db.notify import ChangeListener

            self._listener = ChangeListener(db.raw_connection_string(), (CHANNEL,), self._notice)
        self.ran: list[int] = []
        self._ran_lock = threading.Lock()

    def _notice(self, notice: dict) -> None:
        if notice.get("table") == "provisioning_job":
            with self._wake:
                self._notices += 1
                self._wake.notify_all()

    def _idle(self, seconds: float, seen: int) -> None:
        with self._wake:
            if not self._stop.is_set() and self._notices == seen:
                self._wake.wait(seconds)

    def start(self) -> "Worker":
        if self._listener is not None:
            self._listener.start()
        for n in range(self.concurrency):
            t = threading.Thread(target=self._loop, args=(f"{self.name}/{n + 1}",), name=f"omnidesk-provision-{n + 1}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, wait: float | None = None) -> None:
        """No more claims; jobs already running finish (a cut-off run would leave outside systems half-done)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._listener is not None:
            self._listener.stop()
        for t in self._threads:
            t.join(wait)

    def join(self) -> None:
        for t in self._threads:
            t.join()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _loop(self, runner_name: str) -> None:
        while not self._stop.is_set():
            seen = self._notices
            try:
                job_id = claim_next(self.db, runner_name, initiated_by=self.initiated_by)
            except Exception as exc:  # noqa: BLE001 — the database went away: wait and try again
                log.warning("runner %s could not claim a job (trying again in 2 s): %s", runner_name, exc)
                job_id = None
                self._stop.wait(2.0)
            if job_id is None:
                if self.stop_when_idle:
                    return
                self._idle(self.idle_wait, seen)
                continue
            with self._ran_lock:
                self.ran.append(job_id)
            try:
                execute_job(self.db, job_id, hooks=self.hooks, playbooks_dir=self.playbooks_dir)
            except Exception as exc:  # noqa: BLE001 — never leave a claimed job running
                try:
                    _finish_failed(self.db, Actor(None, "worker", frozenset({"admin"})), job_id,
                                   f"The runner failed: {exc.__class__.__name__}: {exc}", self.hooks, get_settings(self.db))
                except Exception:  # noqa: BLE001
                    pass


class JobWatcher:
    """Hands jobs' events and status changes to hooks as any runner records them (NOTIFY, no polling).

    For a desktop following jobs that another process runs (an `omnidesk worker` beside it or on a
    server): each notice on the provisioning channel is read back on the listener's thread and
    given to the hooks; `job_ids` limits it to some jobs (None: all).
    """

    def __init__(self, db, hooks: Hooks, job_ids: set[int] | None = None):
        from omnidesk.db.notify import ChangeListener

        self.db, self.hooks = db, hooks
        self.job_ids = set(job_ids) if job_ids is not None else None
        self._listener = ChangeListener(db.raw_connection_string(), (CHANNEL,), self._notice)

    def start(self) -> "JobWatcher":
        self._listener.start()
        return self

    def stop(self) -> None:
        self._listener.stop()

    def follow(self, job_id: int) -> None:
        if self.job_ids is not None:
            self.job_ids.add(job_id)

    def _notice(self, notice: dict) -> None:
        job_id = notice.get("job_id")
        if self.job_ids is not None and job_id not in self.job_ids:
            return
        with self.db.read() as s:
            if notice.get("table") == "provisioning_event":
                row = s.get(ProvisioningEvent, notice.get("id"))
                if row is not None:
                    view = _event_view(row)
                    self.hooks.event(view)
            else:
                job = s.get(ProvisioningJob, job_id)
                if job is not None:
                    self.hooks.job(_job_view(s, job, events=job.status in ("success", "failed", "cancelled")))


def run_job_now(db, actor: Actor, job_id: int, *, hooks: Hooks | None = None, playbooks_dir: Path | None = None) -> JobView:
    """Claim one particular queued job and run it here (the CLI's --wait, the wizard)."""
    actor.require("update_provision", "run provisioning jobs")
    with db.transaction() as s:
        job = s.scalar(select(ProvisioningJob).where(ProvisioningJob.id == job_id)
                       .with_for_update(skip_locked=True))
        taken = job is None
        if job is not None:
            if job.status != "queued":
                return _job_view(s, job)
            job.status, job.claimed_by, job.started_at = "running", f"{socket.gethostname()}:{os.getpid()}", func.now()
            flush_or_refuse(s)
    if taken:
        return wait_for_job(db, actor, job_id)  # another runner has it (NotFound when there is no such job)
    return execute_job(db, job_id, hooks=hooks, playbooks_dir=playbooks_dir)


def wait_for_job(db, actor: Actor, job_id: int, *, timeout: float = 3600.0, interval: float = 0.5) -> JobView:
    """For a command line waiting on a job another runner has (not the GUI: it gets hooks and NOTIFY)."""
    end = time.monotonic() + timeout
    while True:
        view = get_job(db, actor, job_id)
        if view.finished or time.monotonic() > end:
            return view
        time.sleep(interval)
