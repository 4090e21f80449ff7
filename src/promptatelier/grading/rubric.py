"""The rubric: per-case scores -> one result per criterion -> points in [0, points].

points = points × Σ weight·score / Σ weight, over the criteria that could be scored; a gate
criterion that fails sets the total to 0. Pure arithmetic on the scores, so identical outputs
always give identical points.
"""

from __future__ import annotations

from .base import Score
from .result import CriterionResult
from .spec import Case, CriterionSpec, ExerciseSpec

__all__ = ["aggregate", "combine"]


def aggregate(spec: ExerciseSpec, cspec: CriterionSpec, per_case: list[tuple[Case, Score]] | Score) -> CriterionResult:
    """One criterion's result over the cases, explained without any hidden detail."""
    crit = cspec.criterion
    label = {lang: cspec.label.get(lang) or crit.describe(cspec.args, lang) for lang in ("en", "fr")}
    common = dict(name=cspec.use, family=crit.family, label=label, weight=cspec.weight, hint=cspec.hint, gate=cspec.gate,
                  key=cspec.key or cspec.use, gate_below=cspec.gate_below)
    if isinstance(per_case, Score):
        s = per_case
        return CriterionResult(score=s.value, explanation=s.explanation, explanation_fr=s.text("fr"),
                               passed=int(bool(s.value is not None and s.value >= 0.999)), scored=int(s.scored), total=1, **common)
    scored = [(c, s) for c, s in per_case if s.scored]
    total = len(per_case)
    if not scored:
        first = per_case[0][1] if per_case else Score(None, "no case to score", "aucun cas à noter")
        return CriterionResult(score=None, explanation=first.explanation, explanation_fr=first.text("fr"), total=total, **common)
    value = sum(s.value for _, s in scored) / len(scored)  # type: ignore[misc]
    passed = sum(1 for _, s in scored if s.value >= 0.999)  # type: ignore[operator]
    vis = [(c, s) for c, s in scored if not c.hidden]
    hid = [(c, s) for c, s in scored if c.hidden]
    en = f"{passed}/{len(scored)} cases pass"
    fr = f"{passed}/{len(scored)} cas réussis"
    if vis and hid:
        vp = sum(1 for _, s in vis if s.value >= 0.999)  # type: ignore[operator]
        en += f" (visible {vp}/{len(vis)}, hidden {passed - vp}/{len(hid)})"
        fr += f" (visibles {vp}/{len(vis)}, cachés {passed - vp}/{len(hid)})"
    if len(scored) < total:
        en += f"; {total - len(scored)} unscored"
        fr += f" ; {total - len(scored)} non notés"
    failing = next(((c, s) for c, s in vis if s.value < 0.999), None)  # type: ignore[operator]
    if failing is not None:
        en += f"; e.g. '{failing[0].name}': {failing[1].explanation}"
        fr += f" ; par ex. « {failing[0].name} » : {failing[1].text('fr')}"
    elif passed == len(scored) and vis:
        en += f"; e.g. '{vis[0][0].name}': {vis[0][1].explanation}"
        fr += f" ; par ex. « {vis[0][0].name} » : {vis[0][1].text('fr')}"
    return CriterionResult(score=value, explanation=en, explanation_fr=fr, passed=passed, scored=len(scored), total=total, **common)


def combine(spec: ExerciseSpec, results: list[CriterionResult]) -> float | None:
    """Points earned, or None when no weighted criterion could be scored."""
    if any(r.gate_failed for r in results):
        return 0.0
    weighted = [(r.weight, r.score) for r in results if r.score is not None and r.weight > 0]
    total_weight = sum(w for w, _ in weighted)
    if total_weight <= 0:
        return None
    fraction = sum(w * s for w, s in weighted) / total_weight  # type: ignore[operator]
    return round(spec.points * fraction, 4)
