"""CBSP period codings: the non-linear one-octet Warning / Keep-Alive period code and the two Repetition Period layouts."""

from __future__ import annotations

import bisect
import enum
import math

# Non-linear code (TS 48.049 §8.2.25; libosmocore after fcbf3470/48f22b0e): (first code, last code,
# seconds at first code, step). Code 0 is "infinite" for the Warning Period.
_SEGMENTS = (
    (0x01, 0x0A, 1, 1),
    (0x0B, 0x14, 12, 2),
    (0x15, 0x26, 35, 5),
    (0x27, 0x56, 130, 10),
    (0x57, 0xBA, 630, 30),
)
_SECONDS_BY_CODE = {first + i: start + i * step
                    for first, last, start, step in _SEGMENTS for i in range(last - first + 1)}
_CODE_BY_SECONDS = {seconds: code for code, seconds in _SECONDS_BY_CODE.items()}
_REPRESENTABLE = sorted(_CODE_BY_SECONDS)

MAX_WARNING_PERIOD_SECONDS = 3600
MAX_KEEP_ALIVE_SECONDS = 120

REPETITION_PERIOD_UNIT_SECONDS = 1.883  # one CBCH multiframe cycle of 4 x 51 frames
MAX_REPETITION_PERIOD = 4095


def period_code(seconds: int | None) -> int:
    """Seconds -> code. None means infinite (code 0). Only the values the code can carry are
    accepted; `round_up_period` finds the next one for a free-form entry."""
    if seconds is None:
        return 0
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ValueError(f"period {seconds!r} must be whole seconds")
    code = _CODE_BY_SECONDS.get(seconds)
    if code is None:
        if not 1 <= seconds <= MAX_WARNING_PERIOD_SECONDS:
            raise ValueError(f"period {seconds!r} s is outside 1..{MAX_WARNING_PERIOD_SECONDS} s")
        index = bisect.bisect_left(_REPRESENTABLE, seconds)
        raise ValueError(f"period {seconds} s cannot be coded; the nearest are "
                         f"{_REPRESENTABLE[index - 1]} s and {_REPRESENTABLE[index]} s")
    return code


def period_seconds(code: int) -> int | None:
    """Code -> seconds; None for code 0 (infinite). Raises ValueError for the reserved codes 0xBB..0xFF."""
    if code == 0:
        return None
    try:
        return _SECONDS_BY_CODE[code]
    except KeyError:
        raise ValueError(f"period code 0x{code:02x} is reserved") from None


def round_up_period(seconds: float) -> int:
    """The shortest codable period of at least `seconds` (1..3600)."""
    if not 0 < seconds <= MAX_WARNING_PERIOD_SECONDS:
        raise ValueError(f"period {seconds} s is outside 1..{MAX_WARNING_PERIOD_SECONDS} s")
    return _REPRESENTABLE[bisect.bisect_left(_REPRESENTABLE, math.ceil(seconds))]


class RepetitionPeriodLayout(enum.Enum):
    """How the 12-bit Repetition Period sits in its two octets (cbc-protocols.md §3.6).

    OSMOCOM: a plain big-endian 16-bit number, as libosmocore, osmo-bsc and osmo-cbc read it.
    SPEC_FIGURE: TS 48.049 §8.2.8 as drawn: octet 2 holds the 8 high bits, the low nibble of octet 3
    the 4 low bits (Wireshark reads it this way). The two agree only below 16.
    """

    OSMOCOM = "osmocom"
    SPEC_FIGURE = "spec-figure"


DEFAULT_REPETITION_PERIOD_LAYOUT = RepetitionPeriodLayout.OSMOCOM


def repetition_period_octets(units: int, layout: RepetitionPeriodLayout) -> bytes:
    if not isinstance(units, int) or not 1 <= units <= MAX_REPETITION_PERIOD:
        raise ValueError(f"repetition period {units!r} is outside 1..{MAX_REPETITION_PERIOD} (units of 1.883 s)")
    if layout is RepetitionPeriodLayout.OSMOCOM:
        return units.to_bytes(2, "big")
    return bytes((units >> 4, units & 0x0F))


def repetition_period_units(octets: bytes, layout: RepetitionPeriodLayout) -> int:
    """Two octets -> units. The SPEC_FIGURE layout ignores the spare high nibble of octet 3."""
    if layout is RepetitionPeriodLayout.OSMOCOM:
        units = (octets[0] << 8) | octets[1]
    else:
        units = (octets[0] << 4) | (octets[1] & 0x0F)
    if not 1 <= units <= MAX_REPETITION_PERIOD:
        raise ValueError(f"repetition period {units} is outside 1..{MAX_REPETITION_PERIOD}")
    return units


def repetition_period_from_seconds(seconds: float) -> int:
    """Seconds -> CBSP units of 1.883 s, rounded to the nearest unit and at least 1."""
    units = max(1, round(seconds / REPETITION_PERIOD_UNIT_SECONDS))
    if units > MAX_REPETITION_PERIOD:
        raise ValueError(f"repetition period {seconds} s exceeds {MAX_REPETITION_PERIOD} units "
                         f"({MAX_REPETITION_PERIOD * REPETITION_PERIOD_UNIT_SECONDS:.0f} s)")
    return units
