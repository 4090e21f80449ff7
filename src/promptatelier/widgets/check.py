"""Exercise check: the interactive face of `check(EXERCISE_ID, submission)`. It runs the
visible cases only, shows each output and each criterion as pass / fail / unscored with its
explanation and hint, and the score the visible cases would give. Hidden cases never reach it:
`check` runs visible cases only and its report carries no hidden input or output."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from ..config import settings
from ..errors import AtelierError, SubmissionError
from ..views import markdown, number
from ._common import LABEL_STYLE, AtelierWidget, Example, button, error_html, error_text, esc, labelled
from .playground import model_options

__all__ = ["ExerciseCheck", "CriterionRow", "CaseRow", "PASS_AT"]

# a criterion passes when it passes on every case it scored (its score is a mean over cases)
PASS_AT = 0.999


@dataclass(frozen=True)
class CriterionRow:
    name: str
    score: float | None
    explanation: str
    hint: str
    passed: int = 0
    scored: int = 0

    @property
    def verdict(self) -> str:
        if self.score is None:
            return "unscored"
        return "pass" if self.score >= PASS_AT else "fail"


@dataclass(frozen=True)
class CaseRow:
    name: str
    inputs: dict[str, Any]
    output: str
    expected: Any = None
    error: str = ""
    # (criterion, score or None, explanation) on this case
    marks: tuple[tuple[str, float | None, str], ...] = ()


def criterion_rows(evaluation: Any, lang: str) -> list[CriterionRow]:
    """The criteria the learner reads (built-in gates that passed or did not apply are left out)."""
    from ..grading.base import pick

    rows = []
    for r in evaluation.criteria:
        if r.weight == 0 and (r.score is None or r.ok):
            continue
        rows.append(CriterionRow(name=pick(r.label, lang), score=r.score, explanation=r.text(lang),
                                 hint=pick(r.hint, lang), passed=r.passed, scored=r.scored))
    return rows


def case_rows(report: Any, lang: str = "en") -> list[CaseRow]:
    """The visible cases' inputs, outputs and per-case verdicts from a CheckReport."""
    from ..grading.base import pick

    return [CaseRow(name=o.name, inputs=dict(o.vars), output=o.text or "", expected=o.expected, error=o.error or "",
                    marks=tuple((pick(v.label, lang), v.score, v.text(lang)) for v in o.verdicts.values()))
            for o in report.evaluation.outputs]


class ExerciseCheck(AtelierWidget):
    """The exercise's instructions, the learner's answer, a Check button and the verdict."""

    def __init__(self, exercise_id: str, submission: Any = None, *, model: str | None = None,
                 lang: str | None = None) -> None:
        super().__init__(lang=lang)
        from ..grading.spec import load_spec

        self.exercise_id = exercise_id
        self.report: Any = None
        self.error: BaseException | None = None
        self.editors: dict[str, w.Textarea] = {}
        try:
            self.spec = load_spec(exercise_id)
        except AtelierError as exc:
            # a wrong id or a broken spec: said in the widget, no traceback in the learner's notebook
            self.spec = None
            self.error = exc
            self.check_button = button(self.tr("check"), "primary", "check", disabled=True)
            self.result = w.HTML(error_html(exc, self.lang))
            self.children = [self.result]
            return
        model = model or settings().model
        header = w.HTML(f"<h4 style='margin:4px 0'>{esc(self.title())}</h4>"
                        f"<div class='atelier-instructions'>{markdown(self.instructions())}</div>")
        header.add_class("atelier-header")
        self.editors = self._editors(submission)
        self.model = w.Dropdown(options=model_options(model), value=model, description=self.tr("model"),
                                style=LABEL_STYLE)
        self.check_button = button(self.tr("check"), "primary", "check")
        self.check_button.add_class("atelier-check")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.status = w.HTML()
        self.result = w.HTML()
        self.result.add_class("atelier-check-result")
        self.check_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        fields = [labelled(self._editor_labels[key], editor) for key, editor in self.editors.items()]
        self.children = [header, *fields, w.HBox([self.model, self.check_button, self.stop_button]),
                         self.status, self.result]

    def title(self) -> str:
        title = self.spec.title.get(self.lang) or self.spec.title.get("en", self.exercise_id)
        return self.tr("exercise_title", id=self.exercise_id, title=title)

    def instructions(self) -> str:
        return self.spec.instructions.get(self.lang) or self.spec.instructions.get("en", "")

    # --- the answer --------------------------------------------------------------------------
    def _editors(self, submission: Any) -> dict[str, w.Textarea]:
        kind = self.spec.kind
        box = {"layout": w.Layout(width="100%", height="6em")}
        if kind == "system_template":
            value = submission if isinstance(submission, dict) else {}
            self._editor_labels = {"system": self.tr("system_part"), "user": self.tr("user_part")}
            return {"system": w.Textarea(value=str(value.get("system", "")), **box),
                    "user": w.Textarea(value=str(value.get("user", "")), **box)}
        if kind == "messages":
            text = json.dumps(submission, ensure_ascii=False, indent=1) if submission is not None else ""
            self._editor_labels = {"messages": self.tr("messages_part")}
            return {"messages": w.Textarea(value=text, **box)}
        self._editor_labels = {"prompt": self.tr("submission")}
        return {"prompt": w.Textarea(value="" if submission is None else str(submission), **box)}

    @property
    def submission(self) -> Any:
        """The answer as the fields hold it, in the shape the exercise's kind expects."""
        if "system" in self.editors:
            return {"system": self.editors["system"].value, "user": self.editors["user"].value}
        if "messages" in self.editors:
            try:
                return json.loads(self.editors["messages"].value)
            except ValueError as exc:
                raise SubmissionError(
                    f"The messages are not valid JSON: {exc}.",
                    'Write a list such as [{"role": "user", "content": "..."}].',
                    fr=(f"Les messages ne sont pas du JSON valide\u00a0: {exc}.",
                        'Écrivez une liste comme [{"role": "user", "content": "..."}].'),
                ) from None
        return self.editors["prompt"].value

    # --- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Run `check` on the visible cases in the background, then show the verdict."""
        if self.running or self.spec is None:
            return
        try:
            submission = self.submission
            from ..grading import check
        except AtelierError as exc:
            self._fail(exc)
            return
        except ImportError:
            self._fail(AtelierError(self.tr("grading_missing"), self.tr("grading_missing_fix")))
            return
        model = self.model.value
        self.status.value = f"<i>{esc(self.tr('checking', model=model))}</i>"
        self.result.value = ""

        def work(_stop: threading.Event) -> Any:
            return check(self.exercise_id, submission, model=model, lang=self.lang)

        def done(report: Any, error: BaseException | None) -> None:
            self.status.value = ""
            if error is not None:
                self._fail(error)
                return
            self.error, self.report = None, report
            self._render()

        self._start(work, done)

    @property
    def evaluation(self) -> Any:
        return None if self.report is None else self.report.evaluation

    @property
    def criteria(self) -> list[CriterionRow]:
        return [] if self.report is None else criterion_rows(self.evaluation, self.lang)

    @property
    def cases(self) -> list[CaseRow]:
        return [] if self.report is None else case_rows(self.report, self.lang)

    def examples(self) -> list[Example]:
        """The answer in the fields on each visible case, as `check` would send it."""
        from ..grading.submission import normalise, render_request

        try:
            submission = normalise(self.spec, self.submission) if self.spec is not None else None
        except AtelierError:
            return []  # not answered yet, or not an answer: nothing to run
        if submission is None:
            return []
        return [Example(self.name(), case.name, self.model.value, render_request(self.spec, submission, case))
                for case in self.spec.cases]

    # --- display -------------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        self.error, self.report = error, None
        self.result.value = error_html(error, self.lang)

    def message(self) -> str:
        """Why the answer is invalid or not graded, in the widget's language ('' otherwise)."""
        return self.evaluation.message(self.lang) if self.report is not None else ""

    def _render(self) -> None:
        self.result.value = self.report.html(title=False, headline=self.score_line() or None,
                                             footer=self.tr("visible_note"))

    def score_line(self) -> str:
        ev = self.evaluation
        if ev is None or ev.points is None:
            return ""
        return self.tr("visible_score", points=number(ev.points, self.lang), max_points=number(ev.max_points, self.lang))

    def _set_busy(self, busy: bool) -> None:
        self.check_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"

    def text(self) -> str:
        if self.spec is None:
            return f"{self.tr('exercise')} {self.exercise_id}\n{error_text(self.error, self.lang) if self.error else ''}"
        lines = [self.title()]
        if self.error is not None:
            lines.append(error_text(self.error, self.lang))
        if self.report is not None and self.message():
            lines.append(self.message())
        for c in self.cases:
            lines.append(f"{c.name}{self.tr('colon')}{c.output}")
        for r in self.criteria:
            hint = f" ({self.tr('hint')}{self.tr('colon')}{r.hint})" if r.hint and r.verdict != "pass" else ""
            lines.append(f"[{self.tr(r.verdict)}] {r.name}{self.tr('colon')}{r.explanation}{hint}")
        if self.report is not None and self.score_line():
            lines.append(self.score_line())
        return "\n".join(lines)
