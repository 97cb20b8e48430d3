"""CBSP (3GPP TS 48.049) codec: the CBC–BSC messages as typed dataclasses, to bytes and back, and TCP framing.

Only bytes <-> messages happens here; links, timers and message state live elsewhere. Facts, IE orders
and traps come from the shared research notes spec/cbc-protocols.md §3; the section numbers below are TS 48.049's.

Decoding rules, so the link layer knows what to answer (it sends ERROR INDICATION with `exc.cause`).
The error-handling clause of TS 48.049 was not at hand; this mapping onto its cause values is ours:
- an unknown message type -> CbspDecodeError with cause UNRECOGNISED_MESSAGE;
- an unknown IEI -> PARAMETER_NOT_RECOGNISED: CBSP IEs carry no generic length, so nothing after an
  unknown one can be read;
- a known IE that this message type does not use is skipped (its length is known);
- a missing mandatory IE -> MISSING_MANDATORY_ELEMENT; a value outside its range, a repeated IE, a
  length that does not fit, a cell list naming no cell where cells are the target -> PARAMETER_VALUE_INVALID;
- spare bits (high nibble of a cell id discriminator, recovery indication, broadcast message type,
  broadcasts-completed info; low bits of the warning type) are ignored.
The encoder checks every value and raises CbspEncodeError, naming the field, before producing any byte;
whatever the decoder accepts, the encoder can write again.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, NamedTuple, Union

from omnidesk.cbc import period as _period
from omnidesk.cbc.pages import (
    MAX_PAGES,
    PAGE_OCTETS,
    GeographicalScope,
    Page,
    PageError,
    SerialNumber,
    build_pages,
    text_of,
)
from omnidesk.cbc.period import DEFAULT_REPETITION_PERIOD_LAYOUT, RepetitionPeriodLayout

__all__ = [
    "TCP_PORT", "MAX_MESSAGE_LENGTH", "CbspDecodeError", "CbspFramingError", "CbspEncodeError",
    "MessageType", "Iei", "Category", "ChannelIndicator", "Cause", "RecoveryIndication",
    "BroadcastMessageType", "BroadcastsCompletedInfo", "CellIdKind", "EtwsWarningType",
    "GeographicalScope", "SerialNumber", "Page", "RepetitionPeriodLayout",
    "Plmn", "CellGlobalId", "LacAndCi", "CellIdentity", "LocationAreaId", "LocationAreaCode", "AllCellsOnBss",
    "CellList", "CellFailure", "BroadcastsCompleted", "BroadcastsCompletedList", "CellLoading", "LoadingList",
    "WarningType", "CbspMessage",
    "WriteReplace", "EmergencyWriteReplace", "WriteReplaceComplete", "WriteReplaceFailure",
    "Kill", "KillComplete", "KillFailure", "LoadQuery", "LoadQueryComplete", "LoadQueryFailure",
    "MessageStatusQuery", "MessageStatusQueryComplete", "MessageStatusQueryFailure",
    "SetDrx", "SetDrxComplete", "SetDrxFailure", "Reset", "ResetComplete", "ResetFailure",
    "Restart", "Failure", "ErrorIndication", "KeepAlive", "KeepAliveComplete",
    "encode", "decode", "CbspReassembler",
]

TCP_PORT = 48049
HEADER_OCTETS = 4  # message type (1) + length of what follows (3, big-endian)

# A declared body length above this is garbage or a desynchronised stream, not a message: the largest
# real one (a WRITE-REPLACE FAILURE whose failure, completed and cell lists each fill their 16-bit
# length, about 197 KiB) stays below it. The 3-octet field itself would allow 16 MiB.
MAX_MESSAGE_LENGTH = 4 * 65_536


# ---------------------------------------------------------------------------------------------
# Errors


class CbspDecodeError(ValueError):
    """Bytes that are not a valid CBSP message. `offset` counts octets from the message start (or, from
    the reassembler, from the start of the stream); `cause` is what to put in an ERROR INDICATION."""

    def __init__(self, reason: str, offset: int, *, cause: Cause | None = None, message_type: int | None = None):
        self.reason = reason
        self.offset = offset
        self.cause = cause
        self.message_type = message_type
        what = "CBSP message" if message_type is None else f"CBSP {_message_name(message_type)}"
        super().__init__(f"{what}: {reason} (at octet {offset})")

    def __reduce__(self):  # keyword-only attributes survive pickling (logs, process pools)
        return (_rebuild_decode_error, (type(self), self.reason, self.offset, self.cause, self.message_type))


def _rebuild_decode_error(cls, reason, offset, cause, message_type):
    return cls(reason, offset, cause=cause, message_type=message_type)


class CbspFramingError(CbspDecodeError):
    """The TCP stream cannot be cut into messages any more; the only remedy is closing the link."""


class CbspEncodeError(ValueError):
    """A message that cannot be put on the wire, with the field at fault; nothing was produced."""


def _message_name(message_type: int) -> str:
    try:
        return MessageType(message_type).name.replace("_", "-")
    except ValueError:
        return f"message type 0x{message_type:02x}"


class _Bad(Exception):
    """Internal: a value decoder's complaint (always "parameter value invalid"), turned into
    CbspDecodeError with the message context; `relative_offset` counts from the IE's value."""

    def __init__(self, reason: str, relative_offset: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.relative_offset = relative_offset


# ---------------------------------------------------------------------------------------------
# Code points (§8.2)


class MessageType(enum.IntEnum):
    WRITE_REPLACE = 0x01
    WRITE_REPLACE_COMPLETE = 0x02
    WRITE_REPLACE_FAILURE = 0x03
    KILL = 0x04
    KILL_COMPLETE = 0x05
    KILL_FAILURE = 0x06
    LOAD_QUERY = 0x07
    LOAD_QUERY_COMPLETE = 0x08
    LOAD_QUERY_FAILURE = 0x09
    MESSAGE_STATUS_QUERY = 0x0A
    MESSAGE_STATUS_QUERY_COMPLETE = 0x0B
    MESSAGE_STATUS_QUERY_FAILURE = 0x0C
    SET_DRX = 0x0D
    SET_DRX_COMPLETE = 0x0E
    SET_DRX_FAILURE = 0x0F
    RESET = 0x10
    RESET_COMPLETE = 0x11
    RESET_FAILURE = 0x12
    RESTART = 0x13
    FAILURE = 0x14
    ERROR_INDICATION = 0x15
    KEEP_ALIVE = 0x16
    KEEP_ALIVE_COMPLETE = 0x17


class Iei(enum.IntEnum):
    MESSAGE_CONTENT = 0x01
    OLD_SERIAL_NUMBER = 0x02
    NEW_SERIAL_NUMBER = 0x03
    CELL_LIST = 0x04
    CATEGORY = 0x05
    REPETITION_PERIOD = 0x06
    NUMBER_OF_BROADCASTS_REQUESTED = 0x07
    NUMBER_OF_BROADCASTS_COMPLETED_LIST = 0x08
    FAILURE_LIST = 0x09
    RADIO_RESOURCE_LOADING_LIST = 0x0A
    CAUSE = 0x0B
    DATA_CODING_SCHEME = 0x0C
    RECOVERY_INDICATION = 0x0D
    MESSAGE_IDENTIFIER = 0x0E
    EMERGENCY_INDICATOR = 0x0F
    WARNING_TYPE = 0x10
    WARNING_SECURITY_INFORMATION = 0x11
    CHANNEL_INDICATOR = 0x12
    NUMBER_OF_PAGES = 0x13
    SCHEDULE_PERIOD = 0x14
    NUMBER_OF_RESERVED_SLOTS = 0x15
    BROADCAST_MESSAGE_TYPE = 0x16
    WARNING_PERIOD = 0x17
    KEEP_ALIVE_REPETITION_PERIOD = 0x18


class Category(enum.IntEnum):
    HIGH_PRIORITY = 0
    BACKGROUND = 1
    NORMAL = 2


class ChannelIndicator(enum.IntEnum):
    BASIC = 0
    EXTENDED = 1


class Cause(enum.IntEnum):
    PARAMETER_NOT_RECOGNISED = 0
    PARAMETER_VALUE_INVALID = 1
    MESSAGE_REFERENCE_NOT_IDENTIFIED = 2
    CELL_IDENTITY_NOT_VALID = 3
    UNRECOGNISED_MESSAGE = 4
    MISSING_MANDATORY_ELEMENT = 5
    BSC_CAPACITY_EXCEEDED = 6
    CELL_MEMORY_EXCEEDED = 7
    BSC_MEMORY_EXCEEDED = 8
    CELL_BROADCAST_NOT_SUPPORTED = 9
    CELL_BROADCAST_NOT_OPERATIONAL = 10
    INCOMPATIBLE_DRX_PARAMETER = 11
    EXTENDED_CHANNEL_NOT_SUPPORTED = 12
    MESSAGE_REFERENCE_ALREADY_USED = 13
    UNSPECIFIED_ERROR = 14
    LAI_OR_LAC_NOT_VALID = 15


class RecoveryIndication(enum.IntEnum):
    DATA_AVAILABLE = 0
    DATA_LOST = 1


class BroadcastMessageType(enum.IntEnum):
    CBS = 0
    EMERGENCY = 1


class BroadcastsCompletedInfo(enum.IntEnum):
    VALID = 0
    OVERFLOW = 1
    UNKNOWN = 2


class CellIdKind(enum.IntEnum):
    """Cell identification discriminator (TS 48.008 §3.2.2.27, the values CBSP allows)."""

    CGI = 0
    LAC_CI = 1
    CI = 2
    LAI = 4
    LAC = 5
    ALL_CELLS_ON_BSS = 6


class EtwsWarningType(enum.IntEnum):
    EARTHQUAKE = 0
    TSUNAMI = 1
    EARTHQUAKE_AND_TSUNAMI = 2
    TEST = 3
    OTHER = 4


# ---------------------------------------------------------------------------------------------
# Cells


def _digits(value: Any, lengths: tuple[int, ...], what: str) -> str:
    if not isinstance(value, str) or len(value) not in lengths or not value.isascii() or not value.isdigit():
        raise CbspEncodeError(f"{what} {value!r} must be {' or '.join(map(str, lengths))} digits")
    return value


@dataclass(frozen=True, slots=True)
class Plmn:
    """Mobile country and network code as digit strings ("901", "70"); a 3-digit MNC keeps its zeros."""

    mcc: str
    mnc: str

    def to_bytes(self) -> bytes:
        return _plmn_octets(self.mcc, self.mnc)

    @classmethod
    def from_bytes(cls, octets: bytes) -> Plmn:
        return _plmn(bytes(octets))

    @classmethod
    def _parse(cls, octets: bytes) -> Plmn:
        if len(octets) != 3:
            raise ValueError(f"a PLMN is 3 octets, not {len(octets)}")
        nibbles = [octets[0] & 0xF, octets[0] >> 4, octets[1] & 0xF, octets[2] & 0xF, octets[2] >> 4, octets[1] >> 4]
        if any(n > 9 for n in nibbles[:5]) or (nibbles[5] > 9 and nibbles[5] != 0xF):
            raise ValueError(f"PLMN {octets.hex()} holds a nibble that is not a digit")
        mcc = "".join(map(str, nibbles[:3]))
        mnc = "".join(map(str, nibbles[3:5])) + ("" if nibbles[5] == 0xF else str(nibbles[5]))
        return cls(mcc, mnc)

    def __str__(self) -> str:
        return f"{self.mcc}-{self.mnc}"


@functools.lru_cache(maxsize=1024)
def _plmn_octets(mcc: str, mnc: str) -> bytes:
    """TBCD: MCC2|MCC1, MNC3|MCC3 (F for a 2-digit MNC), MNC2|MNC1."""
    mcc = _digits(mcc, (3,), "MCC")
    mnc = _digits(mnc, (2, 3), "MNC")
    mnc3 = int(mnc[2]) if len(mnc) == 3 else 0xF
    return bytes(((int(mcc[1]) << 4) | int(mcc[0]), (mnc3 << 4) | int(mcc[2]), (int(mnc[1]) << 4) | int(mnc[0])))


@functools.lru_cache(maxsize=1024)
def _plmn(octets: bytes) -> Plmn:
    # a network has a handful of PLMNs and a cell list repeats them: parsing each once halves decode time
    return Plmn._parse(octets)


def _u16(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF:
        raise CbspEncodeError(f"{what} {value!r} is outside 0..65535")
    return value


def _u8(value: Any, what: str, maximum: int = 0xFF) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise CbspEncodeError(f"{what} {value!r} is outside 0..{maximum}")
    return value


@dataclass(frozen=True, slots=True)
class CellGlobalId:
    KIND: ClassVar[CellIdKind] = CellIdKind.CGI
    plmn: Plmn
    lac: int
    ci: int

    def to_bytes(self) -> bytes:
        return self.plmn.to_bytes() + _u16(self.lac, "LAC").to_bytes(2, "big") + _u16(self.ci, "CI").to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class LacAndCi:
    KIND: ClassVar[CellIdKind] = CellIdKind.LAC_CI
    lac: int
    ci: int

    def to_bytes(self) -> bytes:
        return _u16(self.lac, "LAC").to_bytes(2, "big") + _u16(self.ci, "CI").to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class CellIdentity:
    KIND: ClassVar[CellIdKind] = CellIdKind.CI
    ci: int

    def to_bytes(self) -> bytes:
        return _u16(self.ci, "CI").to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class LocationAreaId:
    KIND: ClassVar[CellIdKind] = CellIdKind.LAI
    plmn: Plmn
    lac: int

    def to_bytes(self) -> bytes:
        return self.plmn.to_bytes() + _u16(self.lac, "LAC").to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class LocationAreaCode:
    KIND: ClassVar[CellIdKind] = CellIdKind.LAC
    lac: int

    def to_bytes(self) -> bytes:
        return _u16(self.lac, "LAC").to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class AllCellsOnBss:
    """Every cell the BSC controls; it has no octets of its own."""

    KIND: ClassVar[CellIdKind] = CellIdKind.ALL_CELLS_ON_BSS

    def to_bytes(self) -> bytes:
        return b""


CellId = Union[CellGlobalId, LacAndCi, CellIdentity, LocationAreaId, LocationAreaCode, AllCellsOnBss]
_CELL_TYPES = (CellGlobalId, LacAndCi, CellIdentity, LocationAreaId, LocationAreaCode, AllCellsOnBss)
_CELL_OCTETS = {CellIdKind.CGI: 7, CellIdKind.LAC_CI: 4, CellIdKind.CI: 2, CellIdKind.LAI: 5,
                CellIdKind.LAC: 2, CellIdKind.ALL_CELLS_ON_BSS: 0}
_WHOLE_BSS = AllCellsOnBss()


def _read_cell(kind: CellIdKind, octets: bytes, pos: int) -> CellId:
    if kind is CellIdKind.CGI:
        return CellGlobalId(Plmn.from_bytes(octets[pos:pos + 3]), (octets[pos + 3] << 8) | octets[pos + 4],
                            (octets[pos + 5] << 8) | octets[pos + 6])
    if kind is CellIdKind.LAC_CI:
        return LacAndCi((octets[pos] << 8) | octets[pos + 1], (octets[pos + 2] << 8) | octets[pos + 3])
    if kind is CellIdKind.CI:
        return CellIdentity((octets[pos] << 8) | octets[pos + 1])
    if kind is CellIdKind.LAI:
        return LocationAreaId(Plmn.from_bytes(octets[pos:pos + 3]), (octets[pos + 3] << 8) | octets[pos + 4])
    if kind is CellIdKind.LAC:
        return LocationAreaCode((octets[pos] << 8) | octets[pos + 1])
    return _WHOLE_BSS


def _read_kind(octet: int) -> CellIdKind:
    try:
        return CellIdKind(octet & 0x0F)
    except ValueError:
        raise _Bad(f"cell identification discriminator {octet & 0x0F} is not one CBSP allows") from None


def _check_cell(cell: Any, kind: CellIdKind | None, what: str) -> bytes:
    if not isinstance(cell, _CELL_TYPES):
        raise CbspEncodeError(f"{what}: {cell!r} is not a cell identifier")
    if kind is not None and cell.KIND is not kind:
        raise CbspEncodeError(f"{what}: {type(cell).__name__} in a list of kind {kind.name}; "
                              f"CBSP lists carry one kind of cell identifier")
    return cell.to_bytes()


@dataclass(frozen=True, slots=True)
class CellList:
    """Cells of one identifier kind (§8.2.6). For ALL_CELLS_ON_BSS the tuple is empty."""

    kind: CellIdKind
    cells: tuple[CellId, ...] = ()

    @classmethod
    def of(cls, *cells: CellId) -> CellList:
        if not cells:
            raise CbspEncodeError("a cell list needs at least one cell; use CellList.whole_bss() for every cell")
        if isinstance(cells[0], AllCellsOnBss):
            return cls.whole_bss()
        return cls(cells[0].KIND, tuple(cells))

    @classmethod
    def whole_bss(cls) -> CellList:
        return cls(CellIdKind.ALL_CELLS_ON_BSS)


@dataclass(frozen=True, slots=True)
class CellFailure:
    """One entry of a Failure List (§8.2.11): each entry names its own identifier kind."""

    cell: CellId
    cause: Cause


@dataclass(frozen=True, slots=True)
class BroadcastsCompleted:
    cell: CellId
    count: int  # 0..65535
    info: BroadcastsCompletedInfo = BroadcastsCompletedInfo.VALID


@dataclass(frozen=True, slots=True)
class BroadcastsCompletedList:
    """Number of Broadcasts Completed List (§8.2.10): one kind for all entries."""

    kind: CellIdKind
    entries: tuple[BroadcastsCompleted, ...] = ()


@dataclass(frozen=True, slots=True)
class CellLoading:
    cell: CellId
    load1: int  # radio resource loading, percent
    load2: int


@dataclass(frozen=True, slots=True)
class LoadingList:
    """Radio Resource Loading List (§8.2.12): one kind for all entries."""

    kind: CellIdKind
    entries: tuple[CellLoading, ...] = ()


@dataclass(frozen=True, slots=True)
class WarningType:
    """ETWS Warning Type, CBSP layout: (type << 9) | (alert << 8) | (popup << 7) in two octets."""

    kind: EtwsWarningType | int  # 0..127
    emergency_user_alert: bool = True
    popup: bool = True

    def to_bytes(self) -> bytes:
        """The two octets (SBc-AP's Warning-Type is the same 16 bits); the caller checks kind is 0..127."""
        return ((self.kind << 9) | (bool(self.emergency_user_alert) << 8) | (bool(self.popup) << 7)).to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, octets: bytes) -> WarningType:
        """Two octets -> WarningType; the 7 spare bits are ignored and unknown types stay plain numbers."""
        raw = int.from_bytes(octets, "big")
        kind: EtwsWarningType | int = raw >> 9
        try:
            kind = EtwsWarningType(kind)
        except ValueError:
            pass  # future types stay plain numbers
        return cls(kind, bool(raw & 0x100), bool(raw & 0x80))


# ---------------------------------------------------------------------------------------------
# IE value codecs. An encoder gets the field value and returns the IE's value octets (no IEI, no
# length); a decoder gets the value octets and returns the field value, raising _Bad.


def _enc_u16(what: str) -> Callable[[Any, RepetitionPeriodLayout], bytes]:
    return lambda value, layout: _u16(value, what).to_bytes(2, "big")


def _enc_u8(what: str, maximum: int = 0xFF) -> Callable[[Any, RepetitionPeriodLayout], bytes]:
    return lambda value, layout: bytes((_u8(value, what, maximum),))


def _enc_enum(enum_type: type[enum.IntEnum]) -> Callable[[Any, RepetitionPeriodLayout], bytes]:
    def encode_enum(value: Any, layout: RepetitionPeriodLayout) -> bytes:
        try:
            return bytes((int(enum_type(value)),))
        except (ValueError, TypeError):
            raise CbspEncodeError(f"{value!r} is not a {enum_type.__name__}; "
                                  f"one of {', '.join(m.name for m in enum_type)}") from None
    return encode_enum


def _dec_u16(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    return (octets[0] << 8) | octets[1]


def _dec_u8(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    return octets[0]


def _dec_enum(enum_type: type[enum.IntEnum], mask: int = 0xFF) -> Callable[[bytes, RepetitionPeriodLayout], Any]:
    def decode_enum(octets: bytes, layout: RepetitionPeriodLayout) -> Any:
        try:
            return enum_type(octets[0] & mask)
        except ValueError:
            raise _Bad(f"{octets[0] & mask} is not a {enum_type.__name__}") from None
    return decode_enum


def _enc_serial(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, SerialNumber):
        raise CbspEncodeError(f"{value!r} is not a SerialNumber")
    try:
        return value.encoded.to_bytes(2, "big")
    except ValueError as exc:
        raise CbspEncodeError(str(exc)) from None


def _dec_serial(octets: bytes, layout: RepetitionPeriodLayout) -> SerialNumber:
    return SerialNumber.from_encoded((octets[0] << 8) | octets[1])


def _enc_repetition_period(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    try:
        return _period.repetition_period_octets(value, layout)
    except ValueError as exc:
        raise CbspEncodeError(str(exc)) from None


def _dec_repetition_period(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    try:
        return _period.repetition_period_units(octets, layout)
    except ValueError as exc:
        raise _Bad(f"{exc} (read in the {layout.value} layout)") from None


def _enc_warning_period(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    try:
        return bytes((_period.period_code(value),))
    except ValueError as exc:
        raise CbspEncodeError(f"warning {exc}") from None


def _dec_warning_period(octets: bytes, layout: RepetitionPeriodLayout) -> int | None:
    try:
        return _period.period_seconds(octets[0])
    except ValueError as exc:
        raise _Bad(f"warning {exc}") from None


def _enc_keep_alive(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if value is None or not isinstance(value, int) or isinstance(value, bool) \
            or not 1 <= value <= _period.MAX_KEEP_ALIVE_SECONDS:
        raise CbspEncodeError(f"keep-alive repetition period {value!r} s is outside 1..{_period.MAX_KEEP_ALIVE_SECONDS} s")
    try:
        return bytes((_period.period_code(value),))
    except ValueError as exc:
        raise CbspEncodeError(f"keep-alive repetition {exc}") from None


def _dec_keep_alive(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    try:
        seconds = _period.period_seconds(octets[0])
    except ValueError as exc:
        raise _Bad(f"keep-alive repetition {exc}") from None
    if seconds is None or seconds > _period.MAX_KEEP_ALIVE_SECONDS:
        raise _Bad(f"keep-alive repetition period code 0x{octets[0]:02x} is outside 1..120 s")
    return seconds


def _enc_emergency_indicator(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    return b"\x01"


def _dec_emergency_indicator(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    if octets[0] != 1:
        raise _Bad(f"emergency indicator {octets[0]} is not 1 (ETWS information available)")
    return 1


def _enc_warning_type(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, WarningType):
        raise CbspEncodeError(f"{value!r} is not a WarningType")
    _u8(value.kind, "ETWS warning type", 127)
    return value.to_bytes()


def _dec_warning_type(octets: bytes, layout: RepetitionPeriodLayout) -> WarningType:
    return WarningType.from_bytes(octets)


def _enc_security_information(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 50:
        raise CbspEncodeError("warning security information must be exactly 50 octets")
    return bytes(value)


def _dec_bytes(octets: bytes, layout: RepetitionPeriodLayout) -> bytes:
    return bytes(octets)


def _cell_list_octets(value: Any, what: str, need_cells: bool) -> tuple[CellIdKind, list[bytes]]:
    if not isinstance(value, CellList):
        raise CbspEncodeError(f"{what}: {value!r} is not a CellList")
    try:
        kind = CellIdKind(value.kind)
    except ValueError:
        raise CbspEncodeError(f"{what}: {value.kind!r} is not a cell identifier kind") from None
    if kind is CellIdKind.ALL_CELLS_ON_BSS:
        if value.cells and any(not isinstance(c, AllCellsOnBss) for c in value.cells):
            raise CbspEncodeError(f"{what}: a whole-BSS list names no individual cells")
        return kind, []
    if need_cells and not value.cells:
        raise CbspEncodeError(f"{what} is empty; name at least one cell, or use CellList.whole_bss() for all")
    return kind, [_check_cell(cell, kind, what) for cell in value.cells]


def _enc_cell_list(need_cells: bool) -> Callable[[Any, RepetitionPeriodLayout], bytes]:
    def encode_cell_list(value: Any, layout: RepetitionPeriodLayout) -> bytes:
        kind, cells = _cell_list_octets(value, "cell list", need_cells)
        return bytes((kind,)) + b"".join(cells)
    return encode_cell_list


def _entries(octets: bytes, kind: CellIdKind, start: int, extra: int, what: str) -> Iterator[tuple[CellId, int]]:
    """Walk fixed-size entries (cell + `extra` octets) from `start` to the end; yields (cell, offset of the extra)."""
    size = _CELL_OCTETS[kind] + extra
    remaining = len(octets) - start
    if size == 0:
        if remaining:
            raise _Bad(f"{what} for all cells on the BSS carries {remaining} unexpected octets", start)
        return
    if remaining % size:
        raise _Bad(f"{what} holds {remaining} octets, not a whole number of {size}-octet {kind.name} entries",
                   start)
    for pos in range(start, len(octets), size):
        try:
            cell = _read_cell(kind, octets, pos)
        except ValueError as exc:
            raise _Bad(str(exc), pos) from None
        yield cell, pos + _CELL_OCTETS[kind]


def _dec_cell_list(octets: bytes, layout: RepetitionPeriodLayout) -> CellList:
    if not octets:
        raise _Bad("cell list has no cell identification discriminator")
    kind = _read_kind(octets[0])
    return CellList(kind, tuple(cell for cell, _ in _entries(octets, kind, 1, 0, "cell list")))


def _enc_completed_list(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, BroadcastsCompletedList):
        raise CbspEncodeError(f"{value!r} is not a BroadcastsCompletedList")
    try:
        kind = CellIdKind(value.kind)
    except ValueError:
        raise CbspEncodeError(f"broadcasts-completed list: {value.kind!r} is not a cell identifier kind") from None
    out = bytearray((kind,))
    for entry in value.entries:
        if not isinstance(entry, BroadcastsCompleted):
            raise CbspEncodeError(f"broadcasts-completed list: {entry!r} is not a BroadcastsCompleted")
        out += _check_cell(entry.cell, kind, "broadcasts-completed list")
        out += _u16(entry.count, "number of broadcasts completed").to_bytes(2, "big")
        out += _enc_enum(BroadcastsCompletedInfo)(entry.info, layout)
    return bytes(out)


def _dec_completed_list(octets: bytes, layout: RepetitionPeriodLayout) -> BroadcastsCompletedList:
    if not octets:
        raise _Bad("broadcasts-completed list has no cell identification discriminator")
    kind = _read_kind(octets[0])
    entries = []
    for cell, pos in _entries(octets, kind, 1, 3, "broadcasts-completed list"):
        try:
            info = BroadcastsCompletedInfo(octets[pos + 2] & 0x0F)
        except ValueError:
            raise _Bad(f"number-of-broadcasts info {octets[pos + 2] & 0x0F} is not valid/overflow/unknown",
                       pos + 2) from None
        entries.append(BroadcastsCompleted(cell, (octets[pos] << 8) | octets[pos + 1], info))
    return BroadcastsCompletedList(kind, tuple(entries))


def _enc_failure_list(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, (tuple, list)) or not value:
        raise CbspEncodeError("failure list must name at least one failed cell (a tuple of CellFailure)")
    out = bytearray()
    for entry in value:
        if not isinstance(entry, CellFailure):
            raise CbspEncodeError(f"failure list: {entry!r} is not a CellFailure")
        cell = _check_cell(entry.cell, None, "failure list")
        out += bytes((entry.cell.KIND,)) + cell + _enc_enum(Cause)(entry.cause, layout)
    return bytes(out)


def _dec_failure_list(octets: bytes, layout: RepetitionPeriodLayout) -> tuple[CellFailure, ...]:
    if not octets:
        raise _Bad("failure list names no cell")
    entries = []
    pos = 0
    while pos < len(octets):
        try:
            kind = _read_kind(octets[pos])
        except _Bad as bad:
            raise _Bad(bad.reason, pos) from None
        end = pos + 1 + _CELL_OCTETS[kind] + 1
        if end > len(octets):
            raise _Bad(f"failure list entry of kind {kind.name} needs {end - pos} octets, {len(octets) - pos} left",
                       pos)
        try:
            cell = _read_cell(kind, octets, pos + 1)
        except ValueError as exc:
            raise _Bad(str(exc), pos + 1) from None
        try:
            cause = Cause(octets[end - 1])
        except ValueError:
            raise _Bad(f"cause {octets[end - 1]} is not a CBSP cause", end - 1) from None
        entries.append(CellFailure(cell, cause))
        pos = end
    return tuple(entries)


def _enc_loading_list(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(value, LoadingList):
        raise CbspEncodeError(f"{value!r} is not a LoadingList")
    try:
        kind = CellIdKind(value.kind)
    except ValueError:
        raise CbspEncodeError(f"loading list: {value.kind!r} is not a cell identifier kind") from None
    if not value.entries and kind is not CellIdKind.ALL_CELLS_ON_BSS:
        raise CbspEncodeError("loading list is empty; report at least one cell")
    out = bytearray((kind,))
    for entry in value.entries:
        if not isinstance(entry, CellLoading):
            raise CbspEncodeError(f"loading list: {entry!r} is not a CellLoading")
        out += _check_cell(entry.cell, kind, "loading list")
        out += bytes((_u8(entry.load1, "radio resource load 1 (%)", 100), _u8(entry.load2, "radio resource load 2 (%)", 100)))
    return bytes(out)


def _dec_loading_list(octets: bytes, layout: RepetitionPeriodLayout) -> LoadingList:
    if not octets:
        raise _Bad("loading list has no cell identification discriminator")
    kind = _read_kind(octets[0])
    entries = []
    for cell, pos in _entries(octets, kind, 1, 2, "loading list"):
        if octets[pos] > 100 or octets[pos + 1] > 100:
            raise _Bad(f"radio resource load {max(octets[pos], octets[pos + 1])} % is above 100 %", pos)
        entries.append(CellLoading(cell, octets[pos], octets[pos + 1]))
    if not entries and kind is not CellIdKind.ALL_CELLS_ON_BSS:
        raise _Bad("loading list reports no cell")
    return LoadingList(kind, tuple(entries))


def _enc_dcs(value: Any, layout: RepetitionPeriodLayout) -> bytes:
    return bytes((_u8(value, "data coding scheme"),))


class _Format(enum.Enum):
    TV = "TV"  # IEI + 1 octet
    FIXED = "fixed"  # IEI + n octets, no length octet
    TL16V = "TL16V"  # IEI + 2-octet length + value


class _IeRule(NamedTuple):
    format: _Format
    octets: int  # value length for TV / FIXED
    encode: Callable[[Any, RepetitionPeriodLayout], bytes]
    decode: Callable[[bytes, RepetitionPeriodLayout], Any]


_RULES: dict[int, _IeRule] = {
    Iei.MESSAGE_CONTENT: _IeRule(_Format.FIXED, 1 + PAGE_OCTETS, lambda v, l: b"", _dec_bytes),  # see _PAGES
    Iei.OLD_SERIAL_NUMBER: _IeRule(_Format.FIXED, 2, _enc_serial, _dec_serial),
    Iei.NEW_SERIAL_NUMBER: _IeRule(_Format.FIXED, 2, _enc_serial, _dec_serial),
    Iei.CELL_LIST: _IeRule(_Format.TL16V, 0, _enc_cell_list(False), _dec_cell_list),
    Iei.CATEGORY: _IeRule(_Format.TV, 1, _enc_enum(Category), _dec_enum(Category)),
    Iei.REPETITION_PERIOD: _IeRule(_Format.FIXED, 2, _enc_repetition_period, _dec_repetition_period),
    Iei.NUMBER_OF_BROADCASTS_REQUESTED: _IeRule(_Format.FIXED, 2, _enc_u16("number of broadcasts requested"), _dec_u16),
    Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST: _IeRule(_Format.TL16V, 0, _enc_completed_list, _dec_completed_list),
    Iei.FAILURE_LIST: _IeRule(_Format.TL16V, 0, _enc_failure_list, _dec_failure_list),
    Iei.RADIO_RESOURCE_LOADING_LIST: _IeRule(_Format.TL16V, 0, _enc_loading_list, _dec_loading_list),
    Iei.CAUSE: _IeRule(_Format.TV, 1, _enc_enum(Cause), _dec_enum(Cause)),
    Iei.DATA_CODING_SCHEME: _IeRule(_Format.TV, 1, _enc_dcs, _dec_u8),
    Iei.RECOVERY_INDICATION: _IeRule(_Format.TV, 1, _enc_enum(RecoveryIndication), _dec_enum(RecoveryIndication, 0x0F)),
    Iei.MESSAGE_IDENTIFIER: _IeRule(_Format.FIXED, 2, _enc_u16("message identifier"), _dec_u16),
    Iei.EMERGENCY_INDICATOR: _IeRule(_Format.TV, 1, _enc_emergency_indicator, _dec_emergency_indicator),
    Iei.WARNING_TYPE: _IeRule(_Format.FIXED, 2, _enc_warning_type, _dec_warning_type),
    Iei.WARNING_SECURITY_INFORMATION: _IeRule(_Format.FIXED, 50, _enc_security_information, _dec_bytes),
    Iei.CHANNEL_INDICATOR: _IeRule(_Format.TV, 1, _enc_enum(ChannelIndicator), _dec_enum(ChannelIndicator)),
    Iei.NUMBER_OF_PAGES: _IeRule(_Format.TV, 1, lambda v, l: b"", _dec_u8),  # see _PAGES
    Iei.SCHEDULE_PERIOD: _IeRule(_Format.TV, 1, _enc_u8("schedule period"), _dec_u8),
    Iei.NUMBER_OF_RESERVED_SLOTS: _IeRule(_Format.TV, 1, _enc_u8("number of reserved slots"), _dec_u8),
    Iei.BROADCAST_MESSAGE_TYPE: _IeRule(_Format.TV, 1, _enc_enum(BroadcastMessageType),
                                        _dec_enum(BroadcastMessageType, 0x0F)),
    Iei.WARNING_PERIOD: _IeRule(_Format.TV, 1, _enc_warning_period, _dec_warning_period),
    Iei.KEEP_ALIVE_REPETITION_PERIOD: _IeRule(_Format.TV, 1, _enc_keep_alive, _dec_keep_alive),
}


class _Field(NamedTuple):
    """One IE of a message, in wire order: the dataclass field it fills and whether it must be there."""

    name: str | None
    iei: Iei
    mandatory: bool
    encode: Callable[[Any, RepetitionPeriodLayout], bytes] | None = None  # overrides the IE rule


_PAGES = "pages"  # marks the Number of Pages + Message Content pair
_TARGET_CELLS = _enc_cell_list(True)  # a cell list that says where to act must name cells


def _m(name: str | None, iei: Iei, encode: Callable[[Any, RepetitionPeriodLayout], bytes] | None = None) -> _Field:
    return _Field(name, iei, True, encode)


def _o(name: str, iei: Iei) -> _Field:
    return _Field(name, iei, False)


# ---------------------------------------------------------------------------------------------
# Messages (§8.1.3). Field order in each _IES is the order on the wire (cbc-protocols.md §3.4).


class CbspMessage:
    """Base of every CBSP message dataclass."""

    __slots__ = ()
    MESSAGE_TYPE: ClassVar[MessageType]
    _IES: ClassVar[tuple[_Field, ...]]

    @property
    def name(self) -> str:
        return self.MESSAGE_TYPE.name.replace("_", "-")


@dataclass(frozen=True, slots=True)
class WriteReplace(CbspMessage):
    """WRITE-REPLACE of a CBS (CMAS, EU-Alert, plain) message; with `old_serial_number` it replaces one."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.WRITE_REPLACE
    message_id: int
    new_serial_number: SerialNumber
    cell_list: CellList
    repetition_period: int  # 1..4095, units of 1.883 s
    number_of_broadcasts_requested: int  # 0 = until killed
    data_coding_scheme: int
    pages: tuple[Page, ...]
    category: Category = Category.NORMAL
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC
    old_serial_number: SerialNumber | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("new_serial_number", Iei.NEW_SERIAL_NUMBER),
        _o("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
        _m("category", Iei.CATEGORY),
        _m("repetition_period", Iei.REPETITION_PERIOD),
        _m("number_of_broadcasts_requested", Iei.NUMBER_OF_BROADCASTS_REQUESTED),
        _m(_PAGES, Iei.NUMBER_OF_PAGES),
        _m("data_coding_scheme", Iei.DATA_CODING_SCHEME),
        _m(_PAGES, Iei.MESSAGE_CONTENT),
    )

    @classmethod
    def with_text(cls, *, message_id: int, new_serial_number: SerialNumber, cell_list: CellList, text: str,
                  repetition_period: int, number_of_broadcasts_requested: int = 0, language: str | None = None,
                  category: Category = Category.NORMAL, channel_indicator: ChannelIndicator = ChannelIndicator.BASIC,
                  old_serial_number: SerialNumber | None = None) -> WriteReplace:
        """Build the pages from operator text: GSM 7-bit if possible, else UCS-2 (see pages.build_pages)."""
        try:
            dcs, pages = build_pages(text, language)
        except PageError as exc:
            raise CbspEncodeError(str(exc)) from None
        return cls(message_id, new_serial_number, cell_list, repetition_period, number_of_broadcasts_requested,
                   dcs, pages, category, channel_indicator, old_serial_number)

    @property
    def is_replace(self) -> bool:
        return self.old_serial_number is not None

    @property
    def text(self) -> str | None:
        return text_of(self.data_coding_scheme, self.pages)


@dataclass(frozen=True, slots=True)
class EmergencyWriteReplace(CbspMessage):
    """WRITE-REPLACE of an ETWS emergency message (same message type; told apart by its IEs)."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.WRITE_REPLACE
    message_id: int
    new_serial_number: SerialNumber
    cell_list: CellList
    warning_type: WarningType
    warning_period: int | None  # seconds, coded non-linearly (period.py); None = infinite
    warning_security_information: bytes = bytes(50)
    old_serial_number: SerialNumber | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("new_serial_number", Iei.NEW_SERIAL_NUMBER),
        _o("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _m(None, Iei.EMERGENCY_INDICATOR),
        _m("warning_type", Iei.WARNING_TYPE),
        _m("warning_security_information", Iei.WARNING_SECURITY_INFORMATION),
        _m("warning_period", Iei.WARNING_PERIOD),
    )

    @property
    def is_replace(self) -> bool:
        return self.old_serial_number is not None


@dataclass(frozen=True, slots=True)
class WriteReplaceComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.WRITE_REPLACE_COMPLETE
    message_id: int
    new_serial_number: SerialNumber
    old_serial_number: SerialNumber | None = None
    broadcasts_completed: BroadcastsCompletedList | None = None
    cell_list: CellList | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("new_serial_number", Iei.NEW_SERIAL_NUMBER),
        _o("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _o("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
        _o("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class WriteReplaceFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.WRITE_REPLACE_FAILURE
    message_id: int
    new_serial_number: SerialNumber
    failure_list: tuple[CellFailure, ...]
    old_serial_number: SerialNumber | None = None
    broadcasts_completed: BroadcastsCompletedList | None = None
    cell_list: CellList | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("new_serial_number", Iei.NEW_SERIAL_NUMBER),
        _o("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("failure_list", Iei.FAILURE_LIST),
        _o("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
        _o("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class Kill(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.KILL
    message_id: int
    old_serial_number: SerialNumber
    cell_list: CellList
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class KillComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.KILL_COMPLETE
    message_id: int
    old_serial_number: SerialNumber
    broadcasts_completed: BroadcastsCompletedList | None = None
    cell_list: CellList | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _o("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
        _o("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class KillFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.KILL_FAILURE
    message_id: int
    old_serial_number: SerialNumber
    failure_list: tuple[CellFailure, ...]
    broadcasts_completed: BroadcastsCompletedList | None = None
    cell_list: CellList | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("failure_list", Iei.FAILURE_LIST),
        _o("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
        _o("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class LoadQuery(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.LOAD_QUERY
    cell_list: CellList
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class LoadQueryComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.LOAD_QUERY_COMPLETE
    loading_list: LoadingList
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("loading_list", Iei.RADIO_RESOURCE_LOADING_LIST),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class LoadQueryFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.LOAD_QUERY_FAILURE
    failure_list: tuple[CellFailure, ...]
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC
    loading_list: LoadingList | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("failure_list", Iei.FAILURE_LIST),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
        _o("loading_list", Iei.RADIO_RESOURCE_LOADING_LIST),
    )


@dataclass(frozen=True, slots=True)
class MessageStatusQuery(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.MESSAGE_STATUS_QUERY
    message_id: int
    old_serial_number: SerialNumber
    cell_list: CellList
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class MessageStatusQueryComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.MESSAGE_STATUS_QUERY_COMPLETE
    message_id: int
    old_serial_number: SerialNumber
    broadcasts_completed: BroadcastsCompletedList
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class MessageStatusQueryFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.MESSAGE_STATUS_QUERY_FAILURE
    message_id: int
    old_serial_number: SerialNumber
    failure_list: tuple[CellFailure, ...]
    channel_indicator: ChannelIndicator = ChannelIndicator.BASIC
    broadcasts_completed: BroadcastsCompletedList | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("message_id", Iei.MESSAGE_IDENTIFIER),
        _m("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _m("failure_list", Iei.FAILURE_LIST),
        _m("channel_indicator", Iei.CHANNEL_INDICATOR),
        _o("broadcasts_completed", Iei.NUMBER_OF_BROADCASTS_COMPLETED_LIST),
    )


# SET-DRX IEs: cbc-protocols.md names only the Schedule Period and Number of Reserved Slots; the
# presence and order below follow TS 48.049 §8.1.3.13-15 as remembered, not checked against its text.
@dataclass(frozen=True, slots=True)
class SetDrx(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.SET_DRX
    cell_list: CellList
    schedule_period: int | None = None
    number_of_reserved_slots: int | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),
        _o("schedule_period", Iei.SCHEDULE_PERIOD),
        _o("number_of_reserved_slots", Iei.NUMBER_OF_RESERVED_SLOTS),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class SetDrxComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.SET_DRX_COMPLETE
    cell_list: CellList
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class SetDrxFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.SET_DRX_FAILURE
    failure_list: tuple[CellFailure, ...]
    cell_list: CellList | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("failure_list", Iei.FAILURE_LIST),
        _o("cell_list", Iei.CELL_LIST),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class Reset(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.RESET
    cell_list: CellList

    _IES: ClassVar[tuple[_Field, ...]] = (_m("cell_list", Iei.CELL_LIST, _TARGET_CELLS),)


@dataclass(frozen=True, slots=True)
class ResetComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.RESET_COMPLETE
    cell_list: CellList

    _IES: ClassVar[tuple[_Field, ...]] = (_m("cell_list", Iei.CELL_LIST),)


@dataclass(frozen=True, slots=True)
class ResetFailure(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.RESET_FAILURE
    failure_list: tuple[CellFailure, ...]
    cell_list: CellList | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("failure_list", Iei.FAILURE_LIST),
        _o("cell_list", Iei.CELL_LIST),
    )


@dataclass(frozen=True, slots=True)
class Restart(CbspMessage):
    """BSC -> CBC: cells came back; with DATA_LOST the CBC must send its active messages again."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.RESTART
    cell_list: CellList
    broadcast_message_type: BroadcastMessageType
    recovery_indication: RecoveryIndication

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("cell_list", Iei.CELL_LIST),
        _m("broadcast_message_type", Iei.BROADCAST_MESSAGE_TYPE),
        _m("recovery_indication", Iei.RECOVERY_INDICATION),
    )


@dataclass(frozen=True, slots=True)
class Failure(CbspMessage):
    """BSC -> CBC: cells stopped broadcasting."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.FAILURE
    failure_list: tuple[CellFailure, ...]
    broadcast_message_type: BroadcastMessageType

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("failure_list", Iei.FAILURE_LIST),
        _m("broadcast_message_type", Iei.BROADCAST_MESSAGE_TYPE),
    )


@dataclass(frozen=True, slots=True)
class ErrorIndication(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.ERROR_INDICATION
    cause: Cause
    message_id: int | None = None
    new_serial_number: SerialNumber | None = None
    old_serial_number: SerialNumber | None = None
    channel_indicator: ChannelIndicator | None = None

    _IES: ClassVar[tuple[_Field, ...]] = (
        _m("cause", Iei.CAUSE),
        _o("message_id", Iei.MESSAGE_IDENTIFIER),
        _o("new_serial_number", Iei.NEW_SERIAL_NUMBER),
        _o("old_serial_number", Iei.OLD_SERIAL_NUMBER),
        _o("channel_indicator", Iei.CHANNEL_INDICATOR),
    )


@dataclass(frozen=True, slots=True)
class KeepAlive(CbspMessage):
    """CBC -> BSC: "are you there"; the period tells the BSC how often to expect one (1..120 s)."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.KEEP_ALIVE
    repetition_period: int  # seconds; 30 s is code 0x14, not 0x1e (= 80 s)

    _IES: ClassVar[tuple[_Field, ...]] = (_m("repetition_period", Iei.KEEP_ALIVE_REPETITION_PERIOD),)


@dataclass(frozen=True, slots=True)
class KeepAliveComplete(CbspMessage):
    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.KEEP_ALIVE_COMPLETE

    _IES: ClassVar[tuple[_Field, ...]] = ()


_MESSAGE_CLASSES: tuple[type[CbspMessage], ...] = (
    WriteReplace, EmergencyWriteReplace, WriteReplaceComplete, WriteReplaceFailure,
    Kill, KillComplete, KillFailure, LoadQuery, LoadQueryComplete, LoadQueryFailure,
    MessageStatusQuery, MessageStatusQueryComplete, MessageStatusQueryFailure,
    SetDrx, SetDrxComplete, SetDrxFailure, Reset, ResetComplete, ResetFailure,
    Restart, Failure, ErrorIndication, KeepAlive, KeepAliveComplete,
)
_MESSAGE_SET = frozenset(_MESSAGE_CLASSES)
_CLASS_BY_TYPE: dict[int, type[CbspMessage]] = {
    cls.MESSAGE_TYPE: cls for cls in _MESSAGE_CLASSES if cls is not EmergencyWriteReplace
}


# ---------------------------------------------------------------------------------------------
# Encoding


def _encode_pages(pages: Any) -> tuple[bytes, bytes]:
    if not isinstance(pages, (tuple, list)) or not 1 <= len(pages) <= MAX_PAGES:
        count = len(pages) if isinstance(pages, (tuple, list)) else pages
        raise CbspEncodeError(f"pages: {count!r} pages; a message has 1..{MAX_PAGES}")
    contents = bytearray()
    for number, page in enumerate(pages, start=1):
        if not isinstance(page, Page):
            raise CbspEncodeError(f"pages: page {number} is {page!r}, not a Page")
        if not isinstance(page.content, (bytes, bytearray)) or len(page.content) != PAGE_OCTETS:
            length = len(page.content) if isinstance(page.content, (bytes, bytearray)) else page.content
            raise CbspEncodeError(f"pages: page {number} content is {length!r} octets, not {PAGE_OCTETS}")
        used = _u8(page.user_information_length, f"pages: page {number} user information length", PAGE_OCTETS)
        if used == 0:
            raise CbspEncodeError(f"pages: page {number} user information length is 0; a page carries 1..82 octets")
        contents += bytes((Iei.MESSAGE_CONTENT, used)) + page.content
    return bytes((Iei.NUMBER_OF_PAGES, len(pages))), bytes(contents)


def encode(message: CbspMessage, *, repetition_period_layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT) -> bytes:
    """A message -> its octets on the wire. Raises CbspEncodeError, naming the field, for any bad value."""
    cls = type(message)
    if cls not in _MESSAGE_SET:
        raise CbspEncodeError(f"{message!r} is not a CBSP message")
    if not isinstance(repetition_period_layout, RepetitionPeriodLayout):
        raise CbspEncodeError(f"{repetition_period_layout!r} is not a RepetitionPeriodLayout")
    body = bytearray()
    page_octets: tuple[bytes, bytes] | None = None
    for field in cls._IES:
        if field.name == _PAGES:
            if page_octets is None:
                try:
                    page_octets = _encode_pages(message.pages)  # type: ignore[attr-defined]
                except CbspEncodeError as exc:
                    raise CbspEncodeError(f"{cls.__name__}.{exc}") from None
                except (TypeError, AttributeError, ValueError, OverflowError) as exc:
                    raise CbspEncodeError(f"{cls.__name__}.pages: {exc}") from None
            body += page_octets[0] if field.iei == Iei.NUMBER_OF_PAGES else page_octets[1]
            continue
        value = None if field.name is None else getattr(message, field.name)
        if value is None and field.name is not None and field.iei != Iei.WARNING_PERIOD:  # None = infinite there
            if field.mandatory:
                raise CbspEncodeError(f"{cls.__name__}.{field.name} is required")
            continue
        rule = _RULES[field.iei]
        try:
            octets = (field.encode or rule.encode)(value, repetition_period_layout)
        except CbspEncodeError as exc:
            raise CbspEncodeError(f"{cls.__name__}.{field.name}: {exc}") from None
        except (TypeError, AttributeError, ValueError, OverflowError) as exc:  # a value of the wrong shape
            raise CbspEncodeError(f"{cls.__name__}.{field.name}: {value!r} cannot be encoded ({exc})") from None
        if rule.format is _Format.TL16V:
            if len(octets) > 0xFFFF:
                raise CbspEncodeError(f"{cls.__name__}.{field.name}: {len(octets)} octets; an IE holds at most 65535")
            body += bytes((field.iei,)) + len(octets).to_bytes(2, "big") + octets
        else:
            body.append(field.iei)
            body += octets
    if len(body) > MAX_MESSAGE_LENGTH:
        raise CbspEncodeError(f"{cls.__name__} would be {len(body)} octets; peers accept at most {MAX_MESSAGE_LENGTH}")
    return bytes((cls.MESSAGE_TYPE,)) + len(body).to_bytes(3, "big") + bytes(body)


# ---------------------------------------------------------------------------------------------
# Decoding


def decode(data: bytes, *, repetition_period_layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT) -> CbspMessage:
    """Exactly one message's octets -> the message. Raises CbspDecodeError, and nothing else, for bad input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CbspDecodeError(f"{type(data).__name__} is not bytes", 0)
    data = bytes(data)
    if len(data) < HEADER_OCTETS:
        raise CbspDecodeError(f"{len(data)} octets cannot hold the 4-octet header", 0)
    message_type = data[0]
    declared = int.from_bytes(data[1:4], "big")
    if declared != len(data) - HEADER_OCTETS:
        raise CbspDecodeError(f"header declares {declared} octets after it but {len(data) - HEADER_OCTETS} follow",
                              1, cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
    cls = _CLASS_BY_TYPE.get(message_type)
    if cls is None:
        raise CbspDecodeError("unknown message type", 0, cause=Cause.UNRECOGNISED_MESSAGE, message_type=message_type)

    # Cut the body into IEs: (iei, offset of the IEI, value octets).
    found: dict[int, list[tuple[int, bytes]]] = {}
    pos = HEADER_OCTETS
    end = len(data)
    while pos < end:
        iei = data[pos]
        rule = _RULES.get(iei)
        if rule is None:
            raise CbspDecodeError(f"unknown IE 0x{iei:02x}; its length is unknown, so the rest cannot be read", pos,
                                  cause=Cause.PARAMETER_NOT_RECOGNISED, message_type=message_type)
        if rule.format is _Format.TL16V:
            if pos + 3 > end:
                raise CbspDecodeError(f"{Iei(iei).name} IE is cut off in its length", pos,
                                      cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
            length = (data[pos + 1] << 8) | data[pos + 2]
            start = pos + 3
        else:
            length = rule.octets
            start = pos + 1
        if start + length > end:
            raise CbspDecodeError(f"{Iei(iei).name} IE needs {length} octets, {end - start} remain", pos,
                                  cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
        found.setdefault(iei, []).append((pos, data[start:start + length]))
        pos = start + length

    if cls is WriteReplace:
        is_cbs = Iei.CHANNEL_INDICATOR in found
        is_emergency = Iei.EMERGENCY_INDICATOR in found
        if is_cbs and is_emergency:
            raise CbspDecodeError("carries both CBS (channel indicator) and emergency (emergency indicator) IEs", 0,
                                  cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
        if is_emergency:
            cls = EmergencyWriteReplace

    values: dict[str, Any] = {}
    for field in cls._IES:
        occurrences = found.get(field.iei)
        if not occurrences:
            if field.mandatory:
                raise CbspDecodeError(f"mandatory {Iei(field.iei).name.replace('_', ' ').lower()} IE is missing",
                                      HEADER_OCTETS, cause=Cause.MISSING_MANDATORY_ELEMENT, message_type=message_type)
            continue
        if field.iei == Iei.MESSAGE_CONTENT:
            continue  # read with the Number of Pages below
        if len(occurrences) > 1:
            raise CbspDecodeError(f"{Iei(field.iei).name} IE appears {len(occurrences)} times", occurrences[1][0],
                                  cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
        at, octets = occurrences[0]
        try:
            value = _RULES[field.iei].decode(octets, repetition_period_layout)
        except _Bad as bad:
            value_start = at + (3 if _RULES[field.iei].format is _Format.TL16V else 1)
            raise CbspDecodeError(f"{Iei(field.iei).name} IE: {bad.reason}", value_start + bad.relative_offset,
                                  cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type) from None
        if field.name == _PAGES:
            values[_PAGES] = _decode_pages(value, at, found.get(Iei.MESSAGE_CONTENT, []), message_type)
        elif field.name is not None:
            values[field.name] = value
    if cls in _NEEDS_CELLS:
        cell_list = values["cell_list"]
        if cell_list.kind is not CellIdKind.ALL_CELLS_ON_BSS and not cell_list.cells:
            raise CbspDecodeError("cell list names no cell", HEADER_OCTETS, cause=Cause.PARAMETER_VALUE_INVALID,
                                  message_type=message_type)
    return cls(**values)


_NEEDS_CELLS = frozenset(cls for cls in _MESSAGE_CLASSES
                         if any(field.encode is _TARGET_CELLS for field in cls._IES))


def _decode_pages(count: int, count_at: int, contents: list[tuple[int, bytes]], message_type: int) -> tuple[Page, ...]:
    if not 1 <= count <= MAX_PAGES:
        raise CbspDecodeError(f"number of pages {count} is outside 1..{MAX_PAGES}", count_at + 1,
                              cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
    if len(contents) != count:
        raise CbspDecodeError(f"number of pages says {count} but {len(contents)} message content IEs follow",
                              count_at, cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
    pages = []
    for at, octets in contents:
        if not 1 <= octets[0] <= PAGE_OCTETS:
            raise CbspDecodeError(f"user information length {octets[0]} is outside 1..{PAGE_OCTETS}", at + 1,
                                  cause=Cause.PARAMETER_VALUE_INVALID, message_type=message_type)
        pages.append(Page(octets[0], octets[1:]))
    return tuple(pages)


# ---------------------------------------------------------------------------------------------
# TCP framing


class CbspReassembler:
    """Cuts a TCP byte stream, arriving in chunks of any size, into whole CBSP messages (raw octets).

    Decode each with the peer's repetition-period layout: a message that fails to decode is answered
    with ERROR INDICATION and the stream goes on, whereas a CbspFramingError here (an absurd declared
    length) means the stream is lost and the link must be closed.
    """

    def __init__(self, max_message_length: int = MAX_MESSAGE_LENGTH):
        self.max_message_length = max_message_length
        self._buffer = bytearray()
        self._stream_offset = 0  # stream position of _buffer[0]
        self._broken: CbspFramingError | None = None

    @property
    def pending(self) -> int:
        """Octets of an incomplete message held back; non-zero when the peer closes mid-message."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """Take the next chunk; iterate the result for every message it completes. Messages before a
        framing error are yielded first, then CbspFramingError is raised (and on every later call)."""
        if self._broken is not None:
            raise self._broken
        self._buffer += chunk
        return self._messages()

    def _messages(self) -> Iterator[bytes]:
        while len(self._buffer) >= HEADER_OCTETS:
            declared = int.from_bytes(self._buffer[1:4], "big")
            if declared > self.max_message_length:
                self._broken = CbspFramingError(
                    f"declared length {declared} exceeds {self.max_message_length}; not CBSP or out of step",
                    self._stream_offset + 1, message_type=self._buffer[0])
                raise self._broken
            total = HEADER_OCTETS + declared
            if len(self._buffer) < total:
                return
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            self._stream_offset += total
            yield message
