"""Fuzzing the SBc-AP decoder: random and mutated octets give a message or SbcapDecodeError, nothing else,
and never take long.

SBCAP_FUZZ_EXAMPLES (default 2000, to keep the suite quick) is the number of decoder cases, split evenly
over the four input shapes below; the encoder test runs a quarter as many. For a deep run:
    SBCAP_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_sbcap_fuzz.py
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.cbc import sbcap
from omnidesk.cbc.sbcap import SbcapDecodeError, SbcapEncodeError
from test_sbcap_samples import SAMPLES, golden_vectors

EXAMPLES = int(os.environ.get("SBCAP_FUZZ_EXAMPLES", "2000"))
_QUIET = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings(max_examples=max(1, EXAMPLES // 4), **_QUIET)

# A decode of a few kilobytes takes milliseconds; this only catches a hang (or something quadratic),
# with room for a busy shared machine.
SLOW_SECONDS = 2.0

CORPUS = sorted({sbcap.encode(message) for _, message in SAMPLES} | set(golden_vectors().values()))


def decodes_or_refuses(octets: bytes) -> None:
    """The property: a message or SbcapDecodeError, quickly. Whatever decodes also encodes, and the
    encoded octets decode to the same message (the decoder accepts nothing the encoder refuses)."""
    started = time.perf_counter()
    try:
        message = sbcap.decode(octets)
    except SbcapDecodeError as exc:
        assert str(exc).startswith("SBc-AP ")
        return
    finally:
        assert time.perf_counter() - started < SLOW_SECONDS, f"decoding {len(octets)} octets took too long"
    again = sbcap.encode(message)
    assert sbcap.decode(again) == message
    if isinstance(message, sbcap.WriteReplaceWarningRequest):
        message.text  # showing a peer's pages must not raise either


# ------------------------------------------------------------------------------------------------
# The APER envelope, written by hand so the fuzzer can reach the IEs: the PDU CHOICE octet (0x00
# initiating, 0x20 successful, 0x40 unsuccessful), procedure code, criticality octet, open-type length,
# then the message SEQUENCE: one octet of extension / protocolExtensions-present bits, the IE count (two
# octets), and per IE: id (two octets), criticality octet, length, value. Extensions follow with a
# count-minus-one (two octets).


def _length(n: int) -> bytes:
    return bytes((n,)) if n < 128 else (0x8000 | n).to_bytes(2, "big")


def _field(ie_id: int, criticality: int, value: bytes) -> bytes:
    return ie_id.to_bytes(2, "big") + bytes((criticality,)) + _length(len(value)) + value


def _pdu(first: int, procedure: int, criticality: int, ies: list[bytes], extensions: list[bytes]) -> bytes:
    body = bytes((0x40 if extensions else 0x00,)) + len(ies).to_bytes(2, "big") + b"".join(ies)
    if extensions:
        body += (len(extensions) - 1).to_bytes(2, "big") + b"".join(extensions)
    return bytes((first, procedure, criticality)) + _length(len(body)) + body


def _split(octets: bytes) -> tuple[bytes, list[tuple[int, int, bytes]], list[tuple[int, int, bytes]]]:
    """A corpus PDU -> (first three octets, IEs, extensions) as (id, criticality octet, value)."""
    pos = 3
    length = octets[pos]
    pos += 1 if length < 128 else 2
    with_extensions = octets[pos] & 0x40
    pos += 1

    def fields(count: int) -> list[tuple[int, int, bytes]]:
        nonlocal pos
        out = []
        for _ in range(count):
            ie_id, criticality, size = int.from_bytes(octets[pos:pos + 2], "big"), octets[pos + 2], octets[pos + 3]
            pos += 4
            if size >= 128:
                size = ((size & 0x3F) << 8) | octets[pos]
                pos += 1
            out.append((ie_id, criticality, octets[pos:pos + size]))
            pos += size
        return out

    count = int.from_bytes(octets[pos:pos + 2], "big")
    pos += 2
    ies = fields(count)
    extensions: list[tuple[int, int, bytes]] = []
    if with_extensions:
        count = int.from_bytes(octets[pos:pos + 2], "big") + 1
        pos += 2
        extensions = fields(count)
    return octets[:3], ies, extensions


_SPLIT = [_split(octets) for octets in CORPUS if len(octets) < 16384]
HEADS = sorted({head for head, _, _ in _SPLIT})
IE_POOL = sorted({ie for _, ies, _ in _SPLIT for ie in ies})
EXTENSION_POOL = sorted({ie for _, _, extensions in _SPLIT for ie in extensions})
assert len(HEADS) == 9 and len(IE_POOL) > 50 and EXTENSION_POOL


def _mutate(draw, octets: bytes) -> bytes:
    octets = bytearray(octets)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["set", "insert", "delete", "truncate", "duplicate", "bitflip"]))
        pos = draw(st.integers(0, max(0, len(octets) - 1)))
        if operation == "set" and octets:
            octets[pos] = draw(st.integers(0, 255))
        elif operation == "bitflip" and octets:
            octets[pos] ^= 1 << draw(st.integers(0, 7))
        elif operation == "insert":
            octets[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del octets[pos:pos + draw(st.integers(1, 8))]
        elif operation == "truncate":
            del octets[pos:]
        elif operation == "duplicate":
            octets[pos:pos] = octets[pos:pos + draw(st.integers(1, 40))]
    return bytes(octets)


@st.composite
def mutated(draw) -> bytes:
    return _mutate(draw, draw(st.sampled_from(CORPUS)))


VALUES_BY_ID: dict[tuple[bool, int], list[tuple[int, int, bytes]]] = {}
for _, _ies, _extensions in _SPLIT:
    for _is_extension, _fields in ((False, _ies), (True, _extensions)):
        for _ie in _fields:
            VALUES_BY_ID.setdefault((_is_extension, _ie[0]), []).append(_ie)


@st.composite
def ie_change(draw, ie: tuple[int, int, bytes], is_extension: bool) -> tuple[int, int, bytes]:
    ie_id, criticality, value = ie
    choice = draw(st.integers(0, 11))
    if choice == 0:  # a stray id
        ie_id = draw(st.integers(0, 50) | st.integers(0, 65535))
    elif choice == 1:
        criticality = draw(st.sampled_from([0x00, 0x40, 0x80, 0xC0]))
    elif choice in (2, 3, 4):  # the value mutated, keeping its length honest
        value = _mutate(draw, value)
    elif choice == 5:
        value = draw(st.binary(max_size=40))
    elif choice in (6, 7):  # the same IE's value from another message
        value = draw(st.sampled_from(VALUES_BY_ID.get((is_extension, ie_id), [ie])))[2]
    return ie_id, criticality, value


@st.composite
def shaped(draw) -> bytes:
    """A real message taken apart and rebuilt with a few IE-level changes (an IE dropped, repeated,
    moved, taken from another message, its id, criticality or value changed), the envelope now and
    then changed too: this reaches the per-IE decoding rules with mostly well-formed APER."""
    head, ies, extensions = draw(st.sampled_from(_SPLIT))
    ies, extensions = list(ies), list(extensions)
    if draw(st.integers(0, 9)) == 0:
        head = bytes((draw(st.sampled_from([0x00, 0x20, 0x40, 0x60])), draw(st.integers(0, 9)), head[2]))
    for _ in range(draw(st.integers(1, 3))):
        fields, pool, is_extension = draw(st.sampled_from([(ies, IE_POOL, False), (extensions, EXTENSION_POOL, True)]))
        operation = draw(st.sampled_from(["change", "change", "change", "drop", "repeat", "move", "add"]))
        if operation == "add" or not fields:
            fields.insert(draw(st.integers(0, len(fields))), draw(st.sampled_from(pool)))
            continue
        at = draw(st.integers(0, len(fields) - 1))
        if operation == "change":
            fields[at] = draw(ie_change(fields[at], is_extension))
        elif operation == "drop":
            del fields[at]
        elif operation == "repeat":
            fields.insert(draw(st.integers(0, len(fields))), fields[at])
        else:
            fields.insert(draw(st.integers(0, len(fields) - 1)), fields.pop(at))
    return _pdu(head[0], head[1], head[2], [_field(*ie) for ie in ies], [_field(*ie) for ie in extensions])


@st.composite
def honest_envelope(draw) -> bytes:
    """A plausible first three octets and a correct open-type length around arbitrary octets."""
    head = draw(st.sampled_from(HEADS))
    body = draw(st.binary(max_size=300))
    return head + _length(len(body)) + body


# ------------------------------------------------------------------------------------------------
# The decoder


@FUZZ
@given(octets=st.binary(max_size=400))
def test_random_octets_decode_or_raise_the_typed_error(octets):
    decodes_or_refuses(octets)


@FUZZ
@given(octets=honest_envelope())
def test_arbitrary_bodies_in_an_honest_envelope_decode_or_raise_the_typed_error(octets):
    decodes_or_refuses(octets)


@FUZZ
@given(octets=shaped())
def test_shuffled_and_mutated_ies_decode_or_raise_the_typed_error(octets):
    decodes_or_refuses(octets)


@FUZZ
@given(octets=mutated())
def test_mutated_valid_messages_decode_or_raise_the_typed_error(octets):
    decodes_or_refuses(octets)


def test_the_shaped_generator_reaches_messages_that_decode():
    """Guard against a fuzzer that only ever produces rubbish: whole corpus messages rebuilt by hand decode."""
    for head, ies, extensions in _SPLIT:
        rebuilt = _pdu(head[0], head[1], head[2], [_field(*ie) for ie in ies], [_field(*ie) for ie in extensions])
        assert sbcap.encode(sbcap.decode(rebuilt)) == rebuilt


@pytest.mark.parametrize("fill", [b"\x00", b"\xff", b"\x55", os.urandom(4096)])
def test_a_pdu_of_the_largest_accepted_size_fails_or_decodes_quickly(fill):
    octets = CORPUS[0][:8]
    octets += (fill * (sbcap.MAX_PDU_OCTETS // len(fill) + 1))[:sbcap.MAX_PDU_OCTETS - len(octets)]
    decodes_or_refuses(octets)


def test_a_length_determinant_promising_megabytes_is_refused_at_once():
    for length in (b"\xc4", b"\xc4" * 64, b"\xbf\xff"):  # 64K-fragments, again and again; 16383 octets
        decodes_or_refuses(b"\x00\x00\x00" + length + bytes(100))


# ------------------------------------------------------------------------------------------------
# The encoder


GARBAGE = (st.none() | st.integers(-3, 70000) | st.integers(-(2**70), 2**70) | st.text(max_size=3)
           | st.binary(max_size=3) | st.floats(allow_nan=True) | st.booleans() | st.just(())
           | st.lists(st.integers(0, 3), max_size=2) | st.tuples(st.integers(0, 3)))


@settings(max_examples=max(1, EXAMPLES // 4), **_QUIET)
@given(sample=st.sampled_from([message for _, message in SAMPLES]), data=st.data())
def test_the_encoder_writes_octets_that_decode_or_refuses_with_the_typed_error(sample, data):
    fields = {field.name: getattr(sample, field.name) for field in dataclasses.fields(sample)}
    for name in data.draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2, unique=True)):
        fields[name] = data.draw(GARBAGE)
    try:
        octets = sbcap.encode(type(sample)(**fields))
    except SbcapEncodeError as exc:
        assert str(exc) and (exc.field is None or exc.field in fields)
        return
    assert sbcap.encode(sbcap.decode(octets)) == octets
