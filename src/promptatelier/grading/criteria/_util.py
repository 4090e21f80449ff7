"""Text helpers shared by the criteria families."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)
# ASCII holds no format character and no combining mark: only runs of other characters are
# looked at one by one (most outputs are mostly ASCII, and grading folds each many times)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")

# French typography: a no-break space before : ; ! ? and inside « »
NB = "\u00a0"


def _visible(run: re.Match[str]) -> str:
    return "".join(ch for ch in run.group(0) if unicodedata.category(ch) != "Cf")


def _uncombined(run: re.Match[str]) -> str:
    return "".join(ch for ch in run.group(0) if not unicodedata.combining(ch))


def drop_invisible(text: str) -> str:
    """The text without format characters (zero-width spaces and joiners, soft hyphens, BOM),
    which a reader never sees and which would otherwise split a word in two."""
    return text if text.isascii() else _NON_ASCII.sub(_visible, text)


def strip_accents(text: str) -> str:
    """Accents removed, nothing else: canonical decomposition (NFD), so ¹, ½, ™ and ﬁ stay
    what they are instead of becoming 1, 1/2, TM and fi as compatibility decomposition would."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _NON_ASCII.sub(_uncombined, unicodedata.normalize("NFD", text)))


def casefold(text: str) -> str:
    """Case folded for comparison, except that compatibility characters keep their form: str.casefold
    would turn the ligature ﬁ into fi, which is not a difference of case."""
    if text.isascii():
        return text.lower()
    return "".join(ch.lower() if unicodedata.decomposition(ch).startswith("<compat>") else ch.casefold() for ch in text)


LOOKALIKES = {
    # Cyrillic and Greek letters drawn like Latin ones (lower case: the text is case-folded first)
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h",
    "ӏ": "l", "ɡ": "g", "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ı": "i", "ɩ": "i", "ɑ": "a", "ɛ": "e",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k",
    "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w",
    "ʏ": "y", "ᴢ": "z",  # small capitals
    "œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l",
}
_LOOKALIKE_LETTERS = str.maketrans(LOOKALIKES)


@lru_cache(maxsize=4096)
def fold(text: str, *, ignore_case: bool = True, ignore_accents: bool = True) -> str:
    """Text for comparison: invisible characters dropped, case and accents folded as asked (with
    case, look-alike letters of other scripts), spaces collapsed. Cached: the criteria of a rubric fold the same output many times."""
    text = drop_invisible(unicodedata.normalize("NFC", text))
    if ignore_accents:
        text = strip_accents(text)
    if ignore_case:
        # and letters of other scripts drawn like ours read as ours: "РWNED" in Cyrillic is PWNED
        text = casefold(text).translate(_LOOKALIKE_LETTERS)
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


def quote_fr(text: Any, limit: int = 60) -> str:
    """A quoted value in a French explanation: « text », with no-break spaces inside."""
    return f"«{NB}{short(text, limit)}{NB}»"


def plural(n: int, one: str, many: str, lang: str = "en") -> str:
    """'1 word' / '2 words'; in French the singular also covers 0 ('0 mot', '1 phrase', '2 phrases')."""
    singular = n == 1 if lang == "en" else abs(n) < 2
    return f"{n} {one if singular else many}"
