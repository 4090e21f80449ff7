"""What the report needs to know about an exercise that the journal does not hold: its title,
pass mark and each criterion's human label, weight and whether it is required.

Read from the exercise's spec (visible part only: `load_spec` reads hidden cases only when asked,
and nothing here asks). The journal's criterion rows carry only the criterion's `use` name and its
score, in the order the runner scored them (the spec's criteria, then the built-in gates it did
not list), so rows are matched to the spec in that order by name; a row that carries its own
`key`, `label` or `gate` (a later journal) is taken as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["CriterionInfo", "ExerciseInfo", "exercise_info", "match_criteria"]

# the pass mark a spec gets when it sets none (spec.py's default)
DEFAULT_PASS_MARK = 0.7


@dataclass(frozen=True)
class CriterionInfo:
    key: str
    use: str
    label: dict[str, str]
    weight: float = 1.0
    gate: bool = False
    # a gate the runner adds to every exercise (not in the spec): listed only when someone fails it
    builtin: bool = False
    hint: dict[str, str] = field(default_factory=dict)

    def label_in(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("en") or self.key


@dataclass(frozen=True)
class ExerciseInfo:
    id: str
    title: dict[str, str]
    points: float
    pass_mark: float = DEFAULT_PASS_MARK
    criteria: tuple[CriterionInfo, ...] = ()

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title.get("en") or self.id


def _describe(use: str, args: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The criterion's own label in both languages, or its name when it is not registered."""
    from ..errors import SpecError
    from ..grading.criteria import get_criterion

    try:
        crit = get_criterion(use)
    except SpecError:  # an unknown name (a renamed criterion): its name is all there is
        return {"en": use, "fr": use}
    return {lang: crit.describe(dict(args or {}), lang) for lang in ("en", "fr")}


def exercise_info(exercise_id: str, points: float = 0.0) -> ExerciseInfo:
    """The exercise as its spec describes it; its id alone when the spec cannot be read (the
    graders folder moved): the report still shows scores, under internal names."""
    from ..errors import AtelierError
    from ..grading.runner import DEFAULT_GATES
    from ..grading.spec import load_spec

    try:
        spec = load_spec(exercise_id)
    except AtelierError:
        return ExerciseInfo(exercise_id, {}, points)
    criteria = [CriterionInfo(key=c.key or c.use, use=c.use,
                              label={lang: c.label.get(lang) or _describe(c.use, c.args)[lang] for lang in ("en", "fr")},
                              weight=c.weight, gate=c.gate, hint=dict(c.hint)) for c in spec.criteria]
    listed = {c.use for c in spec.criteria}
    for name in (*DEFAULT_GATES, "no_answer_leak"):
        if name not in listed:
            criteria.append(CriterionInfo(key=name, use=name, label=_describe(name), weight=0.0, gate=True, builtin=True))
    return ExerciseInfo(spec.id, dict(spec.title), spec.points, spec.pass_threshold, tuple(criteria))


def match_criteria(rows: Iterable[Mapping[str, Any]], info: ExerciseInfo) -> list[tuple[CriterionInfo, float | None]]:
    """Each journal row with the criterion it scored."""
    pool = list(info.criteria)
    out = []
    for row in rows:
        name, key = str(row.get("name") or ""), row.get("key")
        found = next((c for c in pool if key and c.key == key), None) or next((c for c in pool if c.use == name), None)
        if found is not None:
            pool.remove(found)
        else:
            found = CriterionInfo(key=str(key or name), use=name, label=_describe(name))
        if isinstance(row.get("label"), dict) and row["label"]:
            found = replace(found, label=dict(row["label"]))
        if isinstance(row.get("gate"), bool):
            found = replace(found, gate=row["gate"])
        score = row.get("score")
        out.append((found, None if score is None else float(score)))
    return out
