"""The cohort view model, on a pinned clock: best and latest scores, who is stuck and why, and
which criterion fails most."""

from __future__ import annotations

from promptatelier.progress.cohort import Rules, summarise
from promptatelier.progress.payload import CheckPost, CriterionPost
from promptatelier.progress.store import CheckRow

MIN = 60.0


def _row(learner: str, at_min: float, points: float | None, *failing: str, exercise: str = "w01.label") -> CheckRow:
    keys = ("accuracy", "delimiters", "label_only")
    criteria = tuple(CriterionPost(k, k.title(), None if points is None else (0.0 if k in failing else 1.0),
                                   k not in failing) for k in keys)
    post = CheckPost(exercise, exercise.upper(), "graded" if points is not None else "not_graded", points, 4.0,
                     points is not None and points >= 3, criteria)
    return CheckRow(learner, at_min * MIN, post)


def test_best_and_latest_scores_and_passed_once_stays_passed() -> None:
    cohort = summarise([_row("bob", 0, 1, "delimiters", "accuracy"), _row("bob", 1, 4), _row("bob", 2, 2, "accuracy")],
                       now=3 * MIN)
    cell = cohort.cell("bob", "w01.label")
    assert (cell.checks, cell.best, cell.latest, cell.passed, cell.latest_passed) == (3, 1.0, 0.5, True, False)
    assert cell.failing == ["Accuracy"] and not cell.stuck and cohort.stuck == []


def test_several_checks_below_the_pass_mark_is_stuck() -> None:
    rows = [_row("bob", m, 1, "delimiters") for m in (0, 1, 2)]
    cohort = summarise(rows, now=3 * MIN, rules=Rules(stuck_checks=3, stuck_minutes=20))
    assert [(s.learner, s.exercise, s.why, s.failing) for s in cohort.stuck] == [
        ("bob", "w01.label", "3 checks, best 25%, not passed yet", ["Delimiters"])]
    # one check fewer is not stuck yet
    assert summarise(rows[:2], now=3 * MIN).stuck == []


def test_no_better_score_for_n_minutes_on_the_exercise_checked_last_is_stuck() -> None:
    rows = [_row("cy", 0, 1, "delimiters"), _row("cy", 15, 1, "delimiters", exercise="w01.other")]
    cohort = summarise(rows, now=40 * MIN, rules=Rules(stuck_checks=5, stuck_minutes=20))
    # only the exercise cy works on now: the one left earlier is not "stuck"
    assert [(s.exercise, s.why) for s in cohort.stuck] == [("w01.other", "no better score for 25 min (best 25%)")]
    assert summarise(rows, now=30 * MIN, rules=Rules(stuck_checks=5, stuck_minutes=20)).stuck == []


def test_an_improving_learner_is_not_stuck_by_time() -> None:
    rows = [_row("cy", 0, 0, "delimiters", "accuracy"), _row("cy", 25, 1, "delimiters")]
    assert summarise(rows, now=30 * MIN, rules=Rules(stuck_checks=5, stuck_minutes=20)).stuck == []


def test_a_model_outage_counts_for_nothing() -> None:
    rows = [_row("bob", m, None) for m in (0, 1, 2, 3)]
    cohort = summarise(rows, now=60 * MIN)
    cell = cohort.cell("bob", "w01.label")
    assert (cell.checks, cell.not_graded, cell.best) == (0, 4, None)
    assert cohort.stuck == [] and cohort.exercises[0].criteria == []


def test_the_criterion_failing_most_comes_first_with_who_fails_it_now() -> None:
    rows = [
        _row("bob", 0, 1, "delimiters", "label_only"),
        _row("bob", 1, 3, "label_only"),
        _row("cy", 0, 2, "delimiters"),
        _row("dee", 0, 2, "delimiters", "accuracy"),
    ]
    summary = summarise(rows, now=2 * MIN).exercises[0]
    table = [(c.key, c.learners, c.failed_checks, c.scored_checks) for c in summary.criteria]
    assert table == [("delimiters", ["cy", "dee"], 3, 4), ("label_only", ["bob"], 2, 4), ("accuracy", ["dee"], 1, 4)]
    assert summary.criteria[0].share == 0.75
    assert (summary.tried, summary.passed) == (3, 1)


def test_learners_without_a_check_are_listed_and_json_matches() -> None:
    cohort = summarise([_row("bob", 0, 1, "delimiters")], now=MIN, learners=["dee", "bob"])
    assert cohort.learners == ["bob", "dee"] and cohort.cell("dee", "w01.label") is None
    data = cohort.to_json()
    assert data["learners"] == ["bob", "dee"] and data["exercises"][0]["criteria"][0]["share"] == 1.0
    assert data["cells"][0]["latest"] == 0.25


def test_prompts_show_only_when_shared() -> None:
    row = _row("bob", 0, 1, "delimiters")
    shared = CheckRow(row.learner, row.at, CheckPost(**{**row.post.__dict__, "prompt": "P {review}"}))
    assert summarise([shared], now=MIN).cell("bob", "w01.label").prompt is None
    assert summarise([shared], now=MIN, share_prompts=True).cell("bob", "w01.label").prompt == "P {review}"
