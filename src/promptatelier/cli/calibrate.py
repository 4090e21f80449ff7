"""atelier calibrate: every exercise's reference must pass on the embedded model, and its
naive baseline must not. Exits 1 otherwise (CI runs it)."""

from __future__ import annotations

import argparse

HELP = "Run each exercise's reference and baseline on the embedded model; fail unless the reference passes and the baseline does not."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE_ID", help="exercise ids (default: all)")
    parser.add_argument("--model", "-m", default="local", help="model to calibrate on (default: local, the embedded model)")
    parser.add_argument("--graders", help="the graders folder (default: the course's)")
    parser.add_argument("--include-capable", action="store_true", help="also run exercises marked capable_model = true")


def run(args: argparse.Namespace) -> int:
    from ..grading import evaluate_many, list_exercises, load_spec

    ids = args.exercises or list_exercises(args.graders)
    specs = [load_spec(i, args.graders) for i in ids]
    released = [s.id for s in specs if s.released]
    if released:
        from ..errors import SpecError

        raise SpecError(
            f"{', '.join(released)} come from a learners' copy (`atelier release`): no reference, baseline or hidden cases.",
            "Calibrate in the course repository, whose graders/ holds the full specs.",
        )
    skipped = [s.id for s in specs if s.capable_model and not args.include_capable]
    specs = [s for s in specs if s.id not in skipped]
    items = [(s, s.reference) for s in specs] + [(s, s.baseline) for s in specs]
    results = evaluate_many(items, model=args.model, cases="all", temperature=0.0, progress=len(items) > 20)
    refs, bases = results[: len(specs)], results[len(specs):]
    width = max([len(s.id) for s in specs] + [8])
    print(f"{'exercise':<{width}}  threshold  reference  baseline  verdict")
    failures = 0
    for spec, ref, base in zip(specs, refs, bases):
        ok = ref.fraction is not None and base.fraction is not None and ref.passed and not base.passed
        problems = []
        if ref.fraction is None or base.fraction is None:
            problems.append("not graded")
        else:
            if not ref.passed:
                problems.append("reference below threshold")
            if base.passed:
                problems.append("baseline passes")
        failures += not ok
        fmt = lambda e: "  —  " if e.fraction is None else f"{e.fraction:5.2f}"  # noqa: E731
        print(f"{spec.id:<{width}}  {spec.pass_threshold:9.2f}  {fmt(ref):>9}  {fmt(base):>8}  {'ok' if ok else 'FAIL: ' + ', '.join(problems)}")
    for exercise in skipped:
        print(f"{exercise:<{width}}  skipped (capable_model = true)")
    print(f"{len(specs) - failures}/{len(specs)} exercises calibrated on {args.model}.")
    return 1 if failures else 0
