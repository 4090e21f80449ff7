"""The cohort's tables (pandas), built from the grading journal's results.

Each (learner, exercise) gets one report state, finer than the journal's status, because an
instructor acts differently on each: passed / below / very_low (graded, against the exercise's
pass mark), invalid (a prompt the grader refuses), not_answered (still the notebook's
placeholder), not_submitted (no notebook), not_graded (the model was down: no score, never 0) and
manual (the kit cannot grade it). Flags are a mark on top of any state.

Nothing here reads a hidden case: the journal holds scores, criterion names and flags, and the
optional per-item `cases` rows hold visible cases only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exercises import ExerciseInfo, exercise_info, match_criteria
from .words import words

__all__ = ["STATES", "CohortTables", "band", "cohort_tables", "item_state"]

STATES = ("passed", "below", "very_low", "invalid", "not_answered", "not_submitted", "not_graded", "manual")
ATTEMPTED = ("passed", "below", "very_low", "invalid")
PENDING = ("not_graded", "manual")
# how the grader words an invalid answer that was never written or never handed in (cohort.py,
# submission.py); a journal row that carries `invalid_reason` is read instead
NOT_ANSWERED = ("Not answered yet", "Pas encore de réponse")
NOT_SUBMITTED = ("was not submitted",)
# a criterion scored at least this on a case passed it (as the rubric counts)
PASSED = 0.999
# how many failures per exercise the report lists
TOP = 3


def band(fraction: float, pass_mark: float) -> str:
    """passed at or above the pass mark, below under it, very_low under half of it."""
    if fraction >= pass_mark - 1e-9:
        return "passed"
    return "below" if fraction >= pass_mark / 2 - 1e-9 else "very_low"


def item_state(item: Any, pass_mark: float) -> str:
    """The report state of one journal result (see the module's docstring)."""
    if item.status == "graded":
        return band((item.points or 0.0) / item.max_points if item.max_points else 0.0, pass_mark)
    if item.status == "invalid":
        reason = getattr(item, "invalid_reason", "")
        if reason in ("not_answered", "not_submitted"):
            return str(reason)
        if any(mark in item.feedback for mark in NOT_SUBMITTED):
            return "not_submitted"
        if any(mark in item.feedback for mark in NOT_ANSWERED):
            return "not_answered"
        return "invalid"
    return str(item.status)


@dataclass
class CohortTables:
    """The report's tables, in one language (titles and labels); states stay codes (STATES)."""

    lang: str
    exercise_infos: dict[str, ExerciseInfo]  # in the assignment's order
    items: Any  # DataFrame: one row per (learner, exercise)
    learners: Any
    exercises: Any
    criteria: Any
    failures: Any
    cases: Any  # visible cases most often failed: empty unless the journal holds visible outputs
    attention: Any

    def csv_frames(self) -> dict[str, Any]:
        """The tables as they go to CSV: plain-word headers and states in the report's language."""
        w = words(self.lang)
        yes_no = {True: w["yes"], False: w["no"]}

        def plain(frame: Any) -> Any:
            out = frame.copy()
            if "state" in out:
                out["state"] = out["state"].map(w["states"])
            for column in ("flagged", "required"):
                if column in out and out[column].dtype == bool:  # a learner's `flagged` is a count
                    out[column] = out[column].map(yes_no)
            return out.drop(columns=[c for c in ("band",) if c in out]).rename(columns=w["columns"])

        return {name: plain(getattr(self, name)) for name in ("learners", "exercises", "criteria", "items")}


def _reasons(item: Any, lang: str) -> str:
    if item.flags:
        return "; ".join(str(f) for f in item.flags)
    return words(lang)["reason_not_graded"] if item.status == "not_graded" else ""


def _case_rows(item: Any) -> list[Mapping[str, Any]]:
    rows = getattr(item, "cases", None)
    return [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


def cohort_tables(results: Sequence[Any], lang: str = "en", infos: Mapping[str, ExerciseInfo] | None = None,
                  order: Sequence[str] | None = None) -> CohortTables:
    """The tables for `results` (the journal's ItemResults). `infos` defaults to each exercise's
    spec; `order` is the assignment's exercise order (else first seen)."""
    import pandas as pd

    ids = list(dict.fromkeys([*(order or []), *(r.exercise_id for r in results)]))
    infos = dict(infos or {})
    for r in results:
        if r.exercise_id not in infos:
            infos[r.exercise_id] = exercise_info(r.exercise_id, r.max_points)
    infos = {i: infos[i] for i in ids if i in infos}
    rank = {e: i for i, e in enumerate(ids)}

    item_rows, crit_rows, case_rows = [], [], []
    for r in results:
        info = infos[r.exercise_id]
        state = item_state(r, info.pass_mark)
        points = r.points
        item_rows.append({
            "learner": r.student, "notebook": r.notebook, "exercise": r.exercise_id, "title": info.title_in(lang),
            # a manual or pending answer's flags are the reason it has no score, not a second alarm
            "state": state, "flagged": bool(r.flags) and state not in PENDING, "points": points, "max_points": r.max_points,
            "percent": None if points is None or not r.max_points else round(100 * points / r.max_points, 1),
            "pass_mark": round(100 * info.pass_mark, 1), "reasons": _reasons(r, lang),
        })
        if r.status == "graded":
            for position, (crit, score) in enumerate(match_criteria(r.criteria, info)):
                crit_rows.append({"exercise": r.exercise_id, "key": crit.key, "position": position, "crit": crit,
                                  "score": score})
            for case in _case_rows(r):
                case_rows.append({"exercise": r.exercise_id, "learner": r.student, **case})

    columns = ["learner", "notebook", "exercise", "title", "state", "flagged", "points", "max_points", "percent",
               "pass_mark", "reasons"]
    items = pd.DataFrame(item_rows, columns=columns)
    items = items.assign(_rank=items["exercise"].map(rank)).sort_values(["learner", "_rank"]).drop(columns="_rank")
    items = items.reset_index(drop=True)
    return CohortTables(
        lang=lang, exercise_infos=infos, items=items, learners=_learners(items), exercises=_exercises(items, infos, lang),
        criteria=(criteria := _criteria(crit_rows, infos, lang)), failures=_failures(criteria, infos, lang),
        cases=_cases(case_rows, infos, lang), attention=_attention(items),
    )


def _count(frame: Any, by: str, states: Sequence[str]) -> Any:
    return frame["state"].isin(states).groupby(frame[by]).sum().astype(int)


def _learners(items: Any) -> Any:
    import pandas as pd

    by = items.groupby("learner")
    learners = pd.DataFrame({
        "points": by["points"].sum(min_count=0).round(2),
        "max_points": by["max_points"].sum(),
    })
    learners["percent"] = (100 * learners["points"] / learners["max_points"]).round(1)
    for column, states in (("passed", ["passed"]), ("below", ["below", "very_low"]), ("invalid", ["invalid"]),
                           ("not_answered", ["not_answered"]), ("not_submitted", ["not_submitted"]),
                           ("pending", list(PENDING))):
        learners[column] = _count(items, "learner", states)
    learners["flagged"] = items.groupby("learner")["flagged"].sum().astype(int)
    learners = learners.reset_index().sort_values(["percent", "learner"], ascending=[False, True])
    return learners.reset_index(drop=True)


def _exercises(items: Any, infos: Mapping[str, ExerciseInfo], lang: str) -> Any:
    import pandas as pd

    rows = []
    for exercise, info in infos.items():
        mine = items[items["exercise"] == exercise]
        attempted = mine[mine["state"].isin(ATTEMPTED)]
        passed = int((mine["state"] == "passed").sum())
        rows.append({
            "exercise": exercise, "title": info.title_in(lang),
            "max_points": info.points or (mine["max_points"].iloc[0] if len(mine) else 0.0),
            "pass_mark": round(100 * info.pass_mark, 1), "attempted": len(attempted), "passed": passed,
            "pass_rate": round(100 * passed / len(attempted), 1) if len(attempted) else None,
            "mean_percent": round(float(attempted["percent"].mean()), 1) if len(attempted) else None,
            **{s: int((mine["state"] == s).sum()) for s in ("invalid", "not_answered", "not_submitted")},
            "pending": int(mine["state"].isin(PENDING).sum()), "flagged": int(mine["flagged"].sum()),
        })
    columns = ["exercise", "title", "max_points", "pass_mark", "attempted", "passed", "pass_rate", "mean_percent",
               "invalid", "not_answered", "not_submitted", "pending", "flagged"]
    return pd.DataFrame(rows, columns=columns)


def _criteria(rows: list[dict[str, Any]], infos: Mapping[str, ExerciseInfo], lang: str) -> Any:
    import pandas as pd

    columns = ["exercise", "title", "criterion", "key", "required", "weight", "scored", "passed_all", "failed",
               "case_rate", "unscored", "band"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["exercise"], row["key"]), []).append(row)
    out = []
    for (exercise, key), group in groups.items():
        crit, info = group[0]["crit"], infos[exercise]
        scores = [g["score"] for g in group if g["score"] is not None]
        passed = sum(s >= PASSED for s in scores)
        if crit.builtin and passed == len(scores):
            continue  # a built-in check nobody failed says nothing
        rate = sum(scores) / len(scores) if scores else None
        out.append({
            "exercise": exercise, "title": info.title_in(lang), "criterion": crit.label_in(lang), "key": key,
            "required": crit.gate, "weight": crit.weight, "scored": len(scores), "passed_all": passed,
            "failed": len(scores) - passed, "case_rate": None if rate is None else round(100 * rate, 1),
            "unscored": len(group) - len(scores), "band": "" if rate is None else band(rate, info.pass_mark),
            "_order": (list(infos).index(exercise), min(g["position"] for g in group)),
        })
    out.sort(key=lambda r: r.pop("_order"))
    return pd.DataFrame(out, columns=columns)


def _failures(criteria: Any, infos: Mapping[str, ExerciseInfo], lang: str) -> Any:
    import pandas as pd

    hints = {(e, c.key): c.hint.get(lang) or c.hint.get("en", "") for e, info in infos.items() for c in info.criteria}
    failing = criteria[criteria["failed"] > 0]
    rows = []
    for exercise in infos:
        mine = failing[failing["exercise"] == exercise].sort_values("failed", ascending=False, kind="stable")
        for _, row in mine.head(TOP).iterrows():
            rows.append({"exercise": exercise, "title": row["title"], "criterion": row["criterion"],
                         "key": row["key"], "failed": int(row["failed"]), "scored": int(row["scored"]),
                         "hint": hints.get((exercise, row["key"]), "")})
    return pd.DataFrame(rows, columns=["exercise", "title", "criterion", "key", "failed", "scored", "hint"])


def _cases(rows: list[dict[str, Any]], infos: Mapping[str, ExerciseInfo], lang: str) -> Any:
    """Visible cases failed by most learners, with one failing output (needs `cases` rows in the journal)."""
    import pandas as pd

    columns = ["exercise", "title", "case", "failed", "criteria", "example_learner", "example_output"]
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("failed"):
            by_case.setdefault((row["exercise"], str(row.get("case", ""))), []).append(row)
    out = []
    for exercise, info in infos.items():
        labels = {c.key: c.label_in(lang) for c in info.criteria}
        mine = sorted(((case, group) for (e, case), group in by_case.items() if e == exercise),
                      key=lambda pair: -len(pair[1]))
        for case, group in mine[:TOP]:
            keys = Counter(k for g in group for k in g["failed"])
            example = min(group, key=lambda g: g["learner"])
            out.append({"exercise": exercise, "title": info.title_in(lang), "case": case, "failed": len(group),
                        "criteria": "; ".join(labels.get(k, k) for k, _ in keys.most_common()),
                        "example_learner": example["learner"], "example_output": str(example.get("output") or "")})
    return pd.DataFrame(out, columns=columns)


def _attention(items: Any) -> Any:
    """Manual grading first, then flagged answers, then answers waiting for the model."""
    need = items[items["state"].isin(PENDING) | items["flagged"]].copy()
    manual = need["state"] == "manual"
    need["_priority"] = (~manual).astype(int) + (~manual & ~need["flagged"]).astype(int)
    need = need.sort_values(["_priority", "learner"], kind="stable").drop(columns="_priority")
    return need[["learner", "exercise", "title", "state", "flagged", "points", "max_points", "reasons"]].reset_index(drop=True)
