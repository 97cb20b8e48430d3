"""Password policy, temporary passwords and SCRAM-SHA-256 verifiers (no Qt, no database).

DECISIONS.md (Security): at least 12 characters with an upper-case letter, a lower-case letter, a
digit and a symbol. The database stores only PostgreSQL's SCRAM verifier, computed here, so the
plain password never travels to the server as SQL (nor lands in its statement log).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata

from omnidesk.errors import ValidationError

MIN_LENGTH = 12
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
# Temporary passwords avoid look-alikes (0/O, 1/l/I) so they can be read out over the phone.
_TEMP_ALPHABET = {
    "upper": "ABCDEFGHJKMNPQRSTUVWXYZ",
    "lower": "abcdefghijkmnpqrstuvwxyz",
    "digit": "23456789",
    "symbol": "#$%&*+-=?@",
}


class PasswordRejected(ValidationError):
    """The password breaks a rule of the policy; the message names the rule."""

    def __init__(self, rule: str, message: str, *, field: str = "password"):
        super().__init__({field: message})
        self.rule = rule


def policy_problems(password: str, *, username: str = "") -> list[tuple[str, str]]:
    """Every rule `password` breaks, as (rule, message), in the order a user would fix them."""
    problems: list[tuple[str, str]] = []
    if len(password) < MIN_LENGTH:
        problems.append(("length", f"The password must be at least {MIN_LENGTH} characters long (it has {len(password)})."))
    if not any(ch.isupper() for ch in password):
        problems.append(("upper", "The password must contain an upper-case letter."))
    if not any(ch.islower() for ch in password):
        problems.append(("lower", "The password must contain a lower-case letter."))
    if not any(ch.isdigit() for ch in password):
        problems.append(("digit", "The password must contain a digit."))
    if not any(not ch.isalnum() and not ch.isspace() for ch in password):
        problems.append(("symbol", "The password must contain a symbol such as ! # $ % & * + - = ? @."))
    if username and username.lower() in password.lower():
        problems.append(("username", "The password must not contain the username."))
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        problems.append(("control", "The password must not contain control characters."))
    return problems


def check_policy(password: str, *, username: str = "") -> None:
    """Raise PasswordRejected naming the first rule `password` breaks."""
    problems = policy_problems(password, username=username)
    if problems:
        rule, message = problems[0]
        raise PasswordRejected(rule, message)


def temporary_password() -> str:
    """12 random characters that satisfy the policy: one of each class, the rest from all of them."""
    classes = list(_TEMP_ALPHABET.values())
    chars = [secrets.choice(c) for c in classes]
    everything = "".join(classes)
    chars += [secrets.choice(everything) for _ in range(MIN_LENGTH - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802 / RFC 7677).

    NFKC normalisation stands in for SASLprep, which libpq applies to the password before it
    proves knowledge of it; for ASCII passwords both are the identity.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    prepared = unicodedata.normalize("NFKC", password).encode("utf-8")
    salted = hashlib.pbkdf2_hmac("sha256", prepared, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"

