"""Every SBc-AP message we can emit, decoded by tshark (Wireshark) as an independent oracle: written to a pcap
over SCTP with PPID 24 on port 29168, no malformed packets, no expert info at warning or above, and every
field tshark shows equals what we meant to send."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from omnidesk.cbc import sbcap
from omnidesk.cbc.pages import text_of
from omnidesk.cbc.sbcap import (
    CellIdList,
    EmergencyAreaList,
    EutranCellId,
    GlobalEnbId,
    GlobalGnbId,
    GlobalNgEnbId,
    NrCellId,
    NrCellIdList,
    TrackingAreaId5gs,
    TrackingAreaList,
)
from test_sbcap_samples import SAMPLES, golden_vectors

TSHARK = shutil.which("tshark")
TEXT2PCAP = shutil.which("text2pcap")
pytestmark = pytest.mark.skipif(
    TSHARK is None or TEXT2PCAP is None,
    reason="tshark/text2pcap not installed (Debian package 'tshark', installed by scripts/bootstrap); "
           "they are the independent decoder these tests compare against")

WARNING_SEVERITY = 0x00600000  # Wireshark's PI_WARN; PI_ERROR is 0x00800000

# Every sample we emit. "wrw_request_raw_content" is left out: it carries octets that are not CB-Data
# (passed through as a peer sent them), which tshark rightly calls malformed.
EMITTED = [(name, message) for name, message in SAMPLES if name != "wrw_request_raw_content"]

# The osmo-cbc request's dummy content is not CB-Data either (cbc-protocols.md §5.1): tshark flags it.
CLEAN_GOLDEN = {name: octets for name, octets in golden_vectors().items()
                if name != "osmo_cbc_write_replace_warning_request"}

# IE order per message, with the ids of SBC-AP-Constants and the criticality of each IE in SBC-AP-PDU-Contents
# (r = reject, i = ignore): written out here from the ASN.1 rather than taken from the codec, so the
# order, ids and criticalities on the wire are checked too.
IE_ORDER: dict[type, tuple[list[tuple[str, int, str]], list[tuple[str, int, str]]]] = {
    sbcap.WriteReplaceWarningRequest: (
        [("message_identifier", 5, "r"), ("serial_number", 11, "r"), ("tracking_areas", 14, "r"),
         ("warning_area", 15, "i"), ("repetition_period", 10, "r"), ("extended_repetition_period", 21, "r"),
         ("number_of_broadcasts_requested", 7, "r"), ("warning_type", 18, "i"),
         ("warning_security_information", 17, "i"), ("data_coding_scheme", 3, "i"),
         ("warning_message_content", 16, "i"), ("omc_id", 19, "i"), ("concurrent_warning_message_indicator", 20, "r"),
         ("send_write_replace_warning_indication", 24, "i"), ("global_enb_id", 28, "i"),
         ("warning_area_coordinates", 46, "i")],
        [("tracking_areas_5gs", 34, "i"), ("warning_area_5gs", 35, "i"), ("global_ran_node_id", 36, "i"),
         ("rat_selector_5gs", 38, "i")]),
    sbcap.WriteReplaceWarningResponse: (
        [("message_identifier", 5, "r"), ("serial_number", 11, "r"), ("cause", 1, "r"),
         ("criticality_diagnostics", 2, "i"), ("unknown_tracking_areas", 22, "i")],
        [("unknown_tracking_areas_5gs", 39, "i")]),
    sbcap.StopWarningRequest: (
        [("message_identifier", 5, "r"), ("serial_number", 11, "r"), ("tracking_areas", 14, "r"),
         ("warning_area", 15, "i"), ("omc_id", 19, "i"), ("send_stop_warning_indication", 26, "i"),
         ("stop_all_indicator", 27, "r")],
        [("tracking_areas_5gs", 34, "i"), ("warning_area_5gs", 35, "i"), ("rat_selector_5gs", 38, "i")]),
    sbcap.WriteReplaceWarningIndication: (
        [("message_identifier", 5, "r"), ("serial_number", 11, "r"), ("broadcast_scheduled_area_list", 23, "r")],
        [("broadcast_scheduled_area_list_5gs", 40, "i")]),
    sbcap.StopWarningIndication: (
        [("message_identifier", 5, "r"), ("serial_number", 11, "r"), ("broadcast_cancelled_area_list", 25, "r"),
         ("broadcast_empty_area_list", 29, "i")],
        [("broadcast_cancelled_area_list_5gs", 41, "i"), ("broadcast_empty_area_list_5gs", 42, "i")]),
    sbcap.PwsRestartIndication: (
        [("restarted_cells", 30, "r"), ("global_enb_id", 28, "r"), ("restart_tracking_areas", 31, "r"),
         ("restart_emergency_area_ids", 32, "r")],
        [("restarted_nr_cells", 43, "i"), ("restart_tracking_areas_5gs", 45, "i"), ("global_gnb_id", 37, "i")]),
    sbcap.PwsFailureIndication: (
        [("failed_cells", 33, "r"), ("global_enb_id", 28, "r")],
        [("failed_nr_cells", 44, "i"), ("global_gnb_id", 37, "i")]),
    sbcap.ErrorIndication: ([("cause", 1, "i"), ("criticality_diagnostics", 2, "i")], []),
}
CRITICALITY = {"r": 0, "i": 1}  # Criticality ::= ENUMERATED { reject, ignore, notify }
PROCEDURE_CRITICALITY = {0: "r", 1: "r"}  # class 1 procedures; the class 2 ones are "ignore"
IE_ORDER[sbcap.StopWarningResponse] = IE_ORDER[sbcap.WriteReplaceWarningResponse]


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


def dissect(packets: list[bytes], tmp_path: Path) -> list[ET.Element]:
    """One SCTP DATA chunk per PDU (text2pcap -S 29168,29168,24: ports and PPID 24, cbc-protocols.md §6.4);
    checks nothing is malformed or flagged at warning or above, returns each frame's sbcap <proto>."""
    source = tmp_path / "pdus.txt"
    pcap = tmp_path / "pdus.pcap"
    source.write_text(od_lines(packets))
    port = str(sbcap.SCTP_PORT)
    subprocess.run([TEXT2PCAP, "-q", "-S", f"{port},{port},{sbcap.SCTP_PPID}", str(source), str(pcap)],
                   check=True, capture_output=True)
    flagged = subprocess.run([TSHARK, "-r", str(pcap), "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'],
                             check=True, capture_output=True, text=True).stdout
    assert flagged == "", f"tshark flags packets as malformed or with expert warnings:\n{flagged}"
    pdml = subprocess.run([TSHARK, "-r", str(pcap), "-T", "pdml"], check=True, capture_output=True, text=True).stdout
    frames = ET.fromstring(pdml).findall("packet")
    assert len(frames) == len(packets)
    protos = []
    for number, frame in enumerate(frames, start=1):
        assert frame.find(".//proto[@name='_ws.malformed']") is None, f"frame {number} malformed"
        for severity in frame.iterfind(".//field[@name='_ws.expert.severity']"):
            assert int(severity.get("show")) < WARNING_SEVERITY, f"frame {number}: expert info at warning or above"
        ppid = frame.find(".//field[@name='sctp.data_payload_proto_id']")
        assert ppid is not None and int(ppid.get("show")) == sbcap.SCTP_PPID
        found = frame.findall(".//proto[@name='sbcap']")
        assert len(found) == 1, f"frame {number}: tshark must see exactly one SBc-AP PDU"
        protos.append(found[0])
    return protos


# ------------------------------------------------------------------------------------------------
# What tshark shows


_BITS = re.compile(r"decimal value (\d+)\]")
_COUNT = re.compile(r": \d+ items?$")
_IGNORED = {"sbc-ap.protocolIEs", "sbc-ap.protocolExtensions", "sbc-ap.Serial_Number", "sbc-ap.Warning_Type",
            "sbc-ap.Warning_Message_Content"}  # containers, and fields checked through their parts


def shown_fields(proto: ET.Element) -> list[tuple[str, object]]:
    """The SBc-AP fields tshark dissected, in order, as comparable values (hidden PER details left out)."""
    out: list[tuple[str, object]] = []
    for field in proto.iter("field"):
        name = field.get("name", "")
        showname = field.get("showname") or ""
        if field.get("hide") == "yes" or name in _IGNORED or name.endswith("_element") or _COUNT.search(showname):
            continue  # PER details, containers, and list lengths (the entries themselves are compared)
        if re.fullmatch(r"e212(\.\w+)?\.mcc", name):
            out.append(("mcc", int(field.get("show"))))
        elif re.fullmatch(r"e212(\.\w+)?\.mnc", name):  # "show" loses leading zeros; the showname keeps them
            out.append(("mnc", re.search(r"\((\d+)\)$", showname).group(1)))
        elif not name.startswith(("sbc-ap.", "sbc_ap.")):
            continue
        elif name in ("sbc-ap.Emergency_Area_ID", "sbc-ap.emergencyAreaID"):
            out.append(("eai", field.get("value")))
        elif name in ("sbc-ap.pLMNidentity", "sbc-ap.Warning_Security_Information", "sbc-ap.Omc_Id",
                      "sbc-ap.Warning_Area_Coordinates"):
            out.append((name, field.get("value")))
        elif name == "sbc-ap.Data_Coding_Scheme":
            out.append((name, int(field.get("value"), 16)))
        elif name == "sbc-ap.WarningMessageContents.decoded_page":  # "value" holds the page octets, "show" the text
            # A text filling 7 bits of its last octet has a padding CR there (TS 23.038 §6.1.2.3.1): pages.text_of
            # drops it, tshark shows it as a space.
            out.append((name, field.get("show").rstrip(" \r")))
        elif "bit length" in showname:  # cell identities, eNB / gNB ids
            out.append((name, int(_BITS.search(showname).group(1))))
        elif name == "sbc-ap.gNB_ID":
            out.append(("sbc-ap.gNB_ID.choice", int(field.get("show"))))
        elif field.get("show", "") == "":
            continue
        else:
            out.append((name, int(field.get("show"))))
    return out


# ------------------------------------------------------------------------------------------------
# What it should show, from the message (walked in wire order, with our own TBCD packing)


def tbcd(plmn) -> str:
    mnc3 = plmn.mnc[2] if len(plmn.mnc) == 3 else "f"
    return plmn.mcc[1] + plmn.mcc[0] + mnc3 + plmn.mcc[2] + plmn.mnc[1] + plmn.mnc[0]


def plmn_fields(plmn) -> list:
    # tshark 4.0.17's SBc-AP dissector shows a 3-digit MNC as digits 3, 1, 2 (310/410 as "041"), while
    # its CBSP dissector shows the same three octets right ("410"). The octets (checked above it against
    # our own TBCD packing) are what TS 24.008 says: octet 2 = MNC3|MCC3, octet 3 = MNC2|MNC1.
    mnc = plmn.mnc if len(plmn.mnc) == 2 else plmn.mnc[2] + plmn.mnc[0] + plmn.mnc[1]
    return [("sbc-ap.pLMNidentity", tbcd(plmn)), ("mcc", int(plmn.mcc)), ("mnc", mnc)]


def tai_fields(tai) -> list:
    if isinstance(tai, TrackingAreaId5gs):
        return plmn_fields(tai.plmn) + [("sbc-ap.tAC_5GS", tai.tac)]
    return plmn_fields(tai.plmn) + [("sbc-ap.tAC", tai.tac)]


def cell_fields(cell) -> list:
    if isinstance(cell, NrCellId):
        return plmn_fields(cell.plmn) + [("sbc-ap.nRCellIdentity", cell.nr_cell_identity)]
    assert isinstance(cell, EutranCellId)
    return plmn_fields(cell.plmn) + [("sbc-ap.cell_ID", cell.cell_identity)]


ENB_CHOICE = {"MACRO": (0, "sbc-ap.macroENB_ID"), "HOME": (1, "sbc-ap.homeENB_ID"),
              "SHORT_MACRO": (2, "sbc-ap.short_macroENB_ID"), "LONG_MACRO": (3, "sbc-ap.long_macroENB_ID")}


def node_fields(node) -> list:
    if isinstance(node, GlobalEnbId):
        index, name = ENB_CHOICE[node.kind.name]
        return plmn_fields(node.plmn) + [("sbc-ap.eNB_ID", index), (name, node.enb_id)]
    if isinstance(node, GlobalGnbId):
        return plmn_fields(node.plmn) + [("sbc-ap.gNB_ID.choice", 0), ("sbc-ap.gNB_ID", node.gnb_id)]
    assert isinstance(node, GlobalNgEnbId)
    index, name = ENB_CHOICE[node.kind.name]
    return plmn_fields(node.plmn) + [("sbc-ap.ngENB_ID", index), (name, node.ng_enb_id)]


def ran_node_fields(node) -> list:
    return [("sbc-ap.Global_RAN_Node_ID", 0 if isinstance(node, GlobalGnbId) else 1)] + node_fields(node)


def warning_area_fields(area, five_g: bool) -> list:
    name = "sbc-ap.Warning_Area_List_5GS" if five_g else "sbc-ap.Warning_Area_List"
    if isinstance(area, CellIdList):
        return [(name, 0)] + [f for cell in area.cells for f in cell_fields(cell)]
    if isinstance(area, TrackingAreaList):
        return [(name, 1)] + [f for tai in area.tracking_areas for f in tai_fields(tai)]
    if isinstance(area, NrCellIdList):
        return [(name, 1)] + [f for cell in area.cells for f in cell_fields(cell)]
    if isinstance(area, TrackingAreaId5gs):
        return [(name, 2)] + tai_fields(area)
    assert isinstance(area, EmergencyAreaList)
    return [(name, 3 if five_g else 2)] + [("eai", f"{eai:06x}") for eai in area.emergency_area_ids]


def diagnostics_fields(diagnostics) -> list:
    out = []
    if diagnostics.procedure_code is not None:
        out.append(("sbc-ap.procedureCode", diagnostics.procedure_code))
    if diagnostics.triggering_message is not None:
        out.append(("sbc-ap.triggeringMessage", list(sbcap.TriggeringMessage).index(diagnostics.triggering_message)))
    if diagnostics.procedure_criticality is not None:
        out.append(("sbc-ap.procedureCriticality", list(sbcap.Criticality).index(diagnostics.procedure_criticality)))
    for entry in diagnostics.ies:
        out += [("sbc-ap.iECriticality", list(sbcap.Criticality).index(entry.criticality)),
                ("sbc-ap.iE_ID", entry.ie_id), ("sbc-ap.typeOfError", list(sbcap.TypeOfError).index(entry.type_of_error))]
    return out


def scheduled_fields(area) -> list:
    out = [f for cell in area.cells for f in cell_fields(cell)]
    for tracking_area in area.tracking_areas:
        out += tai_fields(tracking_area.tracking_area) + [f for cell in tracking_area.cells for f in cell_fields(cell)]
    for emergency_area in area.emergency_areas:
        out += [("eai", f"{emergency_area.emergency_area_id:06x}")]
        out += [f for cell in emergency_area.cells for f in cell_fields(cell)]
    return out


def cancelled_fields(area) -> list:
    def cells(entries):
        return [f for e in entries for f in cell_fields(e.cell) + [("sbc-ap.numberOfBroadcasts", e.number_of_broadcasts)]]
    out = cells(area.cells)
    for tracking_area in area.tracking_areas:
        out += tai_fields(tracking_area.tracking_area) + cells(tracking_area.cells)
    for emergency_area in area.emergency_areas:
        out += [("eai", f"{emergency_area.emergency_area_id:06x}")] + cells(emergency_area.cells)
    return out


def value_fields(message, field: str, value) -> list:
    if field == "message_identifier":
        return [("sbc-ap.Message_Identifier", value)]
    if field == "serial_number":
        return [("sbc_ap.SerialNumber.gs", value.geographical_scope), ("sbc_ap.SerialNumber.msg_code", value.message_code),
                ("sbc_ap.SerialNumber.upd_nb", value.update_number)]
    if field in ("repetition_period", "extended_repetition_period", "number_of_broadcasts_requested", "cause"):
        return [({"repetition_period": "sbc-ap.Repetition_Period",
                  "extended_repetition_period": "sbc-ap.Extended_Repetition_Period",
                  "number_of_broadcasts_requested": "sbc-ap.Number_of_Broadcasts_Requested",
                  "cause": "sbc-ap.Cause"}[field], value)]
    if field in ("tracking_areas", "unknown_tracking_areas", "restart_tracking_areas", "tracking_areas_5gs",
                 "unknown_tracking_areas_5gs", "restart_tracking_areas_5gs"):
        return [f for tai in value for f in tai_fields(tai)]
    if field in ("warning_area", "warning_area_5gs"):
        return warning_area_fields(value, field.endswith("5gs"))
    if field == "warning_type":
        return [("sbc-ap.WarningType.value", value.kind), ("sbc-ap.WarningType.emergency_user_alert",
                                                             int(value.emergency_user_alert)),
                ("sbc-ap.WarningType.popup", int(value.popup))]
    if field in ("warning_security_information", "omc_id", "warning_area_coordinates"):
        name = {"warning_security_information": "sbc-ap.Warning_Security_Information", "omc_id": "sbc-ap.Omc_Id",
                "warning_area_coordinates": "sbc-ap.Warning_Area_Coordinates"}[field]
        return [(name, value.hex())]
    if field == "data_coding_scheme":
        return [("sbc-ap.Data_Coding_Scheme", value)]
    if field == "warning_message_content":
        return [("sbc-ap.WarningMessageContents.nb_pages", len(value))] + [
            ("sbc-ap.WarningMessageContents.decoded_page", text_of(message.data_coding_scheme, (page,)).rstrip(" \r"))
            for page in value]
    if field in ("concurrent_warning_message_indicator", "send_write_replace_warning_indication",
                 "send_stop_warning_indication", "stop_all_indicator", "rat_selector_5gs"):
        name = "sbc-ap." + "_".join(part.capitalize() for part in field.split("_"))
        name = {"sbc-ap.Rat_Selector_5gs": "sbc-ap.RAT_Selector_5GS"}.get(name, name)
        return [(name, 0)]  # ENUMERATED { true }: index 0
    if field in ("global_enb_id", "global_gnb_id"):
        return node_fields(value)
    if field == "global_ran_node_id":
        return ran_node_fields(value)
    if field == "broadcast_empty_area_list":
        return [f for node in value for f in node_fields(node)]
    if field == "broadcast_empty_area_list_5gs":
        return [f for node in value for f in ran_node_fields(node)]
    if field == "criticality_diagnostics":
        return diagnostics_fields(value)
    if field in ("broadcast_scheduled_area_list", "broadcast_scheduled_area_list_5gs"):
        return scheduled_fields(value)
    if field in ("broadcast_cancelled_area_list", "broadcast_cancelled_area_list_5gs"):
        return cancelled_fields(value)
    if field in ("restarted_cells", "failed_cells", "restarted_nr_cells", "failed_nr_cells"):
        return [f for cell in value for f in cell_fields(cell)]
    if field == "restart_emergency_area_ids":
        return [("eai", f"{eai:06x}") for eai in value]
    raise AssertionError(f"no expectation for {field}")


def expected_fields(message) -> list[tuple[str, object]]:
    code = int(message.PROCEDURE_CODE)
    out: list[tuple[str, object]] = [("sbc-ap.SBC_AP_PDU", 1 if message.OUTCOME == "successfulOutcome" else 0),
                                     ("sbc-ap.procedureCode", code),
                                     ("sbc-ap.criticality", CRITICALITY[PROCEDURE_CRITICALITY.get(code, "i")])]
    ies, extensions = IE_ORDER[type(message)]
    for group in (ies, extensions):
        for field, ie_id, criticality in group:
            value = getattr(message, field)
            if value is None or value is False or value == ():
                continue
            out += [("sbc-ap.id", ie_id), ("sbc-ap.criticality", CRITICALITY[criticality])]
            out += value_fields(message, field, value)
    return out


# ------------------------------------------------------------------------------------------------
# The tests


def test_every_emitted_message_type_appears_in_every_warning_area_variant():
    names = {name for name, _ in EMITTED}
    for area in ("cells", "tais", "eais", "5gs_eutran_cells", "5gs_nr_cells", "5gs_tai", "5gs_eais"):
        assert f"wrw_request_{area}" in names and f"stop_request_{area}" in names
    assert {type(message) for _, message in EMITTED} == set(IE_ORDER)


def test_tshark_decodes_every_message_we_emit_cleanly_and_shows_what_we_sent(tmp_path):
    protos = dissect([sbcap.encode(message) for _, message in EMITTED], tmp_path)
    for (name, message), proto in zip(EMITTED, protos):
        assert shown_fields(proto) == expected_fields(message), name


def test_tshark_decodes_the_golden_vectors_as_we_do(tmp_path):
    protos = dissect(list(CLEAN_GOLDEN.values()), tmp_path)
    for (name, octets), proto in zip(CLEAN_GOLDEN.items(), protos):
        assert shown_fields(proto) == expected_fields(sbcap.decode(octets)), name


def test_tshark_reads_a_fragmented_warning_area_of_3000_cells(tmp_path):
    """Above 16 KiB APER fragments the open type: tshark, not only our own decoder, must read it."""
    cells = tuple(EutranCellId(sbcap.Plmn("262", "01"), 0x1000000 + i) for i in range(3000))
    message = dict(SAMPLES)["wrw_request_cells"]
    big = sbcap.WriteReplaceWarningRequest(message.message_identifier, message.serial_number, 60, 0,
                                           warning_area=CellIdList(cells), data_coding_scheme=message.data_coding_scheme,
                                           warning_message_content=message.warning_message_content)
    octets = sbcap.encode(big)
    assert len(octets) > 16384
    (proto,) = dissect([octets], tmp_path)
    shown = shown_fields(proto)
    assert shown == expected_fields(big)
    assert sum(1 for name, _ in shown if name == "sbc-ap.cell_ID") == 3000
