"""Fuzzing the CBSP decoder and reassembler: random and mutated octets give a message or CbspDecodeError, nothing else.

CBSP_FUZZ_EXAMPLES (default 2000, to keep the suite quick) is the number of decoder cases, split evenly
over the four input shapes below; the encoder test runs a quarter as many, the reassembler test a
tenth. For a deep run (100,000 decoder cases took 8 min 50 s on a busy 2-core machine):
    CBSP_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_cbsp_fuzz.py
"""

from __future__ import annotations

import dataclasses
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.cbc import cbsp
from omnidesk.cbc.cbsp import CbspDecodeError, CbspFramingError, CbspReassembler, Iei
from omnidesk.cbc.period import RepetitionPeriodLayout
from test_cbsp_samples import SAMPLES, golden_vectors

EXAMPLES = int(os.environ.get("CBSP_FUZZ_EXAMPLES", "2000"))
_QUIET = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings(max_examples=max(1, EXAMPLES // 4), **_QUIET)
FUZZ_STREAM = settings(max_examples=max(1, EXAMPLES // 10), **_QUIET)

LAYOUTS = st.sampled_from(list(RepetitionPeriodLayout))
CORPUS = sorted({cbsp.encode(message, repetition_period_layout=layout)
                 for _, message in SAMPLES for layout in RepetitionPeriodLayout}
                | {octets for name, octets in golden_vectors().items() if not name.startswith("air_page")})


def decodes_or_refuses(octets: bytes, layout: RepetitionPeriodLayout) -> None:
    """The property: a CbspMessage or CbspDecodeError. Whatever decodes also re-encodes, and the
    re-encoded octets decode to the same message (the decoder accepts nothing the encoder refuses)."""
    try:
        message = cbsp.decode(octets, repetition_period_layout=layout)
    except CbspDecodeError as exc:
        assert str(exc) and exc.offset >= 0
        return
    again = cbsp.encode(message, repetition_period_layout=layout)
    assert cbsp.decode(again, repetition_period_layout=layout) == message
    if isinstance(message, cbsp.WriteReplace):
        message.text  # showing a peer's pages must not raise either


def _frame(message_type: int, body: bytes) -> bytes:
    return bytes([message_type]) + len(body).to_bytes(3, "big") + body


def _ie(draw, iei: int) -> bytes:
    """One IE with the right framing for its IEI, filled with arbitrary or merely plausible octets."""
    rule = cbsp._RULES.get(iei)
    if rule is None:  # a stray IEI
        return bytes([iei]) + draw(st.binary(max_size=4))
    if rule.format.name == "TL16V":
        value = draw(st.binary(max_size=40) | st.sampled_from([b"\x06", b"\x00" + bytes.fromhex("09f1070017002a")]))
        declared = draw(st.sampled_from([len(value)] * 8 + [0, len(value) + 1, 0xFFFF]))
        return bytes([iei]) + declared.to_bytes(2, "big") + value
    arbitrary = st.binary(min_size=rule.octets, max_size=rule.octets)
    if rule.octets <= 2:  # small numbers get past range checks, so decoding goes deeper
        return bytes([iei]) + draw(arbitrary | st.integers(0, 20).map(lambda n: n.to_bytes(rule.octets, "big")))
    return bytes([iei]) + draw(arbitrary)


@st.composite
def random_ie(draw) -> bytes:
    return _ie(draw, draw(st.sampled_from(list(Iei)) | st.integers(0, 255)))


@st.composite
def shaped_message(draw) -> bytes:
    """The IEs a message type expects (optional ones at random, in order or shuffled), arbitrary
    values, now and then an extra or stray IE: this reaches the per-message decoding rules."""
    cls = draw(st.sampled_from(cbsp._MESSAGE_CLASSES))
    ies = []
    for field in cls._IES:
        if not field.mandatory and draw(st.booleans()):
            continue
        if field.iei == Iei.MESSAGE_CONTENT:
            ies += [_ie(draw, field.iei) for _ in range(draw(st.integers(0, 3)))]
        else:
            ies.append(_ie(draw, field.iei))
    if draw(st.integers(0, 3)) == 0:
        ies.insert(draw(st.integers(0, len(ies))), draw(random_ie()))
    if draw(st.integers(0, 3)) == 0:
        ies = draw(st.permutations(ies))
    return _frame(cls.MESSAGE_TYPE, b"".join(ies))


@st.composite
def mutated(draw) -> bytes:
    octets = bytearray(draw(st.sampled_from(CORPUS)))
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
            octets[pos:pos] = octets[pos:pos + draw(st.integers(1, 90))]
    if len(octets) >= 4 and draw(st.booleans()):  # keep the header honest half the time, to reach the IEs
        octets[1:4] = (len(octets) - 4).to_bytes(3, "big")
    return bytes(octets)


@FUZZ
@given(octets=st.binary(max_size=400), layout=LAYOUTS)
def test_random_octets_decode_or_raise_the_typed_error(octets, layout):
    decodes_or_refuses(octets, layout)


@FUZZ
@given(message_type=st.integers(0, 0x18) | st.integers(0, 255), body=st.binary(max_size=300), layout=LAYOUTS)
def test_random_bodies_behind_an_honest_header_decode_or_raise_the_typed_error(message_type, body, layout):
    decodes_or_refuses(_frame(message_type, body), layout)


@FUZZ
@given(octets=shaped_message() | st.builds(lambda t, ies: _frame(t, b"".join(ies)), st.integers(1, 0x17),
                                            st.lists(random_ie(), max_size=8)),
       layout=LAYOUTS)
def test_random_ie_sequences_decode_or_raise_the_typed_error(octets, layout):
    decodes_or_refuses(octets, layout)


@FUZZ
@given(octets=mutated(), layout=LAYOUTS)
def test_mutated_valid_messages_decode_or_raise_the_typed_error(octets, layout):
    decodes_or_refuses(octets, layout)


@FUZZ_STREAM
@given(pdus=st.lists(st.sampled_from(CORPUS), min_size=1, max_size=8), cuts=st.lists(st.integers(0, 5000), max_size=12),
       garbage=st.none() | st.binary(min_size=1, max_size=64))
def test_the_reassembler_yields_whole_messages_or_a_framing_error(pdus, cuts, garbage):
    stream = b"".join(pdus) + (garbage or b"")
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    reassembler = CbspReassembler()
    received = []
    try:
        for start, end in zip(points, points[1:]):
            for pdu in reassembler.feed(stream[start:end]):
                received.append(pdu)
    except CbspFramingError:
        assert garbage is not None
    assert received[:len(pdus)] == pdus[:len(received)]
    if garbage is None:
        assert received == pdus and reassembler.pending == 0
    assert b"".join(received) == stream[:len(b"".join(received))]


GARBAGE = (st.none() | st.integers(-3, 70000) | st.integers(-(2**70), 2**70) | st.text(max_size=3)
           | st.binary(max_size=3) | st.floats(allow_nan=True) | st.booleans() | st.just(()) | st.lists(st.integers(0, 3), max_size=2))


@FUZZ
@given(sample=st.sampled_from([message for _, message in SAMPLES]), data=st.data(), layout=LAYOUTS)
def test_the_encoder_writes_octets_that_decode_or_refuses_with_the_typed_error(sample, data, layout):
    fields = {field.name: getattr(sample, field.name) for field in dataclasses.fields(sample)}
    for name in data.draw(st.lists(st.sampled_from(sorted(fields) or ["-"]), max_size=2, unique=True)):
        if name in fields:
            fields[name] = data.draw(GARBAGE)
    try:
        octets = cbsp.encode(type(sample)(**fields), repetition_period_layout=layout)
    except cbsp.CbspEncodeError as exc:
        assert str(exc)
        return
    assert cbsp.encode(cbsp.decode(octets, repetition_period_layout=layout), repetition_period_layout=layout) == octets
