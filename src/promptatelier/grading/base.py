"""The small central types of grading: a Score, and the two-language text it carries."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Score", "Lang", "LANGS", "pick"]

Lang = str
LANGS = ("en", "fr")


@dataclass(frozen=True)
class Score:
    """What a criterion returns: `value` in [0, 1], or None when it could not be scored.

    `explanation` is one line in English; `explanation_fr` its French form when the criterion
    has one (feedback falls back to the English line).
    """

    value: float | None
    explanation: str
    explanation_fr: str | None = None
    # a reason to send the submission to manual review (leaked answers, a judge addressed...)
    flag: str | None = None

    def __post_init__(self) -> None:
        if self.value is not None:
            object.__setattr__(self, "value", min(1.0, max(0.0, float(self.value))))

    @property
    def scored(self) -> bool:
        return self.value is not None

    def text(self, lang: Lang = "en") -> str:
        return self.explanation_fr if lang == "fr" and self.explanation_fr else self.explanation


def pick(texts: dict[str, str] | str | None, lang: Lang) -> str:
    """A text in `lang` from an {en, fr} table, falling back to English, then to any."""
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")
