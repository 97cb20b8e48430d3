"""omnidesk.auth.totp: secrets, the provisioning URI and its QR code, backup codes, input normalisation."""

from __future__ import annotations

import base64
import io
import string
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from PIL import Image

from omnidesk.auth import totp


def test_new_secret_is_32_base32_characters_and_fresh():
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(secret) == 32 and set(secret) <= set(string.ascii_uppercase + "234567")
        assert len(base64.b32decode(secret)) == 20  # 160 bits


def test_format_secret_groups_of_four():
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    assert totp.format_secret(secret) == "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
    assert totp.format_secret(secret).replace(" ", "") == secret


def test_provisioning_uri_names_omnidesk_and_the_user():
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "jane.doe")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, unquote(parts.path)) == ("otpauth", "totp", "/OmniDesk:jane.doe")
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["OmniDesk"]
    # Apps take SHA1 / 6 digits / 30 s when the URI says nothing, and anything it does say must agree.
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]

    parsed = pyotp.parse_uri(uri)
    assert (parsed.secret, parsed.issuer, parsed.name, parsed.digits, parsed.interval) == (secret, "OmniDesk", "jane.doe", 6, 30)
    assert parsed.at(1_767_225_615) == pyotp.TOTP(secret).at(1_767_225_615)


def test_provisioning_uri_escapes_awkward_usernames():
    uri = totp.provisioning_uri(totp.new_secret(), "o'brien: ops & cbc/x?y")
    parts = urlsplit(uri)
    assert "?" not in parts.path and "&" not in parts.path
    assert unquote(parts.path) == "/OmniDesk:o'brien: ops & cbc/x?y"
    assert pyotp.parse_uri(uri).name == "o'brien: ops & cbc/x?y"


@pytest.mark.parametrize("box_size, border", [(6, 4), (3, 4), (10, 2)])
def test_qr_png_is_the_uri_s_qr_code(box_size, border):
    uri = totp.provisioning_uri(totp.new_secret(), "jane.doe")
    png = totp.qr_png(uri, box_size=box_size, border=border)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"

    modules = totp.qr_matrix(uri)  # with a 4-module quiet zone
    core = [row[4:-4] for row in modules[4:-4]]
    side = len(core)
    assert (side - 17) % 4 == 0 and 21 <= side <= 177  # a QR version's size: 17 + 4 x version
    assert image.size == ((side + 2 * border) * box_size,) * 2

    # Every module's centre pixel is dark exactly where the code has a dark module; the margin is white.
    gray = image.convert("L")
    for y in range(-border, side + border):
        for x in range(-border, side + border):
            dark = 0 <= y < side and 0 <= x < side and core[y][x]
            pixel = gray.getpixel(((x + border) * box_size + box_size // 2, (y + border) * box_size + box_size // 2))
            assert pixel == (0 if dark else 255), (x, y)


def test_qr_code_has_the_three_finder_patterns():
    """A sanity check of the matrix itself that does not trust the qrcode package's own reading."""
    core = [row[4:-4] for row in totp.qr_matrix(totp.provisioning_uri(totp.new_secret(), "jane.doe"))[4:-4]]
    side = len(core)
    # dark border ring, light ring, dark 3x3 centre
    finder = [[max(abs(x - 3), abs(y - 3)) != 2 for x in range(7)] for y in range(7)]
    for top, left in ((0, 0), (0, side - 7), (side - 7, 0)):
        assert [row[left : left + 7] for row in core[top : top + 7]] == finder


def test_backup_codes_ten_distinct_from_the_unambiguous_alphabet():
    assert len(totp.BACKUP_CODE_ALPHABET) == len(set(totp.BACKUP_CODE_ALPHABET)) == 31
    assert not set("0O1IL") & set(totp.BACKUP_CODE_ALPHABET)
    codes = totp.new_backup_codes()
    assert len(codes) == 10 == len(set(codes))
    for code in codes:
        assert len(code) == 8 and set(code) <= set(totp.BACKUP_CODE_ALPHABET)


def test_backup_codes_use_the_whole_alphabet_and_differ_every_time():
    batches = [tuple(totp.new_backup_codes()) for _ in range(40)]
    assert len(set(batches)) == 40
    seen = set("".join(code for batch in batches for code in batch))
    assert seen == set(totp.BACKUP_CODE_ALPHABET)  # 3,200 draws from 31 symbols: all appear
    assert len(totp.new_backup_codes(3)) == 3


def test_backup_code_display_and_normalisation():
    assert totp.format_backup_code("ABCDEFGH") == "ABCD-EFGH"
    assert totp.format_backup_code("abcd efgh") == "ABCD-EFGH"
    for typed in ("ABCD-EFGH", "abcd-efgh", " abcd efgh\n", "AB-CD-EF-GH", "abcd\u2009efgh", "abcd\u00a0efgh"):
        assert totp.normalize_backup_code(typed) == "ABCDEFGH", repr(typed)
    for code in totp.new_backup_codes():
        assert totp.normalize_backup_code(totp.format_backup_code(code)) == code
        assert totp.normalize_backup_code(totp.format_backup_code(code).lower()) == code


@pytest.mark.parametrize("typed, kind", [
    ("123456", "totp"), ("123 456", "totp"), (" 123-456 ", "totp"), ("000000", "totp"),
    ("ABCD-EFGH", "backup"), ("abcd efgh", "backup"), ("23456789", "backup"),
    ("12345", None), ("1234567", None), ("12345a", None), ("", None), ("ABCD-EFG", None),
    ("ABCD-EFGI", None), ("ABCD-EFG0", None), ("ABCD-EFGHJ", None), ("'; DROP TABLE x; --", None),
    ("１２３４５６", None),
])
def test_code_kind(typed, kind):
    assert totp.code_kind(typed) == kind


def test_normalize_totp_code():
    assert totp.normalize_totp_code(" 123 456 ") == "123456"
    assert totp.normalize_totp_code("123-456") == "123456"
