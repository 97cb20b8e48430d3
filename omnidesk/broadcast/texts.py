"""Message definition rules: each language's text, its encoding and what is left as the operator types.

A text is GSM 7-bit until its first character outside that alphabet, which switches it to UCS-2 (93 or
41 characters a page, at most 15 pages; cbc/pages.py does the counting). The console also enforces a
configurable limit per language (broadcast_setting.text_limit, 500 by default, DECISIONS.md). No Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from omnidesk.cbc import pages
from omnidesk.errors import ValidationError

DEFAULT_TEXT_LIMIT = 500
LANGUAGE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class LanguageCount:
    """The live counter of one language: what the compose form shows under its text box."""

    language: str
    text: str
    alphabet: str  # "GSM 7-bit" or "UCS-2"
    characters: int  # characters typed
    units: int  # what the encoding counts: septets (an extension character costs 2) or UCS-2 characters
    pages: int
    characters_per_page: int
    encoding_left: int  # before the 15-page limit of the encoding; negative when over
    console_limit: int
    console_left: int  # before the console's limit; negative when over
    switched_by: tuple[str, ...] = ()  # the characters outside GSM 7-bit, in text order; the first switched it
    problems: tuple[str, ...] = field(default=())

    @property
    def characters_left(self) -> int:
        return min(self.encoding_left, self.console_left)

    @property
    def pages_left(self) -> int:
        return pages.MAX_PAGES - self.pages

    @property
    def notice(self) -> str:
        if not self.switched_by:
            return ""
        return (f"UCS-2: {self.switched_by[0]!r} is not in the GSM 7-bit alphabet, so this text goes as UCS-2 "
                f"({pages.UCS2_CHARACTERS_PER_PAGE} characters a page instead of {pages.GSM7_CHARACTERS_PER_PAGE}).")

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (f"{self.language}: {self.characters} characters, {self.alphabet}, {self.pages} of "
                f"{pages.MAX_PAGES} pages, {self.characters_left} left")

    def as_json(self) -> dict[str, Any]:
        return {"language": self.language, "alphabet": self.alphabet, "characters": self.characters,
                "units": self.units, "pages": self.pages, "pages_left": self.pages_left,
                "characters_left": self.characters_left, "console_limit": self.console_limit,
                "notice": self.notice, "problems": list(self.problems)}


def count(language: str, text: str, limit: int = DEFAULT_TEXT_LIMIT) -> LanguageCount:
    """Never raises: what is wrong is listed in `problems`, in words the operator can act on."""
    text = text or ""
    measured = pages.measure(text)
    problems: list[str] = []
    name = language or "?"
    if not LANGUAGE.match(language or ""):
        problems.append(f"{name}: a language is a two-letter ISO 639-1 code such as en, fr or ar.")
    if not text.strip():
        problems.append(f"{name}: the text is empty.")
    if len(text) > limit:
        problems.append(f"{name}: {len(text)} characters where the console allows {limit}; "
                        f"remove {len(text) - limit}.")
    if measured.characters_left < 0:
        problems.append(f"{name}: {measured.characters} {measured.alphabet.value} characters need "
                        f"{measured.pages} pages where at most {pages.MAX_PAGES} "
                        f"({pages.MAX_PAGES * measured.characters_per_page} characters) fit.")
    elif text.strip() and LANGUAGE.match(language or ""):
        try:
            pages.build_pages(text, language)
        except pages.PageError as exc:
            problems.append(f"{name}: {exc}")
    switched = (tuple(dict.fromkeys(ch for ch in text if ch in measured.non_gsm_characters))
                if measured.alphabet is pages.Alphabet.UCS2 else ())
    return LanguageCount(language, text, measured.alphabet.value, len(text), measured.characters, measured.pages,
                         measured.characters_per_page, measured.characters_left, limit, limit - len(text),
                         tuple(switched), tuple(problems))


def normalise(texts: Iterable[Mapping[str, Any]] | Mapping[str, str]) -> list[dict[str, str]]:
    """[{"language": "en", "text": "..."}] from that list or from {"en": "..."}; languages lower-cased."""
    if isinstance(texts, Mapping):
        texts = [{"language": k, "text": v} for k, v in texts.items()]
    out = []
    for item in texts:
        out.append({"language": str(item.get("language") or "").strip().lower(), "text": str(item.get("text") or "")})
    return out


def check(texts: Iterable[Mapping[str, Any]] | Mapping[str, str], limit: int = DEFAULT_TEXT_LIMIT) -> list[LanguageCount]:
    """Every language counted; ValidationError naming each problem when any text cannot go out."""
    texts = normalise(texts)
    if not texts:
        raise ValidationError({"texts": "A message needs a text in at least one language."})
    counts = [count(t["language"], t["text"], limit) for t in texts]
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for c in counts:
        if c.language in seen:
            errors[f"texts.{c.language}"] = f"{c.language}: the language appears twice; give each language one text."
        seen.add(c.language)
        if c.problems:
            errors.setdefault(f"texts.{c.language or '?'}", " ".join(c.problems))
    if errors:
        raise ValidationError(errors)
    return counts
