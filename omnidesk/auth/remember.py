"""The login dialog's "Remember me": the last username and server, in the OS keyring only.

Nothing else is ever stored (no password, no code, no token). Where the keyring library finds no
secure backend (the "fail" or "null" backends, or one that writes plain text files), nothing is
stored and `insecure_reason()` says why, for the dialog to show. No Qt; keyring calls may block on
D-Bus, so the GUI runs them on a worker.
"""

from __future__ import annotations

import json

SERVICE = "OmniDesk"
ENTRY = "last sign-in"
NO_SECURE_KEYRING = (
    "This computer has no secure keyring (such as GNOME Keyring, KWallet, macOS Keychain or Windows "
    "Credential Manager), so OmniDesk cannot remember your username here."
)


class NoSecureKeyring(Exception):
    """The OS offers no secure keyring; nothing was stored."""


def _insecure(backend) -> bool:
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return not backend.backends or all(_insecure(b) for b in backend.backends)
    kind = f"{type(backend).__module__}.{type(backend).__name__}".lower()
    return (
        kind.startswith(("keyring.backends.fail.", "keyring.backends.null."))
        or "plaintext" in kind
        or "uncrypted" in kind
    )


def insecure_reason() -> str | None:
    """None when a secure keyring is available, otherwise the sentence the dialog shows."""
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration is no secure keyring either
        return NO_SECURE_KEYRING
    return NO_SECURE_KEYRING if _insecure(backend) else None


def remember(server: str, username: str) -> None:
    """Keep `username` for `server`; NoSecureKeyring when there is nowhere safe to keep it."""
    import keyring

    if insecure_reason() is not None:
        raise NoSecureKeyring(NO_SECURE_KEYRING)
    keyring.set_password(SERVICE, ENTRY, json.dumps({"server": server, "username": username}))


def recall(server: str) -> str | None:
    """The username remembered for `server`, or None (also when the keyring is unavailable)."""
    import keyring

    if insecure_reason() is not None:
        return None
    try:
        raw = keyring.get_password(SERVICE, ENTRY)
        data = json.loads(raw) if raw else None
    except Exception:
        return None
    if isinstance(data, dict) and data.get("server") == server and isinstance(data.get("username"), str):
        return data["username"]
    return None


def forget() -> None:
    """Drop what was remembered (unticking "Remember me")."""
    import keyring
    from keyring.errors import PasswordDeleteError

    if insecure_reason() is not None:
        return
    try:
        keyring.delete_password(SERVICE, ENTRY)
    except PasswordDeleteError:
        pass
