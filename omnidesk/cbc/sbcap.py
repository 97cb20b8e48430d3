"""SBc-AP (3GPP TS 29.168) codec: the CBC–MME messages as typed dataclasses, to APER octets and back.

Only bytes <-> messages happens here; links, SCTP and message state live elsewhere. The ASN.1 work is
done by the pycrate runtime with the module in omnidesk/cbc/asn1/sbcap_gen.py, compiled from the
TS 29.168 §4.4 ASN.1 by scripts/compile-sbcap-asn1. Callers never see pycrate values: every message,
list and identifier is a frozen dataclass or an enum of this module (Plmn, WarningType and the page
and serial-number types are shared with CBSP, from cbsp.py and pages.py). Facts and traps are in the
shared research notes spec/cbc-protocols.md §2 and §4.

Procedures and messages (procedure code; all class 2 except the first two):
    0 Write-Replace-Warning   WriteReplaceWarningRequest -> WriteReplaceWarningResponse
    1 Stop-Warning            StopWarningRequest -> StopWarningResponse
    2 Error-Indication        ErrorIndication
    3 Write-Replace-Warning-Indication, 4 Stop-Warning-Indication, 5 PWS-Restart-Indication,
    6 PWS-Failure-Indication  (MME -> CBC)
Failure of 0 and 1 is a Response whose Cause is not message-accepted; there is no unsuccessfulOutcome.

Decoding rules, so the link layer knows what to answer (SbcapDecodeError carries `cause`):
- octets that are not APER of SBC-AP-PDU, or octets left after it -> TRANSFER_SYNTAX_ERROR;
- a procedure or outcome TS 29.168 does not define -> UNRECOGNISED_MESSAGE;
- a missing mandatory IE -> MISSING_MANDATORY_ELEMENT; an IE twice -> ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE;
- an IE (or extension) this message does not define: skipped when its criticality is ignore or notify,
  ABSTRACT_SYNTAX_ERROR_REJECT when it is reject (the usual 3GPP criticality handling);
- a value the ASN.1 allows but we cannot read (a PLMN with non-digit nibbles, an unknown CHOICE
  alternative) -> PARAMETER_VALUE_INVALID.
Spare bits (the low 7 bits of Warning-Type) are ignored. Whatever decodes can be encoded again; the
golden vectors and everything we emit re-encode to the same octets.

The encoder checks every value, and raises SbcapEncodeError naming the field, before pycrate sees it.

pycrate 0.8.1 miscounts the APER offset after a fragmented (>= 16 KiB) open type, so it could not read
back a message holding more than about 2,300 cells; `_fix_pycrate_fragment_decoding` replaces that one
function (process-wide) with a corrected copy. The pycrate runtime keeps per-process codec state, so
every call into it here is serialised by a lock.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, NamedTuple, Union

from omnidesk.cbc.cbsp import EtwsWarningType, Plmn, WarningType
from omnidesk.cbc.pages import MAX_PAGES, PAGE_OCTETS, GeographicalScope, Page, PageError, SerialNumber, build_pages, text_of

__all__ = [
    "SCTP_PORT", "SCTP_PPID", "MAX_PDU_OCTETS", "SbcapDecodeError", "SbcapEncodeError",
    "ProcedureCode", "IeId", "Cause", "Criticality", "TriggeringMessage", "TypeOfError", "EnbIdKind",
    "Plmn", "SerialNumber", "GeographicalScope", "Page", "WarningType", "EtwsWarningType",
    "TrackingAreaId", "TrackingAreaId5gs", "EutranCellId", "NrCellId",
    "GlobalEnbId", "GlobalGnbId", "GlobalNgEnbId", "GlobalRanNodeId",
    "CellIdList", "TrackingAreaList", "EmergencyAreaList", "NrCellIdList", "WarningArea", "WarningArea5gs",
    "ScheduledTrackingArea", "ScheduledEmergencyArea", "BroadcastScheduledAreaList",
    "ScheduledTrackingArea5gs", "BroadcastScheduledAreaList5gs",
    "CancelledCell", "CancelledTrackingArea", "CancelledEmergencyArea", "BroadcastCancelledAreaList",
    "CancelledNrCell", "CancelledTrackingArea5gs", "BroadcastCancelledAreaList5gs",
    "CriticalityDiagnosticsIe", "CriticalityDiagnostics",
    "SbcapMessage", "WriteReplaceWarningRequest", "WriteReplaceWarningResponse", "StopWarningRequest",
    "StopWarningResponse", "WriteReplaceWarningIndication", "StopWarningIndication", "PwsRestartIndication",
    "PwsFailureIndication", "ErrorIndication",
    "MAX_REPETITION_PERIOD", "MAX_EXTENDED_REPETITION_PERIOD", "repetition_period_fields",
    "encode", "decode",
]

SCTP_PORT = 29168
SCTP_PPID = 24  # cbc-protocols.md §2.5: osmo-cbc may send 0; our links must always set 24

# Refuse larger PDUs before pycrate sees them. Decoding a valid PDU costs about 1.6 µs per octet (a
# 760 KB one with 65,535 cells and 50,000 TAIs took 1.2 s), garbage fails within milliseconds, so this
# bounds one PDU to about 2 s of CPU. It holds the largest Warning-Area-List the ASN.1 allows (65,535
# cells, about 460 KB) with a 15-page text; the link layer should still decode off its event loop.
MAX_PDU_OCTETS = 1024 * 1024

MAX_REPETITION_PERIOD = 4095  # what a CBC may send (the ASN.1 allows 4096 for older CBCs)
MAX_EXTENDED_REPETITION_PERIOD = 131071
_MAX_WARNING_MESSAGE_CONTENT = 9600


# ---------------------------------------------------------------------------------------------
# Code points


class ProcedureCode(enum.IntEnum):
    WRITE_REPLACE_WARNING = 0
    STOP_WARNING = 1
    ERROR_INDICATION = 2
    WRITE_REPLACE_WARNING_INDICATION = 3
    STOP_WARNING_INDICATION = 4
    PWS_RESTART_INDICATION = 5
    PWS_FAILURE_INDICATION = 6


class IeId(enum.IntEnum):
    """Protocol IE and extension ids (SBC-AP-Constants). 0, 4, 6, 8, 9, 12 and 13 are defined there
    but used by no message."""

    CAUSE = 1
    CRITICALITY_DIAGNOSTICS = 2
    DATA_CODING_SCHEME = 3
    MESSAGE_IDENTIFIER = 5
    NUMBER_OF_BROADCASTS_REQUESTED = 7
    REPETITION_PERIOD = 10
    SERIAL_NUMBER = 11
    LIST_OF_TAIS = 14
    WARNING_AREA_LIST = 15
    WARNING_MESSAGE_CONTENT = 16
    WARNING_SECURITY_INFORMATION = 17
    WARNING_TYPE = 18
    OMC_ID = 19
    CONCURRENT_WARNING_MESSAGE_INDICATOR = 20
    EXTENDED_REPETITION_PERIOD = 21
    UNKNOWN_TRACKING_AREA_LIST = 22
    BROADCAST_SCHEDULED_AREA_LIST = 23
    SEND_WRITE_REPLACE_WARNING_INDICATION = 24
    BROADCAST_CANCELLED_AREA_LIST = 25
    SEND_STOP_WARNING_INDICATION = 26
    STOP_ALL_INDICATOR = 27
    GLOBAL_ENB_ID = 28
    BROADCAST_EMPTY_AREA_LIST = 29
    RESTARTED_CELL_LIST = 30
    LIST_OF_TAIS_RESTART = 31
    LIST_OF_EAIS_RESTART = 32
    FAILED_CELL_LIST = 33
    LIST_OF_5GS_TAIS = 34
    WARNING_AREA_LIST_5GS = 35
    GLOBAL_RAN_NODE_ID = 36
    GLOBAL_GNB_ID = 37
    RAT_SELECTOR_5GS = 38
    UNKNOWN_5GS_TRACKING_AREA_LIST = 39
    BROADCAST_SCHEDULED_AREA_LIST_5GS = 40
    BROADCAST_CANCELLED_AREA_LIST_5GS = 41
    BROADCAST_EMPTY_AREA_LIST_5GS = 42
    RESTARTED_CELL_LIST_NR = 43
    FAILED_CELL_LIST_NR = 44
    LIST_OF_5GS_TAI_FOR_RESTART = 45
    WARNING_AREA_COORDINATES = 46


class Cause(enum.IntEnum):
    """SBc-AP Cause (INTEGER 0..255); values above 18 decode as plain numbers."""

    MESSAGE_ACCEPTED = 0
    PARAMETER_NOT_RECOGNISED = 1
    PARAMETER_VALUE_INVALID = 2
    VALID_MESSAGE_NOT_IDENTIFIED = 3
    TRACKING_AREA_NOT_VALID = 4
    UNRECOGNISED_MESSAGE = 5
    MISSING_MANDATORY_ELEMENT = 6
    MME_CAPACITY_EXCEEDED = 7
    MME_MEMORY_EXCEEDED = 8
    WARNING_BROADCAST_NOT_SUPPORTED = 9
    WARNING_BROADCAST_NOT_OPERATIONAL = 10
    MESSAGE_REFERENCE_ALREADY_USED = 11
    UNSPECIFIED_ERROR = 12  # "unspecifed-error" in the ASN.1
    TRANSFER_SYNTAX_ERROR = 13
    SEMANTIC_ERROR = 14
    MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE = 15
    ABSTRACT_SYNTAX_ERROR_REJECT = 16
    ABSTRACT_SYNTAX_ERROR_IGNORE_AND_NOTIFY = 17
    ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE = 18


class Criticality(enum.Enum):
    REJECT = "reject"
    IGNORE = "ignore"
    NOTIFY = "notify"


class TriggeringMessage(enum.Enum):
    INITIATING_MESSAGE = "initiating-message"
    SUCCESSFUL_OUTCOME = "successful-outcome"
    UNSUCCESSFUL_OUTCOME = "unsuccessful-outcome"
    OUTCOME = "outcome"


class TypeOfError(enum.Enum):
    NOT_UNDERSTOOD = "not-understood"
    MISSING = "missing"


class EnbIdKind(enum.Enum):
    """The ENB-ID alternatives (also used for an ng-eNB); each has its own bit length."""

    MACRO = "macroENB-ID"
    HOME = "homeENB-ID"
    SHORT_MACRO = "short-macroENB-ID"
    LONG_MACRO = "long-macroENB-ID"

    @property
    def bits(self) -> int:
        return _ENB_ID_BITS[self]


_ENB_ID_BITS = {EnbIdKind.MACRO: 20, EnbIdKind.HOME: 28, EnbIdKind.SHORT_MACRO: 18, EnbIdKind.LONG_MACRO: 21}


# ---------------------------------------------------------------------------------------------
# Errors


class SbcapDecodeError(ValueError):
    """Octets that are not a valid SBc-AP message. `cause` is what to answer with (a Response Cause or
    an Error-Indication); `procedure_code` and `ie_id` say where, when known."""

    def __init__(self, reason: str, *, cause: Cause | None = None, procedure_code: int | None = None,
                 ie_id: int | None = None, message_name: str | None = None):
        self.reason = reason
        self.cause = cause
        self.procedure_code = procedure_code
        self.ie_id = ie_id
        self.message_name = message_name
        super().__init__(f"SBc-AP {message_name or 'PDU'}: {reason}")

    def __reduce__(self):  # keyword-only attributes survive pickling (logs, process pools)
        return (_rebuild_decode_error, (type(self), self.reason, self.cause, self.procedure_code, self.ie_id,
                                        self.message_name))


def _rebuild_decode_error(cls, reason, cause, procedure_code, ie_id, message_name):
    return cls(reason, cause=cause, procedure_code=procedure_code, ie_id=ie_id, message_name=message_name)


class SbcapEncodeError(ValueError):
    """A message that cannot be put on the wire; `field` names the dataclass field at fault. Nothing
    was produced."""

    def __init__(self, reason: str, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(reason)

    def __reduce__(self):
        return (type(self), (self.reason, self.field))


class _Refuse(Exception):
    """Internal: a value encoder's complaint; `encode` adds the message and field name."""


class _Bad(Exception):
    """Internal: a value decoder's complaint (parameter value invalid, unless `cause` says otherwise)."""

    def __init__(self, reason: str, cause: Cause = Cause.PARAMETER_VALUE_INVALID):
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


# ---------------------------------------------------------------------------------------------
# Identifiers


@dataclass(frozen=True, slots=True)
class TrackingAreaId:
    """TAI: PLMN + 16-bit tracking area code."""

    plmn: Plmn
    tac: int

    def __str__(self) -> str:
        return f"{self.plmn}-TAC{self.tac}"


@dataclass(frozen=True, slots=True)
class TrackingAreaId5gs:
    """5GS TAI: PLMN + 24-bit tracking area code."""

    plmn: Plmn
    tac: int

    def __str__(self) -> str:
        return f"{self.plmn}-TAC{self.tac}"


@dataclass(frozen=True, slots=True)
class EutranCellId:
    """E-UTRAN CGI: PLMN + 28-bit cell identity (for a macro eNB: 20-bit eNB id, 8-bit local cell)."""

    plmn: Plmn
    cell_identity: int

    @property
    def enb_id(self) -> int:
        return self.cell_identity >> 8

    def __str__(self) -> str:
        return f"{self.plmn}-{self.cell_identity:07x}"


@dataclass(frozen=True, slots=True)
class NrCellId:
    """NR CGI: PLMN + 36-bit NR cell identity."""

    plmn: Plmn
    nr_cell_identity: int

    def __str__(self) -> str:
        return f"{self.plmn}-{self.nr_cell_identity:09x}"


@dataclass(frozen=True, slots=True)
class GlobalEnbId:
    plmn: Plmn
    enb_id: int
    kind: EnbIdKind = EnbIdKind.MACRO


@dataclass(frozen=True, slots=True)
class GlobalGnbId:
    plmn: Plmn
    gnb_id: int
    gnb_id_bits: int = 22  # 22..32


@dataclass(frozen=True, slots=True)
class GlobalNgEnbId:
    plmn: Plmn
    ng_enb_id: int
    kind: EnbIdKind = EnbIdKind.MACRO


GlobalRanNodeId = Union[GlobalGnbId, GlobalNgEnbId]


# ---------------------------------------------------------------------------------------------
# Warning areas (Warning-Area-List and Warning-Area-List-5GS CHOICEs)


@dataclass(frozen=True, slots=True)
class CellIdList:
    """Warning area as E-UTRAN cells (cell-ID-List; also allowed in the 5GS warning area)."""

    cells: tuple[EutranCellId, ...]


@dataclass(frozen=True, slots=True)
class TrackingAreaList:
    """Warning area as tracking areas (tracking-Area-List-for-Warning)."""

    tracking_areas: tuple[TrackingAreaId, ...]


@dataclass(frozen=True, slots=True)
class EmergencyAreaList:
    """Warning area as emergency area ids (emergency-Area-ID-List; 3 octets each, here 0..0xFFFFFF)."""

    emergency_area_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NrCellIdList:
    """5GS warning area as NR cells (nR-CGIList)."""

    cells: tuple[NrCellId, ...]


WarningArea = Union[CellIdList, TrackingAreaList, EmergencyAreaList]
# The 5GS CHOICE's tAIList-5GS holds one TAI-5GS (not a list), hence a bare TrackingAreaId5gs.
WarningArea5gs = Union[CellIdList, NrCellIdList, TrackingAreaId5gs, EmergencyAreaList]


# ---------------------------------------------------------------------------------------------
# What the MME reports: scheduled, cancelled and empty areas, restarted and failed cells


@dataclass(frozen=True, slots=True)
class ScheduledTrackingArea:
    tracking_area: TrackingAreaId
    cells: tuple[EutranCellId, ...]


@dataclass(frozen=True, slots=True)
class ScheduledEmergencyArea:
    emergency_area_id: int
    cells: tuple[EutranCellId, ...]


@dataclass(frozen=True, slots=True)
class BroadcastScheduledAreaList:
    """Where the broadcast was scheduled: by cell, by TAI or by emergency area (each list may be empty)."""

    cells: tuple[EutranCellId, ...] = ()
    tracking_areas: tuple[ScheduledTrackingArea, ...] = ()
    emergency_areas: tuple[ScheduledEmergencyArea, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduledTrackingArea5gs:
    tracking_area: TrackingAreaId5gs
    cells: tuple[NrCellId, ...]


@dataclass(frozen=True, slots=True)
class BroadcastScheduledAreaList5gs:
    cells: tuple[NrCellId, ...] = ()
    tracking_areas: tuple[ScheduledTrackingArea5gs, ...] = ()
    emergency_areas: tuple[ScheduledEmergencyArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelledCell:
    cell: EutranCellId
    number_of_broadcasts: int  # 0..65535 broadcasts done before the stop


@dataclass(frozen=True, slots=True)
class CancelledTrackingArea:
    tracking_area: TrackingAreaId
    cells: tuple[CancelledCell, ...]


@dataclass(frozen=True, slots=True)
class CancelledEmergencyArea:
    emergency_area_id: int
    cells: tuple[CancelledCell, ...]


@dataclass(frozen=True, slots=True)
class BroadcastCancelledAreaList:
    cells: tuple[CancelledCell, ...] = ()
    tracking_areas: tuple[CancelledTrackingArea, ...] = ()
    emergency_areas: tuple[CancelledEmergencyArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelledNrCell:
    cell: NrCellId
    number_of_broadcasts: int


@dataclass(frozen=True, slots=True)
class CancelledTrackingArea5gs:
    tracking_area: TrackingAreaId5gs
    cells: tuple[CancelledNrCell, ...]


@dataclass(frozen=True, slots=True)
class BroadcastCancelledAreaList5gs:
    cells: tuple[CancelledNrCell, ...] = ()
    tracking_areas: tuple[CancelledTrackingArea5gs, ...] = ()
    emergency_areas: tuple[CancelledEmergencyArea, ...] = ()  # E-UTRAN cells, as the ASN.1 has it


@dataclass(frozen=True, slots=True)
class CriticalityDiagnosticsIe:
    criticality: Criticality
    ie_id: int
    type_of_error: TypeOfError


@dataclass(frozen=True, slots=True)
class CriticalityDiagnostics:
    procedure_code: int | None = None  # 0..255
    triggering_message: TriggeringMessage | None = None
    procedure_criticality: Criticality | None = None
    ies: tuple[CriticalityDiagnosticsIe, ...] = ()


# ---------------------------------------------------------------------------------------------
# Value checks (encoding) and readers (decoding)


def _int(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _Refuse(f"{what} {value!r} is outside {low}..{high}")
    return int(value)


def _octets(value: Any, low: int, high: int, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise _Refuse(f"{what} must be octets (bytes), not {type(value).__name__}")
    if not low <= len(value) <= high:
        span = f"exactly {low}" if low == high else f"{low}..{high}"
        raise _Refuse(f"{what} is {len(value)} octets; it must be {span}")
    return bytes(value)


def _kind(value: Any, cls: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise _Refuse(f"{what}: {value!r} is not {'an' if names[0] in 'AEIOU' else 'a'} {names}")
    return value


def _items(value: Any, high: int, what: str, entry: str) -> tuple:
    """A SEQUENCE (SIZE (1..high)) OF: a non-empty tuple (or list) of at most `high` entries."""
    if not isinstance(value, (tuple, list)):
        raise _Refuse(f"{what} must be a tuple of {entry}, not {type(value).__name__}")
    if not value:
        raise _Refuse(f"{what} is empty; name at least one {entry}")
    if len(value) > high:
        raise _Refuse(f"{what} has {len(value)} entries; SBc-AP allows at most {high}")
    return tuple(value)


def _enum(value: Any, cls: type[enum.Enum], what: str) -> Any:
    try:
        return cls(value)
    except (ValueError, TypeError):
        raise _Refuse(f"{what} {value!r} is not one of {', '.join(m.name for m in cls)}") from None


def _read_enum(value: Any, cls: type[enum.Enum], what: str) -> Any:
    try:
        return cls(value)
    except (ValueError, TypeError):
        raise _Bad(f"{what} {value!r} is not one this codec knows") from None


def _bits(value: Any, size: int | tuple[int, int], what: str) -> int:
    """pycrate BIT STRING (int, length) -> int, checking the length."""
    number, length = value
    low, high = (size, size) if isinstance(size, int) else size
    if not low <= length <= high:
        raise _Bad(f"{what} is {length} bits, not {size}")
    return number


def _no_rejected_extensions(value: dict, what: str) -> None:
    """Item-level iE-Extensions: none are defined, so any with criticality reject is not comprehended."""
    for extension in value.get("iE-Extensions") or ():
        if extension.get("criticality") == "reject":
            raise _Bad(f"{what} carries extension {extension.get('id')} with criticality reject, "
                       "which this codec does not comprehend", Cause.ABSTRACT_SYNTAX_ERROR_REJECT)


def _plmn_to(plmn: Any, what: str) -> bytes:
    _kind(plmn, Plmn, f"{what} PLMN")
    try:
        return plmn.to_bytes()
    except ValueError as exc:
        raise _Refuse(f"{what} PLMN: {exc}") from None


def _plmn_from(octets: bytes, what: str) -> Plmn:
    try:
        return Plmn.from_bytes(octets)
    except ValueError as exc:
        raise _Bad(f"{what} PLMN: {exc}") from None


def _tai_to(tai: Any, what: str) -> dict:
    _kind(tai, TrackingAreaId, what)
    return {"pLMNidentity": _plmn_to(tai.plmn, what), "tAC": _int(tai.tac, 0, 0xFFFF, f"{what} TAC").to_bytes(2, "big")}


def _tai_from(value: dict, what: str = "TAI") -> TrackingAreaId:
    _no_rejected_extensions(value, what)
    return TrackingAreaId(_plmn_from(value["pLMNidentity"], what), int.from_bytes(value["tAC"], "big"))


def _tai5gs_to(tai: Any, what: str) -> dict:
    _kind(tai, TrackingAreaId5gs, what)
    return {"pLMNidentity": _plmn_to(tai.plmn, what),
            "tAC-5GS": _int(tai.tac, 0, 0xFFFFFF, f"{what} 5GS TAC").to_bytes(3, "big")}


def _tai5gs_from(value: dict, what: str = "5GS TAI") -> TrackingAreaId5gs:
    _no_rejected_extensions(value, what)
    return TrackingAreaId5gs(_plmn_from(value["pLMNidentity"], what), int.from_bytes(value["tAC-5GS"], "big"))


def _ecgi_to(cell: Any, what: str) -> dict:
    _kind(cell, EutranCellId, what)
    return {"pLMNidentity": _plmn_to(cell.plmn, what),
            "cell-ID": (_int(cell.cell_identity, 0, (1 << 28) - 1, f"{what} cell identity"), 28)}


def _ecgi_from(value: dict, what: str = "E-UTRAN CGI") -> EutranCellId:
    _no_rejected_extensions(value, what)
    return EutranCellId(_plmn_from(value["pLMNidentity"], what), _bits(value["cell-ID"], 28, f"{what} cell identity"))


def _nrcgi_to(cell: Any, what: str) -> dict:
    _kind(cell, NrCellId, what)
    return {"pLMNidentity": _plmn_to(cell.plmn, what),
            "nRCellIdentity": (_int(cell.nr_cell_identity, 0, (1 << 36) - 1, f"{what} NR cell identity"), 36)}


def _nrcgi_from(value: dict, what: str = "NR CGI") -> NrCellId:
    _no_rejected_extensions(value, what)
    return NrCellId(_plmn_from(value["pLMNidentity"], what),
                    _bits(value["nRCellIdentity"], 36, f"{what} NR cell identity"))


def _eai_to(eai: Any, what: str) -> bytes:
    return _int(eai, 0, 0xFFFFFF, what).to_bytes(3, "big")


def _eai_from(octets: bytes) -> int:
    return int.from_bytes(octets, "big")


def _enb_id_to(kind: Any, number: Any, what: str) -> tuple:
    kind = _enum(kind, EnbIdKind, f"{what} kind")
    return (kind.value, (_int(number, 0, (1 << kind.bits) - 1, f"{what} ({kind.bits} bits)"), kind.bits))


def _enb_id_from(value: tuple, what: str) -> tuple[EnbIdKind, int]:
    name, bits = value
    kind = _read_enum(name, EnbIdKind, f"{what} alternative")
    return kind, _bits(bits, kind.bits, what)


def _global_enb_to(node: Any, what: str) -> dict:
    _kind(node, GlobalEnbId, what)
    return {"pLMNidentity": _plmn_to(node.plmn, what), "eNB-ID": _enb_id_to(node.kind, node.enb_id, f"{what} eNB id")}


def _global_enb_from(value: dict, what: str = "Global-ENB-ID") -> GlobalEnbId:
    _no_rejected_extensions(value, what)
    kind, number = _enb_id_from(value["eNB-ID"], f"{what} eNB id")
    return GlobalEnbId(_plmn_from(value["pLMNidentity"], what), number, kind)


def _global_gnb_to(node: Any, what: str) -> dict:
    _kind(node, GlobalGnbId, what)
    bits = _int(node.gnb_id_bits, 22, 32, f"{what} gNB id length")
    return {"pLMNidentity": _plmn_to(node.plmn, what),
            "gNB-ID": ("gNB-ID", (_int(node.gnb_id, 0, (1 << bits) - 1, f"{what} gNB id ({bits} bits)"), bits))}


def _global_gnb_from(value: dict, what: str = "Global-GNB-ID") -> GlobalGnbId:
    _no_rejected_extensions(value, what)
    name, (number, bits) = value["gNB-ID"]
    if name != "gNB-ID":
        raise _Bad(f"{what}: gNB id alternative {name!r} is not one this codec knows")
    return GlobalGnbId(_plmn_from(value["pLMNidentity"], what), number, bits)


def _global_ran_node_to(node: Any, what: str) -> tuple:
    if isinstance(node, GlobalGnbId):
        return ("global-GNB-ID", _global_gnb_to(node, what))
    if isinstance(node, GlobalNgEnbId):
        return ("global-NgENB-ID", {"pLMNidentity": _plmn_to(node.plmn, what),
                                    "ngENB-ID": _enb_id_to(node.kind, node.ng_enb_id, f"{what} ng-eNB id")})
    raise _Refuse(f"{what}: {node!r} is not a GlobalGnbId or GlobalNgEnbId")


def _global_ran_node_from(value: tuple, what: str = "Global-RAN-Node-ID") -> GlobalRanNodeId:
    name, node = value
    if name == "global-GNB-ID":
        return _global_gnb_from(node, what)
    if name == "global-NgENB-ID":
        _no_rejected_extensions(node, what)
        kind, number = _enb_id_from(node["ngENB-ID"], f"{what} ng-eNB id")
        return GlobalNgEnbId(_plmn_from(node["pLMNidentity"], what), number, kind)
    raise _Bad(f"{what}: alternative {name!r} is not one this codec knows")


def _list_to(convert: Callable[[Any, str], Any], high: int, entry: str) -> Callable[[Any, str], list]:
    def to_asn(value: Any, what: str) -> list:
        return [convert(item, f"{what}[{i}]") for i, item in enumerate(_items(value, high, what, entry))]
    return to_asn


def _list_from(convert: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    return lambda value: tuple(convert(item) for item in value)


# Sizes from SBC-AP-Constants
_MAX_CELLS = _MAX_TAIS = _MAX_EAIS = 65535  # maxnoofCellID, maxNrOfTAIs / maxnoofTAIforWarning, maxnoofEmergencyAreaID
_MAX_CELLS_IN_AREA = 65535  # maxnoofCellinTAI, maxnoofCellinEAI, maxnoofCellsin5GSTAI
_MAX_ENBS = 256  # maxnoofeNBIds
_MAX_RESTARTED_OR_FAILED_CELLS = 256  # maxnoofRestartedCells, maxnoofFailedCells
_MAX_RESTART_TAIS = 2048  # maxnoofRestartTAIs, maxnoofRestart5GSTAIs, maxnoof5GSTAIs
_MAX_RESTART_EAIS = 256
_MAX_NR_CELLS = 16384  # maxnoofCellsingNB, maxnoofCellsforRestartNR
_MAX_CELLS_5GS = 16776960  # maxnoofCellsin5GS
_MAX_RAN_NODES = 65535
_MAX_ERRORS = 256


def _wrapped_tais_to(high: int) -> Callable[[Any, str], list]:
    """List-of-TAIs and List-of-TAIs-Restart wrap each TAI in SEQUENCE { tai TAI }."""
    inner = _list_to(_tai_to, high, "TrackingAreaId")
    return lambda value, what: [{"tai": tai} for tai in inner(value, what)]


def _wrapped_tais_from(value: list) -> tuple[TrackingAreaId, ...]:
    return tuple(_tai_from(item["tai"]) for item in value)


def _warning_area_to(area: Any, what: str) -> tuple:
    if isinstance(area, CellIdList):
        return ("cell-ID-List", _list_to(_ecgi_to, _MAX_CELLS, "EutranCellId")(area.cells, f"{what}.cells"))
    if isinstance(area, TrackingAreaList):
        return ("tracking-Area-List-for-Warning",
                _list_to(_tai_to, _MAX_TAIS, "TrackingAreaId")(area.tracking_areas, f"{what}.tracking_areas"))
    if isinstance(area, EmergencyAreaList):
        return ("emergency-Area-ID-List",
                _list_to(_eai_to, _MAX_EAIS, "emergency area id")(area.emergency_area_ids, f"{what}.emergency_area_ids"))
    raise _Refuse(f"{what}: {area!r} is not a CellIdList, TrackingAreaList or EmergencyAreaList")


def _warning_area_from(value: tuple) -> WarningArea:
    name, items = value
    if name == "cell-ID-List":
        return CellIdList(tuple(_ecgi_from(item) for item in items))
    if name == "tracking-Area-List-for-Warning":
        return TrackingAreaList(tuple(_tai_from(item) for item in items))
    if name == "emergency-Area-ID-List":
        return EmergencyAreaList(tuple(_eai_from(item) for item in items))
    raise _Bad(f"Warning-Area-List alternative {name!r} is not one this codec knows")


def _warning_area_5gs_to(area: Any, what: str) -> tuple:
    if isinstance(area, CellIdList):
        return ("cell-ID-List", _list_to(_ecgi_to, _MAX_CELLS, "EutranCellId")(area.cells, f"{what}.cells"))
    if isinstance(area, NrCellIdList):
        return ("nR-CGIList", _list_to(_nrcgi_to, _MAX_NR_CELLS, "NrCellId")(area.cells, f"{what}.cells"))
    if isinstance(area, TrackingAreaId5gs):
        return ("tAIList-5GS", _tai5gs_to(area, what))
    if isinstance(area, EmergencyAreaList):
        return ("emergencyAreaIDList",
                _list_to(_eai_to, _MAX_EAIS, "emergency area id")(area.emergency_area_ids, f"{what}.emergency_area_ids"))
    raise _Refuse(f"{what}: {area!r} is not a CellIdList, NrCellIdList, TrackingAreaId5gs or EmergencyAreaList")


def _warning_area_5gs_from(value: tuple) -> WarningArea5gs:
    name, item = value
    if name == "cell-ID-List":
        return CellIdList(tuple(_ecgi_from(cell) for cell in item))
    if name == "nR-CGIList":
        return NrCellIdList(tuple(_nrcgi_from(cell) for cell in item))
    if name == "tAIList-5GS":
        return _tai5gs_from(item)
    if name == "emergencyAreaIDList":
        return EmergencyAreaList(tuple(_eai_from(eai) for eai in item))
    raise _Bad(f"Warning-Area-List-5GS alternative {name!r} is not one this codec knows")


def _optional_lists(value: dict, what: str, parts: tuple[tuple[str, str, Callable[[Any, str], list]], ...]) -> dict:
    """A SEQUENCE of optional lists (the scheduled / cancelled area lists): empty tuples are left out."""
    out: dict[str, Any] = {}
    for attribute, key, convert in parts:
        items = getattr(value, attribute)
        if isinstance(items, (tuple, list)) and not items:
            continue
        out[key] = convert(items, f"{what}.{attribute}")
    return out


def _scheduled_to(area: Any, what: str) -> dict:
    _kind(area, BroadcastScheduledAreaList, what)
    return _optional_lists(area, what, (
        ("cells", "cellId-Broadcast-List",
         lambda cells, w: [{"eCGI": cell} for cell in _list_to(_ecgi_to, _MAX_CELLS, "EutranCellId")(cells, w)]),
        ("tracking_areas", "tAI-Broadcast-List", _list_to(_scheduled_tai_to, _MAX_TAIS, "ScheduledTrackingArea")),
        ("emergency_areas", "emergencyAreaID-Broadcast-List",
         _list_to(_scheduled_eai_to, _MAX_EAIS, "ScheduledEmergencyArea")),
    ))


def _scheduled_cells_to(cells: Any, what: str) -> list:
    return [{"eCGI": cell} for cell in _list_to(_ecgi_to, _MAX_CELLS_IN_AREA, "EutranCellId")(cells, what)]


def _scheduled_cells_from(items: list, what: str) -> tuple[EutranCellId, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, what)
        out.append(_ecgi_from(item["eCGI"]))
    return tuple(out)


def _scheduled_tai_to(area: Any, what: str) -> dict:
    _kind(area, ScheduledTrackingArea, what)
    return {"tAI": _tai_to(area.tracking_area, f"{what}.tracking_area"),
            "scheduledCellinTAI": _scheduled_cells_to(area.cells, f"{what}.cells")}


def _scheduled_eai_to(area: Any, what: str) -> dict:
    _kind(area, ScheduledEmergencyArea, what)
    return {"emergencyAreaID": _eai_to(area.emergency_area_id, f"{what}.emergency_area_id"),
            "scheduledCellinEAI": _scheduled_cells_to(area.cells, f"{what}.cells")}


def _scheduled_eais_from(items: list) -> tuple[ScheduledEmergencyArea, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, "scheduled emergency area")
        out.append(ScheduledEmergencyArea(_eai_from(item["emergencyAreaID"]),
                                          _scheduled_cells_from(item["scheduledCellinEAI"], "scheduled cell")))
    return tuple(out)


def _scheduled_from(value: dict) -> BroadcastScheduledAreaList:
    _no_rejected_extensions(value, "Broadcast-Scheduled-Area-List")
    tracking_areas = []
    for item in value.get("tAI-Broadcast-List", ()):
        _no_rejected_extensions(item, "scheduled tracking area")
        tracking_areas.append(ScheduledTrackingArea(_tai_from(item["tAI"]),
                                                    _scheduled_cells_from(item["scheduledCellinTAI"], "scheduled cell")))
    return BroadcastScheduledAreaList(
        _scheduled_cells_from(value.get("cellId-Broadcast-List", ()), "scheduled cell"),
        tuple(tracking_areas),
        _scheduled_eais_from(value.get("emergencyAreaID-Broadcast-List", ())))


def _scheduled_nr_cells_to(high: int) -> Callable[[Any, str], list]:
    inner = _list_to(_nrcgi_to, high, "NrCellId")
    return lambda cells, what: [{"nR-CGI": cell} for cell in inner(cells, what)]


def _scheduled_nr_cells_from(items: list) -> tuple[NrCellId, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, "scheduled NR cell")
        out.append(_nrcgi_from(item["nR-CGI"]))
    return tuple(out)


def _scheduled_tai5gs_to(area: Any, what: str) -> dict:
    _kind(area, ScheduledTrackingArea5gs, what)
    return {"tAI-5GS": _tai5gs_to(area.tracking_area, f"{what}.tracking_area"),
            "scheduledCellinTAI-5GS": _scheduled_nr_cells_to(_MAX_CELLS_IN_AREA)(area.cells, f"{what}.cells")}


def _scheduled_5gs_to(area: Any, what: str) -> dict:
    _kind(area, BroadcastScheduledAreaList5gs, what)
    return _optional_lists(area, what, (
        ("cells", "cellId-Broadcast-List-5GS", _scheduled_nr_cells_to(_MAX_CELLS_5GS)),
        ("tracking_areas", "tAI-Broadcast-List-5GS",
         _list_to(_scheduled_tai5gs_to, _MAX_RESTART_TAIS, "ScheduledTrackingArea5gs")),
        ("emergency_areas", "emergencyAreaID-Broadcast-List",
         _list_to(_scheduled_eai_to, _MAX_EAIS, "ScheduledEmergencyArea")),
    ))


def _scheduled_5gs_from(value: dict) -> BroadcastScheduledAreaList5gs:
    _no_rejected_extensions(value, "Broadcast-Scheduled-Area-List-5GS")
    tracking_areas = []
    for item in value.get("tAI-Broadcast-List-5GS", ()):
        _no_rejected_extensions(item, "scheduled 5GS tracking area")
        tracking_areas.append(ScheduledTrackingArea5gs(_tai5gs_from(item["tAI-5GS"]),
                                                       _scheduled_nr_cells_from(item["scheduledCellinTAI-5GS"])))
    return BroadcastScheduledAreaList5gs(
        _scheduled_nr_cells_from(value.get("cellId-Broadcast-List-5GS", ())),
        tuple(tracking_areas),
        _scheduled_eais_from(value.get("emergencyAreaID-Broadcast-List", ())))


def _cancelled_cell_to(cell: Any, what: str) -> dict:
    _kind(cell, CancelledCell, what)
    return {"eCGI": _ecgi_to(cell.cell, f"{what}.cell"),
            "numberOfBroadcasts": _int(cell.number_of_broadcasts, 0, 0xFFFF, f"{what}.number_of_broadcasts")}


def _cancelled_cells_from(items: list) -> tuple[CancelledCell, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, "cancelled cell")
        out.append(CancelledCell(_ecgi_from(item["eCGI"]), item["numberOfBroadcasts"]))
    return tuple(out)


def _cancelled_tai_to(area: Any, what: str) -> dict:
    _kind(area, CancelledTrackingArea, what)
    return {"tAI": _tai_to(area.tracking_area, f"{what}.tracking_area"),
            "cancelledCellinTAI": _list_to(_cancelled_cell_to, _MAX_CELLS_IN_AREA, "CancelledCell")(area.cells,
                                                                                                 f"{what}.cells")}


def _cancelled_eai_to(area: Any, what: str) -> dict:
    _kind(area, CancelledEmergencyArea, what)
    return {"emergencyAreaID": _eai_to(area.emergency_area_id, f"{what}.emergency_area_id"),
            "cancelledCellinEAI": _list_to(_cancelled_cell_to, _MAX_CELLS_IN_AREA, "CancelledCell")(area.cells,
                                                                                                 f"{what}.cells")}


def _cancelled_eais_from(items: list) -> tuple[CancelledEmergencyArea, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, "cancelled emergency area")
        out.append(CancelledEmergencyArea(_eai_from(item["emergencyAreaID"]),
                                          _cancelled_cells_from(item["cancelledCellinEAI"])))
    return tuple(out)


def _cancelled_to(area: Any, what: str) -> dict:
    _kind(area, BroadcastCancelledAreaList, what)
    return _optional_lists(area, what, (
        ("cells", "cellID-Cancelled-List", _list_to(_cancelled_cell_to, _MAX_CELLS, "CancelledCell")),
        ("tracking_areas", "tAI-Cancelled-List", _list_to(_cancelled_tai_to, _MAX_TAIS, "CancelledTrackingArea")),
        ("emergency_areas", "emergencyAreaID-Cancelled-List",
         _list_to(_cancelled_eai_to, _MAX_EAIS, "CancelledEmergencyArea")),
    ))


def _cancelled_from(value: dict) -> BroadcastCancelledAreaList:
    _no_rejected_extensions(value, "Broadcast-Cancelled-Area-List")
    tracking_areas = []
    for item in value.get("tAI-Cancelled-List", ()):
        _no_rejected_extensions(item, "cancelled tracking area")
        tracking_areas.append(CancelledTrackingArea(_tai_from(item["tAI"]),
                                                    _cancelled_cells_from(item["cancelledCellinTAI"])))
    return BroadcastCancelledAreaList(_cancelled_cells_from(value.get("cellID-Cancelled-List", ())),
                                      tuple(tracking_areas),
                                      _cancelled_eais_from(value.get("emergencyAreaID-Cancelled-List", ())))


def _cancelled_nr_cell_to(cell: Any, what: str) -> dict:
    _kind(cell, CancelledNrCell, what)
    return {"nR-CGI": _nrcgi_to(cell.cell, f"{what}.cell"),
            "numberOfBroadcasts": _int(cell.number_of_broadcasts, 0, 0xFFFF, f"{what}.number_of_broadcasts")}


def _cancelled_nr_cells_from(items: list) -> tuple[CancelledNrCell, ...]:
    out = []
    for item in items:
        _no_rejected_extensions(item, "cancelled NR cell")
        out.append(CancelledNrCell(_nrcgi_from(item["nR-CGI"]), item["numberOfBroadcasts"]))
    return tuple(out)


def _cancelled_tai5gs_to(area: Any, what: str) -> dict:
    _kind(area, CancelledTrackingArea5gs, what)
    return {"tAI-5GS": _tai5gs_to(area.tracking_area, f"{what}.tracking_area"),
            "cancelledCellinTAI-5GS": _list_to(_cancelled_nr_cell_to, _MAX_CELLS_IN_AREA, "CancelledNrCell")(
                area.cells, f"{what}.cells")}


def _cancelled_5gs_to(area: Any, what: str) -> dict:
    _kind(area, BroadcastCancelledAreaList5gs, what)
    return _optional_lists(area, what, (
        ("cells", "cellID-Cancelled-List-5GS", _list_to(_cancelled_nr_cell_to, _MAX_CELLS_5GS, "CancelledNrCell")),
        ("tracking_areas", "tAI-Cancelled-List-5GS",
         _list_to(_cancelled_tai5gs_to, _MAX_RESTART_TAIS, "CancelledTrackingArea5gs")),
        ("emergency_areas", "emergencyAreaID-Cancelled-List",
         _list_to(_cancelled_eai_to, _MAX_EAIS, "CancelledEmergencyArea")),
    ))


def _cancelled_5gs_from(value: dict) -> BroadcastCancelledAreaList5gs:
    _no_rejected_extensions(value, "Broadcast-Cancelled-Area-List-5GS")
    tracking_areas = []
    for item in value.get("tAI-Cancelled-List-5GS", ()):
        _no_rejected_extensions(item, "cancelled 5GS tracking area")
        tracking_areas.append(CancelledTrackingArea5gs(_tai5gs_from(item["tAI-5GS"]),
                                                       _cancelled_nr_cells_from(item["cancelledCellinTAI-5GS"])))
    return BroadcastCancelledAreaList5gs(_cancelled_nr_cells_from(value.get("cellID-Cancelled-List-5GS", ())),
                                         tuple(tracking_areas),
                                         _cancelled_eais_from(value.get("emergencyAreaID-Cancelled-List", ())))


def _diagnostics_to(value: Any, what: str) -> dict:
    _kind(value, CriticalityDiagnostics, what)
    out: dict[str, Any] = {}
    if value.procedure_code is not None:
        out["procedureCode"] = _int(value.procedure_code, 0, 255, f"{what}.procedure_code")
    if value.triggering_message is not None:
        out["triggeringMessage"] = _enum(value.triggering_message, TriggeringMessage, f"{what}.triggering_message").value
    if value.procedure_criticality is not None:
        out["procedureCriticality"] = _enum(value.procedure_criticality, Criticality,
                                            f"{what}.procedure_criticality").value
    if not (isinstance(value.ies, (tuple, list)) and not value.ies):
        entries = []
        for i, entry in enumerate(_items(value.ies, _MAX_ERRORS, f"{what}.ies", "CriticalityDiagnosticsIe")):
            where = f"{what}.ies[{i}]"
            _kind(entry, CriticalityDiagnosticsIe, where)
            entries.append({"iECriticality": _enum(entry.criticality, Criticality, f"{where}.criticality").value,
                            "iE-ID": _int(entry.ie_id, 0, 0xFFFF, f"{where}.ie_id"),
                            "typeOfError": _enum(entry.type_of_error, TypeOfError, f"{where}.type_of_error").value})
        out["iE-CriticalityDiagnostics"] = entries
    return out


def _diagnostics_from(value: dict) -> CriticalityDiagnostics:
    _no_rejected_extensions(value, "Criticality-Diagnostics")
    entries = []
    for item in value.get("iE-CriticalityDiagnostics", ()):
        _no_rejected_extensions(item, "Criticality-Diagnostics IE")
        entries.append(CriticalityDiagnosticsIe(_read_enum(item["iECriticality"], Criticality, "IE criticality"),
                                                item["iE-ID"],
                                                _read_enum(item["typeOfError"], TypeOfError, "type of error")))
    triggering = value.get("triggeringMessage")
    criticality = value.get("procedureCriticality")
    return CriticalityDiagnostics(
        value.get("procedureCode"),
        None if triggering is None else _read_enum(triggering, TriggeringMessage, "triggering message"),
        None if criticality is None else _read_enum(criticality, Criticality, "procedure criticality"),
        tuple(entries))


def _serial_to(value: Any, what: str) -> tuple[int, int]:
    _kind(value, SerialNumber, what)
    try:
        return (value.encoded, 16)
    except (ValueError, TypeError) as exc:
        raise _Refuse(f"{what}: {exc}") from None


def _serial_from(value: tuple) -> SerialNumber:
    return SerialNumber.from_encoded(_bits(value, 16, "serial number"))


def _warning_type_to(value: Any, what: str) -> bytes:
    """TS 23.041 §9.3.24: warning type value (7 bits), emergency user alert, popup, 7 spare bits; the
    same 16 bits as CBSP's layout."""
    _kind(value, WarningType, what)
    _int(value.kind, 0, 127, f"{what} ETWS warning type")
    return value.to_bytes()


def _content_to(value: Any, what: str) -> bytes:
    """Warning-Message-Content: the pages as CB-Data (TS 23.041 §9.4.2.2.5: number of pages, then per
    page 82 octets and its user-information length), or octets passed through as received."""
    if isinstance(value, (bytes, bytearray)):
        return _octets(value, 1, _MAX_WARNING_MESSAGE_CONTENT, what)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= MAX_PAGES:
        count = len(value) if isinstance(value, (tuple, list)) else value
        raise _Refuse(f"{what}: {count!r} pages; a message has 1..{MAX_PAGES} (or give the CB-Data octets)")
    out = bytearray((len(value),))
    for number, page in enumerate(value, start=1):
        if not isinstance(page, Page):
            raise _Refuse(f"{what}: page {number} is {page!r}, not a Page")
        content = _octets(page.content, PAGE_OCTETS, PAGE_OCTETS, f"{what}: page {number} content")
        used = _int(page.user_information_length, 1, PAGE_OCTETS, f"{what}: page {number} user information length")
        out += content + bytes((used,))
    return bytes(out)


def _content_from(octets: bytes) -> tuple[Page, ...] | bytes:
    """CB-Data -> pages; anything else (the osmo-cbc test vector's dummy content) stays octets."""
    count = octets[0]
    if not 1 <= count <= MAX_PAGES or len(octets) != 1 + count * (PAGE_OCTETS + 1):
        return bytes(octets)
    pages = []
    for start in range(1, len(octets), PAGE_OCTETS + 1):
        used = octets[start + PAGE_OCTETS]
        if not 1 <= used <= PAGE_OCTETS:
            return bytes(octets)
        pages.append(Page(used, bytes(octets[start:start + PAGE_OCTETS])))
    return tuple(pages)


def _cause_to(value: Any, what: str) -> int:
    return _int(value, 0, 255, what)


def _cause_from(value: int) -> Cause | int:
    try:
        return Cause(value)
    except ValueError:
        return value


def _flag_to(value: Any, what: str) -> str:
    if value is not True:
        raise _Refuse(f"{what} must be True or False, not {value!r}")
    return "true"


def _flag_from(value: str) -> bool:
    if value != "true":
        raise _Bad(f"{value!r} is not 'true'")
    return True


# ---------------------------------------------------------------------------------------------
# IE tables


class _Codec(NamedTuple):
    to_asn: Callable[[Any, str], Any]
    from_asn: Callable[[Any], Any]


class _Ie(NamedTuple):
    """One IE (or protocol extension) of a message, in wire order."""

    id: IeId
    criticality: str
    asn_type: str  # the open type's name in pycrate's (TypeName, value) pair
    field: str
    mandatory: bool
    codec: _Codec
    extension: bool = False


_MESSAGE_IDENTIFIER = _Codec(lambda v, w: (_int(v, 0, 0xFFFF, w), 16), lambda v: _bits(v, 16, "message identifier"))
_SERIAL_NUMBER = _Codec(_serial_to, _serial_from)
_TAIS = _Codec(_wrapped_tais_to(_MAX_TAIS), _wrapped_tais_from)
_WARNING_AREA = _Codec(_warning_area_to, _warning_area_from)
_CAUSE = _Codec(_cause_to, _cause_from)
_DIAGNOSTICS = _Codec(_diagnostics_to, _diagnostics_from)
_FLAG = _Codec(_flag_to, _flag_from)
_OMC_ID = _Codec(lambda v, w: _octets(v, 1, 20, w), bytes)
_TAIS_5GS = _Codec(_list_to(_tai5gs_to, _MAX_RESTART_TAIS, "TrackingAreaId5gs"), _list_from(_tai5gs_from))
_WARNING_AREA_5GS = _Codec(_warning_area_5gs_to, _warning_area_5gs_from)
_GLOBAL_ENB = _Codec(_global_enb_to, _global_enb_from)
_GLOBAL_GNB = _Codec(_global_gnb_to, _global_gnb_from)
_ECGIS_256 = _Codec(_list_to(_ecgi_to, _MAX_RESTARTED_OR_FAILED_CELLS, "EutranCellId"), _list_from(_ecgi_from))
_NR_CGIS = _Codec(_list_to(_nrcgi_to, _MAX_NR_CELLS, "NrCellId"), _list_from(_nrcgi_from))

_M, _O = True, False


def _common_response_ies() -> tuple[_Ie, ...]:
    return (
        _Ie(IeId.MESSAGE_IDENTIFIER, "reject", "Message-Identifier", "message_identifier", _M, _MESSAGE_IDENTIFIER),
        _Ie(IeId.SERIAL_NUMBER, "reject", "Serial-Number", "serial_number", _M, _SERIAL_NUMBER),
        _Ie(IeId.CAUSE, "reject", "Cause", "cause", _M, _CAUSE),
        _Ie(IeId.CRITICALITY_DIAGNOSTICS, "ignore", "Criticality-Diagnostics", "criticality_diagnostics", _O,
            _DIAGNOSTICS),
        _Ie(IeId.UNKNOWN_TRACKING_AREA_LIST, "ignore", "List-of-TAIs", "unknown_tracking_areas", _O, _TAIS),
        _Ie(IeId.UNKNOWN_5GS_TRACKING_AREA_LIST, "ignore", "Unknown-5GS-Tracking-Area-List",
            "unknown_tracking_areas_5gs", _O, _TAIS_5GS, extension=True),
    )


# ---------------------------------------------------------------------------------------------
# Messages (TS 29.168 §4.3.4). An optional IE is absent when its field is None, () or False.


class SbcapMessage:
    """Base of every SBc-AP message dataclass."""

    __slots__ = ()
    PROCEDURE_CODE: ClassVar[ProcedureCode]
    OUTCOME: ClassVar[str]  # 'initiatingMessage' or 'successfulOutcome'
    ASN_NAME: ClassVar[str]  # the message's ASN.1 type name, e.g. 'Write-Replace-Warning-Request'
    _IES: ClassVar[tuple[_Ie, ...]]

    @property
    def name(self) -> str:
        return self.ASN_NAME


@dataclass(frozen=True, slots=True)
class WriteReplaceWarningRequest(SbcapMessage):
    """Write-Replace-Warning-Request (CBC -> MME): broadcast a warning, or replace one with a new serial number.

    `tracking_areas` is List-of-TAIs (the MME picks the eNBs from it); `warning_area` is where the
    eNBs broadcast. `repetition_period` and `extended_repetition_period` are as on the wire:
    `with_text` and `repetition_period_fields` split a period in seconds between them.
    `warning_message_content` is the pages, or the octets as received when they are not CB-Data.
    """

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.WRITE_REPLACE_WARNING
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "Write-Replace-Warning-Request"
    message_identifier: int
    serial_number: SerialNumber
    repetition_period: int  # seconds, 0 = no repetition; 0..4096 (a CBC sends at most 4095)
    number_of_broadcasts_requested: int  # 0..65535; with a repetition period, 0 = until stopped (CMAS)
    tracking_areas: tuple[TrackingAreaId, ...] = ()
    warning_area: WarningArea | None = None
    extended_repetition_period: int | None = None  # 4096..131071 s; receivers then ignore repetition_period
    warning_type: WarningType | None = None  # ETWS primary notification
    warning_security_information: bytes | None = None  # 50 octets
    data_coding_scheme: int | None = None
    warning_message_content: tuple[Page, ...] | bytes | None = None
    omc_id: bytes | None = None  # 1..20 octets
    concurrent_warning_message_indicator: bool = False
    send_write_replace_warning_indication: bool = False
    global_enb_id: GlobalEnbId | None = None
    warning_area_coordinates: bytes | None = None  # 1..1024 octets
    tracking_areas_5gs: tuple[TrackingAreaId5gs, ...] = ()
    warning_area_5gs: WarningArea5gs | None = None
    global_ran_node_id: GlobalRanNodeId | None = None
    rat_selector_5gs: bool = False

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.MESSAGE_IDENTIFIER, "reject", "Message-Identifier", "message_identifier", _M, _MESSAGE_IDENTIFIER),
        _Ie(IeId.SERIAL_NUMBER, "reject", "Serial-Number", "serial_number", _M, _SERIAL_NUMBER),
        _Ie(IeId.LIST_OF_TAIS, "reject", "List-of-TAIs", "tracking_areas", _O, _TAIS),
        _Ie(IeId.WARNING_AREA_LIST, "ignore", "Warning-Area-List", "warning_area", _O, _WARNING_AREA),
        _Ie(IeId.REPETITION_PERIOD, "reject", "Repetition-Period", "repetition_period", _M,
            _Codec(lambda v, w: _int(v, 0, 4096, w), int)),
        _Ie(IeId.EXTENDED_REPETITION_PERIOD, "reject", "Extended-Repetition-Period", "extended_repetition_period", _O,
            _Codec(lambda v, w: _int(v, 4096, MAX_EXTENDED_REPETITION_PERIOD, w), int)),
        _Ie(IeId.NUMBER_OF_BROADCASTS_REQUESTED, "reject", "Number-of-Broadcasts-Requested",
            "number_of_broadcasts_requested", _M, _Codec(lambda v, w: _int(v, 0, 0xFFFF, w), int)),
        _Ie(IeId.WARNING_TYPE, "ignore", "Warning-Type", "warning_type", _O, _Codec(_warning_type_to, WarningType.from_bytes)),
        _Ie(IeId.WARNING_SECURITY_INFORMATION, "ignore", "Warning-Security-Information", "warning_security_information",
            _O, _Codec(lambda v, w: _octets(v, 50, 50, w), bytes)),
        _Ie(IeId.DATA_CODING_SCHEME, "ignore", "Data-Coding-Scheme", "data_coding_scheme", _O,
            _Codec(lambda v, w: (_int(v, 0, 0xFF, w), 8), lambda v: _bits(v, 8, "data coding scheme"))),
        _Ie(IeId.WARNING_MESSAGE_CONTENT, "ignore", "Warning-Message-Content", "warning_message_content", _O,
            _Codec(_content_to, _content_from)),
        _Ie(IeId.OMC_ID, "ignore", "Omc-Id", "omc_id", _O, _OMC_ID),
        _Ie(IeId.CONCURRENT_WARNING_MESSAGE_INDICATOR, "reject", "Concurrent-Warning-Message-Indicator",
            "concurrent_warning_message_indicator", _O, _FLAG),
        _Ie(IeId.SEND_WRITE_REPLACE_WARNING_INDICATION, "ignore", "Send-Write-Replace-Warning-Indication",
            "send_write_replace_warning_indication", _O, _FLAG),
        _Ie(IeId.GLOBAL_ENB_ID, "ignore", "Global-ENB-ID", "global_enb_id", _O, _GLOBAL_ENB),
        _Ie(IeId.WARNING_AREA_COORDINATES, "ignore", "Warning-Area-Coordinates", "warning_area_coordinates", _O,
            _Codec(lambda v, w: _octets(v, 1, 1024, w), bytes)),
        _Ie(IeId.LIST_OF_5GS_TAIS, "ignore", "List-of-5GS-TAIs", "tracking_areas_5gs", _O, _TAIS_5GS, extension=True),
        _Ie(IeId.WARNING_AREA_LIST_5GS, "ignore", "Warning-Area-List-5GS", "warning_area_5gs", _O, _WARNING_AREA_5GS,
            extension=True),
        _Ie(IeId.GLOBAL_RAN_NODE_ID, "ignore", "Global-RAN-Node-ID", "global_ran_node_id", _O,
            _Codec(_global_ran_node_to, _global_ran_node_from), extension=True),
        _Ie(IeId.RAT_SELECTOR_5GS, "ignore", "RAT-Selector-5GS", "rat_selector_5gs", _O, _FLAG, extension=True),
    )

    @classmethod
    def with_text(cls, *, message_identifier: int, serial_number: SerialNumber, text: str, repetition_period: int,
                  number_of_broadcasts_requested: int = 0, language: str | None = None,
                  warning_area: WarningArea | None = None, tracking_areas: tuple[TrackingAreaId, ...] = (),
                  concurrent_warning_message_indicator: bool = True,
                  send_write_replace_warning_indication: bool = True, **other: Any) -> WriteReplaceWarningRequest:
        """A CBS / CMAS warning from operator text: pages built as for CBSP (GSM 7-bit when every
        character allows it, else UCS-2; see pages.build_pages), the repetition period in seconds
        (0..131071; above 4095 it goes in Extended-Repetition-Period) and, as osmo-cbc does for
        non-ETWS messages, Concurrent-Warning-Message-Indicator and Send-Write-Replace-Warning-Indication
        set. Refuses a number of broadcasts above 1 with no repetition, which the ASN.1 calls invalid."""
        try:
            dcs, pages = build_pages(text, language)
        except PageError as exc:
            raise SbcapEncodeError(f"{cls.ASN_NAME}.text: {exc}", "text") from None
        period, extended = repetition_period_fields(repetition_period)
        if isinstance(number_of_broadcasts_requested, int) and number_of_broadcasts_requested > 1 and repetition_period == 0:
            raise SbcapEncodeError(
                f"{cls.ASN_NAME}.number_of_broadcasts_requested: {number_of_broadcasts_requested} broadcasts with "
                "repetition period 0 is an invalid combination (TS 29.168); give a repetition period, or ask "
                "for 1 broadcast", "number_of_broadcasts_requested")
        return cls(message_identifier, serial_number, period, number_of_broadcasts_requested,
                   tracking_areas=tracking_areas, warning_area=warning_area, extended_repetition_period=extended,
                   data_coding_scheme=dcs, warning_message_content=pages,
                   concurrent_warning_message_indicator=concurrent_warning_message_indicator,
                   send_write_replace_warning_indication=send_write_replace_warning_indication, **other)

    @property
    def repetition_period_seconds(self) -> int:
        """The period the cells use: the extended one when present."""
        if self.extended_repetition_period is not None:
            return self.extended_repetition_period
        return self.repetition_period

    @property
    def pages(self) -> tuple[Page, ...]:
        content = self.warning_message_content
        return content if isinstance(content, tuple) else ()

    @property
    def text(self) -> str | None:
        """The text of the pages, or None (no content, not CB-Data, or a coding we do not show)."""
        if self.data_coding_scheme is None or not self.pages:
            return None
        return text_of(self.data_coding_scheme, self.pages)


@dataclass(frozen=True, slots=True)
class WriteReplaceWarningResponse(SbcapMessage):
    """Write-Replace-Warning-Response (MME -> CBC); a Cause other than MESSAGE_ACCEPTED is a failure."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.WRITE_REPLACE_WARNING
    OUTCOME: ClassVar[str] = "successfulOutcome"
    ASN_NAME: ClassVar[str] = "Write-Replace-Warning-Response"
    message_identifier: int
    serial_number: SerialNumber
    cause: Cause | int
    criticality_diagnostics: CriticalityDiagnostics | None = None
    unknown_tracking_areas: tuple[TrackingAreaId, ...] = ()
    unknown_tracking_areas_5gs: tuple[TrackingAreaId5gs, ...] = ()

    _IES: ClassVar[tuple[_Ie, ...]] = _common_response_ies()

    @property
    def accepted(self) -> bool:
        return self.cause == Cause.MESSAGE_ACCEPTED


@dataclass(frozen=True, slots=True)
class StopWarningRequest(SbcapMessage):
    """Stop-Warning-Request (CBC -> MME): stop the warning with this identifier and serial number."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.STOP_WARNING
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "Stop-Warning-Request"
    message_identifier: int
    serial_number: SerialNumber
    tracking_areas: tuple[TrackingAreaId, ...] = ()
    warning_area: WarningArea | None = None
    omc_id: bytes | None = None
    send_stop_warning_indication: bool = False
    stop_all_indicator: bool = False
    tracking_areas_5gs: tuple[TrackingAreaId5gs, ...] = ()
    warning_area_5gs: WarningArea5gs | None = None
    rat_selector_5gs: bool = False

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.MESSAGE_IDENTIFIER, "reject", "Message-Identifier", "message_identifier", _M, _MESSAGE_IDENTIFIER),
        _Ie(IeId.SERIAL_NUMBER, "reject", "Serial-Number", "serial_number", _M, _SERIAL_NUMBER),
        _Ie(IeId.LIST_OF_TAIS, "reject", "List-of-TAIs", "tracking_areas", _O, _TAIS),
        _Ie(IeId.WARNING_AREA_LIST, "ignore", "Warning-Area-List", "warning_area", _O, _WARNING_AREA),
        _Ie(IeId.OMC_ID, "ignore", "Omc-Id", "omc_id", _O, _OMC_ID),
        _Ie(IeId.SEND_STOP_WARNING_INDICATION, "ignore", "Send-Stop-Warning-Indication", "send_stop_warning_indication",
            _O, _FLAG),
        _Ie(IeId.STOP_ALL_INDICATOR, "reject", "Stop-All-Indicator", "stop_all_indicator", _O, _FLAG),
        _Ie(IeId.LIST_OF_5GS_TAIS, "ignore", "List-of-5GS-TAIs", "tracking_areas_5gs", _O, _TAIS_5GS, extension=True),
        _Ie(IeId.WARNING_AREA_LIST_5GS, "ignore", "Warning-Area-List-5GS", "warning_area_5gs", _O, _WARNING_AREA_5GS,
            extension=True),
        _Ie(IeId.RAT_SELECTOR_5GS, "ignore", "RAT-Selector-5GS", "rat_selector_5gs", _O, _FLAG, extension=True),
    )


@dataclass(frozen=True, slots=True)
class StopWarningResponse(SbcapMessage):
    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.STOP_WARNING
    OUTCOME: ClassVar[str] = "successfulOutcome"
    ASN_NAME: ClassVar[str] = "Stop-Warning-Response"
    message_identifier: int
    serial_number: SerialNumber
    cause: Cause | int
    criticality_diagnostics: CriticalityDiagnostics | None = None
    unknown_tracking_areas: tuple[TrackingAreaId, ...] = ()
    unknown_tracking_areas_5gs: tuple[TrackingAreaId5gs, ...] = ()

    _IES: ClassVar[tuple[_Ie, ...]] = _common_response_ies()

    @property
    def accepted(self) -> bool:
        return self.cause == Cause.MESSAGE_ACCEPTED


@dataclass(frozen=True, slots=True)
class WriteReplaceWarningIndication(SbcapMessage):
    """Write-Replace-Warning-Indication (MME -> CBC): where the broadcast has been scheduled."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.WRITE_REPLACE_WARNING_INDICATION
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "Write-Replace-Warning-Indication"
    message_identifier: int
    serial_number: SerialNumber
    broadcast_scheduled_area_list: BroadcastScheduledAreaList | None = None
    broadcast_scheduled_area_list_5gs: BroadcastScheduledAreaList5gs | None = None

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.MESSAGE_IDENTIFIER, "reject", "Message-Identifier", "message_identifier", _M, _MESSAGE_IDENTIFIER),
        _Ie(IeId.SERIAL_NUMBER, "reject", "Serial-Number", "serial_number", _M, _SERIAL_NUMBER),
        _Ie(IeId.BROADCAST_SCHEDULED_AREA_LIST, "reject", "Broadcast-Scheduled-Area-List",
            "broadcast_scheduled_area_list", _O, _Codec(_scheduled_to, _scheduled_from)),
        _Ie(IeId.BROADCAST_SCHEDULED_AREA_LIST_5GS, "ignore", "Broadcast-Scheduled-Area-List-5GS",
            "broadcast_scheduled_area_list_5gs", _O, _Codec(_scheduled_5gs_to, _scheduled_5gs_from), extension=True),
    )


@dataclass(frozen=True, slots=True)
class StopWarningIndication(SbcapMessage):
    """Stop-Warning-Indication (MME -> CBC): where the broadcast stopped, with broadcasts done per cell,
    and the eNBs / RAN nodes that had nothing to stop."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.STOP_WARNING_INDICATION
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "Stop-Warning-Indication"
    message_identifier: int
    serial_number: SerialNumber
    broadcast_cancelled_area_list: BroadcastCancelledAreaList | None = None
    broadcast_empty_area_list: tuple[GlobalEnbId, ...] = ()
    broadcast_cancelled_area_list_5gs: BroadcastCancelledAreaList5gs | None = None
    broadcast_empty_area_list_5gs: tuple[GlobalRanNodeId, ...] = ()

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.MESSAGE_IDENTIFIER, "reject", "Message-Identifier", "message_identifier", _M, _MESSAGE_IDENTIFIER),
        _Ie(IeId.SERIAL_NUMBER, "reject", "Serial-Number", "serial_number", _M, _SERIAL_NUMBER),
        _Ie(IeId.BROADCAST_CANCELLED_AREA_LIST, "reject", "Broadcast-Cancelled-Area-List",
            "broadcast_cancelled_area_list", _O, _Codec(_cancelled_to, _cancelled_from)),
        _Ie(IeId.BROADCAST_EMPTY_AREA_LIST, "ignore", "Broadcast-Empty-Area-List", "broadcast_empty_area_list", _O,
            _Codec(_list_to(_global_enb_to, _MAX_ENBS, "GlobalEnbId"), _list_from(_global_enb_from))),
        _Ie(IeId.BROADCAST_CANCELLED_AREA_LIST_5GS, "ignore", "Broadcast-Cancelled-Area-List-5GS",
            "broadcast_cancelled_area_list_5gs", _O, _Codec(_cancelled_5gs_to, _cancelled_5gs_from), extension=True),
        _Ie(IeId.BROADCAST_EMPTY_AREA_LIST_5GS, "ignore", "Broadcast-Empty-Area-List-5GS",
            "broadcast_empty_area_list_5gs", _O,
            _Codec(_list_to(_global_ran_node_to, _MAX_RAN_NODES, "GlobalGnbId or GlobalNgEnbId"),
                   _list_from(_global_ran_node_from)), extension=True),
    )


@dataclass(frozen=True, slots=True)
class PwsRestartIndication(SbcapMessage):
    """PWS-Restart-Indication (MME -> CBC): these cells restarted and lost their warnings; send the
    active ones again."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.PWS_RESTART_INDICATION
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "PWS-Restart-Indication"
    restarted_cells: tuple[EutranCellId, ...]
    global_enb_id: GlobalEnbId
    restart_tracking_areas: tuple[TrackingAreaId, ...]
    restart_emergency_area_ids: tuple[int, ...] = ()
    restarted_nr_cells: tuple[NrCellId, ...] = ()
    restart_tracking_areas_5gs: tuple[TrackingAreaId5gs, ...] = ()
    global_gnb_id: GlobalGnbId | None = None

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.RESTARTED_CELL_LIST, "reject", "Restarted-Cell-List", "restarted_cells", _M, _ECGIS_256),
        _Ie(IeId.GLOBAL_ENB_ID, "reject", "Global-ENB-ID", "global_enb_id", _M, _GLOBAL_ENB),
        _Ie(IeId.LIST_OF_TAIS_RESTART, "reject", "List-of-TAIs-Restart", "restart_tracking_areas", _M,
            _Codec(_wrapped_tais_to(_MAX_RESTART_TAIS), _wrapped_tais_from)),
        _Ie(IeId.LIST_OF_EAIS_RESTART, "reject", "List-of-EAIs-Restart", "restart_emergency_area_ids", _O,
            _Codec(_list_to(_eai_to, _MAX_RESTART_EAIS, "emergency area id"), _list_from(_eai_from))),
        _Ie(IeId.RESTARTED_CELL_LIST_NR, "ignore", "Restarted-Cell-List-NR", "restarted_nr_cells", _O, _NR_CGIS,
            extension=True),
        _Ie(IeId.LIST_OF_5GS_TAI_FOR_RESTART, "ignore", "List-of-5GS-TAI-for-Restart", "restart_tracking_areas_5gs",
            _O, _TAIS_5GS, extension=True),
        _Ie(IeId.GLOBAL_GNB_ID, "ignore", "Global-GNB-ID", "global_gnb_id", _O, _GLOBAL_GNB, extension=True),
    )


@dataclass(frozen=True, slots=True)
class PwsFailureIndication(SbcapMessage):
    """PWS-Failure-Indication (MME -> CBC): these cells can no longer broadcast warnings."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.PWS_FAILURE_INDICATION
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "PWS-Failure-Indication"
    failed_cells: tuple[EutranCellId, ...]
    global_enb_id: GlobalEnbId
    failed_nr_cells: tuple[NrCellId, ...] = ()
    global_gnb_id: GlobalGnbId | None = None

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.FAILED_CELL_LIST, "reject", "Failed-Cell-List", "failed_cells", _M, _ECGIS_256),
        _Ie(IeId.GLOBAL_ENB_ID, "reject", "Global-ENB-ID", "global_enb_id", _M, _GLOBAL_ENB),
        _Ie(IeId.FAILED_CELL_LIST_NR, "ignore", "Failed-Cell-List-NR", "failed_nr_cells", _O, _NR_CGIS, extension=True),
        _Ie(IeId.GLOBAL_GNB_ID, "ignore", "Global-GNB-ID", "global_gnb_id", _O, _GLOBAL_GNB, extension=True),
    )


@dataclass(frozen=True, slots=True)
class ErrorIndication(SbcapMessage):
    """Error-Indication (either direction): a message could not be handled and has no response to say so."""

    PROCEDURE_CODE: ClassVar[ProcedureCode] = ProcedureCode.ERROR_INDICATION
    OUTCOME: ClassVar[str] = "initiatingMessage"
    ASN_NAME: ClassVar[str] = "Error-Indication"
    cause: Cause | int | None = None
    criticality_diagnostics: CriticalityDiagnostics | None = None

    _IES: ClassVar[tuple[_Ie, ...]] = (
        _Ie(IeId.CAUSE, "ignore", "Cause", "cause", _O, _CAUSE),
        _Ie(IeId.CRITICALITY_DIAGNOSTICS, "ignore", "Criticality-Diagnostics", "criticality_diagnostics", _O,
            _DIAGNOSTICS),
    )


_MESSAGE_CLASSES: tuple[type[SbcapMessage], ...] = (
    WriteReplaceWarningRequest, WriteReplaceWarningResponse, StopWarningRequest, StopWarningResponse,
    WriteReplaceWarningIndication, StopWarningIndication, PwsRestartIndication, PwsFailureIndication, ErrorIndication,
)
_MESSAGE_SET = frozenset(_MESSAGE_CLASSES)
_CLASS_BY_KEY: dict[tuple[str, int], type[SbcapMessage]] = {(cls.OUTCOME, cls.PROCEDURE_CODE): cls
                                                            for cls in _MESSAGE_CLASSES}
_PROCEDURE_CRITICALITY = {ProcedureCode.WRITE_REPLACE_WARNING: "reject", ProcedureCode.STOP_WARNING: "reject"}
_IE_BY_ID: dict[type[SbcapMessage], dict[tuple[bool, int], _Ie]] = {
    cls: {(ie.extension, ie.id): ie for ie in cls._IES} for cls in _MESSAGE_CLASSES
}


def repetition_period_fields(seconds: int) -> tuple[int, int | None]:
    """A repetition period in seconds -> (Repetition-Period, Extended-Repetition-Period). Up to 4095 s
    the first says it all; above, the second carries it and the first says 4095, the most a CBC may
    send, so that a receiver that reads only the first still gets the nearest period it knows."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_EXTENDED_REPETITION_PERIOD:
        raise SbcapEncodeError(f"repetition period {seconds!r} s is outside 0..{MAX_EXTENDED_REPETITION_PERIOD} s",
                               "repetition_period")
    if seconds <= MAX_REPETITION_PERIOD:
        return seconds, None
    return MAX_REPETITION_PERIOD, seconds


# ---------------------------------------------------------------------------------------------
# The pycrate runtime


_lock = threading.Lock()
_runtime: Any = None  # (SBC_AP_PDU, ASN1CodecPER, Charpy) once loaded


def _fix_pycrate_fragment_decoding(codec: Any) -> None:
    """pycrate 0.8.1 ASN1CodecPER.decode_fragbytes adds the last fragment's length in octets, not bits,
    to the aligned-PER offset (and returns a wrong total length). After a fragmented open type the
    next padding is then misplaced and decoding fails. This copy counts bits, as its _ws twin does."""
    from pycrate_asn1rt.err import ASN1PERDecodeErr

    def decode_fragbytes(cla, char, ldet, bits=False):
        chunks, total = [], 0
        while ldet in (65536, 49152, 32768, 16384):
            size = ldet if bits else 8 * ldet
            chunks.append(char.get_bytes(size))
            if cla.ALIGNED:
                cla._off[-1] += size
            total += ldet
            if total > cla.DEC_MAXL:
                raise ASN1PERDecodeErr(f"too much fragments, {total!r}")
            ldet = cla.decode_count(char)
        size = ldet if bits else 8 * ldet
        chunks.append(char.get_bytes(size))
        if cla.ALIGNED:
            cla._off[-1] += size
        return b"".join(chunks), total + ldet

    codec.decode_fragbytes = classmethod(decode_fragbytes)


def _load() -> Any:
    """Import pycrate and the generated module on first use (0.2 s), not when sbcap is imported."""
    global _runtime
    if _runtime is None:
        from pycrate_asn1rt.codecs import ASN1CodecPER
        from pycrate_core.charpy import Charpy

        from omnidesk.cbc.asn1.sbcap_gen import SBC_AP_PDU_Descriptions

        _fix_pycrate_fragment_decoding(ASN1CodecPER)
        _runtime = (SBC_AP_PDU_Descriptions.SBC_AP_PDU, ASN1CodecPER, Charpy)
    return _runtime


# ---------------------------------------------------------------------------------------------
# Encoding


def _absent(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (tuple, list)) and not value)


def encode(message: SbcapMessage) -> bytes:
    """A message -> its APER octets (an SBC-AP-PDU). Raises SbcapEncodeError, naming the field, for any
    bad value; nothing else."""
    cls = type(message)
    if cls not in _MESSAGE_SET:
        raise SbcapEncodeError(f"{message!r} is not an SBc-AP message")
    ies: list[dict] = []
    extensions: list[dict] = []
    for ie in cls._IES:
        value = getattr(message, ie.field)
        if _absent(value) and not (ie.mandatory and isinstance(value, (tuple, list))):
            if ie.mandatory:
                raise SbcapEncodeError(f"{cls.ASN_NAME}.{ie.field} is required", ie.field)
            continue
        try:
            asn_value = ie.codec.to_asn(value, ie.field)
        except _Refuse as exc:
            raise SbcapEncodeError(f"{cls.ASN_NAME}.{exc}", ie.field) from None
        except (TypeError, AttributeError, ValueError, OverflowError) as exc:  # a value of the wrong shape
            raise SbcapEncodeError(f"{cls.ASN_NAME}.{ie.field}: {value!r} cannot be encoded ({exc})", ie.field) from None
        if ie.extension:
            extensions.append({"id": int(ie.id), "criticality": ie.criticality, "extensionValue": (ie.asn_type, asn_value)})
        else:
            ies.append({"id": int(ie.id), "criticality": ie.criticality, "value": (ie.asn_type, asn_value)})
    body: dict[str, Any] = {"protocolIEs": ies}
    if extensions:
        body["protocolExtensions"] = extensions
    pdu_value = (cls.OUTCOME, {"procedureCode": int(cls.PROCEDURE_CODE),
                               "criticality": _PROCEDURE_CRITICALITY.get(cls.PROCEDURE_CODE, "ignore"),
                               "value": (cls.ASN_NAME, body)})
    pdu, codec, _ = _load()
    with _lock:
        depth = len(codec._off)
        try:
            octets = pdu.to_aper(pdu_value)
        except Exception as exc:  # pycrate refusing what we checked is our bug; still, only the typed error
            raise SbcapEncodeError(f"{cls.ASN_NAME} cannot be encoded: {exc}") from None
        finally:
            del codec._off[depth:]
    if len(octets) > MAX_PDU_OCTETS:
        raise SbcapEncodeError(f"{cls.ASN_NAME} would be {len(octets)} octets; at most {MAX_PDU_OCTETS} are sent "
                               "(split the warning area)")
    return octets


# ---------------------------------------------------------------------------------------------
# Decoding


def _pycrate_value(data: bytes) -> Any:
    pdu, codec, charpy = _load()
    with _lock:
        depth = len(codec._off)
        try:
            buffer = charpy(data)
            pdu.from_aper(buffer)
            left = buffer.len_bit()
            value = pdu.get_val()
        except Exception as exc:  # pycrate raises its own errors, AssertionError, IndexError...
            reason = str(exc) or type(exc).__name__
            raise SbcapDecodeError(f"not a valid aligned-PER SBC-AP-PDU ({reason})",
                                   cause=Cause.TRANSFER_SYNTAX_ERROR) from None
        finally:
            del codec._off[depth:]  # pycrate leaves its offset stack behind when it raises
    if left:
        raise SbcapDecodeError(f"{left // 8} octets follow the end of the PDU", cause=Cause.TRANSFER_SYNTAX_ERROR)
    return value


def decode(data: bytes) -> SbcapMessage:
    """Exactly one SBC-AP-PDU's octets -> the message. Raises SbcapDecodeError, and nothing else, for bad input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SbcapDecodeError(f"{type(data).__name__} is not bytes", cause=Cause.TRANSFER_SYNTAX_ERROR)
    data = bytes(data)
    if not data:
        raise SbcapDecodeError("no octets", cause=Cause.TRANSFER_SYNTAX_ERROR)
    if len(data) > MAX_PDU_OCTETS:
        raise SbcapDecodeError(f"{len(data)} octets exceed the {MAX_PDU_OCTETS} this CBC accepts in one PDU",
                               cause=Cause.TRANSFER_SYNTAX_ERROR)
    outcome, envelope = _pycrate_value(data)
    if not isinstance(envelope, dict):  # an extension alternative of SBC-AP-PDU, kept as raw octets by pycrate
        raise SbcapDecodeError(f"PDU alternative {outcome!r} is not one TS 29.168 defines",
                               cause=Cause.UNRECOGNISED_MESSAGE)
    procedure_code = envelope["procedureCode"]
    value_name, body = envelope["value"]
    cls = _CLASS_BY_KEY.get((outcome, procedure_code))
    if cls is None or value_name != cls.ASN_NAME or not isinstance(body, dict):
        try:
            procedure = ProcedureCode(procedure_code).name.replace("_", "-").lower()
        except ValueError:
            procedure = f"procedure {procedure_code}"
        raise SbcapDecodeError(f"{outcome} of {procedure} is not a message TS 29.168 defines",
                               cause=Cause.UNRECOGNISED_MESSAGE, procedure_code=procedure_code)

    def fail(reason: str, cause: Cause, ie_id: int | None = None) -> SbcapDecodeError:
        return SbcapDecodeError(reason, cause=cause, procedure_code=procedure_code, ie_id=ie_id,
                                message_name=cls.ASN_NAME)

    table = _IE_BY_ID[cls]
    values: dict[str, Any] = {}
    containers = ((False, body.get("protocolIEs") or (), "value"), (True, body.get("protocolExtensions") or (),
                                                                     "extensionValue"))
    for is_extension, fields, value_key in containers:
        kind = "extension" if is_extension else "IE"
        for field in fields:
            ie_id = field["id"]
            ie = table.get((is_extension, ie_id))
            if ie is None:
                if field["criticality"] == "reject":
                    raise fail(f"{kind} {ie_id} is not defined for this message and its criticality is reject",
                               Cause.ABSTRACT_SYNTAX_ERROR_REJECT, ie_id)
                continue  # criticality ignore / notify: not comprehended, skipped
            if ie.field in values:
                raise fail(f"{ie.asn_type} {kind} (id {ie_id}) appears more than once",
                           Cause.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE, ie_id)
            type_name, asn_value = field[value_key]
            if type_name != ie.asn_type:
                raise fail(f"{kind} {ie_id} holds {type_name}, not {ie.asn_type}", Cause.TRANSFER_SYNTAX_ERROR, ie_id)
            try:
                values[ie.field] = ie.codec.from_asn(asn_value)
            except _Bad as bad:
                raise fail(f"{ie.asn_type} {kind}: {bad.reason}", bad.cause, ie_id) from None
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                raise fail(f"{ie.asn_type} {kind}: {exc or type(exc).__name__}", Cause.PARAMETER_VALUE_INVALID,
                           ie_id) from None
    for ie in cls._IES:
        if ie.mandatory and ie.field not in values:
            raise fail(f"mandatory {ie.asn_type} IE (id {int(ie.id)}) is missing", Cause.MISSING_MANDATORY_ELEMENT,
                       int(ie.id))
    return cls(**values)
