"""Sample CBSP messages for the CBSP tests: every message type, with every cell identifier kind, and the golden vectors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from omnidesk.cbc import cbsp
from omnidesk.cbc.cbsp import (
    AllCellsOnBss,
    BroadcastMessageType,
    BroadcastsCompleted,
    BroadcastsCompletedInfo,
    BroadcastsCompletedList,
    Category,
    Cause,
    CellFailure,
    CellGlobalId,
    CellIdentity,
    CellIdKind,
    CellList,
    CellLoading,
    ChannelIndicator,
    EtwsWarningType,
    LacAndCi,
    LoadingList,
    LocationAreaCode,
    LocationAreaId,
    Plmn,
    RecoveryIndication,
    WarningType,
)
from omnidesk.cbc.pages import GeographicalScope, SerialNumber

GOLDEN_FILE = Path(__file__).parent / "data" / "cbsp" / "golden_vectors.txt"


def golden_vectors() -> dict[str, bytes]:
    vectors = {}
    for line in GOLDEN_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, hex_octets = line.split()
            vectors[name] = bytes.fromhex(hex_octets)
    return vectors


# Two cells of each kind; PLMNs cover a 2-digit MNC, a 3-digit MNC with leading zeros, and a US one.
CELLS: dict[CellIdKind, tuple] = {
    CellIdKind.CGI: (CellGlobalId(Plmn("901", "70"), 23, 42), CellGlobalId(Plmn("001", "001"), 0xFFFE, 0xFFFF)),
    CellIdKind.LAC_CI: (LacAndCi(0x2711, 0xC351), LacAndCi(1, 2)),
    CellIdKind.CI: (CellIdentity(42), CellIdentity(0xBEEF)),
    CellIdKind.LAI: (LocationAreaId(Plmn("310", "410"), 23), LocationAreaId(Plmn("262", "01"), 0x1234)),
    CellIdKind.LAC: (LocationAreaCode(23), LocationAreaCode(0xABCD)),
    CellIdKind.ALL_CELLS_ON_BSS: (AllCellsOnBss(),),
}

TEXT_2_PAGES_GSM7 = ("Civil protection: severe flood warning for the river valley. Move to higher ground now; "
                     "follow police instructions {route B} and listen to local radio for updates. Test message.")
TEXT_UCS2 = "Внимание! Штормовое предупреждение: оставайтесь дома. 暴雨警报 — stay indoors ✔"


def cell_list(kind: CellIdKind) -> CellList:
    return CellList.whole_bss() if kind is CellIdKind.ALL_CELLS_ON_BSS else CellList.of(*CELLS[kind])


def _serial(code: int, update: int = 0, scope: GeographicalScope = GeographicalScope.PLMN_WIDE) -> SerialNumber:
    return SerialNumber(scope, code, update)


def every_message() -> list[tuple[str, cbsp.CbspMessage]]:
    """(label, message) for every message type and, where it has cells, every identifier kind."""
    out: list[tuple[str, cbsp.CbspMessage]] = []
    for number, kind in enumerate(CellIdKind):
        cells = cell_list(kind)
        first = CELLS[kind][0]
        serial = _serial(100 + number, number % 16, GeographicalScope(number % 4))
        old = _serial(100 + number, (number + 15) % 16, GeographicalScope(number % 4))
        message_id = 4370 + number
        completed = BroadcastsCompletedList(kind, tuple(
            BroadcastsCompleted(cell, 1000 * i + 7, BroadcastsCompletedInfo(i % 3)) for i, cell in enumerate(CELLS[kind])))
        loading = LoadingList(kind, tuple(CellLoading(cell, 10 * i + 5, 100 - i) for i, cell in enumerate(CELLS[kind])))
        failures = (CellFailure(first, Cause(3 + number)),) + (
            (CellFailure(CELLS[CellIdKind.LAC_CI][0], Cause.LAI_OR_LAC_NOT_VALID),) if kind is not CellIdKind.ALL_CELLS_ON_BSS else ())
        name = kind.name.lower()
        out += [
            (f"write_replace_{name}", cbsp.WriteReplace.with_text(
                message_id=message_id, new_serial_number=serial, cell_list=cells, text=TEXT_2_PAGES_GSM7,
                repetition_period=300 + number, number_of_broadcasts_requested=number * 7, language="en",
                category=Category(number % 3), channel_indicator=ChannelIndicator(number % 2))),
            (f"emergency_write_replace_{name}", cbsp.EmergencyWriteReplace(
                4352 + number % 5, serial, cells, WarningType(EtwsWarningType(number % 5), number % 2 == 0, number < 3),
                (None, 1, 30, 120, 250, 600)[number], bytes(range(50)), old if number % 2 else None)),
            (f"write_replace_complete_{name}", cbsp.WriteReplaceComplete(
                message_id, serial, old, completed, cells, ChannelIndicator.BASIC)),
            (f"write_replace_failure_{name}", cbsp.WriteReplaceFailure(
                message_id, serial, failures, None, completed, cells, ChannelIndicator.EXTENDED)),
            (f"kill_{name}", cbsp.Kill(message_id, old, cells, ChannelIndicator.BASIC)),
            (f"kill_complete_{name}", cbsp.KillComplete(message_id, old, completed, cells, ChannelIndicator.BASIC)),
            (f"kill_failure_{name}", cbsp.KillFailure(message_id, old, failures, completed, cells)),
            (f"load_query_{name}", cbsp.LoadQuery(cells, ChannelIndicator.EXTENDED)),
            (f"load_query_complete_{name}", cbsp.LoadQueryComplete(loading)),
            (f"load_query_failure_{name}", cbsp.LoadQueryFailure(failures, ChannelIndicator.BASIC, loading)),
            (f"message_status_query_{name}", cbsp.MessageStatusQuery(message_id, old, cells)),
            (f"message_status_query_complete_{name}", cbsp.MessageStatusQueryComplete(message_id, old, completed)),
            (f"message_status_query_failure_{name}", cbsp.MessageStatusQueryFailure(
                message_id, old, failures, ChannelIndicator.BASIC, completed)),
            (f"set_drx_{name}", cbsp.SetDrx(cells, 10 + number, number, ChannelIndicator.BASIC)),
            (f"set_drx_complete_{name}", cbsp.SetDrxComplete(cells, ChannelIndicator.BASIC)),
            (f"set_drx_failure_{name}", cbsp.SetDrxFailure(failures, cells, ChannelIndicator.EXTENDED)),
            (f"reset_{name}", cbsp.Reset(cells)),
            (f"reset_complete_{name}", cbsp.ResetComplete(cells)),
            (f"reset_failure_{name}", cbsp.ResetFailure(failures, cells)),
            (f"restart_{name}", cbsp.Restart(cells, BroadcastMessageType(number % 2), RecoveryIndication(number % 2))),
            (f"failure_{name}", cbsp.Failure(failures, BroadcastMessageType(number % 2))),
        ]
    out += [
        ("write_replace_ucs2_replace", cbsp.WriteReplace.with_text(
            message_id=4383, new_serial_number=_serial(7, 1), old_serial_number=_serial(7, 0),
            cell_list=cell_list(CellIdKind.CGI), text=TEXT_UCS2, repetition_period=4095,
            number_of_broadcasts_requested=65535)),
        ("write_replace_15_pages", cbsp.WriteReplace.with_text(
            message_id=6400, new_serial_number=_serial(1023, 15, GeographicalScope.CELL_WIDE),
            cell_list=cell_list(CellIdKind.LAC), text="0123456789" * 139 + "abcde", repetition_period=1,
            number_of_broadcasts_requested=1, category=Category.HIGH_PRIORITY)),
        ("write_replace_minimal_fields", cbsp.WriteReplace.with_text(
            message_id=0, new_serial_number=_serial(0, 0, GeographicalScope.CELL_WIDE_IMMEDIATE),
            cell_list=cell_list(CellIdKind.CI), text="x", repetition_period=15)),
        ("error_indication_full", cbsp.ErrorIndication(
            Cause.UNRECOGNISED_MESSAGE, 4370, _serial(1, 1), _serial(1, 0), ChannelIndicator.EXTENDED)),
        ("error_indication_cause_only", cbsp.ErrorIndication(Cause.MISSING_MANDATORY_ELEMENT)),
        ("keep_alive_30s", cbsp.KeepAlive(30)),
        ("keep_alive_1s", cbsp.KeepAlive(1)),
        ("keep_alive_120s", cbsp.KeepAlive(120)),
        ("keep_alive_complete", cbsp.KeepAliveComplete()),
        ("write_replace_complete_minimal", cbsp.WriteReplaceComplete(65535, _serial(1, 2))),
        ("kill_complete_minimal", cbsp.KillComplete(1, _serial(1, 2))),
        ("set_drx_minimal", cbsp.SetDrx(cell_list(CellIdKind.CGI))),
        ("failure_mixed_kinds", cbsp.Failure(
            tuple(CellFailure(CELLS[kind][0], Cause(i)) for i, kind in enumerate(CellIdKind)),
            BroadcastMessageType.CBS)),
    ]
    return out


SAMPLES = every_message()


def test_samples_cover_every_message_type():
    assert {type(m).MESSAGE_TYPE for _, m in SAMPLES} == set(cbsp.MessageType)
    assert {type(m) for _, m in SAMPLES} == set(cbsp._MESSAGE_CLASSES)


@pytest.mark.parametrize("kind", list(CellIdKind), ids=lambda k: k.name)
def test_samples_cover_every_cell_identifier_kind_in_every_cell_bearing_message(kind):
    with_kind = {type(m) for _, m in SAMPLES if getattr(m, "cell_list", None) is not None and m.cell_list.kind is kind}
    cell_bearing = {cls for cls in cbsp._MESSAGE_CLASSES if "cell_list" in {f.name for f in dataclasses.fields(cls)}}
    assert with_kind == cell_bearing
