"""Two-factor enrolment, the client's half: new secrets, the authenticator app's QR code, backup codes.

Pure Python, no Qt. Codes are *checked* only in the database (omnidesk/db/sql/totp.sql), so this
module generates and formats but never verifies. Semantics follow DECISIONS.md (Security): TOTP
with HMAC-SHA1, 6 digits, a 30-second step, issuer "OmniDesk"; 10 single-use backup codes of 8
characters.
"""

from __future__ import annotations

import io
import re
import secrets

import pyotp
import qrcode
import qrcode.constants

ISSUER = "OmniDesk"
DIGITS = 6
STEP_SECONDS = 30
SECRET_LENGTH = 32  # base32 characters: 160 bits, the HMAC-SHA1 block's natural key size (RFC 4226 §4)

BACKUP_CODE_COUNT = 10
BACKUP_CODE_LENGTH = 8
# No 0/O, 1/I/L: what is read off paper is typed back unambiguously. 31 symbols, about 39.6 bits a code.
BACKUP_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

_SEPARATORS = re.compile(r"[\s\-]+")


def new_secret() -> str:
    """A fresh shared secret: 32 base32 characters (A-Z, 2-7) from the system's CSPRNG."""
    return pyotp.random_base32(SECRET_LENGTH)


def format_secret(secret: str) -> str:
    """The secret in groups of four for typing into an app by hand: "ABCD EFGH ..."."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth://totp/ URI an authenticator app reads from the QR code.

    The label is "OmniDesk:<username>" and the issuer parameter "OmniDesk", so apps list the
    entry under OmniDesk. SHA-1, 6 digits and 30 seconds are the URI format's defaults, which
    pyotp leaves out.
    """
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER)
    return totp.provisioning_uri(name=username, issuer_name=ISSUER)


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules for `data` (True = dark), with its 4-module quiet zone."""
    return _qr(data, border=4).get_matrix()


def qr_png(data: str, *, box_size: int = 6, border: int = 4) -> bytes:
    """A black-on-white PNG of the QR code for `data`: `box_size` pixels a module, `border` modules of margin."""
    code = _qr(data, box_size=box_size, border=border)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _qr(data: str, *, box_size: int = 6, border: int = 4) -> qrcode.QRCode:
    # Level M (15 % recoverable) keeps an 80-100 character URI at a version phones read easily off a screen.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def new_backup_codes(count: int = BACKUP_CODE_COUNT) -> list[str]:
    """`count` distinct backup codes of 8 characters from BACKUP_CODE_ALPHABET (normalised form, no dash)."""
    codes: list[str] = []
    while len(codes) < count:
        code = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
        if code not in codes:
            codes.append(code)
    return codes


def format_backup_code(code: str) -> str:
    """How a code is shown and printed: "ABCD-EFGH"."""
    code = normalize_backup_code(code)
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_backup_code(text: str) -> str:
    """What the user typed, as stored: whitespace and dashes dropped, upper-cased.

    The same rule as omnidesk_normalize_backup_code() in the database, which is what hashes it.
    """
    return _SEPARATORS.sub("", text).upper()


def normalize_totp_code(text: str) -> str:
    """What the user typed as an authenticator code, spaces and dashes dropped ("123 456" -> "123456")."""
    return _SEPARATORS.sub("", text)


def code_kind(text: str) -> str | None:
    """'totp' for six digits, 'backup' for a well-formed backup code, None for anything else.

    For the login dialog: it decides which database check to call and says "that is not a code"
    without a round trip. Input is normalised first, so "123 456" and "abcd-efgh" qualify.
    """
    if re.fullmatch(r"[0-9]{%d}" % DIGITS, normalize_totp_code(text)):
        return "totp"
    code = normalize_backup_code(text)
    if len(code) == BACKUP_CODE_LENGTH and all(ch in BACKUP_CODE_ALPHABET for ch in code):
        return "backup"
    return None
