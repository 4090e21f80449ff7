"""Feedback on an evaluation, as text and HTML, in English or French.

Built only from an `Evaluation`, which holds no hidden input, output or answer: what is shown
here cannot reveal a hidden case. The text and the HTML read the same `FeedbackView`, so the
two never disagree; the HTML comes from the templates in `views/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import settings
from .base import pick
from ..views import HEADLINE_COLOURS, number, percent, plural, render, split_fix

# an Evaluation (result.py); not imported, since Evaluation's own feedback methods call in here
Evaluation = Any

__all__ = ["feedback_text", "feedback_html", "feedback_view", "FeedbackView", "CriterionLine", "STRINGS"]

# French typography: a no-break space (U+00A0) before : ; ! ? and inside « »
# (tests/widgets/test_strings.py checks it); words from course/GLOSSARY.md
STRINGS = {
    "en": {
        "score": "Score", "graded": "graded", "invalid": "not accepted", "not_graded": "not graded yet",
        "no_result": "no result", "pass": "passed", "fail": "below the pass mark", "criterion": "Criterion",
        "result": "Result", "hint": "Hint", "unscored": "unscored", "flags": "Sent for review",
        "cases": "cases", "visible": ("visible", "visible"), "hidden": ("hidden", "hidden"),
        "weight": "weight", "required": "required", "notes": "Notes", "case": "Case",
        "output": "Model output", "expected": "Expected", "error": "error", "colon": ": ",
        "not_checked": "not checked: this exercise does not grade the answer itself",
        "verdict_pass": "passed", "verdict_fail": "failed", "verdict_unscored": "unscored",
        "visible_cases": "Visible cases", "on_this_case": "Criteria on this case", "fix": "How to fix it",
    },
    "fr": {
        "score": "Note", "graded": "noté", "invalid": "réponse non acceptée", "not_graded": "pas encore noté",
        "no_result": "pas de résultat", "pass": "réussi", "fail": "sous le seuil de réussite",
        "criterion": "Critère", "result": "Résultat", "hint": "Indice", "unscored": "non noté",
        "flags": "À revoir par le formateur", "cases": "cas", "visible": ("visible", "visibles"),
        "hidden": ("caché", "cachés"), "weight": "poids", "required": "obligatoire", "notes": "Remarques",
        "case": "Cas", "output": "Sortie du modèle", "expected": "Attendu", "error": "erreur",
        "colon": "\u00a0: ", "not_checked": "non vérifié\u00a0: cet exercice ne note pas la réponse elle-même",
        "verdict_pass": "réussi", "verdict_fail": "échoué", "verdict_unscored": "non noté",
        "visible_cases": "Cas visibles", "on_this_case": "Critères sur ce cas", "fix": "Comment corriger",
    },
}

SYMBOLS = {"pass": "✓", "fail": "✗", "unscored": "–"}


@dataclass(frozen=True)
class CriterionLine:
    """One criterion as every view shows it, already in the view's language."""

    state: str  # pass | fail | unscored
    label: str
    verdict: str
    score: str
    weight: str
    explanation: str
    hint: str

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.state]


@dataclass(frozen=True)
class FeedbackView:
    """What a feedback shows, in one language; the text and HTML views both read it."""

    lang: str
    t: dict[str, Any]
    exercise_id: str
    title: str
    headline: str
    colour: str
    cases_line: str
    # status notes (why invalid / not graded) as (problem, fix); other notes as sentences
    alerts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    criteria: list[CriterionLine] = field(default_factory=list)
    hint: str = ""
    flags: str = ""


def _lang(lang: str | None) -> str:
    lang = lang or settings().language
    return lang if lang in STRINGS else "en"


def _headline(ev: Evaluation, t: dict[str, Any], lang: str, practice: bool) -> str:
    if ev.points is None:
        status = "no_result" if practice and ev.status == "not_graded" else ev.status
        return f"{t['score']}{t['colon']}— / {number(ev.max_points, lang)} ({t[status]})"
    verdict = t["pass"] if ev.passed else t["fail"]
    if ev.status == "invalid":
        verdict = t["invalid"]
    return f"{t['score']}{t['colon']}{number(ev.points, lang)} / {number(ev.max_points, lang)} ({verdict})"


def _colour(ev: Evaluation) -> str:
    if ev.status != "graded":
        return HEADLINE_COLOURS[ev.status]
    return HEADLINE_COLOURS["pass" if ev.passed else "fail"]


def _cases_line(ev: Evaluation, t: dict[str, Any], lang: str) -> str:
    if not ev.cases_run:
        return ""
    parts = []
    for kind in ("visible", "hidden"):
        n = ev.cases_run.get(kind, 0)
        parts.append(f"{n} {plural(n, *t[kind], lang)}")
    return f"{t['cases']}{t['colon']}{', '.join(parts)}"


def criterion_lines(ev: Evaluation, lang: str) -> list[CriterionLine]:
    """The criteria a learner needs to read: built-in gates that passed, or did not apply, say
    nothing and are left out."""
    t = STRINGS[lang]
    lines = []
    for r in ev.criteria:
        if r.weight == 0 and (r.ok or r.score is None):
            continue
        state = "unscored" if r.score is None else ("pass" if r.ok else "fail")
        score = "" if r.score is None else percent(r.score, lang)
        weight = f"{t['weight']} {number(r.weight, lang)}" + (f", {t['required']}" if r.gate else "")
        lines.append(CriterionLine(state=state, label=pick(r.label, lang), verdict=t[f"verdict_{state}"], score=score,
                                   weight=weight, explanation=r.text(lang), hint="" if r.ok else pick(r.hint, lang)))
    return lines


def feedback_view(ev: Evaluation, lang: str | None = None, *, practice: bool = False) -> FeedbackView:
    """The feedback on `ev` in `lang`; `practice` for a check on the visible cases, which says
    'no result' rather than 'not graded yet' when the model could not answer."""
    lang = _lang(lang)
    t = STRINGS[lang]
    notes = [fr if lang == "fr" else en for en, fr in ev.notes]
    alerts = [split_fix(n) for n in notes] if ev.status != "graded" else []
    return FeedbackView(
        lang=lang, t=t, exercise_id=ev.exercise_id, title=ev.title_in(lang),
        headline=_headline(ev, t, lang, practice), colour=_colour(ev), cases_line=_cases_line(ev, t, lang),
        alerts=alerts, notes=[] if alerts else notes, criteria=criterion_lines(ev, lang),
        hint=pick(ev.hints, lang) if ev.status == "graded" and not ev.passed else "",
        # a practice check that got no answer has nothing for a reviewer: the alert says it all
        flags="" if practice and ev.status == "not_graded" else "; ".join(ev.flags),
    )


def view_text(fb: FeedbackView) -> list[str]:
    """The feedback's lines of plain text (also the top of a check's text)."""
    t = fb.t
    lines = [f"{fb.title} [{fb.exercise_id}]", fb.headline]
    if fb.cases_line:
        lines.append(fb.cases_line)
    for problem, fix in fb.alerts:
        lines.append(f"! {problem}")
        if fix:
            lines.append(f"  {t['fix']}{t['colon']}{fix}")
    lines += [f"! {note}" for note in fb.notes]
    for c in fb.criteria:
        lines.append(f"{c.symbol} {c.label} [{c.verdict}{', ' + c.score if c.score else ''}; {c.weight}]"
                     f"{t['colon']}{c.explanation}")
        if c.hint:
            lines.append(f"    {t['hint']}{t['colon']}{c.hint}")
    if fb.hint:
        lines.append(f"{t['hint']}{t['colon']}{fb.hint}")
    if fb.flags:
        lines.append(f"{t['flags']}{t['colon']}{fb.flags}")
    return lines


def feedback_text(ev: Evaluation, lang: str | None = None) -> str:
    return "\n".join(view_text(feedback_view(ev, lang)))


def feedback_html(ev: Evaluation, lang: str | None = None) -> str:
    return render("feedback.html.j2", fb=feedback_view(ev, lang))
