"""The database's own SHA-1, HMAC-SHA1, HOTP/TOTP, base32 and backup-code hashing (omnidesk/db/sql/totp.sql).

Each function is checked against an independent reference: published test vectors (FIPS 180-4
examples, RFC 2202, RFC 4226 Appendix D, RFC 6238 Appendix B) and Python's hashlib / hmac /
base64 / pyotp on generated inputs.
"""

from __future__ import annotations

import re

import base64
import hashlib
import hmac
import statistics
import time
from datetime import datetime, timezone
from importlib import resources

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk.auth import totp as enrolment

# The functions are pure, so one database serves every example of a hypothesis test.
examples = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

RFC_SECRET = b"12345678901234567890"  # RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1)


def totp_sql() -> str:
    return resources.files("omnidesk.db").joinpath("sql/totp.sql").read_text(encoding="utf-8")


class Sql:
    """One connection to a database the file was loaded into; `one(query, **params)` returns the first column."""

    def __init__(self, conn):
        self.conn = conn

    def one(self, query: str, **params):
        return self.conn.execute(text(query), params).scalar_one()

    def error(self, query: str, **params) -> str:
        with pytest.raises(DBAPIError) as caught:
            with self.conn.begin_nested():
                self.conn.execute(text(query), params)
        return str(caught.value.orig)


@pytest.fixture
def sql(db):
    with db.transaction() as session:
        session.execute(text(totp_sql()))
    with db.engine.connect() as conn:
        yield Sql(conn)
        conn.rollback()


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)


# --- the file itself -------------------------------------------------------------------------


def test_the_file_creates_only_pure_omnidesk_functions_and_can_run_again(db):
    catalog = text(
        "SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel FROM pg_proc p "
        "WHERE p.pronamespace = current_schema()::regnamespace")
    defined = sorted(set(re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", totp_sql())))
    with db.transaction() as session:
        for name in defined:  # migration 0004 loaded the file already: start from before it
            session.execute(text(f"DROP FUNCTION {name}"))
        relations_before = session.execute(text("SELECT count(*) FROM pg_class")).scalar_one()
        before = set(session.execute(catalog).all())
        session.execute(text(totp_sql()))
        session.execute(text(totp_sql()))  # CREATE OR REPLACE: a later migration may load a fixed copy
        added = set(session.execute(catalog).all()) - before
        assert session.execute(text("SELECT count(*) FROM pg_class")).scalar_one() == relations_before
    names = {row.proname for row in added}
    assert {"omnidesk_sha1", "omnidesk_hmac_sha1", "omnidesk_base32_decode", "omnidesk_hotp",
            "omnidesk_totp_matches", "omnidesk_hash_backup_code"} <= names
    for row in added:
        assert row.proname.startswith("omnidesk_")
        assert (row.provolatile, row.proisstrict, row.proparallel) == ("i", True, "s"), row.proname


# --- SHA-1 -----------------------------------------------------------------------------------

FIPS_VECTORS = [
    (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "a49b2446a02c645bf419f995b67091253a04a259"),
]


@pytest.mark.parametrize("message, digest", FIPS_VECTORS, ids=["empty", "abc", "448 bits", "896 bits"])
def test_sha1_fips_examples(sql, message, digest):
    assert hashlib.sha1(message).hexdigest() == digest
    assert sql.one("SELECT omnidesk_sha1(:m)", m=message).hex() == digest


def test_sha1_of_a_million_a(sql):
    assert sql.one("SELECT omnidesk_sha1(convert_to(repeat('a', 1000000), 'UTF8'))").hex() == (
        "34aa973cd4c4daa4f61eeb2bdbad27316534016f")


def test_sha1_at_every_length_around_the_block_boundaries(sql):
    # 55 is the longest message padded into one block, 56-63 need a second; 119/120 the same one block on.
    for length in (*range(0, 140), 183, 184, 191, 192, 193, 255, 256, 1000, 4096):
        message = bytes((i * 31 + length) % 256 for i in range(length))
        assert sql.one("SELECT omnidesk_sha1(:m)", m=message) == hashlib.sha1(message).digest(), length


@examples
@given(message=st.binary(min_size=0, max_size=300))
def test_sha1_matches_hashlib(sql, message):
    assert sql.one("SELECT omnidesk_sha1(:m)", m=message) == hashlib.sha1(message).digest()


def test_sha1_of_null_is_null(sql):
    assert sql.one("SELECT omnidesk_sha1(NULL)") is None


# --- HMAC-SHA1 -------------------------------------------------------------------------------

RFC2202 = [
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First", "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
]


@pytest.mark.parametrize("key, message, digest", RFC2202, ids=[f"case {i}" for i in range(1, 8)])
def test_hmac_sha1_rfc2202(sql, key, message, digest):
    assert hmac.new(key, message, "sha1").hexdigest() == digest
    assert sql.one("SELECT omnidesk_hmac_sha1(:k, :m)", k=key, m=message).hex() == digest


@examples
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(min_size=0, max_size=300))
def test_hmac_sha1_matches_python(sql, key, message):
    assert sql.one("SELECT omnidesk_hmac_sha1(:k, :m)", k=key, m=message) == hmac.new(key, message, "sha1").digest()


def test_hmac_sha1_keys_at_the_block_size(sql):
    for length in (63, 64, 65, 128):
        key = bytes(range(length))
        assert sql.one("SELECT omnidesk_hmac_sha1(:k, 'x')", k=key) == hmac.new(key, b"x", "sha1").digest(), length


# --- HOTP and TOTP ---------------------------------------------------------------------------

RFC4226_APPENDIX_D = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


def test_hotp_rfc4226_appendix_d(sql):
    codes = [sql.one("SELECT omnidesk_hotp(:s, :c)", s=RFC_SECRET, c=c) for c in range(10)]
    assert codes == RFC4226_APPENDIX_D
    reference = pyotp.HOTP(base64.b32encode(RFC_SECRET).decode())
    assert codes == [reference.at(c) for c in range(10)]


RFC6238_SHA1 = [  # Appendix B: unix time, 8-digit TOTP with the SHA-1 seed
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
    (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130"),
]


@pytest.mark.parametrize("unix, code", RFC6238_SHA1, ids=[str(t) for t, _ in RFC6238_SHA1])
def test_totp_rfc6238_sha1_vectors(sql, unix, code):
    assert sql.one("SELECT omnidesk_hotp(:s, :c, 8)", s=RFC_SECRET, c=unix // 30) == code
    # A 6-digit code is the same number mod 10^6, so the 8-digit vectors' last six digits are the
    # 6-digit codes of those instants, and the check finds the vector's own time step.
    assert sql.one("SELECT omnidesk_totp_matches(:s, :code, :at)", s=RFC_SECRET, code=code[-6:], at=at(unix)) == unix // 30


def test_hotp_refuses_what_rfc4226_does_not_define(sql):
    assert "6 to 9 digits, not 5" in sql.error("SELECT omnidesk_hotp(:s, 1, 5)", s=RFC_SECRET)
    assert "6 to 9 digits, not 10" in sql.error("SELECT omnidesk_hotp(:s, 1, 10)", s=RFC_SECRET)
    assert "counter -1 is negative" in sql.error("SELECT omnidesk_hotp(:s, -1)", s=RFC_SECRET)
    assert sql.one("SELECT omnidesk_hotp(:s, 1, 9)", s=RFC_SECRET) == pyotp.HOTP(
        base64.b32encode(RFC_SECRET).decode(), digits=9).at(1)


# pyotp refuses keys under 112 bits; unpadded, as secrets usually are.
secrets_b32 = st.binary(min_size=14, max_size=40).map(lambda b: base64.b32encode(b).decode().rstrip("="))
unix_times = st.integers(min_value=60, max_value=4_102_444_800)  # to 2100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secrets_b32, unix=unix_times)
def test_totp_matches_pyotp(sql, secret, unix):
    code = pyotp.TOTP(secret).at(unix)
    key = sql.one("SELECT omnidesk_base32_decode(:s)", s=secret)
    assert sql.one("SELECT omnidesk_totp_matches(:k, :code, :at)", k=key, code=code, at=at(unix)) == unix // 30
    assert sql.one("SELECT omnidesk_hotp(:k, :c)", k=key, c=unix // 30) == code


def test_totp_window_one_step_either_side_and_no_more(sql):
    secret = enrolment.new_secret()
    key = base64.b32decode(secret)
    totp = pyotp.TOTP(secret)
    now = 1_767_225_615  # 2026-01-01 00:00:15 UTC, mid-step
    step = now // 30

    def matches(code_time: int, window: int = 1):
        return sql.one('SELECT omnidesk_totp_matches(:k, :code, :at, "window" => :window)',
                       k=key, code=totp.at(code_time), at=at(now), window=window)

    assert matches(now) == step
    assert matches(now - 30) == step - 1
    assert matches(now + 30) == step + 1
    assert matches(now - 60) is None
    assert matches(now + 60) is None
    assert matches(now - 60, window=2) == step - 2
    assert matches(now - 30, window=0) is None
    assert matches(now, window=0) == step
    # The same code near the end of its step, and one step late by the verifier's clock.
    assert sql.one("SELECT omnidesk_totp_matches(:k, :code, :at)", k=key, code=totp.at(now), at=at(step * 30 + 59)) == step
    # Another step length: pyotp's interval=60 codes.
    assert sql.one("SELECT omnidesk_totp_matches(:k, :code, :at, 60)", k=key, code=pyotp.TOTP(secret, interval=60).at(now),
                   at=at(now)) == now // 60
    # The default `at` is the server's clock.
    assert sql.one("SELECT omnidesk_totp_matches(:k, :code)", k=key, code=totp.now()) is not None


def test_totp_when_two_steps_of_the_window_share_a_code_the_latest_wins(sql):
    # Found by search: with the RFC secret, steps 153567 and 153569 both give 468457, and steps
    # 910737 and 910738 both give 911617. Returning the later step lets "counter must grow" refuse
    # the same digits replayed a step later.
    def check(code, step):
        return sql.one("SELECT omnidesk_totp_matches(:k, :c, :at)", k=RFC_SECRET, c=code, at=at(step * 30 + 15))

    assert [sql.one("SELECT omnidesk_hotp(:k, :c)", k=RFC_SECRET, c=c) for c in (153567, 153569, 910737, 910738)] == [
        "468457", "468457", "911617", "911617"]
    assert check("468457", 153568) == 153569
    assert check("468457", 153567) == 153567
    assert check("468457", 153570) == 153569
    assert check("911617", 910737) == 910738
    assert check("911617", 910736) == 910737


def test_totp_refuses_anything_but_six_ascii_digits(sql):
    key = RFC_SECRET
    good = "287082"  # step 1 (unix 30-59)
    assert sql.one("SELECT omnidesk_totp_matches(:k, :c, :at)", k=key, c=good, at=at(45)) == 1
    for wrong in ("", "28708", "2870820", "94287082", " 287082", "287082 ", "287 082", "287-082", "28708a",
                  "２８７０８２", "٢٨٧٠٨٢", "287082\n", "+87082", "-87082"):
        assert sql.one("SELECT omnidesk_totp_matches(:k, :c, :at)", k=key, c=wrong, at=at(45)) is None, repr(wrong)
    assert sql.one("SELECT omnidesk_totp_matches(:k, NULL, :at)", k=key, at=at(45)) is None
    assert sql.one("SELECT omnidesk_totp_matches(:k, '000000', :at)", k=key, at=at(45)) is None


def test_totp_near_the_epoch_skips_negative_steps(sql):
    assert sql.one("SELECT omnidesk_totp_matches(:k, '755224', :at)", k=RFC_SECRET, at=at(10)) == 0
    assert sql.one("SELECT omnidesk_totp_matches(:k, '755224', :at)", k=RFC_SECRET, at=at(40)) == 0


def test_totp_refuses_nonsense_parameters(sql):
    assert "step must be positive" in sql.error("SELECT omnidesk_totp_matches(:k, '123456', now(), 0)", k=RFC_SECRET)
    assert "window 0 to 10" in sql.error("SELECT omnidesk_totp_matches(:k, '123456', now(), 30, -1)", k=RFC_SECRET)


def test_totp_check_is_fast(sql):
    """One check with window 1 should take well under 50 ms; asserted at 250 ms for a busy machine."""
    key = base64.b32decode(enrolment.new_secret())
    query = "SELECT omnidesk_totp_matches(:k, :c, :at)"
    sql.one(query, k=key, c="123456", at=at(1_767_225_615))  # plan caches warm
    times = []
    for i in range(20):
        started = time.perf_counter()
        sql.one(query, k=key, c="123456", at=at(1_767_225_615 + 30 * i))
        times.append((time.perf_counter() - started) * 1000)
    print(f"omnidesk_totp_matches, window 1, round trip: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms")
    assert statistics.median(times) < 250


# --- base32 ----------------------------------------------------------------------------------


@examples
@given(data=st.binary(min_size=0, max_size=40), spaces=st.integers(min_value=0, max_value=5))
def test_base32_decode_matches_python(sql, data, spaces):
    encoded = base64.b32encode(data).decode()
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e=encoded) == data
    unpadded = encoded.rstrip("=")
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e=unpadded.lower()) == data
    spaced = " ".join(unpadded[i : i + 4] for i in range(0, len(unpadded), 4)) + " " * spaces
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e=spaced) == base64.b32decode(encoded, casefold=True)


def test_base32_decode_of_a_pyotp_secret(sql):
    secret = enrolment.new_secret()
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e=secret) == base64.b32decode(secret)
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e=enrolment.format_secret(secret).lower()) == base64.b32decode(secret)
    assert sql.one("SELECT omnidesk_base32_decode(:e)", e="JBSW Y3DP\tEHPK 3PXP\n") == b"Hello!\xde\xad\xbe\xef"


@pytest.mark.parametrize("encoded, message", [
    ("JBSWY3D1", 'the character "1" at position 8 is not one of A-Z, 2-7'),
    ("JBSW0Y3D", 'the character "0" at position 5 is not one of A-Z, 2-7'),
    ("JBSWY3D8", 'the character "8" at position 8'),
    ("JBSW-Y3DP", 'the character "-" at position 5'),
    ("JBSWÄY3D", 'the character "Ä" at position 5'),
    ("MZ=XW6===", "padding '=' at position 3 is not at the end"),
    ("A", "its length (1 characters without padding) cannot be base32"),
    ("ABC", "its length (3 characters without padding)"),
    ("ABCDEF==", "its length (6 characters without padding)"),
])
def test_base32_decode_names_what_is_wrong(sql, encoded, message):
    error = sql.error("SELECT omnidesk_base32_decode(:e)", e=encoded)
    assert message in error
    assert error.startswith("Not a base32 secret: ")


# --- backup codes ----------------------------------------------------------------------------


def test_backup_code_hash_round_trip(sql):
    salt = bytes(range(16))
    code = "ABCDEFGH"
    stored = sql.one("SELECT omnidesk_hash_backup_code(:c, :s)", c=code, s=salt)
    assert stored == hashlib.sha256(salt + code.encode()).digest()
    for typed in ("ABCD-EFGH", "abcd-efgh", " abcd efgh ", "AbCd\u2009EfGh", "ab-cd-ef-gh", "ABCDEFGH"):
        assert sql.one("SELECT omnidesk_backup_code_matches(:c, :s, :h)", c=typed, s=salt, h=stored), typed
        assert sql.one("SELECT omnidesk_hash_backup_code(:c, :s)", c=typed, s=salt) == stored
    for wrong in ("ABCD-EFGJ", "ABCDEFG", "ABCDEFGHA", "", "ABCD_EFGH"):
        assert not sql.one("SELECT omnidesk_backup_code_matches(:c, :s, :h)", c=wrong, s=salt, h=stored), wrong
    other_salt = bytes(16)
    assert sql.one("SELECT omnidesk_hash_backup_code(:c, :s)", c=code, s=other_salt) != stored
    assert not sql.one("SELECT omnidesk_backup_code_matches(:c, :s, :h)", c=code, s=other_salt, h=stored)


def test_backup_codes_from_the_enrolment_module_check_in_the_database(sql):
    # A salt the database makes itself, without pgcrypto: 16 bytes of gen_random_uuid().
    rows = sql.conn.execute(text(
        "SELECT c, s, omnidesk_hash_backup_code(c, s) FROM unnest(CAST(:codes AS text[])) AS c, "
        "LATERAL (SELECT uuid_send(gen_random_uuid()) AS s) AS salt"), {"codes": enrolment.new_backup_codes()}).all()
    assert len({row[2] for row in rows}) == 10
    for code, salt, stored in rows:
        shown = enrolment.format_backup_code(code)
        assert sql.one("SELECT omnidesk_backup_code_matches(:c, :s, :h)", c=shown.lower(), s=salt, h=stored)
        assert stored == hashlib.sha256(salt + enrolment.normalize_backup_code(shown).encode()).digest()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(alphabet=st.sampled_from("ABCDEFGHJKabcdk23489 -\t"), max_size=16))
def test_python_and_sql_normalise_backup_codes_alike(sql, typed):
    assert sql.one("SELECT omnidesk_normalize_backup_code(:t)", t=typed) == enrolment.normalize_backup_code(typed)
