"""`omnidesk provision …`, `omnidesk deprovision` and `omnidesk worker`: provisioning from a shell.

Every command calls omnidesk/provisioning/service.py, so a refusal here is the desktop's message and
nothing is queued when an order is refused. `--wait` runs the job in this process and prints each
task as it happens; without it the job waits in the queue for a runner (`omnidesk worker`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading

STATUS_MARKS = {0: "ok", 1: "running", 2: "FAILED", 3: "failed (ignored)"}
JOB_STATUSES = ("queued", "running", "success", "failed", "cancelled")  # models.JOB_STATUSES


def add_commands(commands: argparse._SubParsersAction, positive) -> None:
    prov = commands.add_parser("provision", help="provisioning jobs: run a product for a customer, list, show, cancel, retry") \
        .add_subparsers(dest="provision_command", metavar="action", required=True)
    run = prov.add_parser("run", help="queue a product's playbook for a customer (and run it here with --wait)")
    run.add_argument("--customer", type=positive, required=True, metavar="ID")
    run.add_argument("--product", type=positive, required=True, metavar="ID")
    run.add_argument("--inventory", action="append", default=[], metavar="TYPE=ID",
                     help="the item picked for an inventory type, e.g. 'SIM Card=12' (once per type)")
    run.add_argument("--var", action="append", default=[], metavar="KEY=VALUE",
                     help="override a product variable (the value may be JSON, e.g. data_gb=50)")
    run.add_argument("--service", type=positive, metavar="ID", help="for an add-on or top-up: the service it goes on")
    run.add_argument("--site", type=positive, metavar="ID")
    run.add_argument("--auto-renew", choices=("yes", "no"), help="the answer when the product asks")
    run.add_argument("--wait", action="store_true", help="run the job in this process and print each task")
    run.add_argument("--json", action="store_true", help="print JSON for scripts")
    run.set_defaults(run=provision_run)

    listing = prov.add_parser("list", help="jobs, newest first")
    listing.add_argument("--status", choices=JOB_STATUSES)
    listing.add_argument("--customer", type=positive, metavar="ID")
    listing.add_argument("--search", default="")
    listing.add_argument("--limit", type=positive, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(run=provision_list)

    show = prov.add_parser("show", help="one job with its events")
    show.add_argument("id", type=positive, metavar="JOB_ID")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=provision_show)

    cancel = prov.add_parser("cancel", help="cancel a queued job, or stop a running one and roll it back")
    cancel.add_argument("id", type=positive, metavar="JOB_ID")
    cancel.add_argument("--json", action="store_true", help="print JSON for scripts")
    cancel.set_defaults(run=provision_cancel)

    retry = prov.add_parser("retry", help="queue a failed or cancelled job again")
    retry.add_argument("id", type=positive, metavar="JOB_ID")
    retry.add_argument("--wait", action="store_true", help="run it in this process and print each task")
    retry.add_argument("--json", action="store_true", help="print JSON for scripts")
    retry.set_defaults(run=provision_retry)

    settings = prov.add_parser("settings", help="show or change the OCS/HSS endpoints, failure list and default timeout")
    settings.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    settings.add_argument("--json", action="store_true", help="print JSON for scripts")
    settings.set_defaults(run=provision_settings)

    dep = commands.add_parser("deprovision", help="run a service's playbook with action=deprovision")
    dep.add_argument("--service", type=positive, required=True, metavar="ID")
    dep.add_argument("--wait", action="store_true", help="run the job in this process and print each task")
    dep.add_argument("--json", action="store_true", help="print JSON for scripts")
    dep.set_defaults(run=deprovision)

    worker = commands.add_parser("worker", help="run queued provisioning jobs until stopped (Ctrl-C)")
    worker.add_argument("--concurrency", type=positive, default=2, metavar="N", help="jobs at once (default 2)")
    worker.add_argument("--until-idle", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(run=run_worker)


def _pairs(values: list[str], option: str, *, json_values: bool) -> dict:
    from omnidesk.errors import ValidationError

    out = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise ValidationError({option: f"{raw!r} is not KEY=VALUE."})
        if json_values:
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def _job_json(view) -> dict:
    data = dataclasses.asdict(view)
    data["tasks_done"] = view.tasks_done
    return data


def _print_event(e) -> None:
    if e.status == 1:
        return
    skipped = " (skipped)" if e.output.get("skipped") else ""
    phase = "rollback " if e.phase == "rollback" else ""
    print(f"  {phase}[{STATUS_MARKS[e.status]}] {e.name}{skipped}", flush=True)


def _summary(view) -> None:
    from omnidesk import cli

    cli._key_values([
        ("Job", view.id), ("Action", view.action), ("Status", view.status), ("Product", f"{view.product_name} ({view.product_id})"),
        ("Customer", f"{view.customer_name} ({view.customer_id})"), ("Service", view.service_id or ""),
        ("Playbook", f"{view.playbook} — {view.playbook_description}"), ("Tasks", f"{view.tasks_done} of {view.task_count}"),
        ("Inventory", ", ".join(f"{k}={v}" for k, v in view.inventory.items())), ("OCS account", view.service_uuid),
        ("Runner", view.claimed_by or ""), ("Created", cli._when(view.created_at)), ("Finished", cli._when(view.finished_at)),
        ("Error", view.error),
    ])


def _finish(args, db, actor, view) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    if args.wait:
        hooks = None if args.json else prov.Hooks(on_event=[_print_event])
        if not args.json:
            print(f"Job {view.id}: running {view.playbook} … (Ctrl-C stops it and rolls it back)", flush=True)
        view = _run_here(db, actor, view.id, hooks)
    if args.json:
        cli._print_json(_job_json(view))
    else:
        _summary(view)
    return 0 if view.status in ("queued", "running", "success") else 1


def _run_here(db, actor, job_id: int, hooks):
    """Run the job on a thread while this one waits: Ctrl-C then cancels it, and the rollback runs
    before the command ends, rather than leaving ansible-playbook running and the job half-made."""
    from omnidesk.provisioning import service as prov

    outcome: dict = {}
    done = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C can think the thread ended

    def run() -> None:
        try:
            outcome["view"] = prov.run_job_now(db, actor, job_id, hooks=hooks)
        except BaseException as exc:  # noqa: BLE001 — re-raised on the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"omnidesk-job-{job_id}", daemon=True).start()
    cancelled = False
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            if not cancelled:
                cancelled = True
                print(f"\nStopping job {job_id} and rolling it back …", file=sys.stderr, flush=True)
                prov.cancel_job(db, actor, job_id)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["view"]


def provision_run(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    items = _pairs(args.inventory, "--inventory", json_values=False)
    extra = _pairs(args.var, "--var", json_values=True)
    renew = None if args.auto_renew is None else args.auto_renew == "yes"
    with cli._opened(settings) as (db, actor):
        view = prov.request_provision(db, actor, args.customer, args.product, inventory_items=items, overrides=extra,
                                      site_id=args.site, service_id=args.service, auto_renew=renew)
        return _finish(args, db, actor, view)


def provision_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    with cli._opened(settings) as (db, actor):
        rows = prov.list_jobs(db, actor, status=args.status, customer_id=args.customer, search=args.search, limit=args.limit)
    if args.json:
        cli._print_json([_job_json(r) for r in rows])
        return 0
    if not rows:
        print("No provisioning jobs.")
        return 0
    cli._table(("ID", "Action", "Status", "Customer", "Product", "Service", "Created", "Error"),
               [(r.id, r.action, r.status, r.customer_name, r.product_name, r.service_id or "", cli._when(r.created_at),
                 r.error[:60]) for r in rows], right=(0,))
    return 0


def provision_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    with cli._opened(settings) as (db, actor):
        view = prov.get_job(db, actor, args.id)
    if args.json:
        cli._print_json(_job_json(view))
        return 0
    _summary(view)
    if view.events:
        print("Events:")
        cli._table(("#", "Phase", "Status", "Task"),
                   [(e.number, e.phase, STATUS_MARKS[e.status] + (" (skipped)" if e.output.get("skipped") else ""), e.name)
                    for e in view.events], right=(0,), indent="  ")
    return 0


def provision_cancel(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    with cli._opened(settings) as (db, actor):
        view = prov.cancel_job(db, actor, args.id)
    if args.json:
        cli._print_json(_job_json(view))
    elif view.status == "cancelled":
        print(f"Job {view.id} cancelled; its inventory is back in stock.")
    else:
        print(f"Job {view.id} is being stopped; its runner rolls it back.")
    return 0


def provision_retry(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    with cli._opened(settings) as (db, actor):
        view = prov.retry_job(db, actor, args.id)
        return _finish(args, db, actor, view)


def provision_settings(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    changes = _pairs(args.set, "--set", json_values=False)
    with cli._opened(settings) as (db, actor):
        values = prov.get_settings(db)
        for key, value in changes.items():
            values = prov.set_setting(db, actor, key, value)
    if args.json:
        cli._print_json(values)
    else:
        cli._key_values([(k, ", ".join(v) if isinstance(v, list) else v) for k, v in values.items()])
    return 0


def deprovision(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    with cli._opened(settings) as (db, actor):
        view = prov.request_deprovision(db, actor, args.service)
        return _finish(args, db, actor, view)


def run_worker(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.provisioning import service as prov

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal) if threading.current_thread() is threading.main_thread() else None
    from omnidesk.db.engine import Database

    with cli._opened(settings) as (opened, actor):
        # A connection for each job thread, the claim loop and the event writes (the default pool is 4 + 4).
        db = Database(opened.url, application_name="omnidesk-worker", pool_size=args.concurrency + 2)
        prov.fail_stale_jobs(db, actor)
        hooks = prov.Hooks(on_job=[lambda j: print(f"job {j.id} {j.status}" + (f": {j.error}" if j.error else ""),
                                                   flush=True)])
        # A new job wakes it through NOTIFY; the 5 s look is only for a notice lost while reconnecting.
        worker = prov.Worker(db, concurrency=args.concurrency, hooks=hooks, stop_when_idle=args.until_idle,
                             wake_on_notify=not args.until_idle, idle_wait=5.0).start()
        print(f"Worker {worker.name}: {args.concurrency} at once; Ctrl-C to stop.", file=sys.stderr, flush=True)
        try:
            while worker.running and not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            # Jobs already running finish (a cut-off run would leave outside systems half-done).
            worker.stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            db.dispose()
        print(f"Worker {worker.name} stopped after {len(worker.ran)} job(s).", file=sys.stderr)
    return 0
