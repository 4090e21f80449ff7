"""The widgets' words in English and French (the data lives in strings.toml)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["t", "language", "LANGUAGES"]

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
