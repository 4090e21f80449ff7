"""The two calls a notebook makes: `check` (learners, visible cases, rich feedback) and `grade`
(nbgrader test cells: the same visible cases, as points, the last expression of the cell).

Neither reads a hidden case or uses the grading model's key: learner code runs in the same
kernel. The recorded grade comes from `atelier grade`, which never runs the notebook.

`grade` is written for nbgrader's rules: it returns a float and nothing else (nbgrader reads a
non-number as FULL credit), writes nothing to stderr (any stderr output scores the cell 0),
and prints its feedback to stdout (which does not count). A model outage is never a genuine
0: `grade` raises `NotGradedError`, so the cell shows an error saying "not graded yet"
(nbgrader has no "not graded" state for a test cell; an errored cell gets 0 there), and the
trusted `atelier grade` leaves that grade for manual grading instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config import settings
from ..errors import ModelUnavailableError
from .base import pick
from .feedback import STRINGS, SYMBOLS, FeedbackView, feedback_text, feedback_view, view_text
from .result import Evaluation
from .runner import evaluate
from .spec import load_spec
from ..views import render

__all__ = ["check", "grade", "CheckReport", "NotGradedError"]


class NotGradedError(ModelUnavailableError):
    """Raised by `grade` when the model could not be reached: not graded yet, not a 0."""


@dataclass(frozen=True)
class VerdictLine:
    """One criterion on one visible case, in the view's language."""

    state: str
    label: str
    explanation: str

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.state]


@dataclass(frozen=True)
class CaseLine:
    """A visible case as the check view shows it."""

    name: str
    inputs: list[tuple[str, str]]
    output: str | None
    error: str
    expected: str | None
    expected_note: str
    verdicts: list[VerdictLine]


def case_lines(evaluation: Evaluation, lang: str) -> list[CaseLine]:
    """The visible cases with their verdicts; as in the criteria table, built-in gates that passed
    overall (or did not apply) say nothing and are left out."""
    t = STRINGS[lang]
    quiet = {r.key for r in evaluation.criteria if r.weight == 0 and (r.ok or r.score is None)}
    lines = []
    for o in evaluation.outputs:
        expected = None
        if o.expected is not None:
            expected = o.expected if isinstance(o.expected, str) else json.dumps(o.expected, ensure_ascii=False)
        verdicts = [VerdictLine("unscored" if v.score is None else ("pass" if v.ok else "fail"),
                                pick(v.label, lang), v.text(lang)) for key, v in o.verdicts.items() if key not in quiet]
        lines.append(CaseLine(o.name, [(k, str(v)) for k, v in o.vars.items()], o.text, o.error or "", expected,
                              "" if expected is None or o.expected_graded else t["not_checked"], verdicts))
    return lines


@dataclass
class CheckReport:
    """What `check` returns: the evaluation on the visible cases and the model's outputs."""

    evaluation: Evaluation
    lang: str

    @property
    def outputs(self) -> dict[str, str | None]:
        return {o.name: o.text for o in self.evaluation.outputs}

    @property
    def points(self) -> float | None:
        return self.evaluation.points

    def view(self) -> FeedbackView:
        return feedback_view(self.evaluation, self.lang, practice=True)

    def __repr__(self) -> str:
        t = STRINGS[self.lang]
        parts = view_text(self.view())
        for c in case_lines(self.evaluation, self.lang):
            inputs = ", ".join(f"{k}{t['colon']}{v}" for k, v in c.inputs)
            parts.append(f"--- {t['case']} {c.name}" + (f" ({inputs})" if inputs else ""))
            parts.append(c.output if c.output is not None else f"({t['error']}{t['colon']}{c.error})")
            if c.expected is not None:
                parts.append(f"{t['expected']}{t['colon']}{c.expected}" + (f" ({c.expected_note})" if c.expected_note else ""))
            parts += [f"  {v.symbol} {v.label}{t['colon']}{v.explanation}" for v in c.verdicts]
        return "\n".join(parts)

    def html(self, *, title: bool = True, headline: str | None = None, footer: str = "") -> str:
        """The check view; the ExerciseCheck widget shows it without the title it already has."""
        return render("check.html.j2", fb=self.view(), cases=case_lines(self.evaluation, self.lang),
                      title=title, headline=headline, footer=footer)

    def _repr_html_(self) -> str:
        return self.html()


def check(exercise_id: str, submission: Any, *, model: str | None = None, lang: str | None = None) -> CheckReport:
    """Run the visible cases on the learners' model and show what passes and why."""
    spec = load_spec(exercise_id)
    lang = lang or settings().language
    lang = lang if lang in STRINGS else "en"
    evaluation = evaluate(spec, submission, model=model or settings().model, cases="visible", lang=lang)
    # on a course hub with the progress service on, the instructor's live view gets the result
    from ..progress.client import report

    report(evaluation, lang, submission)
    return CheckReport(evaluation, lang)


@contextlib.contextmanager
def _silenced_stderr() -> Iterator[None]:
    """Nothing reaches stderr: Python writes, warnings, and C libraries writing to fd 2."""
    buffer = io.StringIO()
    saved_fd = None
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        saved_fd = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stderr(buffer):
                yield
    finally:
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


PREVIEW_NOTE = (
    "This is a preview on the visible cases, with the course's model: your instructor's grading "
    "(`atelier grade`) runs hidden cases too and records the score.",
    "Ceci est un aperçu sur les cas visibles, avec le modèle du cours\u00a0: la correction de votre "
    "formateur (`atelier grade`) ajoute des cas cachés et enregistre la note.",
)


def grade(exercise_id: str, submission: Any) -> float:
    """The points earned on the visible cases, for an nbgrader test cell: a preview.

    A learner's kernel (JupyterLab, `nbgrader validate`, an `nbgrader autograde` someone still
    runs) runs learner code, so it must hold no secret: this never reads hidden cases and uses
    the learners' model, never the grading model's key. The trusted score comes from
    `atelier grade`, which reads the answer without running the notebook. Prints the feedback
    (course language) to stdout and writes nothing to stderr (nbgrader zeroes a cell that does).

    Raises SpecError for an instructor mistake and NotGradedError when the model is unreachable."""
    spec = load_spec(exercise_id)
    lang = settings().language
    with _silenced_stderr():
        evaluation = evaluate(spec, submission, model=settings().model, cases="visible", temperature=0.0,
                              progress=False, lang=lang)
    evaluation.notes.insert(0, PREVIEW_NOTE)
    print(feedback_text(evaluation, lang))
    if evaluation.status == "not_graded":
        raise NotGradedError(
            f"NOT GRADED YET ({exercise_id}): {evaluation.message('en')}",
            "Nothing to do as a learner. Instructors: `atelier grade` records the trusted score; it "
            "leaves this one for manual grading rather than recording a 0.",
        )
    return float(evaluation.points or 0.0)
