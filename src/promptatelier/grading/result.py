"""What an evaluation returns. Built so that nothing in it can reveal a hidden case: hidden
cases appear only as counts, never by input, output, expected answer or per-case explanation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .base import pick

__all__ = ["CaseOutput", "CaseVerdict", "CriterionResult", "Evaluation", "STATUSES"]

STATUSES = ("graded", "invalid", "not_graded")


@dataclass(frozen=True)
class CaseVerdict:
    """One criterion's verdict on one visible case."""

    label: dict[str, str]
    score: float | None
    explanation: str
    explanation_fr: str
    # the criterion compares the output with the case's expected answer
    reads_expected: bool = False

    @property
    def ok(self) -> bool:
        return self.score is not None and self.score >= 0.999

    def text(self, lang: str) -> str:
        return self.explanation_fr if lang == "fr" and self.explanation_fr else self.explanation


@dataclass(frozen=True)
class CaseOutput:
    """A visible case and what the model answered (hidden cases never get one)."""

    name: str
    vars: dict[str, str]
    expected: Any
    text: str | None
    error: str | None = None
    # criterion key (the spec's `name`, else its `use`) -> its verdict on this case
    verdicts: dict[str, CaseVerdict] = field(default_factory=dict)
    # a conversation's replies by turn ("turn1"...) or a chain's step outputs, in order
    steps: dict[str, str] = field(default_factory=dict)
    # a conversation's user turns
    turns: tuple[str, ...] = ()

    @property
    def expected_graded(self) -> bool:
        """Whether any criterion compared this output with the expected answer (a check view
        must not put a tick beside an expected answer nobody checked)."""
        return any(v.reads_expected and v.score is not None for v in self.verdicts.values())


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
    key: str = ""
    gate_below: float = 0.999

    @property
    def gate_failed(self) -> bool:
        return self.gate and self.score is not None and self.score < self.gate_below

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
