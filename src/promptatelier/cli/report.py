"""`atelier report ASSIGNMENT`: the cohort's results as tables, plots and one HTML file.

Reads the journal `atelier grade` writes (so it also works while grading runs: `--watch` shows
progress live). Nothing in it comes from hidden cases: only scores, criterion names and flags.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
import time
from pathlib import Path
from typing import Any

HELP = "Report a graded cohort: tables per learner / exercise / criterion, plots, an HTML file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="the nbgrader assignment name")
    parser.add_argument("--course", default=None, help="the nbgrader course root (default: the current folder)")
    parser.add_argument("--output", default=None,
                        help="HTML file to write (default: <course>/reports/<assignment>.html)")
    parser.add_argument("--watch", type=float, default=None, metavar="SECONDS",
                        help="show grading progress every SECONDS until the cohort is graded, then report")


def tables(results: list[Any]) -> dict[str, Any]:
    """The report's pandas tables from the journal's results."""
    import pandas as pd

    rows = [{
        "student": r.student, "exercise": r.exercise_id, "status": r.status,
        "points": r.points, "max_points": r.max_points, "notebook_score": r.notebook_score,
        "flags": len(r.flags),
    } for r in results]
    items = pd.DataFrame(rows, columns=["student", "exercise", "status", "points", "max_points",
                                        "notebook_score", "flags"])
    graded = items.assign(points=items["points"].fillna(0.0))
    learners = graded.groupby("student").agg(
        points=("points", "sum"), max_points=("max_points", "sum"),
        not_graded=("status", lambda s: int((s == "not_graded").sum())),
        invalid=("status", lambda s: int((s == "invalid").sum())), flags=("flags", "sum"),
    )
    learners["percent"] = (100 * learners["points"] / learners["max_points"]).round(1)
    learners = learners.sort_values("percent", ascending=False)
    scored = items[items["status"] != "not_graded"].assign(
        fraction=lambda d: d["points"] / d["max_points"])
    exercises = scored.groupby("exercise").agg(
        learners=("student", "nunique"), mean_points=("points", "mean"), max_points=("max_points", "first"),
        median_points=("points", "median"), min_points=("points", "min"),
        invalid=("status", lambda s: int((s == "invalid").sum())),
    ).round(2)
    not_graded = items[items["status"] == "not_graded"].groupby("exercise").size()
    exercises["not_graded"] = not_graded.reindex(exercises.index).fillna(0).astype(int)
    crit_rows = [{"exercise": r.exercise_id, "criterion": c.get("name"), "score": c.get("score")}
                 for r in results for c in r.criteria]
    criteria = pd.DataFrame(crit_rows, columns=["exercise", "criterion", "score"])
    if len(criteria):
        criteria = criteria.groupby(["exercise", "criterion"], sort=True).agg(
            mean_score=("score", "mean"), unscored=("score", lambda s: int(s.isna().sum())),
            learners=("score", "size")).round(3)
    flags = pd.DataFrame([{"student": r.student, "exercise": r.exercise_id, "flag": f}
                          for r in results for f in r.flags], columns=["student", "exercise", "flag"])
    return {"items": items, "learners": learners, "exercises": exercises, "criteria": criteria, "flags": flags}


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def plots(t: dict[str, Any]) -> dict[str, str]:
    """Base64 PNG plots: learners' totals, mean points per exercise, criteria per exercise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    learners, exercises, criteria = t["learners"], t["exercises"], t["criteria"]
    if len(learners):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(learners["percent"], bins=10, range=(0, 100), color="#4c72b0")
        ax.set_xlabel("score (%)")
        ax.set_ylabel("learners")
        ax.set_title("Learners' totals")
        out["learners"] = _png(fig)
        plt.close(fig)
    if len(exercises):
        fig, ax = plt.subplots(figsize=(6, 3))
        fractions = exercises["mean_points"] / exercises["max_points"]
        ax.barh(list(exercises.index), fractions * 100, color="#55a868")
        ax.set_xlim(0, 100)
        ax.set_xlabel("mean score (% of the exercise's points)")
        ax.set_title("Exercises")
        out["exercises"] = _png(fig)
        plt.close(fig)
    if len(criteria):
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(criteria) + 1))
        labels = [f"{e} · {c}" for e, c in criteria.index]
        ax.barh(labels, criteria["mean_score"].fillna(0) * 100, color="#c44e52")
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_xlabel("mean criterion score (%)")
        ax.set_title("Criteria")
        out["criteria"] = _png(fig)
        plt.close(fig)
    return out


def render_html(assignment: str, t: dict[str, Any], images: dict[str, str]) -> str:
    def section(title: str, frame: Any, image: str | None = None) -> str:
        body = frame.to_html(classes="table", border=0, na_rep="–") if len(frame) else "<p>None.</p>"
        img = f'<img alt="{html.escape(title)}" src="data:image/png;base64,{image}">' if image else ""
        return f"<h2>{html.escape(title)}</h2>{img}{body}"

    items = t["items"]
    head = (f"<p>{items['student'].nunique()} learners, {items['exercise'].nunique()} exercises, "
            f"{int((items['status'] == 'not_graded').sum())} answers not graded yet, "
            f"{len(t['flags'])} flags.</p>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(assignment)}: cohort report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        ".table{border-collapse:collapse}.table td,.table th{padding:.2em .6em;border-bottom:1px solid #ddd}"
        "img{display:block;margin:1em 0}</style></head><body>"
        f"<h1>{html.escape(assignment)}: cohort report</h1>{head}"
        + section("Flags for review", t["flags"])
        + section("Learners", t["learners"], images.get("learners"))
        + section("Exercises", t["exercises"], images.get("exercises"))
        + section("Criteria", t["criteria"], images.get("criteria"))
        + "</body></html>"
    )


def _progress_line(course: Any, assignment: str, results: list[Any]) -> tuple[str, bool]:
    expected = len(course.students(assignment)) * len(course.layout(assignment))
    done = sum(r.status != "not_graded" for r in results)
    waiting = sum(r.status == "not_graded" for r in results)
    return (f"{time.strftime('%H:%M:%S')}  {done}/{expected} answers graded, {waiting} waiting for the model, "
            f"{sum(bool(r.flags) for r in results)} flagged"), done >= expected


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..grading.cohort import CohortError, Course, Journal

    course = Course(args.course)
    journal_path = Journal.for_assignment(course, args.assignment).path
    if args.watch is not None:
        if args.watch <= 0:
            raise ConfigError(f"--watch {args.watch} is not a positive number of seconds.", "Use e.g. --watch 5.")
        while True:
            journal = Journal(journal_path)
            line, finished = _progress_line(course, args.assignment, journal.all())
            journal.close()
            print(line, flush=True)
            if finished:
                break
            time.sleep(args.watch)
    journal = Journal(journal_path)
    results = journal.all()
    journal.close()
    if not results:
        raise CohortError(
            f"Nothing has been graded for {args.assignment!r} in {course.root} yet.",
            f"Run `atelier grade {args.assignment}` first.",
        )
    t = tables(results)
    output = Path(args.output) if args.output else course.root / "reports" / f"{args.assignment}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(args.assignment, t, plots(t)), encoding="utf-8")
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print("Learners\n", t["learners"].to_string(), "\n", sep="")
        print("Exercises\n", t["exercises"].to_string(), "\n", sep="")
        if len(t["criteria"]):
            print("Criteria\n", t["criteria"].to_string(), "\n", sep="")
        if len(t["flags"]):
            print("Flags\n", t["flags"].to_string(index=False), "\n", sep="")
    print(f"Report written to {output}")
    sys.stdout.flush()
    return 0
