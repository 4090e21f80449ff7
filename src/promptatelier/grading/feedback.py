"""Feedback on an evaluation, as text and HTML, in English or French.

Built only from an `Evaluation`, which holds no hidden input, output or answer: what is shown
here cannot reveal a hidden case.
"""

from __future__ import annotations

from html import escape

from ..config import settings
from .base import pick
from .result import Evaluation

__all__ = ["feedback_text", "feedback_html", "STRINGS"]

STRINGS = {
    "en": {
        "score": "Score", "graded": "graded", "invalid": "not accepted", "not_graded": "not graded yet",
        "pass": "passed", "fail": "below the pass mark", "criterion": "Criterion", "result": "Result",
        "hint": "Hint", "unscored": "unscored", "flags": "Sent for review", "cases": "cases",
        "visible": "visible", "hidden": "hidden", "weight": "weight", "required": "required",
        "notes": "Notes", "case": "Case", "output": "Model output", "expected": "Expected", "error": "error",
    },
    "fr": {
        "score": "Note", "graded": "noté", "invalid": "non acceptée", "not_graded": "pas encore noté",
        "pass": "réussi", "fail": "sous le seuil de réussite", "criterion": "Critère", "result": "Résultat",
        "hint": "Indice", "unscored": "non noté", "flags": "À revoir", "cases": "cas",
        "visible": "visibles", "hidden": "cachés", "weight": "poids", "required": "obligatoire",
        "notes": "Remarques", "case": "Cas", "output": "Sortie du modèle", "expected": "Attendu", "error": "erreur",
    },
}


def _lang(lang: str | None) -> str:
    lang = lang or settings().language
    return lang if lang in STRINGS else "en"


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _headline(ev: Evaluation, t: dict[str, str]) -> str:
    if ev.points is None:
        return f"{t['score']}: — / {_fmt(ev.max_points)} ({t[ev.status]})"
    verdict = t["pass"] if ev.passed else t["fail"]
    if ev.status == "invalid":
        verdict = t["invalid"]
    return f"{t['score']}: {_fmt(ev.points)} / {_fmt(ev.max_points)} ({verdict})"


def _mark(ok: bool | None) -> str:
    return "✓" if ok else ("–" if ok is None else "✗")


def feedback_text(ev: Evaluation, lang: str | None = None) -> str:
    lang = _lang(lang)
    t = STRINGS[lang]
    lines = [f"{ev.title_in(lang)} [{ev.exercise_id}]", _headline(ev, t)]
    if ev.cases_run:
        lines.append(f"{t['cases']}: {ev.cases_run.get('visible', 0)} {t['visible']}, {ev.cases_run.get('hidden', 0)} {t['hidden']}")
    for en, fr in ev.notes:
        lines.append(f"! {fr if lang == 'fr' else en}")
    for r in ev.criteria:
        if r.weight == 0 and r.ok:
            continue
        state = None if r.score is None else r.ok
        score = t["unscored"] if r.score is None else f"{round(r.score * 100)}%"
        extra = f", {t['required']}" if r.gate else ""
        lines.append(f"{_mark(state)} {pick(r.label, lang)} [{score}, {t['weight']} {_fmt(r.weight)}{extra}]: {r.text(lang)}")
        if not r.ok and pick(r.hint, lang):
            lines.append(f"    {t['hint']}: {pick(r.hint, lang)}")
    if ev.status == "graded" and not ev.passed and pick(ev.hints, lang):
        lines.append(f"{t['hint']}: {pick(ev.hints, lang)}")
    if ev.flags:
        lines.append(f"{t['flags']}: " + "; ".join(ev.flags))
    return "\n".join(lines)


def feedback_html(ev: Evaluation, lang: str | None = None) -> str:
    lang = _lang(lang)
    t = STRINGS[lang]
    colour = {"graded": "#1a7f37" if ev.passed else "#9a6700", "invalid": "#cf222e", "not_graded": "#57606a"}[ev.status]
    out = [
        f'<div class="atelier-feedback" lang="{lang}" style="font-family:sans-serif;line-height:1.4">',
        f"<h4 style='margin:0.2em 0'>{escape(ev.title_in(lang))} <code>{escape(ev.exercise_id)}</code></h4>",
        f"<p style='color:{colour};font-weight:bold;margin:0.2em 0'>{escape(_headline(ev, t))}</p>",
    ]
    if ev.notes:
        out.append("<ul>" + "".join(f"<li>{escape(fr if lang == 'fr' else en)}</li>" for en, fr in ev.notes) + "</ul>")
    if ev.criteria:
        out.append(f"<table><thead><tr><th></th><th>{t['criterion']}</th><th>{t['result']}</th><th>{t['hint']}</th></tr></thead><tbody>")
        for r in ev.criteria:
            if r.weight == 0 and r.ok:
                continue
            state = None if r.score is None else r.ok
            score = t["unscored"] if r.score is None else f"{round(r.score * 100)}%"
            hint = "" if r.ok else escape(pick(r.hint, lang))
            out.append(
                f"<tr><td>{_mark(state)}</td><td>{escape(pick(r.label, lang))}<br><small>{t['weight']} {_fmt(r.weight)}"
                f"{', ' + t['required'] if r.gate else ''}</small></td><td>{score}<br><small>{escape(r.text(lang))}</small></td><td>{hint}</td></tr>"
            )
        out.append("</tbody></table>")
    if ev.flags:
        out.append(f"<p><b>{t['flags']}:</b> {escape('; '.join(ev.flags))}</p>")
    out.append("</div>")
    return "".join(out)
