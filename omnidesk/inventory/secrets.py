"""Device management passwords, encrypted at rest with a key every workstation shares through the database.

Why this design. A workstation must be able to show a technician the password of the CPE it is
looking at, whichever workstation saved it; the database is the only state the workstations share.
A key kept in each workstation's OS keyring or config file would have to be copied by hand to
every desk (and a password saved at one desk would be unreadable at another until it was), so the
data key lives in the database instead:

- `secret_key` holds one random 256-bit key per purpose, created by migration 0003 from the OS's
  random source. No grant to PUBLIC: when staff users become PostgreSQL login roles, only the
  owner role (and the SECURITY DEFINER functions that will check `update_inventory`) reads it.
- `inventory_item.management_password_enc` holds AES-256-GCM ciphertext (`cryptography`'s AESGCM):
  `01 | 12-byte random nonce | ciphertext+tag`. The associated data binds it to its item
  ("inventory_item:<id>:management_password"), so a ciphertext copied onto another item does not
  decrypt. A CHECK refuses anything not in that shape, so plaintext cannot be written by mistake.

What this protects against: the password does not appear in item exports, reports or read
replicas that carry the item table without the key table, in query logs, screenshots of SQL, the
activity log or the item history, and a role granted SELECT on items cannot read it. What it does
not: whoever can read the whole database (a superuser, a complete dump) can decrypt, exactly as they
can read every customer record — treat full backups as secret. Revealing a password is a use case
of its own (`reveal_management_password`), needs `update_inventory` and is written to the activity log.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.errors import ServiceError
from omnidesk.inventory.models import SecretKey

PURPOSE = "inventory.management_password"
FORMAT_VERSION = b"\x01"


def _key(session: Session) -> bytes:
    key = session.scalar(select(SecretKey.key).where(SecretKey.purpose == PURPOSE))
    if key is None:
        raise ServiceError("The database has no key for device passwords; run `omnidesk db upgrade`.")
    return bytes(key)


def _associated_data(item_id: int) -> bytes:
    return f"inventory_item:{item_id}:management_password".encode()


def encryptor(session: Session) -> Callable[[int, str], bytes]:
    """encrypt(item_id, password) with the key read once (for imports of many items)."""
    aead = AESGCM(_key(session))

    def encrypt(item_id: int, password: str) -> bytes:
        nonce = os.urandom(12)
        return FORMAT_VERSION + nonce + aead.encrypt(nonce, password.encode("utf-8"), _associated_data(item_id))

    return encrypt


def encrypt_password(session: Session, item_id: int, password: str) -> bytes:
    return encryptor(session)(item_id, password)


def decrypt_password(session: Session, item_id: int, blob: bytes) -> str:
    blob = bytes(blob)
    if blob[:1] != FORMAT_VERSION:
        raise ServiceError(f"The stored password of item {item_id} is in an unknown format.")
    try:
        plain = AESGCM(_key(session)).decrypt(blob[1:13], blob[13:], _associated_data(item_id))
    except InvalidTag:
        raise ServiceError(
            f"The stored password of item {item_id} cannot be decrypted (it was altered, copied from "
            "another item, or the key changed)."
        ) from None
    return plain.decode("utf-8")
