"""The report's words in English and French (the data lives in strings.toml)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["LANGUAGES", "count", "words"]

LANGUAGES = ("en", "fr")


@lru_cache(maxsize=1)
def _strings() -> dict[str, dict[str, Any]]:
    return tomllib.loads(resources.files(__package__).joinpath("strings.toml").read_text(encoding="utf-8"))


def words(lang: str) -> dict[str, Any]:
    """Every string of the report in `lang` (nested tables: states, states_short, states_help, columns)."""
    return _strings()[lang if lang in LANGUAGES else "en"]


def count(key: str, n: int, lang: str) -> str:
    """'1 learner', '3 learners': French takes the singular for 0 and 1, English for 1 only."""
    one, many = words(lang)[key]
    return (one if (n < 2 if lang == "fr" else n == 1) else many).format(n=n)
