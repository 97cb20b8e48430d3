"""GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1): characters to septets, septets to octets, and back."""

from __future__ import annotations

# Index = septet value. 0x1B is the escape to the extension table, never a character itself.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128

ESCAPE = 0x1B
CR = 0x0D

# Extension table (after ESC); each of these costs two septets on the air.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_TO_SEPTETS: dict[str, tuple[int, ...]] = {ch: (code,) for code, ch in enumerate(_BASIC) if code != ESCAPE}
_TO_SEPTETS.update({ch: (ESCAPE, code) for code, ch in _EXTENSION.items()})


def septets_of(character: str) -> tuple[int, ...] | None:
    """The septets that carry one character (two for extension characters), or None if GSM 7-bit lacks it."""
    return _TO_SEPTETS.get(character)


def is_gsm7(text: str) -> bool:
    """True when every character of the text exists in the GSM 7-bit default alphabet or its extension."""
    return all(ch in _TO_SEPTETS for ch in text)


def pack(septets: list[int] | tuple[int, ...], octet_count: int | None = None) -> bytes:
    """Pack septets LSB-first into octets (TS 23.038 §6.1.2.1.1); unused high bits stay zero."""
    value = 0
    for position, septet in enumerate(septets):
        value |= septet << (7 * position)
    if octet_count is None:
        octet_count = (7 * len(septets) + 7) // 8
    return value.to_bytes(octet_count, "little")


def unpack(octets: bytes, septet_count: int | None = None) -> list[int]:
    """Unpack LSB-first septets; by default every whole septet the octets hold."""
    if septet_count is None:
        septet_count = len(octets) * 8 // 7
    value = int.from_bytes(octets, "little")
    return [(value >> (7 * position)) & 0x7F for position in range(septet_count)]


def to_text(septets: list[int]) -> str:
    """Septets to text. An escape before a code the extension lacks shows the basic character, as
    TS 23.038 asks of a receiver; a dangling escape at the end shows as a space."""
    out: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            out.append(_EXTENSION.get(septet, _BASIC[septet] if septet != ESCAPE else " "))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            out.append(_BASIC[septet])
    if escaped:
        out.append(" ")
    return "".join(out)
