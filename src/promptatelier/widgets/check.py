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
from ..errors import AtelierError, ModelUnavailableError, SubmissionError
from ._common import AtelierWidget, button, error_html, error_text, esc
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


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def _text(value: Any, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or "")
    if callable(getattr(value, "text", None)):
        return str(value.text(lang))
    return str(value)


def criterion_rows(evaluation: Any, lang: str) -> list[CriterionRow]:
    """The evaluation's criteria in a fixed shape (the grading engine owns the real one)."""
    rows = []
    for r in _get(evaluation, "criteria", "results", default=[]) or []:
        score = _get(r, "score", "value")
        score = _get(score, "value", default=score) if not isinstance(score, (int, float, type(None))) else score
        name = _get(r, "label", default=None) or _get(r, "name", default="?")
        rows.append(CriterionRow(
            name=_text(name, lang),
            score=None if score is None else float(score),
            explanation=_text(_get(r, f"explanation_{lang}", default=None) or _get(r, "explanation", default=""), lang),
            hint=_text(_get(r, "hint", default=""), lang),
            passed=int(_get(r, "passed", default=0) or 0),
            scored=int(_get(r, "scored", default=0) or 0),
        ))
    return rows


def case_rows(report: Any, lang: str = "en") -> list[CaseRow]:
    """The visible cases' inputs and outputs from a CheckReport."""
    outputs = _get(_get(report, "evaluation"), "outputs", default=None) or _get(report, "outputs", default=[]) or []
    items = outputs.items() if isinstance(outputs, dict) else enumerate(outputs)
    rows = []
    for key, item in items:
        case = _get(item, "case", default=None)
        output = item if isinstance(item, str) else _get(item, "output", "text", default="")
        output = _get(output, "text", default=output) if not isinstance(output, str) else output
        rows.append(CaseRow(
            name=str(_get(case, "name", default=None) or _get(item, "name", default=None) or key),
            inputs=dict(_get(case, "vars", default=None) or _get(item, "vars", "inputs", default={}) or {}),
            output="" if output is None else str(output),
            expected=_get(case, "expected", default=None) if case is not None else _get(item, "expected", default=None),
            error=str(_get(item, "error", default="") or ""),
            marks=tuple((m[0], m[1], m[3] if lang == "fr" and len(m) > 3 and m[3] else m[2])
                        for m in (_get(item, "scores", default=()) or ())),
        ))
    return rows


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
        title = self.spec.title.get(self.lang) or self.spec.title.get("en", exercise_id)
        instructions = self.spec.instructions.get(self.lang) or self.spec.instructions.get("en", "")
        header = w.HTML(f"<h4 style='margin:4px 0'>{esc(self.tr('exercise'))} {esc(exercise_id)}: {esc(title)}</h4>"
                        f"<div style='white-space:pre-wrap'>{esc(instructions)}</div>")
        self.editors = self._editors(submission)
        self.model = w.Dropdown(options=model_options(model), value=model, description=self.tr("model"))
        self.check_button = button(self.tr("check"), "primary", "check")
        self.check_button.add_class("atelier-check")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.status = w.HTML()
        self.result = w.HTML()
        self.result.add_class("atelier-check-result")
        self.check_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.children = [header, *self.editors.values(),
                         w.HBox([self.model, self.check_button, self.stop_button]), self.status, self.result]

    # --- the answer --------------------------------------------------------------------------
    def _editors(self, submission: Any) -> dict[str, w.Textarea]:
        kind = self.spec.kind
        box = {"layout": w.Layout(width="100%", height="6em"), "style": {"description_width": "10em"}}
        if kind == "system_template":
            value = submission if isinstance(submission, dict) else {}
            return {"system": w.Textarea(value=str(value.get("system", "")), description=self.tr("system_part"), **box),
                    "user": w.Textarea(value=str(value.get("user", "")), description=self.tr("user_part"), **box)}
        if kind == "messages":
            text = json.dumps(submission, ensure_ascii=False, indent=1) if submission is not None else ""
            return {"messages": w.Textarea(value=text, description=self.tr("messages_part"), **box)}
        return {"prompt": w.Textarea(value="" if submission is None else str(submission),
                                     description=self.tr("submission"), **box)}

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
                    fr=(f"Les messages ne sont pas du JSON valide : {exc}.",
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
        return None if self.report is None else _get(self.report, "evaluation", default=self.report)

    @property
    def criteria(self) -> list[CriterionRow]:
        return [] if self.report is None else criterion_rows(self.evaluation, self.lang)

    @property
    def cases(self) -> list[CaseRow]:
        return [] if self.report is None else case_rows(self.report, self.lang)

    # --- display -------------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        self.error, self.report = error, None
        self.result.value = error_html(error, self.lang)

    def _verdict(self, row: CriterionRow) -> str:
        colours = {"pass": "#1e7e34", "fail": "#c0392b", "unscored": "#6c757d"}
        pct = "" if row.score is None else f" ({row.score:.0%})"
        if row.scored:
            pct = f" ({row.passed}/{row.scored})"
        return (f"<span class='atelier-verdict atelier-{row.verdict}' style='color:{colours[row.verdict]};"
                f"font-weight:bold'>{esc(self.tr(row.verdict))}{pct}</span>")

    def _mark(self, score: float | None) -> str:
        if score is None:
            return "<span style='color:#6c757d'>○</span>"
        return "<span style='color:#1e7e34'>✔</span>" if score >= PASS_AT else "<span style='color:#c0392b'>✘</span>"

    def message(self) -> str:
        """Why the answer is invalid or not graded, in the widget's language ('' otherwise)."""
        ev = self.evaluation
        msg = getattr(ev, "message", None)
        return str(msg(self.lang)) if callable(msg) else ""

    def _render(self) -> None:
        ev = self.evaluation
        status = _get(ev, "status", default="graded")
        parts = []
        message = self.message()
        if status == "invalid":
            parts.append(error_html(SubmissionError(message or self.tr("status_invalid")), self.lang))
        elif status == "not_graded":
            parts.append(error_html(ModelUnavailableError(message or self.tr("status_not_graded")), self.lang))
        cases = self.cases
        if cases:
            rows = []
            for c in cases:
                inputs = "<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in c.inputs.items())
                expected = "" if c.expected is None else f"<div><i>{esc(self.tr('expected'))}:</i> {esc(c.expected)}</div>"
                if c.error:
                    expected += f"<div style='color:#c0392b'>{esc(c.error)}</div>"
                expected += "".join(
                    f"<div><small>{self._mark(score)} {esc(name)}: {esc(why)}</small></div>" for name, score, why in c.marks)
                rows.append(f"<tr><td style='vertical-align:top;padding:4px;border:1px solid #ddd'>{esc(c.name)}<br>{inputs}</td>"
                            f"<td style='vertical-align:top;padding:4px;border:1px solid #ddd;white-space:pre-wrap'>"
                            f"{esc(c.output)}{expected}</td></tr>")
            parts.append(f"<b>{esc(self.tr('visible_cases'))}</b><table style='border-collapse:collapse'>"
                         f"<tr><th>{esc(self.tr('input'))}</th><th>{esc(self.tr('output'))}</th></tr>{''.join(rows)}</table>")
        crit = self.criteria
        if crit:
            rows = [f"<tr class='atelier-criterion'><td style='padding:4px;border:1px solid #ddd'>{esc(r.name)}</td>"
                    f"<td style='padding:4px;border:1px solid #ddd'>{self._verdict(r)}</td>"
                    f"<td style='padding:4px;border:1px solid #ddd'>{esc(r.explanation)}</td>"
                    f"<td style='padding:4px;border:1px solid #ddd'>{esc(r.hint if r.verdict != 'pass' else '')}</td></tr>"
                    for r in crit]
            parts.append(f"<b>{esc(self.tr('criteria'))}</b><table style='border-collapse:collapse'><tr>"
                         f"<th>{esc(self.tr('criterion'))}</th><th>{esc(self.tr('result'))}</th>"
                         f"<th>{esc(self.tr('explanation'))}</th><th>{esc(self.tr('hint'))}</th></tr>{''.join(rows)}</table>")
        points = _get(ev, "points")
        if points is not None:
            parts.append(f"<div class='atelier-score' style='font-weight:bold;margin-top:4px'>"
                         f"{esc(self.score_line())}</div>")
        parts.append(f"<small>{esc(self.tr('visible_note'))}</small>")
        self.result.value = "".join(parts)

    def score_line(self) -> str:
        ev = self.evaluation
        points, max_points = _get(ev, "points"), _get(ev, "max_points", default=self.spec.points)
        if points is None:
            return ""
        return self.tr("visible_score", points=f"{float(points):g}", max_points=f"{float(max_points):g}")

    def _set_busy(self, busy: bool) -> None:
        self.check_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"

    def text(self) -> str:
        if self.spec is None:
            return f"{self.tr('exercise')} {self.exercise_id}\n{error_text(self.error, self.lang) if self.error else ''}"
        title = self.spec.title.get(self.lang) or self.spec.title.get("en", "")
        lines = [f"{self.tr('exercise')} {self.exercise_id}: {title}"]
        if self.error is not None:
            lines.append(error_text(self.error, self.lang))
        if self.report is not None and self.message():
            lines.append(self.message())
        for c in self.cases:
            lines.append(f"{c.name}: {c.output}")
        for r in self.criteria:
            lines.append(f"[{self.tr(r.verdict)}] {r.name}: {r.explanation}" + (f" ({self.tr('hint')}: {r.hint})" if r.hint and r.verdict != "pass" else ""))
        if self.report is not None and self.score_line():
            lines.append(self.score_line())
        return "\n".join(lines)
