"""Text helpers shared by the criteria families."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str, *, ignore_case: bool = True, ignore_accents: bool = True) -> str:
    """Text for comparison: case and accents folded as asked, spaces collapsed."""
    text = unicodedata.normalize("NFC", text)
    if ignore_accents:
        text = strip_accents(text)
    if ignore_case:
        text = text.casefold()
    return _SPACES.sub(" ", text).strip()


def normalise(text: Any) -> str:
    """Loose form for 'normalised match': no case, accents, punctuation or extra spaces."""
    return _SPACES.sub(" ", _PUNCT.sub(" ", fold(str(text)))).strip()


def unfence(text: str) -> str:
    """The body of a single ``` code block, or the text itself."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def short(text: Any, limit: int = 60) -> str:
    s = str(text).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"
