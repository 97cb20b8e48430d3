"""`omnidesk broadcast templates|create|submit|approve|reject|transmit|status|update|approve-update|reject-update|
send-update|release|stop|history|import-sites`:
the broadcast workstation's lifecycle from a shell, over the same service functions as the GUI
(omnidesk/broadcast/service.py).

The CLI connects as the database's owner, so each step names the staff user taking it (`--as`); the
database still checks that user's permission and their authenticator code (`--code`) for submit,
approve and reject, and the two-person rule — for a new warning and for an update of an active one
alike. A message goes to every cell only when `--all-cells` says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

STATUSES = ("draft", "pending_approval", "approved", "rejected", "active", "expired", "cancelled")


def add_commands(commands: argparse._SubParsersAction, positive, non_negative) -> None:
    broadcast = commands.add_parser(
        "broadcast", help="public warnings: templates, create, approve with TOTP, transmit, monitor, stop, history"
    ).add_subparsers(dest="broadcast_command", metavar="action", required=True)

    def acting(p, required=False):
        p.add_argument("--as", dest="as_user", metavar="USER", required=required, default=None if required else "admin",
                       help="the staff user taking this step" + ("" if required else " (default admin)"))
        p.add_argument("--json", action="store_true", help="print JSON for scripts")

    templates = broadcast.add_parser("templates", help="the message templates and their identifiers")
    templates.add_argument("--all", action="store_true", help="also retired templates")
    acting(templates)
    templates.set_defaults(run=templates_list)

    create = broadcast.add_parser(
        "create", help="a draft from a template (submitted for approval when --code is given)",
        description="Make a draft from a template: the message identifier comes from the template. Target it "
                    "with one of --polygon, --circle, --rectangle, --zone, or say --all-cells.")
    create.add_argument("--template", required=True, metavar="NAME")
    create.add_argument("--text", action="append", default=[], metavar="LANG=TEXT",
                        help="a language's text (repeat for each language); default: the template's texts")
    create.add_argument("--expiry", type=positive, metavar="MINUTES", help="default: the template's warning period")
    create.add_argument("--repetitions", type=non_negative, metavar="N", help="number of broadcasts, 0 = until stopped")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--polygon", metavar="LAT,LNG;LAT,LNG;...", help="at least 3 corners")
    target.add_argument("--circle", metavar="LAT,LNG,RADIUS_M")
    target.add_argument("--rectangle", metavar="LAT,LNG;LAT,LNG", help="two opposite corners")
    target.add_argument("--zone", metavar="NAME", help="a saved zone")
    target.add_argument("--all-cells", action="store_true", help="every cell of every connected peer")
    create.add_argument("--save-zone", metavar="NAME", help="also save the drawn shape as a zone")
    create.add_argument("--code", metavar="TOTP", help="the creator's authenticator code: submit it at once")
    acting(create)
    create.set_defaults(run=message_create)

    submit = broadcast.add_parser("submit", help="the creator confirms a draft with their authenticator code")
    submit.add_argument("id", type=positive, metavar="ID")
    submit.add_argument("--code", required=True, metavar="TOTP")
    acting(submit)
    submit.set_defaults(run=message_submit)

    for name, helptext in (("approve", "approve a message waiting for approval (the approver's code)"),
                           ("reject", "reject a message waiting for approval, with a reason")):
        p = broadcast.add_parser(name, help=helptext)
        p.add_argument("id", type=positive, metavar="ID")
        p.add_argument("--code", required=True, metavar="TOTP")
        if name == "reject":
            p.add_argument("--reason", required=True)
        acting(p, required=True)
        p.set_defaults(run=message_decide, decision=name)

    transmit = broadcast.add_parser("transmit", help="hand an approved message to the cell broadcast centre")
    transmit.add_argument("id", type=positive, metavar="ID")
    transmit.add_argument("--wait", type=non_negative, default=10, metavar="SECONDS",
                          help="wait this long for the peers' answers (default 10; 0 = do not wait)")
    acting(transmit)
    transmit.set_defaults(run=message_transmit)

    status = broadcast.add_parser("status", help="one message: its review, history and per-peer / per-cell results")
    status.add_argument("id", type=positive, metavar="ID")
    acting(status)
    status.set_defaults(run=message_status)

    update = broadcast.add_parser(
        "update", help="ask to re-send an active message with new texts or parameters (update number + 1)",
        description="The requester confirms with their authenticator code. Under the two-person rule the update "
                    "waits for another user's approval (approve-update); otherwise it is sent at once.")
    update.add_argument("id", type=positive, metavar="ID")
    update.add_argument("--text", action="append", default=[], metavar="LANG=TEXT",
                        help="a new text for each of the message's languages")
    update.add_argument("--repetitions", type=non_negative, metavar="N", help="number of broadcasts, 0 = until stopped")
    update.add_argument("--period", type=positive, metavar="SECONDS", help="the repetition period")
    update.add_argument("--code", required=True, metavar="TOTP", help="the requester's authenticator code")
    update.add_argument("--wait", type=non_negative, default=10, metavar="SECONDS")
    acting(update)
    update.set_defaults(run=message_update)

    for name, helptext in (("approve-update", "approve an update request waiting for approval (the approver's code)"),
                           ("reject-update", "reject an update request waiting for approval, with a reason")):
        p = broadcast.add_parser(name, help=helptext)
        p.add_argument("update_id", type=positive, metavar="UPDATE", help="the update request's number (see status)")
        p.add_argument("--code", required=True, metavar="TOTP")
        if name == "reject-update":
            p.add_argument("--reason", required=True)
        else:
            p.add_argument("--wait", type=non_negative, default=10, metavar="SECONDS")
        acting(p, required=True)
        p.set_defaults(run=update_decide, decision=name.split("-")[0])

    send = broadcast.add_parser("send-update", help="send an approved update request to the cell broadcast centre")
    send.add_argument("update_id", type=positive, metavar="UPDATE")
    send.add_argument("--wait", type=non_negative, default=10, metavar="SECONDS")
    acting(send)
    send.set_defaults(run=update_send)

    release = broadcast.add_parser(
        "release", help="release the transmit claim a workstation left when it died while transmitting",
        description="Only a claim older than 5 minutes is released; check `omnidesk cbc warnings` first that the "
                    "message did not go out.")
    release.add_argument("id", type=positive, metavar="ID")
    acting(release)
    release.set_defaults(run=message_release)

    stop = broadcast.add_parser("stop", help="stop an active message on every peer (or cancel one not yet sent)")
    stop.add_argument("id", type=positive, metavar="ID")
    stop.add_argument("--wait", type=non_negative, default=10, metavar="SECONDS")
    acting(stop)
    stop.set_defaults(run=message_stop)

    history = broadcast.add_parser("history", help="every message, newest first (nothing is ever deleted)")
    history.add_argument("--status", choices=STATUSES)
    history.add_argument("--search", metavar="TEXT", help="in the texts, the target and rejection reasons")
    history.add_argument("--creator", metavar="USER")
    history.add_argument("--limit", type=positive, default=50, metavar="N")
    acting(history)
    history.set_defaults(run=message_history)

    sites = broadcast.add_parser("import-sites", help="replace the cell sites from a CSV (all or nothing)",
                                 description="CSV lat,lng,name,sector1,sector2,sector3 with optional "
                                             "peer,mcc,mnc,lac_tac,ci1,ci2,ci3 naming each sector's cell.")
    sites.add_argument("file", metavar="FILE", help="- reads standard input")
    acting(sites)
    sites.set_defaults(run=sites_import)


# --------------------------------------------------------------------------------------------- helpers


def _opened(settings, username: str):
    """(database, the named staff user as the actor)."""
    import contextlib

    from omnidesk import cli
    from omnidesk.auth import load_actor

    @contextlib.contextmanager
    def opened():
        with cli._opened(settings) as (db, _admin):
            yield db, load_actor(db, username.strip().lower())

    return opened()


def _texts(values: list[str]) -> list[dict[str, str]] | None:
    from omnidesk.errors import ValidationError

    if not values:
        return None
    out = []
    for value in values:
        language, sep, body = value.partition("=")
        if not sep:
            raise ValidationError({"text": f"--text {value!r}: write it as LANG=TEXT, e.g. en=FLOOD WARNING ..."})
        out.append({"language": language.strip(), "text": body})
    return out


def _points(value: str, what: str) -> list[list[float]]:
    from omnidesk.errors import ValidationError

    points = []
    for part in value.replace("|", ";").split(";"):
        if not part.strip():
            continue
        try:
            lat, lng = (float(x) for x in part.split(","))
        except ValueError:
            raise ValidationError({"target": f"--{what}: {part.strip()!r} is not LAT,LNG."}) from None
        points.append([lat, lng])
    return points


def _target(args):
    from omnidesk.errors import ValidationError

    if args.polygon:
        return {"shape": "polygon", "points": _points(args.polygon, "polygon")}
    if args.rectangle:
        corners = _points(args.rectangle, "rectangle")
        return {"shape": "rectangle", "corners": corners}
    if args.circle:
        try:
            lat, lng, radius = (float(x) for x in args.circle.split(","))
        except ValueError:
            raise ValidationError({"target": f"--circle {args.circle!r}: write LAT,LNG,RADIUS_M."}) from None
        return {"shape": "circle", "center": [lat, lng], "radius_m": radius}
    return None


def _show(message, args, review=None) -> None:
    from omnidesk import cli

    if args.json:
        data = message.as_json()
        if review is not None:
            data["review"] = review.as_json()
        cli._print_json(data)
        return
    print(f"Message #{message.id}: {message.status.replace('_', ' ')} — {message.template}, identifier "
          f"{message.message_identifier}, created by {message.created_by} {cli._when(message.created_at)}"
          + (f", approved by {message.approved_by}" if message.approved_by else "")
          + (f", rejected by {message.rejected_by}: {message.reject_reason}" if message.rejected_by else ""))
    for line in (review.lines if review is not None else [message.target_summary]):
        print(f"  {line}")
    results = message.results()
    if results["peers"]:
        print(f"  Warning #{message.warning_id}: {results['state']}, update {results['update_number']}, "
              f"{results['cells_ok']} cells acknowledged, {results['cells_failed']} failed")
        for p in results["peers"]:
            flag = " (OFFLINE)" if p["offline"] else ""
            print(f"    {p['peer']} ({p['protocol']}): {p['state']}{flag} {p['reason']}".rstrip())
            for c in p["cells"][:40]:
                extra = f" {c['cause']}" if c["cause"] else ""
                done = f", {c['broadcasts_completed']} broadcasts" if c["broadcasts_completed"] is not None else ""
                print(f"      {c['cell']} [{c['language'] or '-'}] {c['outcome']}{extra}{done}")
    if message.status == "pending_approval":
        print(f"  Waits for a second user's approval: omnidesk broadcast approve {message.id} --as USER --code CODE")
    for u in message.updates:
        print(f"  Update #{u.id} by {u.requested_by}: {u.status.replace('_', ' ')}"
              + (f", approved by {u.approved_by}" if u.approved_by else "")
              + (f", rejected by {u.rejected_by}: {u.reject_reason}" if u.rejected_by else "")
              + (f", sent as update {u.update_number}" if u.update_number is not None else "")
              + (f" — {u.failure_reason}" if u.failure_reason else ""))
        for line in u.lines():
            print(f"    {line}")
    pending = message.open_update
    if pending is not None and pending.status == "pending_approval":
        print(f"  Update #{pending.id} is waiting for approval: omnidesk broadcast approve-update {pending.id} "
              "--as USER --code CODE")
    elif pending is not None:
        print(f"  Update #{pending.id} is approved and not sent yet: omnidesk broadcast send-update {pending.id}")


def _wait(db, actor, message_id: int, seconds: int, done):
    from omnidesk.broadcast import service as bs

    deadline = time.monotonic() + seconds
    message = bs.get_message(db, actor, message_id)
    while seconds and not done(message) and time.monotonic() < deadline:
        time.sleep(0.1)
        message = bs.get_message(db, actor, message_id)
    return message


def _settled(m) -> bool:
    return m.warning is not None and m.warning.settled


# --------------------------------------------------------------------------------------------- commands


def templates_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        templates = bs.list_templates(db, actor, include_inactive=args.all)
    if args.json:
        cli._print_json([t.as_json() for t in templates])
        return 0
    cli._table(("Name", "Scenario", "Identifier", "Category", "Every", "Broadcasts", "Expiry", "Languages"),
               [(t.name, t.scenario, t.message_identifier, t.category, f"{t.repetition_period} s",
                 t.number_of_broadcasts or "until stopped", f"{t.expiry_minutes} min" if t.expiry_minutes else "",
                 ", ".join(x["language"] for x in t.texts)) for t in templates], right=(2,))
    return 0


def message_create(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        shape = _target(args)
        if args.save_zone:
            if shape is None:
                from omnidesk.errors import ValidationError

                raise ValidationError({"save_zone": "--save-zone saves a drawn --polygon, --circle or --rectangle."})
            bs.save_zone(db, actor, args.save_zone, shape)
        message = bs.create_message(db, actor, template=args.template, texts=_texts(args.text),
                                    expiry_minutes=args.expiry, repetitions=args.repetitions, target=shape,
                                    zone=args.zone)
        if args.code:
            message = bs.submit(db, actor, message.id, args.code)
        _show(message, args, bs.review(db, actor, message.id))
    return 0


def message_submit(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        _show(bs.submit(db, actor, args.id, args.code), args)
    return 0


def message_decide(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        if args.decision == "approve":
            message = bs.approve(db, actor, args.id, args.code, approver=actor.username)
        else:
            message = bs.reject(db, actor, args.id, args.code, args.reason, approver=actor.username)
        _show(message, args)
    return 0


def message_transmit(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        bs.transmit(db, actor, args.id)
        message = _wait(db, actor, args.id, args.wait, _settled)
        _show(message, args, bs.review(db, actor, args.id))
    if args.wait and not _settled(message):
        print(f"\nThe peers have not all answered after {args.wait} s; `omnidesk broadcast status {args.id}` "
              "shows how it goes on.", file=sys.stderr)
        return 3
    return 1 if message.warning is not None and message.warning.state == "failed" else 0


def message_status(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        _show(bs.get_message(db, actor, args.id), args, bs.review(db, actor, args.id))
    return 0


def _sent(db, actor, message, before, seconds: int):
    """Wait for the peers to answer an update that was sent (the warning's update number moved on)."""
    if before.warning is None or message.update_count == before.update_count:
        return message
    wanted = (before.warning.update_number + 1) % 16
    return _wait(db, actor, message.id, seconds, lambda m: _settled(m) and m.warning.update_number == wanted)


def message_update(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        before = bs.get_message(db, actor, args.id)
        message = bs.request_update(db, actor, args.id, args.code, texts=_texts(args.text),
                                    repetitions=args.repetitions, repetition_period=args.period)
        message = _sent(db, actor, message, before, args.wait)
        _show(message, args)
    if not args.json and message.update_count == before.update_count and message.open_update is not None:
        print(f"Update #{message.open_update.id} is waiting for approval by another user (two-person rule).")
    return 0


def update_decide(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        if args.decision == "approve":
            before = bs.get_message(db, actor, _message_of(db, actor, args.update_id))
            message = bs.approve_update(db, actor, args.update_id, args.code, approver=actor.username)
            message = _sent(db, actor, message, before, args.wait)
        else:
            message = bs.reject_update(db, actor, args.update_id, args.code, args.reason, approver=actor.username)
        _show(message, args)
    return 0


def update_send(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        before = bs.get_message(db, actor, _message_of(db, actor, args.update_id))
        message = _sent(db, actor, bs.send_update(db, actor, args.update_id), before, args.wait)
        _show(message, args)
    return 0


def _message_of(db, actor, update_id: int) -> int:
    from omnidesk.broadcast import service as bs

    return bs.update_request(db, actor, update_id).message_id


def message_release(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        _show(bs.release_transmit_claim(db, actor, args.id), args)
    return 0


def message_stop(args, settings) -> int:
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        bs.stop(db, actor, args.id)
        message = _wait(db, actor, args.id, args.wait,
                        lambda m: m.warning is None or m.warning.state in ("stopped", "expired"))
        _show(message, args)
    return 0


def message_history(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.broadcast import service as bs

    with _opened(settings, args.as_user) as (db, actor):
        messages = bs.history(db, actor, status=args.status, search=args.search, creator=args.creator,
                              limit=args.limit)
    if args.json:
        cli._print_json([m.as_json(with_results=False) for m in messages])
        return 0
    if not messages:
        print("No broadcast messages match." if (args.status or args.search or args.creator)
              else "No broadcast messages yet.")
        return 0
    cli._table(("ID", "Status", "Template", "Identifier", "Languages", "Target", "Created", "By", "Approved by",
                "Transmitted"),
               [(m.id, m.status, m.template or "", m.message_identifier, ", ".join(t["language"] for t in m.texts),
                 m.target_summary[:60], cli._when(m.created_at), m.created_by, m.approved_by or "",
                 cli._when(m.transmitted_at)) for m in messages], right=(0, 3))
    return 0


def sites_import(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.broadcast import sites
    from omnidesk.errors import ValidationError

    name = "standard input" if args.file == "-" else args.file
    try:
        data = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}."}) from None
    with _opened(settings, args.as_user) as (db, actor):
        result = sites.import_csv(db, actor, data)
    if args.json:
        cli._print_json({"sites": result.sites, "sectors": result.sectors, "replaced": result.replaced})
    else:
        print(result.message)
    return 0
