"""The two calls a notebook makes: `check` (learners, visible cases) and `grade` (nbgrader
test cells, visible and hidden cases, the last expression of the cell).

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
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from typing import Any

from ..config import settings
from ..errors import ModelUnavailableError
from .feedback import STRINGS, feedback_html, feedback_text
from .result import Evaluation
from .runner import evaluate
from .spec import load_spec

__all__ = ["check", "grade", "CheckReport", "NotGradedError"]


class NotGradedError(ModelUnavailableError):
    """Raised by `grade` when the model could not be reached: not graded yet, not a 0."""


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

    def __repr__(self) -> str:
        t = STRINGS[self.lang]
        parts = [feedback_text(self.evaluation, self.lang)]
        for o in self.evaluation.outputs:
            parts.append(f"--- {t['case']} '{o.name}' {o.vars}")
            parts.append(o.text if o.text is not None else f"({t['error']}: {o.error})")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        t = STRINGS[self.lang]
        rows = []
        for o in self.evaluation.outputs:
            marks = " ".join(("✓" if v is not None and v >= 0.999 else "–" if v is None else "✗") for _, v, _, _ in o.scores)
            detail = "<br>".join(escape(f"{label}: {fr if self.lang == 'fr' else en}") for label, _, en, fr in o.scores)
            inputs = "<br>".join(f"<b>{escape(k)}</b>: {escape(v)}" for k, v in o.vars.items())
            text = escape(o.text) if o.text is not None else f"<i>{t['error']}: {escape(o.error or '')}</i>"
            expected = "" if o.expected is None else escape(str(o.expected))
            rows.append(
                f"<tr><td>{escape(o.name)}<br><small>{inputs}</small></td><td><pre style='white-space:pre-wrap;margin:0'>{text}</pre></td>"
                f"<td>{expected}</td><td>{marks}<br><small>{detail}</small></td></tr>"
            )
        table = ""
        if rows:
            table = (f"<table><thead><tr><th>{t['case']}</th><th>{t['output']}</th><th>{t['expected']}</th><th>{t['result']}</th></tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table>")
        return feedback_html(self.evaluation, self.lang) + table


def check(exercise_id: str, submission: Any, *, model: str | None = None, lang: str | None = None) -> CheckReport:
    """Run the visible cases on the learners' model and show what passes and why."""
    spec = load_spec(exercise_id)
    lang = lang or settings().language
    evaluation = evaluate(spec, submission, model=model or settings().model, cases="visible")
    return CheckReport(evaluation, lang if lang in STRINGS else "en")


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


def grade(exercise_id: str, submission: Any) -> float:
    """The points earned, for an nbgrader test cell: visible and hidden cases, grading model,
    temperature 0, fixed seed. Prints the feedback (in the course language) to stdout.

    Raises SpecError for an instructor mistake and NotGradedError on a model outage."""
    spec = load_spec(exercise_id)
    with _silenced_stderr():
        evaluation = evaluate(spec, submission, model=settings().grading_model, cases="all", temperature=0.0, progress=False)
    print(feedback_text(evaluation, settings().language))
    if evaluation.status == "not_graded":
        raise NotGradedError(
            f"NOT GRADED YET ({exercise_id}): {evaluation.message('en')}",
            "Nothing to do as a learner. Instructors: run `atelier grade` when the model is back; it leaves "
            "this grade for manual grading rather than recording a 0.",
        )
    return float(evaluation.points or 0.0)
