"""What an evaluation returns. Built so that nothing in it can reveal a hidden case: hidden
cases appear only as counts, never by input, output, expected answer or per-case explanation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .base import pick

__all__ = ["CaseOutput", "CriterionResult", "Evaluation", "STATUSES"]

STATUSES = ("graded", "invalid", "not_graded")


@dataclass(frozen=True)
class CaseOutput:
    """A visible case and what the model answered (hidden cases never get one)."""

    name: str
    vars: dict[str, str]
    expected: Any
    text: str | None
    error: str | None = None
    # criterion label (en) -> (score, explanation en, explanation fr) for this case
    scores: tuple[tuple[str, float | None, str, str], ...] = ()


@dataclass(frozen=True)
class CriterionResult:
    name: str
    family: str
    label: dict[str, str]
    weight: float
    score: float | None
    explanation: str
    explanation_fr: str
    hint: dict[str, str] = field(default_factory=dict)
    gate: bool = False
    passed: int = 0
    scored: int = 0
    total: int = 0

    @property
    def ok(self) -> bool:
        return self.score is not None and self.score >= 0.999

    def text(self, lang: str) -> str:
        return self.explanation_fr if lang == "fr" and self.explanation_fr else self.explanation


@dataclass
class Evaluation:
    exercise_id: str
    status: str
    points: float | None
    max_points: float
    criteria: list[CriterionResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # why it is invalid / not graded, or notes on how it was scored: (en, fr) pairs
    notes: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[CaseOutput] = field(default_factory=list)
    pass_threshold: float = 0.7
    model: str = ""
    judge_model: str = ""
    cases_run: dict[str, int] = field(default_factory=dict)
    title: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        return None if self.points is None else (self.points / self.max_points if self.max_points else 0.0)

    @property
    def passed(self) -> bool:
        return self.fraction is not None and self.fraction >= self.pass_threshold - 1e-9

    def message(self, lang: str = "en") -> str:
        return " ".join(fr if lang == "fr" else en for en, fr in self.notes)

    def feedback_text(self, lang: str | None = None) -> str:
        from .feedback import feedback_text

        return feedback_text(self, lang)

    def feedback_html(self, lang: str | None = None) -> str:
        from .feedback import feedback_html

        return feedback_html(self, lang)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = [{"en": en, "fr": fr} for en, fr in self.notes]
        data["fraction"] = self.fraction
        data["passed"] = self.passed
        return data

    def title_in(self, lang: str) -> str:
        return pick(self.title, lang) or self.exercise_id
