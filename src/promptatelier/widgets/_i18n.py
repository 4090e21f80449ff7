"""The widgets' words in English and French (the data lives in strings.toml)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["t", "tn", "decimal", "language", "LANGUAGES"]

LANGUAGES = ("en", "fr")


@lru_cache(maxsize=1)
def _strings() -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath("strings.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def language(lang: str | None = None) -> str:
    """`lang` if given, else the course language from the configuration."""
    if lang in LANGUAGES:
        return lang  # type: ignore[return-value]
    from ..config import settings

    return settings().language if settings().language in LANGUAGES else "en"


def t(key: str, lang: str | None = None, **values: Any) -> str:
    """The string `key` in `lang`, with `{names}` filled; English when a translation is missing."""
    table = _strings()
    text = table.get(language(lang), {}).get(key) or table["en"][key]
    return text.format(**values) if values else text.replace("{{", "{").replace("}}", "}")


def tn(key: str, n: int, lang: str | None = None) -> str:
    """'1 token', '2 tokens': the string `key_one` or `key_many` for the count `n` (French takes
    the singular for 0 and 1, English for 1 only)."""
    lang = language(lang)
    one = n < 2 if lang == "fr" else n == 1
    return t(f"{key}_{'one' if one else 'many'}", lang, n=n)


def decimal(x: float, digits: int, lang: str | None = None) -> str:
    """A number for prose: 0.53 in English, 0,53 in French."""
    text = f"{x:.{digits}f}"
    return text.replace(".", ",") if language(lang) == "fr" else text
