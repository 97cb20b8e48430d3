"""`omnidesk inventory …` and `omnidesk products …`: stock, imports, labels and the product catalog from a shell.

Each command is one service call (omnidesk/inventory, omnidesk/catalog) made as the built-in
administrator; refusals are printed on stderr with exit code 1, usage errors exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from omnidesk.errors import ServiceError

# Copies of the models' choices, so that parsing arguments does not import SQLAlchemy;
# tests/test_cli_inventory.py checks they stay the same.
ITEM_STATES = ("new", "used", "internal_use", "assigned", "damaged", "out_of_service", "lost", "stolen")
PRODUCT_CATEGORIES = ("standalone", "bundle", "addon", "promo")
AUTO_RENEW = ("prompt", "true", "false")
LABEL_CONTENTS = ("identifier", "management_url")  # labels.CONTENTS
ITEMTEXT_COUNT = 20

# Product fields as the options of `products add` call them, for refusals.
PRODUCT_OPTIONS = {
    "name": "--name", "slug": "--slug", "category": "--category", "service_type": "--service-type",
    "comment": "--comment", "icon": "--icon", "retail_cost": "--retail-cost", "wholesale_cost": "--wholesale-cost",
    "retail_setup_cost": "--retail-setup-cost", "wholesale_setup_cost": "--wholesale-setup-cost",
    "tax_percentage": "--tax", "contract_days": "--contract-days", "auto_renew": "--auto-renew", "terms": "--terms",
    "features": "--feature", "provisioning_play": "--playbook", "provisioning_json_vars": "--playbook-vars",
    "inventory_types": "--inventory-type", "relies_on": "--relies-on", "available_from": "--available-from",
    "available_until": "--available-until", "enabled": "--enabled/--disabled",
    "customer_can_purchase": "--self-purchase", "residential": "--residential", "business": "--business",
    "allow_auto_renew": "--allow-auto-renew",
}
TEMPLATE_OPTIONS = {
    "name": "NAME", "icon": "--icon", "wholesale_cost": "--wholesale-cost", "retail_cost": "--retail-cost",
    "labels": "--label", "unique_fields": "--identifier",
    **{f"itemtext{n}_label": "--label" for n in range(1, ITEMTEXT_COUNT + 1)},
}


class InventoryInputError(ServiceError):
    """Input to an inventory or products command that is unusable before any service is asked."""


def add_commands(commands: argparse._SubParsersAction, positive, non_negative) -> None:
    """Add `inventory` and `products` to the `omnidesk` command."""
    state_help = f"one of {', '.join(ITEM_STATES)}"

    inventory = commands.add_parser("inventory", help="inventory: templates, import, list, show, state changes, labels")
    actions = inventory.add_subparsers(dest="inventory_command", metavar="action", required=True)

    template = actions.add_parser("template", help="item types (SIM Card, Mobile Number, …): list or add")
    template_actions = template.add_subparsers(dest="template_command", metavar="action", required=True)
    listing = template_actions.add_parser("list", help="every template with how many of its items are in stock")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(run=template_list)
    add = template_actions.add_parser(
        "add", help="a new template",
        description="Add an inventory template. Item text 1 and 2 are labelled \"Model Number\" and "
                    "\"Serial Number\" unless --label says otherwise; products name templates exactly (case-sensitive).",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--icon", help="an icon name, e.g. sim-card")
    add.add_argument("--wholesale-cost", metavar="AMOUNT", help="default for new items (default 0)")
    add.add_argument("--retail-cost", metavar="AMOUNT", help="default for new items (default 0)")
    add.add_argument("--label", action="append", default=[], metavar="N=TEXT",
                     help="the label of item text N, e.g. --label 1=ICCID --label 2=IMSI (repeatable)")
    add.add_argument("--identifier", action="append", type=positive, default=[], metavar="N",
                     help="item text N identifies an item: unique within the template (repeatable)")
    add.add_argument("--returnable", action="store_true", help="hardware the customer gives back when the service ends")
    add.add_argument("--no-staff-dropdown", action="store_true", help="hide from the staff inventory picker")
    add.add_argument("--customer-dropdown", action="store_true", help="offer in the customer's self-service picker")
    add.add_argument("--json", action="store_true", help="print JSON for scripts")
    add.set_defaults(run=template_add)

    imp = actions.add_parser(
        "import", help="add items from a CSV file, all or nothing",
        description="Import every line of a CSV file (a header line, then one item per line) or none: each "
                    "line is checked first (identifier formats, ICCID check digit, duplicates in the file and in "
                    "the database) and every bad line is reported with its line number.",
    )
    imp.add_argument("file", metavar="FILE.csv", help="the CSV file; - reads standard input")
    imp.add_argument("--template", metavar="NAME", help="the items' template (otherwise a Template column names it per line)")
    imp.add_argument("--location", default="", help="where the items are, when the file has no Location column")
    imp.add_argument("--state", choices=ITEM_STATES, default="new", help="the items' state when the file has none (default new)")
    imp.add_argument("--json", action="store_true", help="print JSON for scripts")
    imp.set_defaults(run=inventory_import)

    items = actions.add_parser("list", help="one page of items, filtered and searched")
    items.add_argument("--template", metavar="NAME")
    items.add_argument("--state", choices=ITEM_STATES, metavar="STATE", help=state_help)
    items.add_argument("--location")
    assigned = items.add_mutually_exclusive_group()
    assigned.add_argument("--assigned", action="store_const", const=True, dest="assigned", help="only items with a customer")
    assigned.add_argument("--unassigned", action="store_const", const=False, dest="assigned", help="only items without one")
    items.add_argument("--search", default="", metavar="PREFIX", help="the start of an identifier (ICCID, IMSI, number, serial) or an item id")
    items.add_argument("--limit", type=positive, default=100, metavar="N", help="page size (at most 1000)")
    items.add_argument("--offset", type=non_negative, default=0, metavar="N")
    items.add_argument("--json", action="store_true", help="print JSON for scripts")
    items.set_defaults(run=inventory_list)

    show = actions.add_parser("show", help="one item with its identifiers and state history")
    show.add_argument("id", type=positive, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=inventory_show)

    set_state = actions.add_parser(
        "set-state", help="move an item to another state (only the allowed moves)",
        description="Change an item's state; a move the lifecycle does not allow is refused with both states "
                    "named. Assigned is reached by picking an item for a customer, not here.",
    )
    set_state.add_argument("id", type=positive, metavar="ID")
    set_state.add_argument("state", choices=ITEM_STATES, metavar="STATE", help=state_help)
    set_state.add_argument("--reason", default="", help="recorded in the item's history")
    set_state.add_argument("--json", action="store_true", help="print JSON for scripts")
    set_state.set_defaults(run=inventory_set_state)

    labels = actions.add_parser("labels", help="a PDF sheet of QR code labels for a template's items")
    labels.add_argument("--template", metavar="NAME", required=True)
    labels.add_argument("--state", choices=ITEM_STATES, metavar="STATE", help=state_help)
    labels.add_argument("--location")
    labels.add_argument("--content", choices=LABEL_CONTENTS, default="identifier",
                        help="what the QR code holds: the item's identifier (default) or its management URL")
    labels.add_argument("--out", required=True, metavar="FILE.pdf")
    labels.set_defaults(run=inventory_labels)

    products = commands.add_parser("products", help="the product catalog: list, show, add, clone").add_subparsers(
        dest="products_command", metavar="action", required=True
    )
    plist = products.add_parser("list", help="every product, disabled ones too unless --available")
    plist.add_argument("--search", default="", metavar="TEXT", help="part of a name or slug")
    plist.add_argument("--category", choices=PRODUCT_CATEGORIES)
    plist.add_argument("--service-type", metavar="TYPE")
    plist.add_argument("--available", action="store_true", help="only enabled products inside their availability window")
    plist.add_argument("--json", action="store_true", help="print JSON for scripts")
    plist.set_defaults(run=products_list)

    pshow = products.add_parser("show", help="one product with every field")
    pshow.add_argument("product", metavar="ID|SLUG")
    pshow.add_argument("--json", action="store_true", help="print JSON for scripts")
    pshow.set_defaults(run=products_show)

    padd = products.add_parser(
        "add", help="a new product from options or a JSON file",
        description="Add a product. Fields come from --file (a JSON object with the product's field names, "
                    "the source's names such as product_name are accepted too) and the options, which win. "
                    "The playbook must exist in the playbooks folder, the variables must be a JSON object and "
                    "each inventory type must name a template exactly.",
    )
    padd.add_argument("--file", metavar="PRODUCT.json", help="the product as a JSON object; - reads standard input")
    padd.add_argument("--name")
    padd.add_argument("--slug", help="default: made from the name")
    padd.add_argument("--category", choices=PRODUCT_CATEGORIES)
    padd.add_argument("--service-type", metavar="TYPE", help="e.g. mobile, fixed, internet")
    padd.add_argument("--comment")
    padd.add_argument("--icon")
    padd.add_argument("--retail-cost", metavar="AMOUNT")
    padd.add_argument("--wholesale-cost", metavar="AMOUNT")
    padd.add_argument("--retail-setup-cost", metavar="AMOUNT")
    padd.add_argument("--wholesale-setup-cost", metavar="AMOUNT")
    padd.add_argument("--tax", dest="tax_percentage", metavar="PERCENT")
    padd.add_argument("--contract-days", metavar="DAYS")
    padd.add_argument("--auto-renew", choices=AUTO_RENEW)
    padd.add_argument("--terms")
    padd.add_argument("--feature", action="append", dest="features", metavar="TEXT", help="repeatable")
    padd.add_argument("--playbook", dest="provisioning_play", metavar="NAME", help="a playbook in the playbooks folder, without .yaml")
    padd.add_argument("--playbook-vars", dest="provisioning_json_vars", metavar="JSON",
                      help='the playbook variables as a JSON object, e.g. \'{"days": 30}\'')
    padd.add_argument("--inventory-type", action="append", dest="inventory_types", metavar="TEMPLATE",
                      help="a template the product needs, named exactly (repeatable, in picking order)")
    padd.add_argument("--relies-on", action="append", metavar="ID|TYPE", help="addons: a product id or service type (repeatable)")
    padd.add_argument("--available-from", metavar="DATE")
    padd.add_argument("--available-until", metavar="DATE")
    enabled = padd.add_mutually_exclusive_group()
    enabled.add_argument("--enabled", action="store_const", const=True, dest="enabled")
    enabled.add_argument("--disabled", action="store_const", const=False, dest="enabled")
    for flag, dest, what in (("self-purchase", "customer_can_purchase", "customers may buy it themselves"),
                             ("residential", "residential", "offered to individuals"),
                             ("business", "business", "offered to businesses"),
                             ("allow-auto-renew", "allow_auto_renew", "customers may turn auto-renew on")):
        group = padd.add_mutually_exclusive_group()
        group.add_argument(f"--{flag}", action="store_const", const=True, dest=dest, help=what)
        group.add_argument(f"--no-{flag}", action="store_const", const=False, dest=dest)
    padd.add_argument("--json", action="store_true", help="print JSON for scripts")
    padd.set_defaults(run=products_add)

    pclone = products.add_parser("clone", help='copy a product as "<name>_clone", disabled until checked')
    pclone.add_argument("product", metavar="ID|SLUG")
    pclone.add_argument("--json", action="store_true", help="print JSON for scripts")
    pclone.set_defaults(run=products_clone)


# --- helpers ---


def _refused(error, options: dict[str, str]) -> int:
    """Print a ValidationError field by field, named as the command's options; exit code 1."""
    for field, message in error.errors.items():
        print(f"{options.get(field, field)}: {message}", file=sys.stderr)
    return 1


def _read_text(name: str) -> str:
    try:
        return sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InventoryInputError(f"Cannot read {name}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise InventoryInputError(f"{name} is not UTF-8 text.") from None


def _money(value) -> str:
    return f"{value:,.2f}"


# --- templates ---


def template_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import service

    with cli._opened(settings) as (db, actor):
        templates = service.list_templates(db, actor)
    if args.json:
        cli._print_json([_template_json(t) for t in templates])
        return 0
    if not templates:
        print("No inventory templates. Add one with `omnidesk inventory template add NAME`.")
        return 0
    cli._table(
        ("ID", "Name", "In stock", "Items", "Item text 1", "Item text 2", "Identifiers", "Wholesale", "Retail", "Returnable"),
        [(t.id, t.name, t.in_stock, t.total, t.label(1), t.label(2), ", ".join(t.label(n) for n in t.unique_fields),
          _money(t.wholesale_cost), _money(t.retail_cost), "yes" if t.returnable else "no") for t in templates],
        right=(0, 2, 3, 7, 8),
    )
    return 0


def _template_json(t) -> dict[str, Any]:
    data = dataclasses.asdict(t)
    data["labels"] = {str(n): label for n, label in enumerate(t.labels, start=1) if label}
    return data


def template_add(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.errors import ValidationError
    from omnidesk.inventory import service

    labels: dict[int, str] = {}
    for entry in args.label:
        number, sep, label = entry.partition("=")
        if not sep or not number.strip().isdigit():
            raise InventoryInputError(f"--label takes N=TEXT, such as 1=ICCID; got {entry!r}.")
        labels[int(number)] = label
    values: dict[str, Any] = {"name": args.name, "returnable": args.returnable,
                              "allow_dropdown_staff": not args.no_staff_dropdown,
                              "allow_dropdown_customer": args.customer_dropdown}
    if args.icon is not None:
        values["icon"] = args.icon
    for key in ("wholesale_cost", "retail_cost"):
        values[key] = getattr(args, key) if getattr(args, key) is not None else "0"
    if labels:
        values["labels"] = labels
    if args.identifier:
        values["unique_fields"] = args.identifier
    with cli._opened(settings) as (db, actor):
        try:
            created = service.create_template(db, actor, **values)
        except ValidationError as exc:
            return _refused(exc, TEMPLATE_OPTIONS)
    if args.json:
        cli._print_json(_template_json(created))
        return 0
    print(f"Added inventory template {created.name} (id {created.id}).")
    cli._key_values([(f"Item text {n}", label) for n, label in enumerate(created.labels, start=1) if label], indent="  ")
    return 0


# --- items ---


def inventory_import(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import importer

    source: Any = args.file if args.file != "-" else _read_text("-").encode("utf-8")
    with cli._opened(settings) as (db, actor):
        try:
            report = importer.import_csv(db, actor, source, template=args.template, location=args.location,
                                         item_state=args.state)
        except importer.ImportRejected as exc:
            bad = len({p.line for p in exc.problems})
            print(f"Nothing was imported from {args.file}: {bad:,} bad line{'s' if bad != 1 else ''} "
                  f"in {exc.rows:,} row{'s' if exc.rows != 1 else ''}.", file=sys.stderr)
            for problem in exc.problems:  # every one, not only the first lines the message holds
                print(f"line {problem.line}: {problem.reason}", file=sys.stderr)
            return 1
    if args.json:
        cli._print_json(dataclasses.asdict(report))
        return 0
    ids = f" (items {report.first_id}–{report.last_id})" if report.first_id is not None else ""
    print(f"Imported {report.imported:,} {', '.join(report.templates)} item{'s' if report.imported != 1 else ''}"
          f"{ids} in {report.seconds:.1f} s.")
    return 0


def inventory_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import service

    filters = dict(template=args.template, state=args.state, location=args.location, assigned=args.assigned,
                   search=args.search)
    with cli._opened(settings) as (db, actor):
        rows = service.list_items(db, actor, offset=args.offset, limit=args.limit, **filters)
        if args.json:
            cli._print_json([dataclasses.asdict(r) for r in rows])
            return 0
        full_page = len(rows) == min(args.limit, service.MAX_PAGE)
        total = (service.count_items(db, actor, cap=100_000, **filters)
                 if full_page or args.offset else args.offset + len(rows))
    if not rows:
        print("No inventory items match." if any(v not in (None, "") for v in filters.values()) else "No inventory items.")
        return 0
    cli._table(
        ("ID", "Template", "Item text 1", "Item text 2", "State", "Location", "Customer", "Service", "Updated"),
        [(r.id, r.template_name, r.itemtext1, r.itemtext2 or "", _state_label(r.item_state), r.item_location,
          f"{r.customer_id} {r.customer_name}" if r.customer_id else "", r.service_id or "", cli._when(r.updated_at))
         for r in rows],
        right=(0,),
    )
    of = f"more than {100_000:,}" if total > 100_000 else f"{total:,}"
    print(f"\n{args.offset + 1:,}–{args.offset + len(rows):,} of {of} items")
    return 0


def _state_label(state: str) -> str:
    return state.replace("_", " ").title()


def _item_json(item, history) -> dict[str, Any]:
    data = dataclasses.asdict(item)
    data["itemtexts"] = {f"itemtext{n}": v for n, v in enumerate(item.itemtexts, start=1) if v not in (None, "")}
    data["labels"] = {f"itemtext{n}": v for n, v in enumerate(item.labels, start=1) if v}
    data["identifiers"] = [{"label": label, "value": value} for label, value in item.identifiers]
    data["next_states"] = list(item.next_states)
    data["history"] = [dataclasses.asdict(h) for h in history]
    return data


def inventory_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import service

    with cli._opened(settings) as (db, actor):
        item = service.get_item(db, actor, args.id)
        history = service.item_history(db, actor, args.id)
    if args.json:
        cli._print_json(_item_json(item, history))
    else:
        _print_item(item, history)
    return 0


def _print_item(item, history) -> None:
    from omnidesk import cli

    print(f"{item.template_name} {item.itemtext1} (item {item.id})")
    nexts = ", ".join(_state_label(s) for s in item.next_states if s != "assigned")
    address = ", ".join(p for p in (item.address_line_1, item.address_line_2, item.city, item.state, item.postcode,
                                    item.country or "") if p)
    pairs: list[tuple[str, Any]] = [
        ("State", item.state_label + (f" (can become {nexts})" if nexts else "")),
        ("Location", item.item_location),
        ("Customer", item.customer_id or ""),
        ("Service", item.service_id or ""),
        *item.identifiers,
        ("Wholesale cost", _money(item.wholesale_cost)),
        ("Retail cost", _money(item.retail_cost)),
        ("Sold", cli._when(item.sold_date)),
        ("Return due", cli._when(item.return_due_at)),
        ("Address", address),
        ("Coordinates", f"{item.latitude}, {item.longitude}" if item.latitude is not None else ""),
        ("Plus code", item.plus_code or ""),
        ("Management URL", item.management_url or ""),
        ("Management user", item.management_username or ""),
        ("Management password", "set (shown in the desktop app, logged)" if item.has_management_password else ""),
        ("Config file", item.config_file_path or ""),
        ("Config", f"{len(item.config_content):,} characters (--json shows it)" if item.config_content else ""),
        ("Notes", item.notes),
        ("Created", cli._when(item.created_at)),
        ("Updated", f"{cli._when(item.updated_at)} (version {item.version})"),
    ]
    cli._key_values(pairs, indent="  ")
    print(f"\nHistory ({len(history)})")
    if history:
        cli._table(("When", "From", "To", "By", "Customer", "Reason"),
                   [(cli._when(h.changed_at), _state_label(h.from_state) if h.from_state else "—", _state_label(h.to_state),
                     h.actor_name, h.customer_id or "", h.reason) for h in history], indent="  ")


def inventory_set_state(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import service

    with cli._opened(settings) as (db, actor):
        before = service.get_item(db, actor, args.id)
        item = service.change_state(db, actor, args.id, args.state, reason=args.reason)
        history = service.item_history(db, actor, args.id) if args.json else []
    if args.json:
        cli._print_json(_item_json(item, history))
        return 0
    print(f"{item.template_name} {item.itemtext1} (item {item.id}): {before.state_label} → {item.state_label}"
          + (f" ({args.reason})" if args.reason else "") + ".")
    return 0


def inventory_labels(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.inventory import labels

    out = Path(args.out)
    if not out.parent.is_dir():
        raise InventoryInputError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    with cli._opened(settings) as (db, actor):
        pdf = labels.label_sheet(db, actor, template=args.template, state=args.state, location=args.location,
                                 content=args.content)
    try:
        out.write_bytes(pdf)
    except OSError as exc:
        raise InventoryInputError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    print(f"Wrote {args.template} labels to {out} ({len(pdf) / 1024:,.0f} KB).")
    return 0


# --- products ---


def _product_json(p) -> dict[str, Any]:
    data = dataclasses.asdict(p)
    data["margin"] = dataclasses.asdict(p.margin)
    data["setup_margin"] = dataclasses.asdict(p.setup_margin)
    return data


def products_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.catalog import service

    with cli._opened(settings) as (db, actor):
        products = service.list_products(db, actor, search=args.search, category=args.category,
                                         service_type=args.service_type, include_disabled=not args.available)
    if args.json:
        cli._print_json([_product_json(p) for p in products])
        return 0
    if not products:
        print("No products match." if args.search or args.category or args.service_type or args.available else
              "No products. Add one with `omnidesk products add --name NAME --category standalone --service-type mobile`.")
        return 0
    cli._table(
        ("ID", "Name", "Slug", "Category", "Type", "Retail", "Setup", "Contract", "Enabled", "Inventory"),
        [(p.id, p.name, p.slug, p.category, p.service_type, _money(p.retail_cost), _money(p.retail_setup_cost),
          f"{p.contract_days} days", "yes" if p.enabled else "no", ", ".join(p.inventory_types)) for p in products],
        right=(0, 5, 6, 7),
    )
    return 0


def _print_product(p) -> None:
    from omnidesk import cli

    print(f"{p.name} (product {p.id}, {p.slug})")
    window = ""
    if p.available_from or p.available_until:
        window = f"{cli._when(p.available_from) or '…'} to {cli._when(p.available_until) or 'open-ended'}"
    who = " and ".join(w for w, on in (("individuals", p.residential), ("businesses", p.business)) if on) or "nobody"
    cli._key_values([
        ("Category", p.category),
        ("Service type", p.service_type),
        ("Enabled", "yes" if p.enabled else "no"),
        ("Available", window),
        ("Offered to", who + ("; customers may buy it themselves" if p.customer_can_purchase else "; staff only")),
        ("Retail", f"{_money(p.retail_cost)} (wholesale {_money(p.wholesale_cost)}, profit {p.margin.profit:,.2f})"),
        ("Setup", f"{_money(p.retail_setup_cost)} (wholesale {_money(p.wholesale_setup_cost)})"),
        ("Tax", f"{p.tax_percentage} %"),
        ("Contract", f"{p.contract_days} days"),
        ("Auto-renew", p.auto_renew_label + ("" if p.allow_auto_renew else " (customers may not change it)")),
        ("Inventory", ", ".join(p.inventory_types)),
        ("Relies on", ", ".join(p.relies_on)),
        ("Playbook", p.provisioning_play or ""),
        ("Playbook vars", json.dumps(p.provisioning_json_vars, ensure_ascii=False) if p.provisioning_json_vars else ""),
        ("Icon", p.icon),
        ("Comment", p.comment),
        ("Created", cli._when(p.created_at)),
        ("Updated", f"{cli._when(p.updated_at)} (version {p.version})"),
    ], indent="  ")
    if p.features:
        print("\nFeatures")
        for feature in p.features:
            print(f"  - {feature}")
    if p.terms:
        print(f"\nTerms\n  {p.terms}")


def products_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.catalog import service

    with cli._opened(settings) as (db, actor):
        product = service.get_product(db, actor, args.product)
    if args.json:
        cli._print_json(_product_json(product))
    else:
        _print_product(product)
    return 0


def _product_values(args) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.file:
        text = _read_text(args.file)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InventoryInputError(f"{args.file} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
        if not isinstance(data, dict):
            raise InventoryInputError(f"{args.file} must hold one JSON object with the product's fields.")
        values.update(data)
    for key in ("name", "slug", "category", "service_type", "comment", "icon", "retail_cost", "wholesale_cost",
                "retail_setup_cost", "wholesale_setup_cost", "tax_percentage", "contract_days", "auto_renew", "terms",
                "features", "provisioning_play", "provisioning_json_vars", "inventory_types", "relies_on",
                "available_from", "available_until", "enabled", "customer_can_purchase", "residential", "business",
                "allow_auto_renew"):
        value = getattr(args, key)
        if value is not None:
            values[key] = value
    for key in ("available_from", "available_until"):
        if isinstance(values.get(key), str) and values[key].strip():
            values[key] = _when_given(values[key], PRODUCT_OPTIONS[key])
    return values


def _when_given(text: str, option: str):
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InventoryInputError(f"{option}: {text!r} is not a date or time such as 2026-01-31 or 2026-01-31T09:00.") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def products_add(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.catalog import service
    from omnidesk.errors import ValidationError

    values = _product_values(args)
    if not values.get("name") and not values.get("product_name"):
        raise InventoryInputError("A product needs a name: --name NAME, or \"name\" in the --file JSON.")
    with cli._opened(settings) as (db, actor):
        try:
            product = service.create_product(db, actor, **values)
        except ValidationError as exc:
            return _refused(exc, PRODUCT_OPTIONS)
    if args.json:
        cli._print_json(_product_json(product))
    else:
        print(f"Added product {product.name} (id {product.id}, slug {product.slug})"
              + ("" if product.enabled else "; it is disabled until enabled") + ".\n")
        _print_product(product)
    return 0


def products_clone(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.catalog import service

    with cli._opened(settings) as (db, actor):
        original = service.get_product(db, actor, args.product)
        copy = service.clone_product(db, actor, original.id)
    if args.json:
        cli._print_json(_product_json(copy))
    else:
        print(f"Cloned {original.name} (id {original.id}) as {copy.name} (id {copy.id}, slug {copy.slug}); "
              "the copy is disabled until someone checks and enables it.")
    return 0
