"""SBc-AP codec: golden vectors byte for byte, every message type round trip, what the encoder refuses and
how the decoder refuses, large (fragmented) PDUs, the generated module, and no pycrate value leaking out."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from omnidesk.cbc import sbcap
from omnidesk.cbc.pages import GeographicalScope, Page, SerialNumber
from omnidesk.cbc.sbcap import (
    BroadcastCancelledAreaList,
    BroadcastScheduledAreaList,
    CancelledCell,
    Cause,
    CellIdList,
    CriticalityDiagnostics,
    CriticalityDiagnosticsIe,
    EmergencyAreaList,
    EnbIdKind,
    EtwsWarningType,
    EutranCellId,
    GlobalEnbId,
    GlobalGnbId,
    NrCellId,
    NrCellIdList,
    Plmn,
    SbcapDecodeError,
    SbcapEncodeError,
    TrackingAreaId,
    TrackingAreaId5gs,
    TrackingAreaList,
    WarningType,
)
from test_sbcap_samples import SAMPLES, SERIAL, TEXT_2_PAGES_GSM7, golden_vectors

REPO = Path(__file__).resolve().parent.parent
GOLDEN = golden_vectors()
PLMN = Plmn("001", "01")
TAI = TrackingAreaId(PLMN, 1)
CELL = EutranCellId(PLMN, 0x0000101)
ENB = GlobalEnbId(PLMN, 1, EnbIdKind.MACRO)
SERIAL_4010 = SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0)


# ------------------------------------------------------------------------------------------------
# Golden vectors (cbc-protocols.md §5.1, §5.2)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_golden_vector_decodes_and_re_encodes_byte_for_byte(name):
    message = sbcap.decode(GOLDEN[name])
    assert sbcap.encode(message) == GOLDEN[name]


def test_the_osmo_cbc_request_decodes_to_its_dummy_values_and_keeps_content_that_is_not_cb_data():
    message = sbcap.decode(GOLDEN["osmo_cbc_write_replace_warning_request"])
    assert message == sbcap.WriteReplaceWarningRequest(
        message_identifier=0xAB01, serial_number=SerialNumber.from_encoded(0xABCD), repetition_period=30,
        number_of_broadcasts_requested=89, warning_type=WarningType(EtwsWarningType.TSUNAMI, True, True),
        warning_security_information=bytes.fromhex("3040122345") + bytes(45), data_coding_scheme=0x02,
        warning_message_content=bytes.fromhex("3040122345") + bytes(15))
    assert message.pages == () and message.text is None


def test_the_osmo_cbc_response_is_an_accepted_write_replace_warning():
    message = sbcap.decode(GOLDEN["osmo_cbc_write_replace_warning_response"])
    assert message == sbcap.WriteReplaceWarningResponse(43, SerialNumber.from_encoded(0x4170), Cause.MESSAGE_ACCEPTED)
    assert message.accepted


def test_the_presidential_alert_built_from_operator_text_is_the_golden_vector():
    """CB-Data comes from pages.build_pages, shared with CBSP: same page octets, same info length."""
    message = sbcap.WriteReplaceWarningRequest.with_text(
        message_identifier=4370, serial_number=SERIAL_4010, text="Presidential Alert test", repetition_period=60,
        number_of_broadcasts_requested=0, tracking_areas=(TAI,), warning_area=TrackingAreaList((TAI,)))
    assert sbcap.encode(message) == GOLDEN["pycrate_write_replace_warning_request_presidential"]
    decoded = sbcap.decode(GOLDEN["pycrate_write_replace_warning_request_presidential"])
    assert decoded == message
    assert decoded.text == "Presidential Alert test"
    assert decoded.data_coding_scheme == 0x0F and [p.user_information_length for p in decoded.pages] == [21]
    assert decoded.concurrent_warning_message_indicator and decoded.send_write_replace_warning_indication


@pytest.mark.parametrize("name, message", [
    ("pycrate_stop_warning_request",
     sbcap.StopWarningRequest(4370, SERIAL_4010, tracking_areas=(TAI,), send_stop_warning_indication=True)),
    ("pycrate_write_replace_warning_response_accepted",
     sbcap.WriteReplaceWarningResponse(4370, SERIAL_4010, Cause.MESSAGE_ACCEPTED)),
    ("pycrate_write_replace_warning_response_unknown_tai",
     sbcap.WriteReplaceWarningResponse(4370, SERIAL_4010, Cause.TRACKING_AREA_NOT_VALID, unknown_tracking_areas=(TAI,))),
    ("pycrate_stop_warning_response_accepted", sbcap.StopWarningResponse(4370, SERIAL_4010, Cause.MESSAGE_ACCEPTED)),
    ("pycrate_write_replace_warning_indication_cell",
     sbcap.WriteReplaceWarningIndication(4370, SERIAL_4010, BroadcastScheduledAreaList(cells=(CELL,)))),
    ("pycrate_stop_warning_indication_cancelled_cell",
     sbcap.StopWarningIndication(4370, SERIAL_4010, BroadcastCancelledAreaList(cells=(CancelledCell(CELL, 7),)))),
    ("pycrate_pws_restart_indication", sbcap.PwsRestartIndication((CELL,), ENB, (TAI,))),
    ("pycrate_pws_failure_indication", sbcap.PwsFailureIndication((CELL,), ENB)),
    ("pycrate_error_indication_transfer_syntax_error", sbcap.ErrorIndication(Cause.TRANSFER_SYNTAX_ERROR)),
], ids=lambda value: value if isinstance(value, str) else "")
def test_each_golden_vector_is_the_message_the_notes_describe(name, message):
    assert sbcap.decode(GOLDEN[name]) == message
    assert sbcap.encode(message) == GOLDEN[name]


# ------------------------------------------------------------------------------------------------
# Every message we build


@pytest.mark.parametrize("name, message", SAMPLES, ids=[name for name, _ in SAMPLES])
def test_every_sample_message_survives_encode_and_decode(name, message):
    octets = sbcap.encode(message)
    assert sbcap.decode(octets) == message
    assert sbcap.encode(sbcap.decode(octets)) == octets
    assert octets[0] == (0x20 if message.OUTCOME == "successfulOutcome" else 0x00)
    assert octets[1] == message.PROCEDURE_CODE


def _leaves(value, path="message"):
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from _leaves(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


@pytest.mark.parametrize("message", [m for _, m in SAMPLES] + [sbcap.decode(o) for o in GOLDEN.values()])
def test_decoded_messages_hold_only_our_types_never_pycrate_values(message):
    again = sbcap.decode(sbcap.encode(message))
    for path, leaf in _leaves(again):
        assert leaf is None or isinstance(leaf, (bool, int, str, bytes, enum.Enum)), f"{path} is {leaf!r}"
        assert type(leaf).__module__.split(".")[0] not in ("pycrate_asn1rt", "pycrate_core"), path


def test_warning_types_and_text_come_back_as_sent():
    message = sbcap.decode(sbcap.encode(dict(SAMPLES)["wrw_request_etws_primary"]))
    assert message.warning_type == WarningType(EtwsWarningType.EARTHQUAKE, True, True)
    assert message.serial_number.emergency_user_alert and message.serial_number.popup
    two_pages = sbcap.decode(sbcap.encode(dict(SAMPLES)["wrw_request_cells"]))
    assert two_pages.text == TEXT_2_PAGES_GSM7 and len(two_pages.pages) == 2 and two_pages.data_coding_scheme == 0x01


def test_a_future_warning_type_and_a_future_cause_stay_numbers():
    request = sbcap.WriteReplaceWarningRequest(4352, SERIAL, 0, 1, warning_type=WarningType(100, False, True))
    assert sbcap.decode(sbcap.encode(request)).warning_type == WarningType(100, False, True)
    assert sbcap.decode(sbcap.encode(sbcap.ErrorIndication(200))).cause == 200


def test_unused_warning_type_bits_are_ignored():
    octets = bytearray(sbcap.encode(dict(SAMPLES)["wrw_request_etws_primary"]))
    at = octets.index(bytes.fromhex("00124002") + b"\x01\x80") + 4  # Warning-Type IE: id 18, ignore, 2 octets
    octets[at + 1] |= 0x7F
    assert sbcap.decode(bytes(octets)).warning_type == WarningType(EtwsWarningType.EARTHQUAKE, True, True)


# ------------------------------------------------------------------------------------------------
# Repetition period


@pytest.mark.parametrize("seconds, on_the_wire", [
    (0, (0, None)), (1, (1, None)), (4095, (4095, None)), (4096, (4095, 4096)), (131071, (4095, 131071)),
])
def test_periods_above_4095_seconds_go_in_the_extended_repetition_period(seconds, on_the_wire):
    message = sbcap.WriteReplaceWarningRequest.with_text(
        message_identifier=4370, serial_number=SERIAL, text="x", repetition_period=seconds,
        number_of_broadcasts_requested=1)
    assert (message.repetition_period, message.extended_repetition_period) == on_the_wire
    decoded = sbcap.decode(sbcap.encode(message))
    assert decoded.repetition_period_seconds == seconds


@pytest.mark.parametrize("seconds", [-1, 131072, 2.5, "60", True])
def test_a_repetition_period_outside_0_to_131071_seconds_is_refused(seconds):
    with pytest.raises(SbcapEncodeError, match="repetition period") as caught:
        sbcap.WriteReplaceWarningRequest.with_text(message_identifier=4370, serial_number=SERIAL, text="x",
                                                   repetition_period=seconds)
    assert caught.value.field == "repetition_period"


def test_several_broadcasts_without_a_repetition_period_are_refused():
    with pytest.raises(SbcapEncodeError, match="invalid combination") as caught:
        sbcap.WriteReplaceWarningRequest.with_text(message_identifier=4370, serial_number=SERIAL, text="x",
                                                   repetition_period=0, number_of_broadcasts_requested=5)
    assert caught.value.field == "number_of_broadcasts_requested"


def test_an_older_cbcs_repetition_period_of_4096_is_still_read_and_written():
    message = sbcap.WriteReplaceWarningRequest(4370, SERIAL, 4096, 0)
    assert sbcap.decode(sbcap.encode(message)).repetition_period == 4096


# ------------------------------------------------------------------------------------------------
# What the encoder refuses


def _request(**changes) -> sbcap.WriteReplaceWarningRequest:
    return dataclasses.replace(dict(SAMPLES)["wrw_request_cells"], **changes)


REFUSALS = [
    ("identifier too big", lambda: _request(message_identifier=65536), "message_identifier", "65536 is outside 0..65535"),
    ("identifier negative", lambda: _request(message_identifier=-1), "message_identifier", "outside"),
    ("identifier as text", lambda: _request(message_identifier="4370"), "message_identifier", "outside"),
    ("identifier as bool", lambda: _request(message_identifier=True), "message_identifier", "outside"),
    ("serial as a number", lambda: _request(serial_number=0x4010), "serial_number", "not a SerialNumber"),
    ("message code 1024", lambda: _request(serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 1024, 0)),
     "serial_number", "message code 1024"),
    ("period 4097", lambda: _request(repetition_period=4097), "repetition_period", "4097 is outside 0..4096"),
    ("extended period too small", lambda: _request(extended_repetition_period=4095), "extended_repetition_period",
     "outside 4096..131071"),
    ("broadcasts 65536", lambda: _request(number_of_broadcasts_requested=65536), "number_of_broadcasts_requested",
     "outside 0..65535"),
    ("empty cell list", lambda: _request(warning_area=CellIdList(())), "warning_area", "warning_area.cells is empty"),
    ("empty TAI list", lambda: _request(warning_area=TrackingAreaList(())), "warning_area", "is empty"),
    ("empty emergency-area list", lambda: _request(warning_area=EmergencyAreaList(())), "warning_area", "is empty"),
    ("65536 TAIs", lambda: _request(warning_area=TrackingAreaList((TAI,) * 65536)), "warning_area", "at most 65535"),
    ("cell identity of 29 bits", lambda: _request(warning_area=CellIdList((EutranCellId(PLMN, 1 << 28),))),
     "warning_area", "warning_area.cells[0] cell identity"),
    ("NR cells in the E-UTRAN warning area", lambda: _request(warning_area=NrCellIdList((NrCellId(PLMN, 1),))),
     "warning_area", "is not a CellIdList, TrackingAreaList or EmergencyAreaList"),
    ("a TAI list in the 5GS warning area", lambda: _request(warning_area_5gs=TrackingAreaList((TAI,))),
     "warning_area_5gs", "not a CellIdList, NrCellIdList"),
    ("emergency area of 4 octets", lambda: _request(warning_area=EmergencyAreaList((1 << 24,))), "warning_area",
     "outside 0..16777215"),
    ("TAC of 17 bits", lambda: _request(tracking_areas=(TrackingAreaId(PLMN, 65536),)), "tracking_areas", "TAC 65536"),
    ("5GS TAC of 25 bits", lambda: _request(tracking_areas_5gs=(TrackingAreaId5gs(PLMN, 1 << 24),)),
     "tracking_areas_5gs", "5GS TAC"),
    ("a 2-digit MCC", lambda: _request(tracking_areas=(TrackingAreaId(Plmn("01", "01"), 1),)), "tracking_areas", "MCC"),
    ("a PLMN that is text", lambda: _request(tracking_areas=(TrackingAreaId("00101", 1),)), "tracking_areas",
     "is not a Plmn"),
    ("security information of 49 octets", lambda: _request(warning_security_information=bytes(49)),
     "warning_security_information", "49 octets; it must be exactly 50"),
    ("DCS 256", lambda: _request(data_coding_scheme=256), "data_coding_scheme", "outside 0..255"),
    ("16 pages", lambda: _request(warning_message_content=_request().pages * 8), "warning_message_content",
     "16 pages"),
    ("a page of 81 octets", lambda: _request(warning_message_content=(Page(10, bytes(81)),)), "warning_message_content",
     "page 1 content is 81 octets"),
    ("a page saying it uses 0 octets", lambda: _request(warning_message_content=(Page(0, bytes(82)),)),
     "warning_message_content", "user information length 0"),
    ("a page saying it uses 83 octets", lambda: _request(warning_message_content=(Page(83, bytes(82)),)),
     "warning_message_content", "user information length 83"),
    ("content of 9601 octets", lambda: _request(warning_message_content=bytes(9601)), "warning_message_content",
     "9601 octets"),
    ("empty content octets", lambda: _request(warning_message_content=b""), "warning_message_content", "0 octets"),
    ("OMC id of 21 octets", lambda: _request(omc_id=bytes(21)), "omc_id", "21 octets"),
    ("a flag that is text", lambda: _request(concurrent_warning_message_indicator="yes"),
     "concurrent_warning_message_indicator", "must be True or False"),
    ("macro eNB id of 21 bits", lambda: _request(global_enb_id=GlobalEnbId(PLMN, 1 << 20)), "global_enb_id",
     "(20 bits)"),
    ("an eNB id kind that does not exist", lambda: _request(global_enb_id=GlobalEnbId(PLMN, 1, "pico")),
     "global_enb_id", "'pico' is not one of MACRO"),
    ("gNB id of 21 bits", lambda: _request(global_ran_node_id=GlobalGnbId(PLMN, 1, 21)), "global_ran_node_id",
     "gNB id length 21"),
    ("text too long for 15 pages", lambda: sbcap.WriteReplaceWarningRequest.with_text(
        message_identifier=4370, serial_number=SERIAL, text="x" * 1396, repetition_period=60), "text",
     "16 pages of GSM 7-bit"),
    ("an unknown language", lambda: sbcap.WriteReplaceWarningRequest.with_text(
        message_identifier=4370, serial_number=SERIAL, text="x", repetition_period=60, language="xx"), "text",
     "Language 'xx'"),
    ("no restarted cell", lambda: sbcap.PwsRestartIndication((), ENB, (TAI,)), "restarted_cells",
     "restarted_cells is empty; name at least one EutranCellId"),
    ("257 restarted cells", lambda: sbcap.PwsRestartIndication((CELL,) * 257, ENB, (TAI,)), "restarted_cells",
     "at most 256"),
    ("no eNB in a restart", lambda: sbcap.PwsRestartIndication((CELL,), None, (TAI,)), "global_enb_id",
     "global_enb_id is required"),
    ("no TAI in a restart", lambda: sbcap.PwsRestartIndication((CELL,), ENB, ()), "restart_tracking_areas", "is empty"),
    ("2049 restart TAIs", lambda: sbcap.PwsRestartIndication((CELL,), ENB, (TAI,) * 2049), "restart_tracking_areas",
     "at most 2048"),
    ("no failed cell", lambda: sbcap.PwsFailureIndication((), ENB), "failed_cells", "is empty"),
    ("cause 256", lambda: sbcap.ErrorIndication(256), "cause", "outside 0..255"),
    ("a response without cause", lambda: sbcap.WriteReplaceWarningResponse(4370, SERIAL, None), "cause", "required"),
    ("procedure code 256 in diagnostics", lambda: sbcap.ErrorIndication(
        criticality_diagnostics=CriticalityDiagnostics(procedure_code=256)), "criticality_diagnostics", "procedure_code"),
    ("257 diagnosed IEs", lambda: sbcap.ErrorIndication(criticality_diagnostics=CriticalityDiagnostics(
        ies=(CriticalityDiagnosticsIe("reject", 1, "missing"),) * 257)), "criticality_diagnostics", "at most 256"),
    ("a cell list that is a list of text", lambda: sbcap.PwsFailureIndication(("cell",), ENB), "failed_cells",
     "is not an EutranCellId"),
    ("empty cells in a scheduled tracking area", lambda: sbcap.WriteReplaceWarningIndication(
        4370, SERIAL, BroadcastScheduledAreaList(tracking_areas=(sbcap.ScheduledTrackingArea(TAI, ()),))),
     "broadcast_scheduled_area_list", "tracking_areas[0].cells is empty"),
]


@pytest.mark.parametrize("build, field, fragment", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_the_encoder_refuses_bad_values_naming_the_field(build, field, fragment):
    with pytest.raises(SbcapEncodeError) as caught:
        sbcap.encode(build())
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert field in str(caught.value) and fragment in str(caught.value), str(caught.value)


def test_encoding_something_that_is_not_a_message_is_refused():
    with pytest.raises(SbcapEncodeError, match="is not an SBc-AP message"):
        sbcap.encode("hello")


def test_the_encode_error_survives_pickling():
    error = pickle.loads(pickle.dumps(SbcapEncodeError("x.y: bad", "y")))
    assert error.field == "y" and str(error) == "x.y: bad"


# ------------------------------------------------------------------------------------------------
# How the decoder refuses


def _pdu(first: int, procedure: int, criticality: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes((first, procedure, criticality, len(body))) + body


def _ies(*ies: bytes) -> bytes:
    return b"\x00" + len(ies).to_bytes(2, "big") + b"".join(ies)


def _ie(ie_id: int, criticality: int, value: bytes) -> bytes:
    return ie_id.to_bytes(2, "big") + bytes((criticality, len(value))) + value


MESSAGE_ID = _ie(5, 0x00, bytes.fromhex("1112"))
SERIAL_ID = _ie(11, 0x00, bytes.fromhex("4010"))
CAUSE_0 = _ie(1, 0x00, b"\x00")

DECODE_ERRORS = [
    ("no octets", b"", Cause.TRANSFER_SYNTAX_ERROR, "no octets"),
    ("one zero octet", b"\x00", Cause.TRANSFER_SYNTAX_ERROR, "not a valid aligned-PER"),
    ("truncated", GOLDEN["pycrate_stop_warning_request"][:-3], Cause.TRANSFER_SYNTAX_ERROR, "not a valid aligned-PER"),
    ("an octet too many", GOLDEN["pycrate_stop_warning_request"] + b"\x00", Cause.TRANSFER_SYNTAX_ERROR,
     "1 octets follow the end of the PDU"),
    ("a response without cause", _pdu(0x20, 0, 0x00, _ies(MESSAGE_ID, SERIAL_ID)), Cause.MISSING_MANDATORY_ELEMENT,
     "mandatory Cause IE (id 1) is missing"),
    ("a restart without eNB", _pdu(0x00, 5, 0x40, _ies(_ie(30, 0, bytes.fromhex("000000f11000001010")),
                                                        _ie(31, 0, bytes.fromhex("00000000f1100001")))),
     Cause.MISSING_MANDATORY_ELEMENT, "Global-ENB-ID"),
    ("the message identifier twice", _pdu(0x20, 0, 0x00, _ies(MESSAGE_ID, MESSAGE_ID, SERIAL_ID, CAUSE_0)),
     Cause.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE, "Message-Identifier IE (id 5) appears more than once"),
    ("an unknown IE with criticality reject", _pdu(0x00, 2, 0x40, _ies(_ie(99, 0x00, b"\x0d"))),
     Cause.ABSTRACT_SYNTAX_ERROR_REJECT, "IE 99 is not defined for this message and its criticality is reject"),
    ("an IE of another message with criticality reject", _pdu(0x00, 2, 0x40, _ies(MESSAGE_ID)),
     Cause.ABSTRACT_SYNTAX_ERROR_REJECT, "IE 5 is not defined"),
    ("procedure 9", _pdu(0x00, 9, 0x40, _ies()), Cause.UNRECOGNISED_MESSAGE, "procedure 9 is not a message"),
    ("an extension alternative of the PDU (found by the fuzzer)", bytes.fromhex("c001000f0000020005000211120"
                                                                                "00b00024010"),
     Cause.UNRECOGNISED_MESSAGE, "PDU alternative '_ext_0' is not one TS 29.168 defines"),
    ("an unsuccessful outcome of write-replace-warning", _pdu(0x40, 0, 0x00, _ies(MESSAGE_ID, SERIAL_ID, CAUSE_0)),
     Cause.UNRECOGNISED_MESSAGE, "unsuccessfulOutcome of write-replace-warning"),
    ("a response sent as an initiating message", _pdu(0x00, 3, 0x40, _ies(MESSAGE_ID, SERIAL_ID)),
     None, None),  # a Write-Replace-Warning-Indication: fine, see below
    ("a PLMN with a non-digit nibble", GOLDEN["pycrate_pws_failure_indication"].replace(
        bytes.fromhex("00f110"), bytes.fromhex("a0f110"), 1), Cause.PARAMETER_VALUE_INVALID, "not a digit"),
]


@pytest.mark.parametrize("octets, cause, fragment", [r[1:] for r in DECODE_ERRORS], ids=[r[0] for r in DECODE_ERRORS])
def test_the_decoder_raises_one_typed_error_with_the_cause_to_answer(octets, cause, fragment):
    if cause is None:
        assert isinstance(sbcap.decode(octets), sbcap.WriteReplaceWarningIndication)
        return
    with pytest.raises(SbcapDecodeError) as caught:
        sbcap.decode(octets)
    assert isinstance(caught.value, ValueError)
    assert caught.value.cause == cause
    assert fragment in str(caught.value), str(caught.value)
    assert str(caught.value).startswith("SBc-AP ")


def test_an_unknown_ie_with_criticality_ignore_is_skipped():
    octets = _pdu(0x00, 2, 0x40, _ies(_ie(99, 0x40, b"\x0d"), _ie(1, 0x40, b"\x05")))
    assert sbcap.decode(octets) == sbcap.ErrorIndication(Cause.UNRECOGNISED_MESSAGE)


def test_the_decode_error_names_the_procedure_and_ie_and_survives_pickling():
    with pytest.raises(SbcapDecodeError) as caught:
        sbcap.decode(_pdu(0x20, 0, 0x00, _ies(MESSAGE_ID, SERIAL_ID)))
    error = pickle.loads(pickle.dumps(caught.value))
    assert (error.procedure_code, error.ie_id, error.cause) == (0, 1, Cause.MISSING_MANDATORY_ELEMENT)
    assert str(error) == "SBc-AP Write-Replace-Warning-Response: mandatory Cause IE (id 1) is missing"


@pytest.mark.parametrize("value", [None, "00", 42, ["00"]])
def test_decoding_what_is_not_octets_is_the_typed_error(value):
    with pytest.raises(SbcapDecodeError, match="is not bytes"):
        sbcap.decode(value)


def test_a_pdu_above_the_size_bound_is_refused_before_pycrate_reads_it():
    with pytest.raises(SbcapDecodeError, match="exceed the 1048576"):
        sbcap.decode(bytes(sbcap.MAX_PDU_OCTETS + 1))


def test_cb_data_with_a_page_claiming_no_octets_stays_octets():
    content = bytes((1,)) + bytes(82) + b"\x00"
    request = sbcap.WriteReplaceWarningRequest(4370, SERIAL, 60, 0, data_coding_scheme=0x0F,
                                               warning_message_content=content)
    decoded = sbcap.decode(sbcap.encode(request))
    assert decoded.warning_message_content == content and decoded.text is None


def test_failed_decodes_leave_no_state_behind_in_pycrate():
    from pycrate_asn1rt.codecs import ASN1CodecPER

    sbcap.decode(GOLDEN["pycrate_stop_warning_request"])
    depth = len(ASN1CodecPER._off)
    for octets in (b"\x00", b"\xff" * 5, GOLDEN["pycrate_stop_warning_request"][:-3]):
        with pytest.raises(SbcapDecodeError):
            sbcap.decode(octets)
    assert len(ASN1CodecPER._off) == depth
    assert sbcap.decode(GOLDEN["pycrate_stop_warning_request"]) == sbcap.decode(GOLDEN["pycrate_stop_warning_request"])


# ------------------------------------------------------------------------------------------------
# Large PDUs, threads, the generated module


def test_a_warning_area_of_5000_cells_needs_apers_fragmentation_and_round_trips():
    """More than about 2,300 cells make the message value longer than 16 KiB: APER then fragments the
    open type, which pycrate 0.8.1 could encode but not read back until sbcap corrected it."""
    cells = tuple(EutranCellId(PLMN, i) for i in range(5000))
    message = _request(warning_area=CellIdList(cells))
    octets = sbcap.encode(message)
    assert len(octets) > 16384 and octets[3] == 0xC2  # two 16K fragments, then the rest
    assert sbcap.decode(octets) == message


def test_encoding_and_decoding_from_several_threads_gives_the_right_messages():
    messages = [message for _, message in SAMPLES[:12]]
    expected = [sbcap.encode(message) for message in messages]
    failures: list[str] = []

    def work() -> None:
        for _ in range(15):
            for message, octets in zip(messages, expected):
                if sbcap.encode(message) != octets or sbcap.decode(octets) != message:
                    failures.append(message.name)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_importing_the_codec_does_not_load_pycrate_until_it_is_used():
    code = ("import sys, omnidesk.cbc.sbcap as s; assert not [m for m in sys.modules if m.startswith('pycrate')]; "
            "s.decode(bytes.fromhex('00024008000001000140010d')); assert 'pycrate_asn1rt' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


SPEC_ASN1 = REPO.parent / "shared" / "spec" / "sbcap-asn1"


@pytest.mark.skipif(not SPEC_ASN1.is_dir(), reason=f"the SBc-AP ASN.1 is not at {SPEC_ASN1} (only the regeneration "
                                                   "script needs it)")
@pytest.mark.skipif(shutil.which("bash") is None, reason="scripts/compile-sbcap-asn1 is a bash script")
def test_the_committed_pycrate_module_is_what_the_asn1_compiles_to():
    result = subprocess.run([str(REPO / "scripts" / "compile-sbcap-asn1"), "--check", str(SPEC_ASN1)],
                            capture_output=True, text=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
