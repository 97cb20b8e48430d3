"""CBSP codec: golden vectors byte for byte, round trips, period codes, pages, refusals, decode errors, TCP framing."""

from __future__ import annotations

import pickle
import random

import pytest

from omnidesk.cbc import cbsp, gsm7, period
from omnidesk.cbc.cbsp import (
    BroadcastsCompletedInfo,
    Cause,
    CbspDecodeError,
    CbspEncodeError,
    CbspFramingError,
    CbspReassembler,
    CellFailure,
    CellGlobalId,
    CellIdKind,
    CellList,
    CellLoading,
    LacAndCi,
    LoadingList,
    Page,
    Plmn,
    RecoveryIndication,
    WarningType,
)
from omnidesk.cbc.pages import (
    DCS_UCS2,
    Alphabet,
    CbsAirPage,
    GeographicalScope,
    PageError,
    SerialNumber,
    alphabet_of,
    build_pages,
    measure,
    text_of,
)
from omnidesk.cbc.period import RepetitionPeriodLayout
from test_cbsp_samples import CELLS, SAMPLES, TEXT_UCS2, cell_list, golden_vectors

GOLDEN = golden_vectors()
CBSP_GOLDEN = {name: octets for name, octets in GOLDEN.items() if not name.startswith(("air_page", "probe_rp_120c"))}
PLMN = Plmn("901", "70")
SERIAL = SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0)


# ------------------------------------------------------------------------------------------------
# Golden vectors


@pytest.mark.parametrize("name", sorted(CBSP_GOLDEN))
def test_golden_vector_decodes_and_reencodes_byte_for_byte(name):
    octets = CBSP_GOLDEN[name]
    assert cbsp.encode(cbsp.decode(octets)) == octets


def test_libosmocore_write_replace_failure_decodes_to_its_documented_values():
    message = cbsp.decode(GOLDEN["libosmocore_write_replace_failure"])
    assert message == cbsp.WriteReplaceFailure(
        message_id=0x0031,
        new_serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 23, 0),
        failure_list=(CellFailure(CellGlobalId(PLMN, 0x18, 0x30), Cause.CELL_IDENTITY_NOT_VALID),
                      CellFailure(LacAndCi(0x2711, 0xC351), Cause.LAI_OR_LAC_NOT_VALID)),
        cell_list=CellList.of(CellGlobalId(PLMN, 0x17, 0x2A), CellGlobalId(PLMN, 0x18, 0x2A)),
        channel_indicator=cbsp.ChannelIndicator.BASIC)


def test_osmo_bsc_restart_says_bss_wide_cbs_data_lost():
    assert cbsp.decode(GOLDEN["rx_restart_bss_cbs_data_lost"]) == cbsp.Restart(
        CellList.whole_bss(), cbsp.BroadcastMessageType.CBS, RecoveryIndication.DATA_LOST)


def test_keep_alive_code_0x1e_means_80_seconds_and_30_seconds_is_0x14():
    assert cbsp.decode(GOLDEN["tx_keep_alive_code_0x1e_80s"]) == cbsp.KeepAlive(80)
    assert cbsp.encode(cbsp.KeepAlive(30)) == bytes.fromhex("1600000218" "14")


def test_kill_complete_from_osmo_bsc_reports_broadcasts_completed_per_cgi():
    message = cbsp.decode(GOLDEN["rx_kill_complete_4370"])
    assert message.broadcasts_completed == cbsp.BroadcastsCompletedList(
        CellIdKind.CGI, (cbsp.BroadcastsCompleted(CellGlobalId(PLMN, 23, 42), 0, BroadcastsCompletedInfo.VALID),))
    assert message.cell_list is None


@pytest.mark.parametrize("name, text, cells, message_id, serial", [
    ("tx_write_replace_4370_bss_presidential", "Presidential Alert test", CellList.whole_bss(), 4370, 0x4010),
    ("tx_write_replace_1000_cgi_addressed", "CGI addressed", CellList.of(CellGlobalId(PLMN, 23, 42)), 1000, 0x4020),
])
def test_write_replace_built_from_operator_text_matches_what_osmo_bsc_accepted(name, text, cells, message_id, serial):
    message = cbsp.WriteReplace.with_text(
        message_id=message_id, new_serial_number=SerialNumber.from_encoded(serial), cell_list=cells, text=text,
        repetition_period=5, number_of_broadcasts_requested=0)
    assert cbsp.encode(message) == GOLDEN[name]
    assert cbsp.decode(GOLDEN[name]).text == text


def test_repetition_period_probe_reads_per_layout_as_osmo_bsc_and_tshark_did():
    osmocom, spec = RepetitionPeriodLayout.OSMOCOM, RepetitionPeriodLayout.SPEC_FIGURE
    assert cbsp.decode(GOLDEN["probe_rp_012c"], repetition_period_layout=osmocom).repetition_period == 300
    assert cbsp.decode(GOLDEN["probe_rp_012c"], repetition_period_layout=spec).repetition_period == 28
    assert cbsp.decode(GOLDEN["probe_rp_120c"], repetition_period_layout=spec).repetition_period == 300
    for name in ("probe_rp_012c", "probe_rp_120c"):
        layout = spec if name == "probe_rp_120c" else osmocom
        assert cbsp.encode(cbsp.decode(GOLDEN[name], repetition_period_layout=layout),
                           repetition_period_layout=layout) == GOLDEN[name]


def test_repetition_period_4620_read_the_osmocom_way_is_refused_not_accepted():
    with pytest.raises(CbspDecodeError, match=r"repetition period 4620 is outside 1\.\.4095.*at octet 19") as caught:
        cbsp.decode(GOLDEN["probe_rp_120c"], repetition_period_layout=RepetitionPeriodLayout.OSMOCOM)
    assert caught.value.cause is Cause.PARAMETER_VALUE_INVALID
    assert caught.value.offset == 19


def test_golden_air_page_decodes_and_its_content_is_what_build_pages_makes_of_mahlzeit():
    octets = GOLDEN["air_page_mahlzeit"]
    page = CbsAirPage.from_bytes(octets)
    assert (page.serial_number, page.message_id, page.data_coding_scheme, page.page_number, page.total_pages) == (
        SerialNumber(GeographicalScope.CELL_WIDE_IMMEDIATE, 1, 0), 0x111C, 0x00, 1, 1)
    assert page.to_bytes() == octets
    dcs, pages = build_pages("Mahlzeit!", language="de")
    assert dcs == 0x00
    assert pages == (Page(8, octets[6:]),)  # 9 characters = 63 bits -> 8 octets of user information
    assert text_of(dcs, pages) == "Mahlzeit!"


# ------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("layout", list(RepetitionPeriodLayout), ids=lambda layout: layout.value)
@pytest.mark.parametrize("label", [label for label, _ in SAMPLES])
def test_every_message_type_and_cell_kind_round_trips(label, layout):
    message = dict(SAMPLES)[label]
    octets = cbsp.encode(message, repetition_period_layout=layout)
    assert cbsp.decode(octets, repetition_period_layout=layout) == message
    assert octets[0] == type(message).MESSAGE_TYPE
    assert int.from_bytes(octets[1:4], "big") == len(octets) - 4


def test_the_two_write_replace_forms_share_message_type_1_and_decode_to_their_own_class():
    cbs = cbsp.decode(cbsp.encode(dict(SAMPLES)["write_replace_cgi"]))
    emergency = cbsp.decode(cbsp.encode(dict(SAMPLES)["emergency_write_replace_cgi"]))
    assert type(cbs) is cbsp.WriteReplace and type(emergency) is cbsp.EmergencyWriteReplace
    assert cbs.MESSAGE_TYPE == emergency.MESSAGE_TYPE == cbsp.MessageType.WRITE_REPLACE
    assert cbs.name == "WRITE-REPLACE"


def test_replace_is_a_write_replace_with_the_old_serial_number():
    message = dict(SAMPLES)["write_replace_ucs2_replace"]
    assert message.is_replace
    assert message.old_serial_number.next_update() == message.new_serial_number
    assert not dict(SAMPLES)["write_replace_cgi"].is_replace


def test_serial_number_is_kept_decoded_and_encoded():
    serial = SerialNumber.from_encoded(0x4170)
    assert (serial.geographical_scope, serial.message_code, serial.update_number) == (GeographicalScope.PLMN_WIDE, 23, 0)
    assert serial.encoded == 0x4170
    assert SerialNumber(GeographicalScope.CELL_WIDE, 1023, 15).encoded == 0xFFFF
    assert SerialNumber(GeographicalScope.PLMN_WIDE, 5, 15).next_update() == SerialNumber(GeographicalScope.PLMN_WIDE, 5, 0)
    etws = SerialNumber.from_encoded(0x3000 | 0x4000)  # alert (bit 13) and popup (bit 12)
    assert etws.emergency_user_alert and etws.popup
    assert str(serial) == "0x4170 (plmn_wide, code 23, update 0)"
    for bad in (-1, 0x10000):
        with pytest.raises(ValueError):
            SerialNumber.from_encoded(bad)


def test_warning_type_uses_the_cbsp_two_octet_layout():
    message = cbsp.EmergencyWriteReplace(4352, SERIAL, CellList.whole_bss(),
                                         WarningType(cbsp.EtwsWarningType.TSUNAMI, True, False), 30)
    octets = cbsp.encode(message)
    # header 4, message id 3, serial 3, whole-BSS cell list 4, emergency indicator 2, then the warning type
    assert octets[16:19] == bytes([cbsp.Iei.WARNING_TYPE]) + ((1 << 9) | (1 << 8)).to_bytes(2, "big")
    assert cbsp.decode(octets) == message


def test_a_3_digit_mnc_keeps_its_leading_zero():
    plmn = Plmn("001", "001")
    assert plmn.to_bytes() == bytes.fromhex("001100")
    assert Plmn("001", "01").to_bytes() == bytes.fromhex("00f110")
    assert Plmn("901", "70").to_bytes() == bytes.fromhex("09f107")
    assert Plmn.from_bytes(plmn.to_bytes()) == plmn


# ------------------------------------------------------------------------------------------------
# Period codes


def test_every_period_code_round_trips_and_the_table_has_its_documented_ends():
    for code in range(1, 0xBB):
        assert period.period_code(period.period_seconds(code)) == code
    ends = {0x01: 1, 0x0A: 10, 0x0B: 12, 0x14: 30, 0x15: 35, 0x26: 120, 0x27: 130, 0x56: 600, 0x57: 630, 0xBA: 3600}
    for code, seconds in ends.items():
        assert period.period_seconds(code) == seconds
    assert period.period_seconds(0) is None and period.period_code(None) == 0  # infinite warning period


def test_period_codes_refuse_what_they_cannot_carry_and_name_the_neighbours():
    with pytest.raises(ValueError, match="period 11 s cannot be coded; the nearest are 10 s and 12 s"):
        period.period_code(11)
    with pytest.raises(ValueError, match="outside 1..3600"):
        period.period_code(3601)
    with pytest.raises(ValueError, match="0xbb is reserved"):
        period.period_seconds(0xBB)
    assert period.round_up_period(11) == 12
    assert period.round_up_period(601) == 630
    assert period.round_up_period(0.5) == 1


def test_repetition_period_layouts_differ_above_15_and_agree_below_16():
    osmocom, spec = RepetitionPeriodLayout.OSMOCOM, RepetitionPeriodLayout.SPEC_FIGURE
    assert period.repetition_period_octets(300, osmocom) == bytes.fromhex("012c")
    assert period.repetition_period_octets(300, spec) == bytes.fromhex("120c")
    assert period.repetition_period_octets(4095, spec) == bytes.fromhex("ff0f")
    for units in range(1, 16):
        assert period.repetition_period_octets(units, osmocom) == period.repetition_period_octets(units, spec)
    for units in (1, 15, 16, 300, 4095):
        for layout in (osmocom, spec):
            assert period.repetition_period_units(period.repetition_period_octets(units, layout), layout) == units
    assert period.repetition_period_units(bytes.fromhex("12fc"), spec) == 300  # spare nibble ignored
    assert period.DEFAULT_REPETITION_PERIOD_LAYOUT is osmocom  # DECISIONS.md: osmocom-compatible by default


def test_repetition_period_from_seconds_counts_1_883_second_units():
    assert period.repetition_period_from_seconds(60) == 32
    assert period.repetition_period_from_seconds(0.1) == 1
    with pytest.raises(ValueError, match="exceeds 4095"):
        period.repetition_period_from_seconds(8000)


# ------------------------------------------------------------------------------------------------
# Pages


def _septets(page: Page) -> list[int]:
    return gsm7.unpack(page.content, 93)


def test_93_gsm_characters_fill_one_page_and_the_94th_opens_a_second():
    dcs, pages = build_pages("a" * 93)
    assert dcs == 0x0F and len(pages) == 1 and pages[0].user_information_length == 82
    assert len(build_pages("a" * 94)[1]) == 2


def test_a_short_gsm_page_is_padded_with_cr_to_93_characters():
    _, (page,) = build_pages("Hello")
    assert _septets(page) == [gsm7.septets_of(c)[0] for c in "Hello"] + [gsm7.CR] * 88
    assert page.user_information_length == 5  # 35 bits


@pytest.mark.parametrize("length", [7, 8, 15, 23, 92])
def test_the_padding_cr_in_the_last_octet_is_not_read_as_text(length):
    text = "abcdefghij" * 10
    dcs, pages = build_pages(text[:length])
    assert pages[0].user_information_length == (7 * length + 7) // 8
    assert text_of(dcs, pages) == text[:length]


def test_an_extension_character_costs_two_septets_and_never_straddles_pages():
    assert measure("€").characters == 2
    dcs, pages = build_pages("a" * 92 + "€")
    assert len(pages) == 2
    assert _septets(pages[1])[:2] == [gsm7.ESCAPE, 0x65]
    assert text_of(dcs, pages) == "a" * 92 + "€"


def test_15_pages_hold_1395_gsm_characters_and_615_ucs2():
    assert len(build_pages("a" * 1395)[1]) == 15
    assert len(build_pages("я" * 615)[1]) == 15
    with pytest.raises(PageError, match=r"needs 16 pages of GSM 7-bit: 1396 characters where at most 1395"):
        build_pages("a" * 1396)
    with pytest.raises(PageError, match=r"needs 16 pages of UCS-2 \(a character outside GSM 7-bit switched it"):
        build_pages("я" * 616)


def test_a_non_gsm_character_switches_the_whole_text_to_ucs2_41_characters_a_page():
    text = "a" * 41 + "ж"
    assert measure(text).alphabet is Alphabet.UCS2
    dcs, pages = build_pages(text)
    assert dcs == DCS_UCS2 and len(pages) == 2
    assert pages[0].user_information_length == 82 and pages[1].user_information_length == 2
    assert pages[1].content == "ж".encode("utf-16-be") + b"\x00\x0d" * 40
    assert text_of(dcs, pages) == text
    assert text_of(*build_pages(TEXT_UCS2)) == TEXT_UCS2


def test_language_picks_the_gsm7_dcs_and_an_unknown_language_is_refused():
    assert build_pages("Achtung", "de")[0] == 0x00
    assert build_pages("Warning", "en")[0] == 0x01
    assert build_pages("Vnimanie", "ru")[0] == 0x23
    with pytest.raises(PageError, match="Language 'xx' has no GSM 7-bit coding"):
        build_pages("text", "xx")


def test_characters_ucs2_cannot_carry_are_refused():
    with pytest.raises(PageError, match=r"UCS-2 cannot carry 🙏 \(U\+1F64F\)"):
        build_pages("Stay safe 🙏")


def test_measure_tells_the_console_pages_and_characters_left():
    result = measure("a" * 100)
    assert (result.alphabet, result.pages, result.characters_per_page, result.characters_left) == (
        Alphabet.GSM7, 2, 93, 1295)
    assert result.fits
    assert not measure("").fits and not measure("a" * 1396).fits
    assert measure("ж" * 50).characters_left == 565
    assert measure("Flood ж€ warning ✔").non_gsm_characters == ("ж", "✔")  # the console names what switched it


@pytest.mark.parametrize("dcs, alphabet", [
    (0x0F, Alphabet.GSM7), (0x01, Alphabet.GSM7), (0x23, Alphabet.GSM7), (0x10, Alphabet.GSM7),
    (0x11, Alphabet.UCS2), (0x48, Alphabet.UCS2), (0x44, Alphabet.EIGHT_BIT), (0x68, None),
    (0xF0, Alphabet.GSM7), (0xF4, Alphabet.EIGHT_BIT), (0x90, None), (0x80, Alphabet.GSM7),
])
def test_alphabet_of_dcs(dcs, alphabet):
    assert alphabet_of(dcs) is alphabet


# ------------------------------------------------------------------------------------------------
# Encoder refusals: a clear message and no bytes


def _write(**changes):
    fields = dict(message_id=4370, new_serial_number=SERIAL, cell_list=cell_list(CellIdKind.CGI),
                  repetition_period=30, number_of_broadcasts_requested=0, data_coding_scheme=0x0F,
                  pages=build_pages("test")[1])
    fields.update(changes)
    return cbsp.WriteReplace(**fields)


def _emergency(**changes):
    fields = dict(message_id=4352, new_serial_number=SERIAL, cell_list=CellList.whole_bss(),
                  warning_type=WarningType(cbsp.EtwsWarningType.EARTHQUAKE), warning_period=30)
    fields.update(changes)
    return cbsp.EmergencyWriteReplace(**fields)


REFUSALS = [
    ("message id above 65535", lambda: _write(message_id=65536), r"WriteReplace\.message_id: message identifier 65536 is outside 0\.\.65535"),
    ("negative message id", lambda: _write(message_id=-1), r"message identifier -1 is outside"),
    ("message id as text", lambda: _write(message_id="4370"), r"message identifier '4370' is outside"),
    ("empty cell list to write", lambda: _write(cell_list=CellList(CellIdKind.CGI)), r"cell list is empty; name at least one cell"),
    ("empty cell list to kill", lambda: cbsp.Kill(1, SERIAL, CellList(CellIdKind.LAC)), r"Kill\.cell_list: cell list is empty"),
    ("empty cell list to reset", lambda: cbsp.Reset(CellList(CellIdKind.CI)), r"Reset\.cell_list: cell list is empty"),
    ("mixed cell kinds", lambda: _write(cell_list=CellList(CellIdKind.CGI, (CELLS[CellIdKind.CGI][0], CELLS[CellIdKind.LAC][0]))),
     r"LocationAreaCode in a list of kind CGI"),
    ("not a cell", lambda: _write(cell_list=CellList(CellIdKind.CI, (42,))), r"42 is not a cell identifier"),
    ("bad MCC", lambda: _write(cell_list=CellList.of(CellGlobalId(Plmn("9x1", "70"), 1, 1))), r"MCC '9x1' must be 3 digits"),
    ("1-digit MNC", lambda: _write(cell_list=CellList.of(CellGlobalId(Plmn("901", "7"), 1, 1))), r"MNC '7' must be 2 or 3 digits"),
    ("LAC too large", lambda: _write(cell_list=CellList.of(LacAndCi(70000, 1))), r"LAC 70000 is outside 0\.\.65535"),
    ("repetition period 0", lambda: _write(repetition_period=0), r"repetition period 0 is outside 1\.\.4095"),
    ("repetition period 4096", lambda: _write(repetition_period=4096), r"repetition period 4096 is outside 1\.\.4095"),
    ("broadcasts above 65535", lambda: _write(number_of_broadcasts_requested=65536), r"number of broadcasts requested 65536"),
    ("16 pages", lambda: _write(pages=build_pages("a" * 93)[1] * 16), r"pages: 16 pages; a message has 1\.\.15"),
    ("no pages", lambda: _write(pages=()), r"pages: 0 pages; a message has 1\.\.15"),
    ("short page", lambda: _write(pages=(Page(10, bytes(81)),)), r"page 1 content is 81 octets, not 82"),
    ("user information length 0", lambda: _write(pages=(Page(0, bytes(82)),)), r"page 1 user information length is 0"),
    ("user information length 83", lambda: _write(pages=(Page(83, bytes(82)),)), r"page 1 user information length 83 is outside 0\.\.82"),
    ("DCS 256", lambda: _write(data_coding_scheme=256), r"data coding scheme 256 is outside"),
    ("category 7", lambda: _write(category=7), r"WriteReplace\.category: 7 is not a Category; one of HIGH_PRIORITY, BACKGROUND, NORMAL"),
    ("message code 1024", lambda: _write(new_serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 1024, 0)),
     r"new_serial_number: message code 1024 is outside 0\.\.1023"),
    ("update number 16", lambda: _write(new_serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 1, 16)), r"update number 16 is outside 0\.\.15"),
    ("serial as int", lambda: _write(new_serial_number=0x4010), r"16400 is not a SerialNumber"),
    ("uncodable warning period", lambda: _emergency(warning_period=11), r"warning period 11 s cannot be coded; the nearest are 10 s and 12 s"),
    ("warning period above an hour", lambda: _emergency(warning_period=4000), r"outside 1\.\.3600 s"),
    ("short security information", lambda: _emergency(warning_security_information=bytes(49)), r"exactly 50 octets"),
    ("warning type 128", lambda: _emergency(warning_type=WarningType(128)), r"ETWS warning type 128 is outside 0\.\.127"),
    ("keep-alive 0 s", lambda: cbsp.KeepAlive(0), r"keep-alive repetition period 0 s is outside 1\.\.120 s"),
    ("keep-alive 121 s", lambda: cbsp.KeepAlive(121), r"outside 1\.\.120 s"),
    ("uncodable keep-alive", lambda: cbsp.KeepAlive(31), r"period 31 s cannot be coded; the nearest are 30 s and 35 s"),
    ("empty failure list", lambda: cbsp.ResetFailure(()), r"failure list must name at least one failed cell"),
    ("failure cause 16", lambda: cbsp.Failure((CellFailure(CELLS[CellIdKind.CI][0], 16),), cbsp.BroadcastMessageType.CBS),
     r"16 is not a Cause"),
    ("load above 100 %", lambda: cbsp.LoadQueryComplete(LoadingList(CellIdKind.CI, (CellLoading(CELLS[CellIdKind.CI][0], 101, 0),))),
     r"radio resource load 1 \(%\) 101 is outside 0\.\.100"),
    ("missing cause", lambda: cbsp.ErrorIndication(None), r"ErrorIndication\.cause is required"),
]


@pytest.mark.parametrize("build, message", [(build, message) for _, build, message in REFUSALS],
                         ids=[name for name, _, _ in REFUSALS])
def test_the_encoder_refuses_bad_input_with_a_clear_message(build, message):
    with pytest.raises(CbspEncodeError, match=message):
        cbsp.encode(build())


@pytest.mark.parametrize("text, language, message", [
    ("a" * 1396, None, r"needs 16 pages of GSM 7-bit: 1396 characters where at most 1395 \(15 pages of 93\) fit"),
    ("ж" * 616, "ru", r"needs 16 pages of UCS-2.*616 characters where at most 615 \(15 pages of 41\) fit"),
    ("", None, r"The message text is empty"),
    ("Achtung", "xx", r"Language 'xx' has no GSM 7-bit coding"),
])
def test_write_replace_from_text_refuses_what_does_not_fit(text, language, message):
    with pytest.raises(CbspEncodeError, match=message):
        cbsp.WriteReplace.with_text(message_id=4370, new_serial_number=SERIAL, cell_list=CellList.whole_bss(),
                                    text=text, language=language, repetition_period=30)


def test_refusals_are_value_errors_and_other_things_are_not_messages():
    assert issubclass(CbspEncodeError, ValueError) and issubclass(CbspDecodeError, ValueError)
    with pytest.raises(CbspEncodeError, match="is not a CBSP message"):
        cbsp.encode(object())
    with pytest.raises(CbspEncodeError, match="needs at least one cell"):
        CellList.of()


# ------------------------------------------------------------------------------------------------
# Decode errors: one typed exception, what was wrong, where, and the cause to answer with


DECODE_ERRORS = [
    ("empty", "", None, 0, r"0 octets cannot hold the 4-octet header"),
    ("length longer than the data", "1000000504000106", Cause.PARAMETER_VALUE_INVALID, 1,
     r"header declares 5 octets after it but 4 follow"),
    ("trailing octets", "170000000000", Cause.PARAMETER_VALUE_INVALID, 1, r"declares 0 octets after it but 2 follow"),
    ("unknown message type", "30000000", Cause.UNRECOGNISED_MESSAGE, 0, r"message type 0x30: unknown message type"),
    ("unknown IE", "160000021900", Cause.PARAMETER_NOT_RECOGNISED, 4, r"unknown IE 0x19"),
    ("missing cell list", "040000060e1112024010", Cause.MISSING_MANDATORY_ELEMENT, 4, r"KILL: mandatory cell list IE is missing"),
    ("cut-off fixed IE", "040000020e11", Cause.PARAMETER_VALUE_INVALID, 4, r"MESSAGE_IDENTIFIER IE needs 2 octets, 1 remain"),
    ("cut-off TL16V length", "100000020400", Cause.PARAMETER_VALUE_INVALID, 4, r"CELL_LIST IE is cut off in its length"),
    ("partial CGI", "1000000a04000700" "09f107001700", Cause.PARAMETER_VALUE_INVALID, 8,
     r"cell list holds 6 octets, not a whole number of 7-octet CGI entries"),
    ("PLMN nibble not a digit", "1000000b04000800" "0af1070017002a", Cause.PARAMETER_VALUE_INVALID, 8,
     r"PLMN 0af107 holds a nibble that is not a digit"),
    ("discriminator 3", "10000004040001" "03", Cause.PARAMETER_VALUE_INVALID, 7,
     r"cell identification discriminator 3 is not one CBSP allows"),
    ("bytes after a BSS-wide list", "10000005040002" "0600", Cause.PARAMETER_VALUE_INVALID, 8,
     r"for all cells on the BSS carries 1 unexpected octets"),
    ("empty CGI list to reset", "10000004040001" "00", Cause.PARAMETER_VALUE_INVALID, 4, r"cell list names no cell"),
    ("reserved keep-alive code", "16000002" "18bb", Cause.PARAMETER_VALUE_INVALID, 5, r"period code 0xbb is reserved"),
    ("keep-alive over 120 s", "16000002" "1827", Cause.PARAMETER_VALUE_INVALID, 5, r"code 0x27 is outside 1\.\.120 s"),
    ("repeated IE", "16000004" "1814" "1814", Cause.PARAMETER_VALUE_INVALID, 6,
     r"KEEP_ALIVE_REPETITION_PERIOD IE appears 2 times"),
    ("cause 16", "15000002" "0b10", Cause.PARAMETER_VALUE_INVALID, 5, r"16 is not a Cause"),
    ("recovery indication 2", "13000008" "04000106" "1600" "0d02", Cause.PARAMETER_VALUE_INVALID, 11,
     r"2 is not a RecoveryIndication"),
]


def _write_replace_octets(**changes) -> bytes:
    return cbsp.encode(_write(**changes))


def _replace_ie(octets: bytes, iei: int, value: bytes) -> bytes:
    at = octets.index(bytes([iei]), 4)
    return octets[:at + 1] + value + octets[at + 1 + len(value):]


@pytest.mark.parametrize("hex_octets, cause, offset, message", [row[1:] for row in DECODE_ERRORS],
                         ids=[row[0] for row in DECODE_ERRORS])
def test_bad_octets_give_one_typed_error_saying_what_and_where(hex_octets, cause, offset, message):
    with pytest.raises(CbspDecodeError, match=message) as caught:
        cbsp.decode(bytes.fromhex(hex_octets))
    assert caught.value.cause == cause
    assert caught.value.offset == offset
    assert f"at octet {offset}" in str(caught.value)


def test_page_count_and_message_content_ies_must_agree():
    octets = _write_replace_octets()
    at = octets.index(bytes([cbsp.Iei.NUMBER_OF_PAGES, 1]), 4)
    with pytest.raises(CbspDecodeError, match="number of pages says 2 but 1 message content IEs follow") as caught:
        cbsp.decode(octets[:at + 1] + b"\x02" + octets[at + 2:])
    assert caught.value.cause is Cause.PARAMETER_VALUE_INVALID
    with pytest.raises(CbspDecodeError, match="number of pages 16 is outside 1..15"):
        cbsp.decode(octets[:at + 1] + b"\x10" + octets[at + 2:])
    content_at = at + 4  # after Number of Pages (2 octets) and Data Coding Scheme (2)
    assert octets[content_at] == cbsp.Iei.MESSAGE_CONTENT
    with pytest.raises(CbspDecodeError, match="user information length 0 is outside 1..82"):
        cbsp.decode(octets[:content_at + 1] + b"\x00" + octets[content_at + 2:])


def test_a_write_replace_with_both_cbs_and_emergency_ies_is_refused():
    octets = _write_replace_octets()
    body = octets[4:] + bytes([cbsp.Iei.EMERGENCY_INDICATOR, 1])
    with pytest.raises(CbspDecodeError, match="both CBS .* and emergency") as caught:
        cbsp.decode(bytes([1]) + len(body).to_bytes(3, "big") + body)
    assert caught.value.message_type == 1


def test_an_emergency_indicator_other_than_1_is_refused():
    octets = cbsp.encode(_emergency())
    with pytest.raises(CbspDecodeError, match="emergency indicator 0 is not 1"):
        cbsp.decode(_replace_ie(octets, cbsp.Iei.EMERGENCY_INDICATOR, b"\x00"))


def test_a_known_ie_the_message_does_not_use_is_skipped():
    body = bytes([cbsp.Iei.KEEP_ALIVE_REPETITION_PERIOD, 0x14, cbsp.Iei.CAUSE, 3, cbsp.Iei.MESSAGE_IDENTIFIER, 0, 1])
    assert cbsp.decode(bytes([0x16]) + len(body).to_bytes(3, "big") + body) == cbsp.KeepAlive(30)


def test_ies_in_another_order_decode_to_the_same_message():
    body = bytes.fromhex("1200" "040001" "06" "0e1112" "024010")  # KILL with its IEs reversed
    assert cbsp.decode(bytes([4]) + len(body).to_bytes(3, "big") + body) == cbsp.decode(GOLDEN["tx_kill_4370_bss"])


def test_spare_bits_are_ignored():
    assert cbsp.decode(bytes.fromhex("1000000404000126")) == cbsp.Reset(CellList.whole_bss())  # discriminator 0x26
    restart = cbsp.decode(bytes.fromhex("130000080400010616f00df1"))
    assert (restart.broadcast_message_type, restart.recovery_indication) == (
        cbsp.BroadcastMessageType.CBS, RecoveryIndication.DATA_LOST)


def test_decode_accepts_bytearray_and_memoryview_but_not_text():
    octets = GOLDEN["tx_reset_bss"]
    assert cbsp.decode(bytearray(octets)) == cbsp.decode(memoryview(octets)) == cbsp.Reset(CellList.whole_bss())
    with pytest.raises(CbspDecodeError, match="str is not bytes"):
        cbsp.decode("1000000404000106")


def test_a_decode_error_names_the_message_type_it_happened_in():
    octets = bytes.fromhex("040000060e1112024010")
    with pytest.raises(CbspDecodeError) as caught:
        cbsp.decode(octets)
    assert str(caught.value) == "CBSP KILL: mandatory cell list IE is missing (at octet 4)"
    assert caught.value.message_type == cbsp.MessageType.KILL


# ------------------------------------------------------------------------------------------------
# TCP framing


STREAM_PDUS = [cbsp.encode(message) for _, message in SAMPLES] + list(CBSP_GOLDEN.values())


def _reassemble(chunks) -> list[bytes]:
    reassembler = CbspReassembler()
    out = []
    for chunk in chunks:
        out += list(reassembler.feed(chunk))
    assert reassembler.pending == 0
    return out


@pytest.mark.parametrize("seed", range(20))
def test_a_stream_cut_at_random_places_yields_every_message_once_in_order(seed):
    stream = b"".join(STREAM_PDUS)
    rng = random.Random(seed)
    chunks, pos = [], 0
    while pos < len(stream):
        size = rng.choice((1, 2, 3, 4, 5, rng.randint(1, 300), rng.randint(1, 5000)))
        chunks.append(stream[pos:pos + size])
        pos += size
    assert _reassemble(chunks) == STREAM_PDUS


def test_a_stream_fed_one_octet_at_a_time_yields_every_message():
    stream = b"".join(STREAM_PDUS[:20])
    assert _reassemble(stream[i:i + 1] for i in range(len(stream))) == STREAM_PDUS[:20]


def test_a_half_message_waits_for_the_rest():
    reassembler = CbspReassembler()
    pdu = GOLDEN["tx_kill_4370_bss"]
    assert list(reassembler.feed(pdu[:3])) == []
    assert list(reassembler.feed(pdu[3:10])) == []
    assert reassembler.pending == 10
    assert list(reassembler.feed(pdu[10:] + pdu[:2])) == [pdu]
    assert reassembler.pending == 2


def test_garbage_on_the_stream_is_a_typed_framing_error_after_the_good_messages():
    reassembler = CbspReassembler()
    good = GOLDEN["rx_keep_alive_complete"] + GOLDEN["tx_reset_bss"]
    received = []
    with pytest.raises(CbspFramingError, match=r"declared length 4543520 exceeds 262144.*at octet 13") as caught:
        for pdu in reassembler.feed(good + b"GET / HTTP/1.1\r\nHost: cbc\r\n\r\n"):
            received.append(pdu)
    assert received == [GOLDEN["rx_keep_alive_complete"], GOLDEN["tx_reset_bss"]]
    assert isinstance(caught.value, CbspDecodeError)
    with pytest.raises(CbspFramingError):  # the stream stays broken: the link must be closed
        reassembler.feed(GOLDEN["tx_reset_bss"])


def test_the_absurd_length_limit_is_a_setting():
    reassembler = CbspReassembler(max_message_length=100)
    assert list(reassembler.feed(GOLDEN["tx_reset_bss"])) == [GOLDEN["tx_reset_bss"]]
    with pytest.raises(CbspFramingError, match="exceeds 100"):
        list(reassembler.feed(STREAM_PDUS[0]))  # a 2-page write-replace is longer than 100 octets


def test_a_decode_error_keeps_its_details_through_pickling():
    with pytest.raises(CbspDecodeError) as caught:
        cbsp.decode(bytes.fromhex("160000021900"))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (type(copy), str(copy), copy.offset, copy.cause, copy.message_type) == (
        CbspDecodeError, str(caught.value), 4, Cause.PARAMETER_NOT_RECOGNISED, 0x16)
