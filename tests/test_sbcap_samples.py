"""Sample SBc-AP messages for the SBc-AP tests: every message type, every warning-area variant (E-UTRAN
and 5GS), every optional IE at least once, and the golden vectors."""

from __future__ import annotations

from pathlib import Path

from omnidesk.cbc import sbcap
from omnidesk.cbc.pages import GeographicalScope, SerialNumber
from omnidesk.cbc.sbcap import (
    BroadcastCancelledAreaList,
    BroadcastCancelledAreaList5gs,
    BroadcastScheduledAreaList,
    BroadcastScheduledAreaList5gs,
    CancelledCell,
    CancelledEmergencyArea,
    CancelledNrCell,
    CancelledTrackingArea,
    CancelledTrackingArea5gs,
    Cause,
    CellIdList,
    Criticality,
    CriticalityDiagnostics,
    CriticalityDiagnosticsIe,
    EmergencyAreaList,
    EnbIdKind,
    EtwsWarningType,
    EutranCellId,
    GlobalEnbId,
    GlobalGnbId,
    GlobalNgEnbId,
    NrCellId,
    NrCellIdList,
    Plmn,
    ScheduledEmergencyArea,
    ScheduledTrackingArea,
    ScheduledTrackingArea5gs,
    TrackingAreaId,
    TrackingAreaId5gs,
    TrackingAreaList,
    TriggeringMessage,
    TypeOfError,
    WarningType,
)

GOLDEN_FILE = Path(__file__).parent / "data" / "sbcap" / "golden_vectors.txt"


def golden_vectors() -> dict[str, bytes]:
    vectors = {}
    for line in GOLDEN_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, hex_octets = line.split()
            vectors[name] = bytes.fromhex(hex_octets)
    return vectors


TEXT_2_PAGES_GSM7 = ("Civil protection: severe flood warning for the river valley. Move to higher ground now; "
                     "follow police instructions {route B} and listen to local radio for updates. Test message.")
TEXT_UCS2 = "Внимание: учебная тревога. Это проверка системы оповещения, действий не требуется."
TEXT_15_PAGES = ("Extreme weather alert for the whole region; stay indoors and keep off the roads. " * 17)[:1395]

# PLMNs cover a 2-digit MNC, a 3-digit MNC with a leading zero, and a US one.
P1, P2, P3 = Plmn("001", "01"), Plmn("901", "070"), Plmn("310", "410")
SERIAL = SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0)
SERIAL_2 = SerialNumber(GeographicalScope.CELL_WIDE_IMMEDIATE, 1023, 15)

CELLS = (EutranCellId(P1, 0x0000101), EutranCellId(P2, 0xFFFFFFF), EutranCellId(P3, 0x1234567))
NR_CELLS = (NrCellId(P1, 0x000000101), NrCellId(P3, 0xFFFFFFFFF))
TAIS = (TrackingAreaId(P1, 1), TrackingAreaId(P2, 0xFFFE))
TAIS_5GS = (TrackingAreaId5gs(P1, 1), TrackingAreaId5gs(P3, 0xABCDEF))
EAIS = (1, 0xFFFFFF, 0x123456)

WARNING_AREAS = {
    "cells": CellIdList(CELLS),
    "tais": TrackingAreaList(TAIS),
    "eais": EmergencyAreaList(EAIS),
}
WARNING_AREAS_5GS = {
    "5gs_eutran_cells": CellIdList(CELLS[:1]),
    "5gs_nr_cells": NrCellIdList(NR_CELLS),
    "5gs_tai": TAIS_5GS[1],
    "5gs_eais": EmergencyAreaList(EAIS[:2]),
}
ENBS = (GlobalEnbId(P1, 1), GlobalEnbId(P2, 0xFFFFFFF, EnbIdKind.HOME),
        GlobalEnbId(P3, 0x3FFFF, EnbIdKind.SHORT_MACRO), GlobalEnbId(P1, 0x1FFFFF, EnbIdKind.LONG_MACRO))
GNB = GlobalGnbId(P1, 0x3FFFFF, 22)
GNB_32 = GlobalGnbId(P3, 0xFFFFFFFF, 32)
NG_ENB = GlobalNgEnbId(P2, 0xABCDE, EnbIdKind.MACRO)
DIAGNOSTICS = CriticalityDiagnostics(
    procedure_code=0, triggering_message=TriggeringMessage.INITIATING_MESSAGE,
    procedure_criticality=Criticality.REJECT,
    ies=(CriticalityDiagnosticsIe(Criticality.REJECT, 15, TypeOfError.NOT_UNDERSTOOD),
         CriticalityDiagnosticsIe(Criticality.IGNORE, 11, TypeOfError.MISSING)))


def _cmas(**kwargs) -> sbcap.WriteReplaceWarningRequest:
    defaults = dict(message_identifier=4370, serial_number=SERIAL, text=TEXT_2_PAGES_GSM7, repetition_period=60,
                    number_of_broadcasts_requested=0, language="en")
    defaults.update(kwargs)
    return sbcap.WriteReplaceWarningRequest.with_text(**defaults)


SAMPLES: list[tuple[str, sbcap.SbcapMessage]] = [
    # Write-Replace-Warning-Request: the three warning areas, none (PLMN wide), UCS-2, 15 pages
    *[(f"wrw_request_{name}", _cmas(warning_area=area, tracking_areas=TAIS)) for name, area in WARNING_AREAS.items()],
    ("wrw_request_plmn_wide_ucs2", _cmas(message_identifier=4383, text=TEXT_UCS2, language=None,
                                         repetition_period=4095, number_of_broadcasts_requested=65535)),
    ("wrw_request_15_pages", _cmas(message_identifier=4380, text=TEXT_15_PAGES, warning_area=WARNING_AREAS["tais"])),
    ("wrw_request_extended_period_and_extras", _cmas(
        message_identifier=4381, serial_number=SERIAL_2, repetition_period=100_000, number_of_broadcasts_requested=3,
        warning_area=WARNING_AREAS["cells"], omc_id=b"OMC-1", global_enb_id=ENBS[1],
        warning_area_coordinates=bytes(range(40)), concurrent_warning_message_indicator=False,
        send_write_replace_warning_indication=False)),
    ("wrw_request_etws_primary", sbcap.WriteReplaceWarningRequest(
        4352, SerialNumber(GeographicalScope.CELL_WIDE_IMMEDIATE, 0x300 | 5, 1), 0, 1,
        warning_area=WARNING_AREAS["eais"], warning_type=WarningType(EtwsWarningType.EARTHQUAKE, True, True),
        warning_security_information=bytes(range(50)), send_write_replace_warning_indication=True)),
    ("wrw_request_raw_content", sbcap.WriteReplaceWarningRequest(
        1000, SERIAL, 30, 89, data_coding_scheme=0xF4, warning_message_content=b"\x30\x40\x12\x23\x45")),
    *[(f"wrw_request_{name}", _cmas(warning_area_5gs=area, tracking_areas_5gs=TAIS_5GS, global_ran_node_id=node,
                                    rat_selector_5gs=True))
      for (name, area), node in zip(WARNING_AREAS_5GS.items(), (GNB, NG_ENB, GNB_32, NG_ENB))],

    # Stop-Warning-Request
    *[(f"stop_request_{name}", sbcap.StopWarningRequest(4370, SERIAL, tracking_areas=TAIS, warning_area=area,
                                                        send_stop_warning_indication=True))
      for name, area in WARNING_AREAS.items()],
    ("stop_request_minimal", sbcap.StopWarningRequest(4370, SERIAL)),
    ("stop_request_stop_all", sbcap.StopWarningRequest(4371, SERIAL_2, omc_id=b"x" * 20, stop_all_indicator=True)),
    *[(f"stop_request_{name}", sbcap.StopWarningRequest(4370, SERIAL, warning_area_5gs=area,
                                                        tracking_areas_5gs=TAIS_5GS[:1], rat_selector_5gs=True))
      for name, area in WARNING_AREAS_5GS.items()],

    # Responses
    ("wrw_response_accepted", sbcap.WriteReplaceWarningResponse(4370, SERIAL, Cause.MESSAGE_ACCEPTED)),
    ("wrw_response_failed", sbcap.WriteReplaceWarningResponse(
        4370, SERIAL, Cause.TRACKING_AREA_NOT_VALID, DIAGNOSTICS, unknown_tracking_areas=TAIS,
        unknown_tracking_areas_5gs=TAIS_5GS)),
    ("stop_response_accepted", sbcap.StopWarningResponse(4370, SERIAL, Cause.MESSAGE_ACCEPTED)),
    ("stop_response_failed", sbcap.StopWarningResponse(
        4370, SERIAL, Cause.VALID_MESSAGE_NOT_IDENTIFIED, CriticalityDiagnostics(procedure_code=1),
        unknown_tracking_areas=TAIS[:1])),

    # Write-Replace-Warning-Indication
    ("wrw_indication_scheduled_everywhere", sbcap.WriteReplaceWarningIndication(
        4370, SERIAL, BroadcastScheduledAreaList(
            cells=CELLS,
            tracking_areas=(ScheduledTrackingArea(TAIS[0], CELLS[:2]), ScheduledTrackingArea(TAIS[1], CELLS[2:])),
            emergency_areas=(ScheduledEmergencyArea(EAIS[0], CELLS[:1]),)))),
    ("wrw_indication_nothing_scheduled", sbcap.WriteReplaceWarningIndication(4370, SERIAL, BroadcastScheduledAreaList())),
    ("wrw_indication_minimal", sbcap.WriteReplaceWarningIndication(4370, SERIAL)),
    ("wrw_indication_5gs", sbcap.WriteReplaceWarningIndication(
        4370, SERIAL, broadcast_scheduled_area_list_5gs=BroadcastScheduledAreaList5gs(
            cells=NR_CELLS, tracking_areas=(ScheduledTrackingArea5gs(TAIS_5GS[0], NR_CELLS),),
            emergency_areas=(ScheduledEmergencyArea(EAIS[1], CELLS[1:2]),)))),

    # Stop-Warning-Indication
    ("stop_indication_cancelled_everywhere", sbcap.StopWarningIndication(
        4370, SERIAL, BroadcastCancelledAreaList(
            cells=(CancelledCell(CELLS[0], 7), CancelledCell(CELLS[1], 0)),
            tracking_areas=(CancelledTrackingArea(TAIS[0], (CancelledCell(CELLS[2], 65535),)),),
            emergency_areas=(CancelledEmergencyArea(EAIS[2], (CancelledCell(CELLS[0], 12),)),)),
        broadcast_empty_area_list=ENBS)),
    ("stop_indication_5gs", sbcap.StopWarningIndication(
        4370, SERIAL, broadcast_cancelled_area_list_5gs=BroadcastCancelledAreaList5gs(
            cells=(CancelledNrCell(NR_CELLS[0], 3),),
            tracking_areas=(CancelledTrackingArea5gs(TAIS_5GS[1], (CancelledNrCell(NR_CELLS[1], 9),)),),
            emergency_areas=(CancelledEmergencyArea(EAIS[0], (CancelledCell(CELLS[0], 1),)),)),
        broadcast_empty_area_list_5gs=(GNB, NG_ENB))),

    # PWS-Restart-Indication / PWS-Failure-Indication
    ("pws_restart_minimal", sbcap.PwsRestartIndication(CELLS[:1], ENBS[0], TAIS[:1])),
    ("pws_restart_full", sbcap.PwsRestartIndication(CELLS, ENBS[3], TAIS, restart_emergency_area_ids=EAIS,
                                                    restarted_nr_cells=NR_CELLS, restart_tracking_areas_5gs=TAIS_5GS,
                                                    global_gnb_id=GNB_32)),
    ("pws_failure_minimal", sbcap.PwsFailureIndication(CELLS[:1], ENBS[0])),
    ("pws_failure_full", sbcap.PwsFailureIndication(CELLS, ENBS[2], failed_nr_cells=NR_CELLS, global_gnb_id=GNB)),

    # Error-Indication
    ("error_indication_empty", sbcap.ErrorIndication()),
    ("error_indication_cause", sbcap.ErrorIndication(Cause.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE)),
    ("error_indication_diagnostics", sbcap.ErrorIndication(Cause.MISSING_MANDATORY_ELEMENT, DIAGNOSTICS)),
    ("error_indication_future_cause", sbcap.ErrorIndication(200)),
]

assert len({name for name, _ in SAMPLES}) == len(SAMPLES), "sample names must be unique"
assert {type(message) for _, message in SAMPLES} == set(sbcap._MESSAGE_CLASSES), "every message type has samples"
