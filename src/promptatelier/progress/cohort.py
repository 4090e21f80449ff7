"""The instructor's view of the cohort, computed from the stored checks: for each learner and
exercise the best and latest score, who is stuck and why, and for each exercise the criteria that
fail most. A pure function of the rows and the clock, so the view and its JSON agree and tests can
pin the time.

Stuck, in one sentence an instructor can check by hand: an exercise a learner has not passed
where they have checked it `stuck_checks` times or more, or which is the exercise they checked
last and whose best score has not improved for `stuck_minutes`. A check the model could not
grade (an outage) counts for neither: it is not the learner's doing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .store import CheckRow

__all__ = ["Cell", "Cohort", "CriterionFailure", "ExerciseSummary", "Rules", "Stuck", "summarise"]


@dataclass(frozen=True)
class Rules:
    stuck_checks: int = 3
    stuck_minutes: float = 20.0


@dataclass
class Cell:
    """One learner on one exercise."""

    learner: str
    exercise: str
    checks: int = 0
    not_graded: int = 0
    best: float | None = None
    latest: float | None = None
    best_points: float | None = None
    latest_points: float | None = None
    max_points: float = 0.0
    passed: bool = False
    latest_passed: bool = False
    last_at: float = 0.0
    improved_at: float = 0.0
    # the criteria the latest graded check failed: labels to show, keys to count
    failing: list[str] = field(default_factory=list)
    failing_keys: list[str] = field(default_factory=list)
    prompt: str | None = None
    stuck: str = ""


@dataclass
class Stuck:
    learner: str
    exercise: str
    title: str
    why: str
    failing: list[str]


@dataclass
class CriterionFailure:
    """How often one criterion of an exercise fails: over every graded check, and among the
    learners whose latest check of the exercise fails it."""

    key: str
    label: str
    failed_checks: int = 0
    scored_checks: int = 0
    learners: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.failed_checks / self.scored_checks if self.scored_checks else 0.0


@dataclass
class ExerciseSummary:
    exercise: str
    title: str
    tried: int = 0
    passed: int = 0
    stuck: int = 0
    criteria: list[CriterionFailure] = field(default_factory=list)


@dataclass
class Cohort:
    now: float
    rules: Rules
    learners: list[str]
    exercises: list[ExerciseSummary]
    cells: dict[tuple[str, str], Cell]
    stuck: list[Stuck]
    checks: int
    share_prompts: bool

    def cell(self, learner: str, exercise: str) -> Cell | None:
        return self.cells.get((learner, exercise))

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.now,
            "rules": asdict(self.rules),
            "checks": self.checks,
            "learners": self.learners,
            "exercises": [{**asdict(e), "criteria": [{**asdict(c), "share": c.share} for c in e.criteria]}
                          for e in self.exercises],
            "cells": [asdict(c) for c in self.cells.values()],
            "stuck": [asdict(s) for s in self.stuck],
        }


def _fraction(points: float | None, max_points: float) -> float | None:
    if points is None:
        return None
    return points / max_points if max_points else 0.0


def summarise(rows: Iterable[CheckRow], *, now: float, rules: Rules = Rules(), learners: Sequence[str] = (),
              share_prompts: bool = False) -> Cohort:
    """The cohort from every check (oldest first); `learners` adds the course's learners who
    have not checked anything yet, so an instructor sees them too."""
    cells: dict[tuple[str, str], Cell] = {}
    titles: dict[str, str] = {}
    failures: dict[str, dict[str, CriterionFailure]] = {}
    latest_exercise: dict[str, tuple[float, str]] = {}
    count = 0
    for row in rows:
        count += 1
        post = row.post
        titles[post.exercise] = post.title
        cell = cells.setdefault((row.learner, post.exercise), Cell(row.learner, post.exercise))
        cell.last_at = row.at
        cell.max_points = post.max_points
        if share_prompts and post.prompt is not None:
            cell.prompt = post.prompt
        if post.status == "not_graded" or post.points is None:
            cell.not_graded += 1
            continue
        latest_exercise[row.learner] = (row.at, post.exercise)
        fraction = _fraction(post.points, post.max_points)
        cell.checks += 1
        cell.latest, cell.latest_points, cell.latest_passed = fraction, post.points, post.passed
        if cell.best is None or (fraction is not None and fraction > cell.best + 1e-9) or cell.checks == 1:
            cell.best, cell.best_points, cell.improved_at = fraction, post.points, row.at
        cell.passed = cell.passed or post.passed
        failed = [c for c in post.criteria if c.score is not None and not c.ok]
        cell.failing, cell.failing_keys = [c.label for c in failed], [c.key for c in failed]
        table = failures.setdefault(post.exercise, {})
        for c in post.criteria:
            if c.score is None:
                continue
            entry = table.setdefault(c.key, CriterionFailure(c.key, c.label))
            entry.scored_checks += 1
            entry.failed_checks += 0 if c.ok else 1

    stuck: list[Stuck] = []
    for cell in cells.values():
        if cell.passed or cell.checks == 0:
            continue
        best = f"{cell.best:.0%}" if cell.best is not None else "no score"
        minutes = (now - cell.improved_at) / 60
        if cell.checks >= rules.stuck_checks:
            cell.stuck = f"{cell.checks} checks, best {best}, not passed yet"
        elif latest_exercise.get(cell.learner, (0, ""))[1] == cell.exercise and minutes >= rules.stuck_minutes:
            cell.stuck = f"no better score for {minutes:.0f} min (best {best})"
        if cell.stuck:
            stuck.append(Stuck(cell.learner, cell.exercise, titles[cell.exercise], cell.stuck, cell.failing))

    summaries = []
    for exercise in sorted(titles):
        mine = [c for c in cells.values() if c.exercise == exercise]
        table = failures.get(exercise, {})
        for c in sorted(mine, key=lambda c: c.learner):
            for key in c.failing_keys:
                table[key].learners.append(c.learner)
        ranked = sorted((e for e in table.values() if e.failed_checks),
                        key=lambda e: (-len(e.learners), -e.failed_checks, -e.share, e.key))
        summaries.append(ExerciseSummary(
            exercise, titles[exercise], tried=sum(1 for c in mine if c.checks), passed=sum(1 for c in mine if c.passed),
            stuck=sum(1 for c in mine if c.stuck), criteria=ranked))
    stuck.sort(key=lambda s: (s.exercise, s.learner))
    names = sorted(set(learners) | {c.learner for c in cells.values()})
    return Cohort(now, rules, names, summaries, cells, stuck, count, share_prompts)
