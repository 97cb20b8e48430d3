"""Every CBSP message we can emit, decoded by tshark (Wireshark) as an independent oracle: no malformed packets,
no expert warnings, and every field tshark shows equals what we meant to send."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from omnidesk.cbc import cbsp
from omnidesk.cbc.cbsp import CellIdKind
from omnidesk.cbc.pages import air_pages
from omnidesk.cbc.period import RepetitionPeriodLayout
from test_cbsp_samples import SAMPLES, TEXT_2_PAGES_GSM7, TEXT_UCS2, golden_vectors

TSHARK = shutil.which("tshark")
TEXT2PCAP = shutil.which("text2pcap")
pytestmark = pytest.mark.skipif(
    TSHARK is None or TEXT2PCAP is None,
    reason="tshark/text2pcap not installed (Debian package 'tshark', added to scripts/bootstrap); "
           "they are the independent decoder these tests compare against")

WARNING_SEVERITY = 0x00600000  # Wireshark's PI_WARN; PI_ERROR is 0x00800000

# IE order per message as cbc-protocols.md §3.4 lists it (written out here rather than taken from
# the codec, so the order on the wire is checked too). "pages" stands for Number of Pages, DCS and
# the Message Content IEs; "emergency_indicator" for the constant ETWS indicator.
IE_ORDER = {
    cbsp.WriteReplace: ["message_id", "new_serial_number", "old_serial_number", "cell_list", "channel_indicator",
                        "category", "repetition_period", "number_of_broadcasts_requested", "pages"],
    cbsp.EmergencyWriteReplace: ["message_id", "new_serial_number", "old_serial_number", "cell_list",
                                 "emergency_indicator", "warning_type", "warning_security_information",
                                 "warning_period"],
    cbsp.WriteReplaceComplete: ["message_id", "new_serial_number", "old_serial_number", "broadcasts_completed",
                                "cell_list", "channel_indicator"],
    cbsp.WriteReplaceFailure: ["message_id", "new_serial_number", "old_serial_number", "failure_list",
                               "broadcasts_completed", "cell_list", "channel_indicator"],
    cbsp.Kill: ["message_id", "old_serial_number", "cell_list", "channel_indicator"],
    cbsp.KillComplete: ["message_id", "old_serial_number", "broadcasts_completed", "cell_list", "channel_indicator"],
    cbsp.KillFailure: ["message_id", "old_serial_number", "failure_list", "broadcasts_completed", "cell_list",
                       "channel_indicator"],
    cbsp.LoadQuery: ["cell_list", "channel_indicator"],
    cbsp.LoadQueryComplete: ["loading_list", "channel_indicator"],
    cbsp.LoadQueryFailure: ["failure_list", "channel_indicator", "loading_list"],
    cbsp.MessageStatusQuery: ["message_id", "old_serial_number", "cell_list", "channel_indicator"],
    cbsp.MessageStatusQueryComplete: ["message_id", "old_serial_number", "broadcasts_completed", "channel_indicator"],
    cbsp.MessageStatusQueryFailure: ["message_id", "old_serial_number", "failure_list", "channel_indicator",
                                     "broadcasts_completed"],
    cbsp.SetDrx: ["cell_list", "schedule_period", "number_of_reserved_slots", "channel_indicator"],
    cbsp.SetDrxComplete: ["cell_list", "channel_indicator"],
    cbsp.SetDrxFailure: ["failure_list", "cell_list", "channel_indicator"],
    cbsp.Reset: ["cell_list"],
    cbsp.ResetComplete: ["cell_list"],
    cbsp.ResetFailure: ["failure_list", "cell_list"],
    cbsp.Restart: ["cell_list", "broadcast_message_type", "recovery_indication"],
    cbsp.Failure: ["failure_list", "broadcast_message_type"],
    cbsp.ErrorIndication: ["cause", "message_id", "new_serial_number", "old_serial_number", "channel_indicator"],
    cbsp.KeepAlive: ["repetition_period"],
    cbsp.KeepAliveComplete: [],
}

CELL_OCTETS = {CellIdKind.CGI: 7, CellIdKind.LAC_CI: 4, CellIdKind.CI: 2, CellIdKind.LAI: 5, CellIdKind.LAC: 2,
               CellIdKind.ALL_CELLS_ON_BSS: 0}


# ------------------------------------------------------------------------------------------------
# Running tshark


def od_lines(packets: list[bytes]) -> str:
    """text2pcap input: od-style offset + hex lines; a new offset 0 starts the next packet."""
    lines = []
    for packet in packets:
        for i in range(0, len(packet), 16):
            lines.append(f"{i:06x} " + " ".join(f"{b:02x}" for b in packet[i:i + 16]))
        lines.append("")
    return "\n".join(lines) + "\n"


def dissect(packets: list[bytes], tmp_path: Path, text2pcap_args: list[str]) -> list[ET.Element]:
    """Write the packets to one pcap with text2pcap and return tshark's PDML <packet> elements, after
    checking the cbc-protocols.md §6.4 recipe finds nothing malformed and no expert warning."""
    source = tmp_path / "pdus.txt"
    pcap = tmp_path / "pdus.pcap"
    source.write_text(od_lines(packets))
    subprocess.run([TEXT2PCAP, "-q", *text2pcap_args, str(source), str(pcap)], check=True, capture_output=True)
    flagged = subprocess.run([TSHARK, "-r", str(pcap), "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'],
                             check=True, capture_output=True, text=True).stdout
    assert flagged == "", f"tshark flags packets as malformed or with expert warnings:\n{flagged}"
    pdml = subprocess.run([TSHARK, "-r", str(pcap), "-T", "pdml"], check=True, capture_output=True, text=True).stdout
    packets_out = ET.fromstring(pdml).findall("packet")
    for number, packet in enumerate(packets_out, start=1):
        assert packet.find(".//proto[@name='_ws.malformed']") is None, f"frame {number} malformed"
        for severity in packet.iterfind(".//field[@name='_ws.expert.severity']"):
            assert int(severity.get("show")) < WARNING_SEVERITY, f"frame {number}: expert info at warning or above"
    return packets_out


def tcp_pdus(messages: list[bytes], tmp_path: Path) -> list[ET.Element]:
    """One TCP segment per PDU, CBC port 40000 -> BSC port 48049 (§6.4; text2pcap numbers the segments)."""
    packets = dissect(messages, tmp_path, ["-T", f"40000,{cbsp.TCP_PORT}"])
    protos = [packet.findall(".//proto[@name='cbsp']") for packet in packets]
    assert [len(p) for p in protos] == [1] * len(messages), "tshark must see exactly one CBSP PDU per frame"
    return [p[0] for p in protos]


# ------------------------------------------------------------------------------------------------
# What tshark shows, and what it should show


def _number(show: str) -> int:
    return int(show, 16) if show.startswith("0x") else int(show)


def shown_fields(proto: ET.Element) -> list[tuple[str, object]]:
    """The CBSP fields tshark dissected, in order, as comparable values."""
    out: list[tuple[str, object]] = []
    for field in proto.iter("field"):
        name = field.get("name")
        if name in ("cbsp.msg_len", "cbsp.cb_msg_page") or not (name.startswith("cbsp.") or name.startswith("e212.")):
            continue
        if name == "cbsp.cb_page_content":  # "value" is the decoded text as UTF-8 hex; "show" loses the CRs
            out.append((name, bytes.fromhex(field.get("value")).decode().rstrip("\r")))
        elif name == "e212.mnc":  # "show" loses leading zeros; the showname ends with the digits as sent
            out.append((name, re.search(r"\((\d+)\)$", field.get("showname")).group(1)))
        elif name in ("cbsp.warn_type", "cbsp.ie.payload"):
            out.append((name, field.get("value")))  # tshark 4.0 shows only one octet of the warning type
        else:
            out.append((name, _number(field.get("show"))))
    return out


def _cell_fields(cell) -> list[tuple[str, object]]:
    plmn = getattr(cell, "plmn", None)
    out: list[tuple[str, object]] = []
    if plmn is not None:
        out += [("e212.mcc", int(plmn.mcc)), ("e212.mnc", plmn.mnc)]
    if hasattr(cell, "lac"):
        out.append(("cbsp.lac", cell.lac))
    if hasattr(cell, "ci"):
        out.append(("cbsp.ci", cell.ci))
    return out


def _tshark_repetition_period(units: int, layout: RepetitionPeriodLayout) -> int:
    # tshark reads the spec figure: 8 bits from octet 2, then the low nibble of octet 3 (§3.6)
    if layout is RepetitionPeriodLayout.SPEC_FIGURE:
        return units
    high, low = units >> 8, units & 0xFF
    return (high << 4) | (low & 0x0F)


def _tshark_period_seconds(seconds: int | None) -> int:
    """tshark 4.0 counts 60-s steps above 600 s where the spec (and libosmocore) count 30-s steps (§3.6)."""
    if seconds is None:
        return 0
    if seconds <= 600:
        return seconds
    return 600 + (seconds - 600) // 30 * 60


def _serial(value) -> int:
    return (int(value.geographical_scope) << 14) | (value.message_code << 4) | value.update_number


def expected_fields(message: cbsp.CbspMessage, layout: RepetitionPeriodLayout) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [("cbsp.msg_type", int(type(message).MESSAGE_TYPE))]
    for name in IE_ORDER[type(message)]:
        value = getattr(message, name, None)
        if name == "emergency_indicator":
            out += [("cbsp.ie.iei", 0x0F), ("cbsp.emergency_ind", 1)]
        elif value is None and name != "warning_period":  # a None warning period is "infinite", code 0
            continue
        elif name == "message_id":
            out += [("cbsp.ie.iei", 0x0E), ("cbsp.message_id", value)]
        elif name == "new_serial_number":
            out += [("cbsp.ie.iei", 0x03), ("cbsp.new_serial_nr", _serial(value))]
        elif name == "old_serial_number":
            out += [("cbsp.ie.iei", 0x02), ("cbsp.old_serial_nr", _serial(value))]
        elif name == "cell_list":
            out += [("cbsp.ie.iei", 0x04), ("cbsp.ie.len", 1 + CELL_OCTETS[value.kind] * len(value.cells)),
                    ("cbsp.cell_id_disc", int(value.kind))]
            for cell in value.cells:
                out += _cell_fields(cell)
        elif name == "channel_indicator":
            out += [("cbsp.ie.iei", 0x12), ("cbsp.channel_ind", int(value))]
        elif name == "category":
            out += [("cbsp.ie.iei", 0x05), ("cbsp.category", int(value))]
        elif name == "repetition_period" and isinstance(message, cbsp.KeepAlive):
            out += [("cbsp.ie.iei", 0x18), ("cbsp.keepalive_rep_period", value)]
        elif name == "repetition_period":
            out += [("cbsp.ie.iei", 0x06), ("cbsp.rep_period", _tshark_repetition_period(value, layout))]
        elif name == "number_of_broadcasts_requested":
            out += [("cbsp.ie.iei", 0x07), ("cbsp.num_bcast_req", value)]
        elif name == "pages":
            out += [("cbsp.ie.iei", 0x13), ("cbsp.num_of_pages", len(value)),
                    ("cbsp.ie.iei", 0x0C), ("cbsp.dcs", message.data_coding_scheme)]
            for page in value:
                out += [("cbsp.ie.iei", 0x01), ("cbsp.user_info_len", page.user_information_length),
                        ("cbsp.cb_page_content", PAGE_TEXT)]
        elif name == "warning_type":
            raw = (int(value.kind) << 9) | (value.emergency_user_alert << 8) | (value.popup << 7)
            out += [("cbsp.ie.iei", 0x10), ("cbsp.warn_type", f"{raw:04x}")]
        elif name == "warning_security_information":
            out += [("cbsp.ie.iei", 0x11), ("cbsp.ie.payload", value.hex())]
        elif name == "warning_period":
            out += [("cbsp.ie.iei", 0x17), ("cbsp.warning_period", _tshark_period_seconds(value))]
        elif name == "broadcasts_completed":
            out += [("cbsp.ie.iei", 0x08), ("cbsp.ie.len", 1 + (CELL_OCTETS[value.kind] + 3) * len(value.entries)),
                    ("cbsp.cell_id_disc", int(value.kind))]
            if value.kind is not CellIdKind.ALL_CELLS_ON_BSS:  # tshark 4.0 stops at an entry without cell octets
                for entry in value.entries:
                    out += _cell_fields(entry.cell) + [("cbsp.num_bcast_compl", entry.count),
                                                       ("cbsp.num_bcast_info", int(entry.info))]
        elif name == "failure_list":
            out += [("cbsp.ie.iei", 0x09),
                    ("cbsp.ie.len", sum(2 + CELL_OCTETS[entry.cell.KIND] for entry in value))]
            for entry in value:
                out.append(("cbsp.cell_id_disc", int(entry.cell.KIND)))
                if entry.cell.KIND is CellIdKind.ALL_CELLS_ON_BSS:
                    break  # tshark 4.0 stops at an entry without cell octets
                out += _cell_fields(entry.cell) + [("cbsp.cause", int(entry.cause))]
        elif name == "loading_list":
            out += [("cbsp.ie.iei", 0x0A), ("cbsp.ie.len", 1 + (CELL_OCTETS[value.kind] + 2) * len(value.entries)),
                    ("cbsp.cell_id_disc", int(value.kind))]
            if value.kind is not CellIdKind.ALL_CELLS_ON_BSS:  # as above
                for entry in value.entries:
                    out += _cell_fields(entry.cell) + [("cbsp.rr_load1", entry.load1), ("cbsp.rr_load2", entry.load2)]
        elif name == "cause":
            out += [("cbsp.ie.iei", 0x0B), ("cbsp.cause", int(value))]
        elif name == "recovery_indication":
            out += [("cbsp.ie.iei", 0x0D), ("cbsp.recovery_ind", int(value))]
        elif name == "broadcast_message_type":
            out += [("cbsp.ie.iei", 0x16), ("cbsp.bcast_msg_type", int(value))]
        elif name == "schedule_period":
            out += [("cbsp.ie.iei", 0x14), ("cbsp.sched_period", value)]
        elif name == "number_of_reserved_slots":
            out += [("cbsp.ie.iei", 0x15), ("cbsp.num_of_res_slots", value)]
        else:
            raise AssertionError(f"no expectation for {type(message).__name__}.{name}")
    return out


PAGE_TEXT = object()  # page texts are compared as a whole message below, not page by page

SOURCE_TEXTS = {TEXT_2_PAGES_GSM7, TEXT_UCS2, "0123456789" * 139 + "abcde", "x"}


def assert_tshark_agrees(message: cbsp.CbspMessage, pdu: bytes, proto: ET.Element,
                         layout: RepetitionPeriodLayout) -> None:
    shown = shown_fields(proto)
    expected = expected_fields(message, layout)
    page_texts = [value for name, value in shown if name == "cbsp.cb_page_content"]
    shown = [(name, PAGE_TEXT if name == "cbsp.cb_page_content" else value) for name, value in shown]
    assert shown == expected
    assert _number(proto.find("field[@name='cbsp.msg_len']").get("show")) == len(pdu) - 4
    if isinstance(message, cbsp.WriteReplace):
        assert "".join(page_texts) == message.text, "tshark and pages.text_of read the pages differently"


# ------------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("layout", list(RepetitionPeriodLayout), ids=lambda layout: layout.value)
def test_every_message_we_emit_decodes_in_tshark_to_the_values_we_sent(layout, tmp_path):
    pdus = [cbsp.encode(message, repetition_period_layout=layout) for _, message in SAMPLES]
    protos = tcp_pdus(pdus, tmp_path)
    failures = []
    for (label, message), pdu, proto in zip(SAMPLES, pdus, protos):
        try:
            assert_tshark_agrees(message, pdu, proto, layout)
            if isinstance(message, cbsp.WriteReplace):
                assert message.text in SOURCE_TEXTS, "the text on the wire is not the operator's text"
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_tshark_reads_the_repetition_period_as_sent_only_in_the_spec_figure_layout(tmp_path):
    message = dict(SAMPLES)["write_replace_cgi"]  # repetition period 300 units
    assert message.repetition_period == 300
    protos = tcp_pdus([cbsp.encode(message, repetition_period_layout=layout) for layout in RepetitionPeriodLayout],
                      tmp_path)
    shown = [_number(p.find(".//field[@name='cbsp.rep_period']").get("show")) for p in protos]
    assert shown == [28, 300]  # osmocom u16 01 2c reads as 28 in tshark, as cbc-protocols.md §5.4 recorded


def test_golden_vectors_decode_cleanly_in_tshark(tmp_path):
    vectors = {name: octets for name, octets in golden_vectors().items() if not name.startswith("air_page")}
    protos = tcp_pdus(list(vectors.values()), tmp_path)
    for (name, octets), proto in zip(vectors.items(), protos):
        # 12 0c is 4620 units read as osmocom does, beyond 4095; it only makes sense in the spec figure
        layout = RepetitionPeriodLayout.SPEC_FIGURE if name == "probe_rp_120c" else RepetitionPeriodLayout.OSMOCOM
        assert_tshark_agrees(cbsp.decode(octets, repetition_period_layout=layout), octets, proto, layout)


def test_the_oracle_notices_a_malformed_pdu(tmp_path):
    # a KILL whose cell list claims 9 octets while 1 follows: if tshark did not flag this, the other
    # tests would prove nothing
    broken = bytes.fromhex("0400000c0e111202401004000906") + bytes(2)
    with pytest.raises(AssertionError, match="malformed"):
        tcp_pdus([broken], tmp_path)


# The same pages as a BTS would broadcast them (GSMTAP CBCH, 4 blocks of 22 octets per page), read by
# tshark's gsm_cbs dissector: an independent check of the serial number parts and of the page text.
GSMTAP_PORT = 4729
GSMTAP_CHANNEL_CBCH51 = 0x0F


def gsmtap_cbch_blocks(air_page: bytes) -> list[bytes]:
    blocks = []
    for sequence in range(4):
        header = struct.pack("!BBBBHbbIBBBB", 2, 4, 1, 0, 0, 0, 0, sequence, GSMTAP_CHANNEL_CBCH51, 0, 0, 0)
        block_type = 0x20 | sequence | (0x10 if sequence == 3 else 0)  # LPD 01, last-block bit on the 4th
        blocks.append(header + bytes((block_type,)) + air_page[22 * sequence:22 * sequence + 22])
    return blocks


def test_pages_of_every_write_replace_read_back_in_tshark_as_sent(tmp_path):
    messages = [m for _, m in SAMPLES if isinstance(m, cbsp.WriteReplace)]
    frames = []
    for message in messages:
        for page in air_pages(message.new_serial_number, message.message_id, message.data_coding_scheme,
                              message.pages):
            frames += gsmtap_cbch_blocks(page.to_bytes())
    packets = dissect(frames, tmp_path, ["-u", f"{GSMTAP_PORT},{GSMTAP_PORT}"])
    pages_seen = [p.find(".//proto[@name='gsm_cbs']") for p in packets]
    pages_seen = [p for p in pages_seen if p is not None]
    expected_pages = [(message, number) for message in messages for number in range(1, len(message.pages) + 1)]
    assert len(pages_seen) == len(expected_pages)
    texts: dict[int, list[str]] = {}
    for (message, number), page in zip(expected_pages, pages_seen):
        def shown(name, page=page):
            return page.find(f".//field[@name='{name}']").get("show")
        serial = message.new_serial_number
        assert _number(shown("gsm_cbs.serial_number")) == _serial(serial)
        assert int(shown("gsm_cbs.geographic_scope")) == int(serial.geographical_scope)
        assert int(shown("gsm_cbs.message_code")) == serial.message_code
        assert int(shown("gsm_cbs.update_number")) == serial.update_number
        assert int(shown("gsm_cbs.message-identifier")) == message.message_id
        assert (int(shown("gsm_cbs.current_page")), int(shown("gsm_cbs.total_pages"))) == (number, len(message.pages))
        content = page.find(".//field[@name='gsm_cbs.page_content']").get("value")
        texts.setdefault(id(message), []).append(bytes.fromhex(content).decode().rstrip("\r"))
    for message in messages:
        assert "".join(texts[id(message)]) == message.text
        assert message.text in SOURCE_TEXTS
