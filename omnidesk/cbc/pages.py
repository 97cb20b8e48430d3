"""Cell broadcast content shared by CBSP and SBc-AP (TS 23.041, TS 23.038): serial number, coding, 82-octet pages."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from omnidesk.cbc import gsm7

PAGE_OCTETS = 82
MAX_PAGES = 15
GSM7_CHARACTERS_PER_PAGE = 93  # 82 octets * 8 / 7
UCS2_CHARACTERS_PER_PAGE = 41  # 82 octets / 2

DCS_GSM7_LANGUAGE_UNSPECIFIED = 0x0F
# General data coding, uncompressed, no class, UCS-2. It names no language; 0x11 would, but it
# spends two octets of every message on it and leaves 40 characters a page, not the 41 we promise.
DCS_UCS2 = 0x48

# ISO 639-1 code -> CBS DCS for GSM 7-bit text in that language (TS 23.038 §5, coding groups 0000/0010).
LANGUAGE_DCS = {
    "de": 0x00, "en": 0x01, "it": 0x02, "fr": 0x03, "es": 0x04, "nl": 0x05, "sv": 0x06, "da": 0x07,
    "pt": 0x08, "fi": 0x09, "no": 0x0A, "el": 0x0B, "tr": 0x0C, "hu": 0x0D, "pl": 0x0E,
    "cs": 0x20, "he": 0x21, "ar": 0x22, "ru": 0x23, "is": 0x24,
}

_UCS2_PADDING = b"\x00\x0d"  # CR, as GSM 7-bit pages are padded with CR septets


class PageError(ValueError):
    """The text cannot be turned into cell broadcast pages (empty, too long, unknown language)."""


class GeographicalScope(enum.IntEnum):
    """Top two bits of the serial number: where the message is unique and how it is displayed."""

    CELL_WIDE_IMMEDIATE = 0
    PLMN_WIDE = 1
    LOCATION_AREA_WIDE = 2  # LA / SA / TA wide
    CELL_WIDE = 3


@dataclass(frozen=True, slots=True)
class SerialNumber:
    """The 16-bit serial number in its decoded form; `encoded` is what goes on the wire."""

    geographical_scope: GeographicalScope
    message_code: int  # 0..1023
    update_number: int  # 0..15

    @classmethod
    def from_encoded(cls, value: int) -> SerialNumber:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"serial number {value} is outside 0..65535")
        return cls(GeographicalScope(value >> 14), (value >> 4) & 0x3FF, value & 0x0F)

    @property
    def encoded(self) -> int:
        if not 0 <= self.message_code <= 1023:
            raise ValueError(f"message code {self.message_code} is outside 0..1023")
        if not 0 <= self.update_number <= 15:
            raise ValueError(f"update number {self.update_number} is outside 0..15")
        return (int(GeographicalScope(self.geographical_scope)) << 14) | (self.message_code << 4) | self.update_number

    def next_update(self) -> SerialNumber:
        """The serial number of the updated message: same code, update number + 1 (mod 16)."""
        return SerialNumber(self.geographical_scope, self.message_code, (self.update_number + 1) % 16)

    @property
    def emergency_user_alert(self) -> bool:
        """ETWS: bit 13 of the serial number (top bit of the message code) asks for an alert tone."""
        return bool(self.message_code & 0x200)

    @property
    def popup(self) -> bool:
        """ETWS: bit 12 of the serial number asks the handset to pop the message up."""
        return bool(self.message_code & 0x100)

    def __str__(self) -> str:
        return (f"0x{self.encoded:04x} ({self.geographical_scope.name.lower()}, "
                f"code {self.message_code}, update {self.update_number})")


@dataclass(frozen=True, slots=True)
class Page:
    """One CBS-Message-Information-Page: 82 octets, of which `user_information_length` carry text."""

    user_information_length: int
    content: bytes


class Alphabet(enum.Enum):
    GSM7 = "GSM 7-bit"
    UCS2 = "UCS-2"
    EIGHT_BIT = "8-bit data"


@dataclass(frozen=True, slots=True)
class TextMeasure:
    """What the console shows while the operator types: alphabet, pages used and room left."""

    alphabet: Alphabet
    characters: int  # septets for GSM 7-bit (extension characters count 2), characters for UCS-2
    pages: int
    characters_per_page: int
    characters_left: int  # before the 15-page limit; negative when over it
    non_gsm_characters: tuple[str, ...] = ()  # what switched the text to UCS-2, for the console to say so

    @property
    def fits(self) -> bool:
        return 0 < self.pages <= MAX_PAGES


def outside_ucs2(text: str) -> list[str]:
    """Characters beyond U+FFFF (emoji and the like): UCS-2 cannot carry them, and a handset that reads
    UCS-2 strictly (as tshark does) shows replacement marks for their UTF-16 surrogates."""
    return sorted({ch for ch in text if ord(ch) > 0xFFFF})


def _units(text: str) -> tuple[Alphabet, list[tuple[int, ...]]]:
    """Each character as the group of units that must stay on one page (an escape pair stays together)."""
    if gsm7.is_gsm7(text):
        return Alphabet.GSM7, [gsm7.septets_of(ch) for ch in text]  # type: ignore[misc]
    return Alphabet.UCS2, [(ord(ch),) for ch in text]


def _split(groups: list[tuple[int, ...]], per_page: int) -> list[list[int]]:
    """Fill pages in order; a GSM 7-bit escape pair never straddles two pages."""
    pages: list[list[int]] = [[]]
    for group in groups:
        if len(pages[-1]) + len(group) > per_page:
            pages.append([])
        pages[-1].extend(group)
    return pages if pages[0] else []


def measure(text: str) -> TextMeasure:
    """Never raises: characters UCS-2 cannot carry count once here and are refused by build_pages."""
    alphabet, groups = _units(text)
    per_page = GSM7_CHARACTERS_PER_PAGE if alphabet is Alphabet.GSM7 else UCS2_CHARACTERS_PER_PAGE
    used = sum(len(group) for group in groups)
    non_gsm = tuple(sorted({ch for ch in text if gsm7.septets_of(ch) is None}))
    return TextMeasure(alphabet, used, len(_split(groups, per_page)), per_page, MAX_PAGES * per_page - used, non_gsm)


def build_pages(text: str, language: str | None = None) -> tuple[int, tuple[Page, ...]]:
    """Operator text -> (data coding scheme, pages). GSM 7-bit when every character allows it,
    otherwise UCS-2; each page padded with CR to its full 82 octets. The language (ISO 639-1) picks the
    GSM 7-bit DCS; the UCS-2 DCS (0x48) names no language."""
    if not isinstance(text, str) or not text:
        raise PageError("The message text is empty." if not text else f"The message text must be text, not {text!r}.")
    if language is not None and not isinstance(language, str):
        raise PageError(f"Language {language!r} must be an ISO 639-1 code such as 'en'.")
    beyond = outside_ucs2(text)
    if beyond:
        raise PageError("UCS-2 cannot carry " + ", ".join(f"{ch} (U+{ord(ch):X})" for ch in beyond)
                        + "; remove it from the text.")
    alphabet, groups = _units(text)
    if alphabet is Alphabet.GSM7:
        if language is None:
            dcs = DCS_GSM7_LANGUAGE_UNSPECIFIED
        else:
            try:
                dcs = LANGUAGE_DCS[language.lower()]
            except KeyError:
                raise PageError(f"Language {language!r} has no GSM 7-bit coding; known: "
                                f"{', '.join(sorted(LANGUAGE_DCS))}. Leave the language unset.") from None
        per_page = GSM7_CHARACTERS_PER_PAGE
    else:
        dcs = DCS_UCS2
        per_page = UCS2_CHARACTERS_PER_PAGE
    chunks = _split(groups, per_page)
    if len(chunks) > MAX_PAGES:
        used = sum(len(group) for group in groups)
        reason = "" if alphabet is Alphabet.GSM7 else " (a character outside GSM 7-bit switched it to UCS-2)"
        raise PageError(f"The text needs {len(chunks)} pages of {alphabet.value}{reason}: {used} characters "
                        f"where at most {MAX_PAGES * per_page} ({MAX_PAGES} pages of {per_page}) fit.")
    if alphabet is Alphabet.GSM7:
        pages = tuple(_gsm7_page(chunk) for chunk in chunks)
    else:
        pages = tuple(_ucs2_page(chunk) for chunk in chunks)
    return dcs, pages


def _gsm7_page(septets: list[int]) -> Page:
    padded = septets + [gsm7.CR] * (GSM7_CHARACTERS_PER_PAGE - len(septets))
    return Page((7 * len(septets) + 7) // 8, gsm7.pack(padded, PAGE_OCTETS))


def _ucs2_page(units: list[int]) -> Page:
    used = b"".join(unit.to_bytes(2, "big") for unit in units)
    return Page(len(used), used + _UCS2_PADDING * ((PAGE_OCTETS - len(used)) // 2))


def alphabet_of(dcs: int) -> Alphabet | None:
    """The alphabet a CBS data coding scheme announces (TS 23.038 §5); None for compressed or
    UDH-bearing coding this console does not show as text. Reserved codings read as GSM 7-bit."""
    group = dcs >> 4
    if group in (0x0, 0x2, 0x3) or group in (0x8, 0xA, 0xB, 0xC, 0xD):
        return Alphabet.GSM7
    if group == 0x1:
        return Alphabet.UCS2 if dcs == 0x11 else Alphabet.GSM7
    if group in (0x4, 0x5, 0x6, 0x7):
        if dcs & 0x20:  # compressed (TS 23.042)
            return None
        return (Alphabet.GSM7, Alphabet.EIGHT_BIT, Alphabet.UCS2, Alphabet.GSM7)[(dcs >> 2) & 0x3]
    if group == 0xF:
        return Alphabet.EIGHT_BIT if dcs & 0x04 else Alphabet.GSM7
    return None  # 1001 (user data header), 1110 (WAP)


def text_of(dcs: int, pages: tuple[Page, ...] | list[Page]) -> str | None:
    """The text carried by the pages, or None when the coding is not text we can show. Never raises:
    it reads what peers send."""
    alphabet = alphabet_of(dcs)
    if alphabet is None or alphabet is Alphabet.EIGHT_BIT:
        return None
    if dcs == 0x11:
        return None  # UCS-2 preceded by a 7-bit language tag; not produced by us
    parts = []
    for page in pages:
        used = page.content[:max(0, min(page.user_information_length, PAGE_OCTETS))]
        if alphabet is Alphabet.GSM7:
            septets = gsm7.unpack(used)
            # 7 spare bits at the end of the last octet hold a padding CR, not text (TS 23.038 §6.1.2.3.1)
            if septets and len(septets) % 8 == 0 and septets[-1] == gsm7.CR:
                septets.pop()
            parts.append(gsm7.to_text(septets))
        else:
            parts.append(used[:len(used) - len(used) % 2].decode("utf-16-be", errors="replace"))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class CbsAirPage:
    """The 88-octet page a BTS broadcasts on the CBCH (TS 23.041 §9.4.1.2): a 6-octet header and the
    82-octet content. The CBC never sends it; the simulator and tests build it from a WRITE-REPLACE."""

    serial_number: SerialNumber
    message_id: int
    data_coding_scheme: int
    page_number: int  # 1..15
    total_pages: int  # 1..15
    content: bytes

    def to_bytes(self) -> bytes:
        if not 1 <= self.page_number <= self.total_pages <= MAX_PAGES:
            raise ValueError(f"page {self.page_number} of {self.total_pages} is not a valid page position")
        if len(self.content) != PAGE_OCTETS:
            raise ValueError(f"page content is {len(self.content)} octets, not {PAGE_OCTETS}")
        return (self.serial_number.encoded.to_bytes(2, "big") + self.message_id.to_bytes(2, "big")
                + bytes([self.data_coding_scheme, (self.page_number << 4) | self.total_pages]) + self.content)

    @classmethod
    def from_bytes(cls, data: bytes) -> CbsAirPage:
        if len(data) != 6 + PAGE_OCTETS:
            raise ValueError(f"a CBS page is {6 + PAGE_OCTETS} octets, not {len(data)}")
        return cls(SerialNumber.from_encoded(int.from_bytes(data[0:2], "big")), int.from_bytes(data[2:4], "big"),
                   data[4], data[5] >> 4, data[5] & 0x0F, bytes(data[6:]))


def air_pages(serial_number: SerialNumber, message_id: int, dcs: int, pages: tuple[Page, ...]) -> tuple[CbsAirPage, ...]:
    return tuple(CbsAirPage(serial_number, message_id, dcs, number, len(pages), page.content)
                 for number, page in enumerate(pages, start=1))
