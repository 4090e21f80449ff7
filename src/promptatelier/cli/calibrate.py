"""atelier calibrate: every exercise's reference must pass on the embedded model, and its naive
baseline and the generated cheats (see grading/cheats.py) must not. Exits 1 otherwise (CI runs it)."""

from __future__ import annotations

import argparse

HELP = ("Run each exercise's reference, baseline and generated cheats on the embedded model; fail unless "
        "the reference passes and nothing else does.")
# criteria on the prompt's own text may carry at most this share of an exercise's weight
MAX_PROMPT_SHARE = 0.25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE_ID", help="exercise ids (default: all)")
    parser.add_argument("--model", "-m", default="local", help="model to calibrate on (default: local, the embedded model)")
    parser.add_argument("--graders", help="the graders folder (default: the course's)")
    parser.add_argument("--include-capable", action="store_true", help="also run exercises marked capable_model = true")
    parser.add_argument("--jobs", "-j", type=int, metavar="N",
                        help="processes that run the embedded model side by side, one thread each "
                             "(default: one per core; ATELIER_JOBS; 1 runs everything in this process)")
    parser.add_argument("--no-cheats", action="store_true", help="only the reference and the baseline (faster, weaker)")


def prompt_share(spec: object) -> float:
    """The share of an exercise's criteria weight that looks at the prompt's text, not outputs."""
    criteria = getattr(spec, "criteria")
    total = sum(c.weight for c in criteria)
    return sum(c.weight for c in criteria if c.criterion.family == "prompt") / total if total else 0.0


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..grading import evaluate_many, list_exercises, load_spec, score_outputs
    from ..grading.cheats import cheats_for
    from ..grading.prefetch import prefetch

    ids = args.exercises or list_exercises(args.graders)
    specs = [load_spec(i, args.graders) for i in ids]
    released = [s.id for s in specs if s.released]
    if released:
        raise SpecError(
            f"{', '.join(released)} come from a learners' copy (`atelier release`): no reference, baseline or hidden cases.",
            "Calibrate in the course repository, whose graders/ holds the full specs.",
        )
    skipped = [s.id for s in specs if s.capable_model and not args.include_capable]
    specs = [s for s in specs if s.id not in skipped]
    # an exercise whose cases or reference belong to one course language is calibrated per language
    units = [(spec, lang) for spec in specs for lang in spec.languages]
    show = len(units) > 3

    def run_all(items: list) -> list:
        if not items:
            return []
        # the model's outputs computed in worker processes first (one per core), then read back
        # from the response cache by the evaluation in this process
        workers = prefetch(items, model=args.model, jobs=args.jobs, temperature=0.0, progress=show)
        return evaluate_many(items, model=args.model, cases="all", temperature=0.0, progress=show and workers == 1)

    # phase 1: references and baselines; phase 2: the cheats, the constant one built from the
    # reference's own output
    first = run_all([(s, s.reference_for(lang), lang) for s, lang in units] + [(s, s.baseline_for(lang), lang) for s, lang in units])
    refs, bases = first[: len(units)], first[len(units):]
    plans = []
    for (spec, lang), ref in zip(units, refs):
        output = ref.outputs[0].text if ref.outputs else None
        plans.append([] if args.no_cheats else cheats_for(spec, list(spec.cases_for(lang, hidden=True)), output))
    prompted = [(spec, lang, cheat) for (spec, lang), found in zip(units, plans) for cheat in found if cheat.outputs is None]
    prompted_results = iter(run_all([(spec, cheat.submission, lang) for spec, lang, cheat in prompted]))

    name = lambda spec, lang: spec.id if lang is None else f"{spec.id} ({lang})"  # noqa: E731
    width = max([len(name(s, lang)) for s, lang in units] + [8])
    print(f"{'exercise':<{width}}  threshold  reference  baseline  best cheat           verdict")
    failures = 0
    fmt = lambda e: "  —  " if e.fraction is None else f"{e.fraction:5.2f}"  # noqa: E731
    for (spec, lang), ref, base, found in zip(units, refs, bases, plans):
        problems = []
        if ref.fraction is None or base.fraction is None:
            problems.append("not graded")
        else:
            if not ref.passed:
                problems.append("reference below threshold")
            if base.passed:
                problems.append("baseline passes")
        share = prompt_share(spec)
        if share > MAX_PROMPT_SHARE + 1e-9:
            problems.append(f"prompt criteria weigh {share:.0%} (at most {MAX_PROMPT_SHARE:.0%})")
        scored = []
        for cheat in found:
            ev = (next(prompted_results) if cheat.outputs is None
                  else score_outputs(spec, cheat.outputs, submission=cheat.submission, lang=lang))
            scored.append((cheat, ev))
            if ev.passed:
                problems.append(f"cheat '{cheat.label}' passes ({ev.fraction:.2f})")
        best = max(scored, key=lambda ce: ce[1].fraction or 0.0, default=None)
        best_text = f"{best[0].label} {best[1].fraction or 0.0:.2f}" if best else "—"
        failures += bool(problems)
        verdict = "ok" if not problems else "FAIL: " + ", ".join(problems)
        print(f"{name(spec, lang):<{width}}  {spec.pass_threshold:9.2f}  {fmt(ref):>9}  {fmt(base):>8}  {best_text:<19}  {verdict}")
        if scored:
            print(" " * (width + 2) + "cheats: " + ", ".join(f"{c.label} {e.fraction or 0.0:.2f}" for c, e in scored))
    for exercise in skipped:
        print(f"{exercise:<{width}}  skipped (capable_model = true)")
    print("(a cheat marked * is scored on ideal outputs, with no model call)")
    print(f"{len(units) - failures}/{len(units)} exercises calibrated on {args.model}.")
    return 1 if failures else 0
