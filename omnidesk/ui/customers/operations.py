"""Customer actions as background operations: one short function per user action.

Each names the service call and its success message (Anki's operations/*.py pattern); the widgets
only decide when to call them and what to refresh afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from omnidesk.customers import service
from omnidesk.customers.service import AttributeView, ContactView, CustomerDetail, SiteView, TagView
from omnidesk.ui import ops

Done = Callable[[Any], None]


def load_customer(parent: QWidget, db, actor, customer_id: int, on_done: Done, on_error=None) -> None:
    """The customer with its activity log: (CustomerDetail, list[ActivityView])."""
    ops.query(
        parent,
        lambda: (service.get_customer(db, actor, customer_id), service.list_activity(db, actor, customer_id, limit=300)),
        on_done,
        on_error,
    )


def change_status(parent: QWidget, db, actor, detail: CustomerDetail, new_status: str, on_done: Done) -> None:
    ops.mutate(
        parent, lambda: service.change_status(db, actor, detail.id, new_status), on_done,
        success_message=f"{detail.label} is now {new_status}.",
    )


def archive_customer(parent: QWidget, db, actor, detail: CustomerDetail, on_done: Done) -> None:
    ops.mutate(parent, lambda: service.archive_customer(db, actor, detail.id), on_done, success_message=f"Archived {detail.label}.")


def restore_customer(parent: QWidget, db, actor, detail: CustomerDetail, on_done: Done) -> None:
    ops.mutate(parent, lambda: service.restore_customer(db, actor, detail.id), on_done, success_message=f"Restored {detail.label}.")


def delete_contact(parent: QWidget, db, actor, contact: ContactView, on_done: Done) -> None:
    ops.mutate(parent, lambda: service.delete_contact(db, actor, contact.id), on_done, success_message=f"Removed contact {contact.full_name}.")


def delete_site(parent: QWidget, db, actor, site: SiteView, on_done: Done) -> None:
    ops.mutate(parent, lambda: service.delete_site(db, actor, site.id), on_done, success_message=f"Removed site {site.name}.")


def delete_attribute(parent: QWidget, db, actor, attribute: AttributeView, on_done: Done) -> None:
    ops.mutate(
        parent, lambda: service.delete_attribute(db, actor, attribute.id), on_done,
        success_message=f"Removed attribute {attribute.key}.",
    )


def delete_tag(parent: QWidget, db, actor, tag: TagView, on_done: Done) -> None:
    ops.mutate(parent, lambda: service.delete_tag(db, actor, tag.id), on_done, success_message=f"Removed tag {tag.label}.")
