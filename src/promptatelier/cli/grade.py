"""`atelier grade ASSIGNMENT`: the autograder for prompt exercises (trusted, parallel, resumable).

It replaces `nbgrader autograde` for kit exercises: it never runs learner code, writes the
gradebook and the autograded notebooks itself, and `nbgrader generate_feedback` follows it.
"""

from __future__ import annotations

import argparse
import sys

HELP = ("Grade a cohort's submissions into nbgrader's gradebook and autograded/ notebooks "
        "(trusted: reads answers, never runs learner code; replaces nbgrader autograde).")


# --batch: requests submitted or still running, nobody graded yet; run again later (sysexits'
# EX_TEMPFAIL), so a loop or cron job can tell waiting (75) from graded (0), a model outage (3)
# and an error (1)
WAITING = 75


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="the nbgrader assignment name (a folder under submitted/<student>/)")
    parser.add_argument("--course", default=None, help="the nbgrader course root (default: the current folder)")
    parser.add_argument("--model", default=None, help="grading model (default: [models] grading in atelier.toml)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="model requests in flight at once (default: [run] concurrency, else the backend's own)")
    parser.add_argument("--student", action="append", default=None, metavar="ID",
                        help="grade only this student (repeatable)")
    parser.add_argument("--force", action="store_true",
                        help="re-evaluate finished work too (model calls still come from the response cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--feedback", action="store_true",
                        help="then write the feedback of every learner whose answers are all graded, with nbgrader's "
                             "own converter, as `nbgrader generate_feedback` would (faster: no second start-up)")
    parser.add_argument("--batch", action="store_true",
                        help="send the model requests through the provider's batch API (OpenAI, Anthropic: half "
                             "the price, results within 24 h); run the same command again later to grade")
    parser.add_argument("--resubmit", action="store_true",
                        help="with --batch: submit again the requests of a batch that failed, expired or was cancelled")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="with --batch: at most N requests per batch (default: the provider's limit)")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..grading.course_dir import fast_nbgrader_imports

    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError(f"--concurrency {args.concurrency} is not a positive number.",
                          "Give --concurrency a whole number of at least 1, e.g. --concurrency 16.")
    if (args.resubmit or args.batch_size is not None) and not args.batch:
        option = "--resubmit" if args.resubmit else "--batch-size"
        raise ConfigError(f"{option} only applies to batch grading.", f"Add --batch: `atelier grade {args.assignment} "
                                                                       f"--batch {option}{'' if args.resubmit else ' N'}`.")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} is not a positive number.",
                          "Give --batch-size a whole number of at least 1, e.g. --batch-size 5000.")
    fast_nbgrader_imports()
    from ..grading.cohort import grade_cohort

    step = None
    if args.batch:
        from ..grading.batch import batch_step

        step = batch_step(args.assignment, course=args.course, model=args.model, students=args.student,
                          force=args.force, resubmit=args.resubmit, limit=args.batch_size, again=_again(args))
        print(step.message)
        if not step.ready:
            return WAITING
        print()
    else:
        _warn_open_batches(args)
    outcome = grade_cohort(
        args.assignment, course=args.course, model=args.model, concurrency=args.concurrency,
        students=args.student, force=args.force, progress=not args.no_progress and sys.stderr.isatty(),
    )
    print(_summary(outcome, feedback=args.feedback))
    if args.feedback:
        _feedback(args, outcome)
    if step is not None and outcome.model_calls:
        print(f"{outcome.model_calls} request(s) were sent live at full price (see above why).")
    if outcome.not_graded:
        print(f"\n{len(outcome.not_graded)} answer(s) not graded: the model {outcome.model} was unavailable. "
              "They are left for manual grading in the gradebook (no score). "
              f"Run `atelier grade {args.assignment}` again when the model is back.", file=sys.stderr)
        return 3
    return 0


def _again(args: argparse.Namespace) -> str:
    """The command that continues this batch grading, as the instructor typed it."""
    import shlex

    words = ["atelier", "grade", args.assignment]
    if args.course:
        words += ["--course", args.course]
    if args.model:
        words += ["--model", args.model]
    for student in args.student or []:
        words += ["--student", student]
    words.append("--batch")
    return " ".join(shlex.quote(w) for w in words)


def _warn_open_batches(args: argparse.Namespace) -> None:
    from ..grading.batch import open_batches

    try:
        pending = open_batches(args.course, args.assignment)
    except Exception:  # a course the grading itself will explain
        return
    if pending:
        ids = ", ".join(b.id for b in pending)
        print(f"Note: batch(es) {ids} for {args.assignment!r} have not been collected; grading live sends their "
              f"requests again at full price. To wait for them instead: `{_again(args)}`.", file=sys.stderr)


def _feedback(args: argparse.Namespace, outcome: object) -> None:
    """The feedback of the learners whose answers are all graded; the others are named, with why."""
    from ..grading.cohort import CohortRun
    from ..grading.course_dir import Course
    from ..grading.feedback_export import write_feedback

    assert isinstance(outcome, CohortRun)
    waiting: dict[str, str] = {}
    for r in outcome.results:
        if r.status == "not_graded":
            waiting[r.student] = "not graded yet"
        elif r.status == "manual" or (r.scored and bool(r.flags)):
            waiting.setdefault(r.student, "answers to grade or review by hand")
    ready = sorted({r.student for r in outcome.results} - set(waiting))
    write_feedback(Course(args.course).root, args.assignment, ready)
    where = f"feedback/<student>/{args.assignment}/"
    print(f"\nFeedback written for {len(ready)} learner(s), in {where}." if ready else "\nNo feedback written.")
    if waiting:
        print(f"No feedback yet for {len(waiting)} learner(s), so they do not see an unfinished grade:")
        print("\n".join(f"  {student}: {why}" for student, why in sorted(waiting.items())))
        print(f"Once they are graded (formgrader, or `atelier grade {args.assignment}` when the model is back), run "
              f"`nbgrader generate_feedback {args.assignment}`.")


def _summary(outcome: object, feedback: bool = False) -> str:
    from ..grading.cohort import CohortRun

    assert isinstance(outcome, CohortRun)
    totals: dict[str, list[float]] = {}
    for r in outcome.results:
        row = totals.setdefault(r.student, [0.0, 0.0, 0.0, 0.0])
        row[0] += r.points or 0.0
        row[1] += r.max_points
        row[2] += r.status == "not_graded"
        row[3] += r.status == "manual" or (r.scored and bool(r.flags))
    width = max([len(s) for s in totals] + [7])
    lines = [f"Graded {outcome.assignment!r} with {outcome.model}: {len(outcome.results)} answers "
             f"({outcome.evaluated} evaluated, {outcome.reused} reused from the journal), "
             f"{outcome.model_calls} model calls, {outcome.cache_hits} cache hits, {outcome.wall_s:.1f} s.",
             "", f"{'student':<{width}}  score"]
    for student, (got, top, missing, manual) in totals.items():
        notes = [f"{int(missing)} not graded"] if missing else []
        notes += [f"{int(manual)} to grade or review by hand"] if manual else []
        lines.append(f"{student:<{width}}  {got:g} / {top:g}" + (f"  ({', '.join(notes)})" if notes else ""))
    lines.append("")
    manual = outcome.manual
    if manual:
        lines.append(f"{len(manual)} answer(s) need manual grading (no score in the gradebook):")
        lines += [f"  MANUAL {r.student} {r.exercise_id}: {'; '.join(r.flags)}" for r in manual]
    flagged = [r for r in outcome.flagged if r.scored]
    if flagged:
        lines.append(f"{len(flagged)} answer(s) flagged for review (scored, marked needs manual grade):")
        lines += [f"  FLAG {r.student} {r.exercise_id}: {flag}" for r in flagged for flag in r.flags]
    if not manual and not flagged:
        lines.append("Nothing to review: no flag, no answer left for manual grading.")
    if feedback:
        lines.append(f"Next: `nbgrader release_feedback {outcome.assignment}` returns the feedback through the exchange "
                     "(formgrader shows the flagged answers under 'needs manual grade').")
    else:
        lines.append("Next: `nbgrader generate_feedback "
                     f"{outcome.assignment}` (formgrader shows the flagged answers under 'needs manual grade'), "
                     "or `--feedback` next time to write it in the same run.")
    return "\n".join(lines)
