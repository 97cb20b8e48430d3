"""Inventory actions as background operations: one short function per user action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from omnidesk.catalog import lookups
from omnidesk.inventory import labels, rules
from omnidesk.inventory import service as inventory
from omnidesk.inventory.service import ItemView
from omnidesk.ui import ops

Done = Callable[[Any], None]


def load_item(parent: QWidget, db, actor, item_id: int, on_done: Done, on_error=None) -> None:
    """(ItemView, its history, the 128-px QR PNG of its management URL or None)."""

    def read():
        item = inventory.get_item(db, actor, item_id)
        return item, inventory.item_history(db, actor, item_id), labels.item_qr(item, labels.DETAIL_SIZE)

    ops.query(parent, read, on_done, on_error)


def load_filters(parent: QWidget, db, actor, on_done: Done) -> None:
    """(templates, locations) for the filter boxes."""
    def read():
        templates = inventory.list_templates(db, actor) if actor.can("view_inventory_template") else []
        return templates, lookups.item_locations(db, actor)

    ops.query(parent, read, on_done)


def change_state(parent: QWidget, db, actor, item: ItemView, new_state: str, reason: str, on_done: Done,
                 on_error=None) -> None:
    ops.mutate(
        parent, lambda: inventory.change_state(db, actor, item.id, new_state, reason=reason), on_done,
        success_message=f"{item.template_name} {item.itemtext1} is now {rules.state_label(new_state)}.",
        on_error=on_error,
    )


def reveal_password(parent: QWidget, db, actor, item: ItemView, on_done: Done) -> None:
    ops.mutate(parent, lambda: inventory.reveal_management_password(db, actor, item.id), on_done)


def delete_template(parent: QWidget, db, actor, template, on_done: Done) -> None:
    ops.mutate(parent, lambda: inventory.delete_template(db, actor, template.id), on_done,
               success_message=f"Removed inventory template {template.name}.")
