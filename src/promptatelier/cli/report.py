"""`atelier report ASSIGNMENT`: the cohort's results as one HTML page and CSV tables.

Reads the journal `atelier grade` writes (so it also works while grading runs: `--watch` shows
progress live); the report itself is built by `promptatelier.report`. Nothing in it comes from
hidden cases: only scores, criteria, visible cases and flags.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HELP = ("Report a graded cohort: what needs you first, a learner × exercise heatmap, exercises, criteria, "
        "common failures; one HTML page and CSV tables.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="the nbgrader assignment name")
    parser.add_argument("--course", default=None, help="the nbgrader course root (default: the current folder)")
    parser.add_argument("--output", default=None,
                        help="HTML file to write (default: <course>/reports/<assignment>.html); the CSV tables "
                             "go next to it as <name>-learners.csv, -exercises.csv, -criteria.csv, -items.csv")
    parser.add_argument("--lang", choices=("en", "fr"), default=None,
                        help="the report's language (default: the assignment's notebooks' language)")
    parser.add_argument("--watch", type=float, default=None, metavar="SECONDS",
                        help="show grading progress every SECONDS until the cohort is graded, then report")


def _progress_line(course: Any, assignment: str, results: list[Any]) -> tuple[str, bool]:
    expected = len(course.students(assignment)) * len(course.layout(assignment))
    done = sum(r.status != "not_graded" for r in results)
    waiting = sum(r.status == "not_graded" for r in results)
    manual = sum(r.status == "manual" for r in results)
    return (f"{time.strftime('%H:%M:%S')}  {done}/{expected} answers graded, {waiting} waiting for the model, "
            f"{manual} left for manual grading, {sum(bool(r.flags) for r in results)} flagged"), done >= expected


def run(args: argparse.Namespace) -> int:
    from ..config import settings
    from ..errors import ConfigError
    from ..grading.cohort import CohortError, Course, Journal
    from ..grading.course_dir import fast_nbgrader_imports, ignored_dir
    from ..report import write_report

    fast_nbgrader_imports()  # the report reads the course's paths only: none of nbgrader's server parts
    course = Course(args.course)
    journal_path = Journal.path_for(course, args.assignment)
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
    try:
        slots = course.layout(args.assignment)
    except CohortError:  # the source notebooks moved: the journal alone still makes a report
        slots = []
    lang = args.lang or (slots[0].lang if slots else None) or settings().language
    output = Path(args.output) if args.output else ignored_dir(course.root / "reports") / f"{args.assignment}.html"
    files = write_report(args.assignment, results, output, lang=lang, order=[s.exercise_id for s in slots])
    _print_tables(files.tables)
    print(f"Report written to {files.html}")
    print(f"Tables as CSV: {', '.join(str(p) for p in files.csv.values())}")
    sys.stdout.flush()
    return 0


def _print_tables(t: Any) -> None:
    import pandas as pd

    from ..report.words import words

    w, frames = words(t.lang), t.csv_frames()
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 60):
        for name in ("learners", "exercises", "criteria"):
            if len(frames[name]):
                print(f"{w[name + '_title']}\n{frames[name].to_string(index=False)}\n")
    if len(t.attention):
        print(w["attention"])
        for r in t.attention.itertuples():
            state = w["states"][r.state] + (f", {w['states']['flagged']}" if r.flagged else "")
            print(f"  {r.learner} {r.exercise} ({state}){w['colon']}{r.reasons}")
        print()
