"""The instructor's whole grading pipeline, kit against nbgrader, on one cohort and one server.

    .venv/bin/python bench/bench_grade.py            # 30 learners x 3 exercises
    .venv/bin/python bench/bench_grade.py --quick    # 6 learners (CI)

The test course (tests/grading/course: 3 exercises, 9 cases per learner) is generated with the
real `nbgrader generate_assignment` and copied twice with the same submissions (every learner's
prompts are distinct). The model is tests/support's delay server (uvicorn, OpenAI-compatible,
200 ms per answer) through the openai-compatible backend, for the notebook kernels and for
`atelier grade` alike, each pipeline from an empty response cache:

- nbgrader's: `nbgrader autograde` (runs every notebook in a kernel), then `nbgrader generate_feedback`;
- the kit's: `atelier grade --feedback` (no autograde: it writes the gradebook and autograded/
  itself, at the shipped default concurrency unless --concurrency, then the feedback with
  nbgrader's own converter in the same process). Timed also as two commands, `atelier grade`
  then `nbgrader generate_feedback`, on another copy of the cohort with its own empty cache.

Then `atelier grade --force` with the warm cache (start-up and writing only: 0 model calls).
`atelier grade` is compared with the concurrency bound: model calls x latency / concurrency.
With `--repeat N` the kit's pipeline (and nbgrader's generate_feedback) runs N times, each on a
fresh copy of the cohort with an empty cache: min and median are printed, and the RESULT lines
use the medians (nbgrader's autograde, 75 s, runs once). Ends with `RESULT` lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PIPELINE_TARGET = 15.0  # nbgrader's pipeline time / the kit's
BOUND_FACTOR = 1.3  # atelier grade within 1.3x the concurrency bound...
STARTUP_S = 1.0  # ...plus at most 1 s of start-up


def _course_module():  # noqa: ANN202 - the test course's builder, loaded by path
    spec = importlib.util.spec_from_file_location("cohort_course", ROOT / "tests/grading/course/cohort_course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _answers(i: int) -> dict[str, str]:
    return {
        "tc.label": f'PROMPT = """Learner {i}: is this review positive or negative? One word. {{review}}"""',
        "tc.french": f'PROMPT = {{"system": "Learner {i}: réponds en français.", "user": "{{question}}"}}',
        "tc.json": f'PROMPT = """Learner {i}: give the name and age as JSON. {{text}}"""',
    }


def _default_concurrency(model: str, env: dict[str, str]) -> int:
    """The concurrency `atelier grade` uses for `model` with no --concurrency (its backend's default)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from promptatelier.config import reload_settings
        from promptatelier.grading.cohort import grading_concurrency

        reload_settings()
        return grading_concurrency(model, None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 learners, for CI")
    parser.add_argument("--learners", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the backend's shipped default")
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of the kit's pipeline (min and median)")
    args = parser.parse_args()
    learners = args.learners or (6 if args.quick else 30)
    repeat = max(1, args.repeat)

    from tests.support import delay_server

    cc = _course_module()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp, delay_server(args.delay) as server:
        pristine = cc.build_course(Path(tmp) / "pristine")
        for i in range(learners):
            cc.submit(pristine, f"learner{i:02d}", _answers(i))
        nbgrader_root = Path(tmp) / "nbgrader"
        shutil.copytree(pristine, nbgrader_root)
        model = server.model_string
        common = {"ATELIER_MODEL": model, "ATELIER_GRADING_MODEL": model, "ATELIER_JUDGE_MODEL": "",
                  "ATELIER_CONFIG": str(ROOT / "atelier.toml")}
        concurrency = args.concurrency or _default_concurrency(model, {**common, "ATELIER_GRADERS": str(cc.HERE / "graders")})
        flag = ["--concurrency", str(args.concurrency)] if args.concurrency else []

        def timed(argv: list[str], root: Path, cache: str) -> tuple[float, int, str]:
            before = server.stats()["requests"]
            started = time.perf_counter()
            proc = cc.run(argv, root, ATELIER_CACHE=str(Path(tmp) / cache), **common)
            return time.perf_counter() - started, server.stats()["requests"] - before, proc.stdout

        print(f"cohort: {learners} learners x 3 exercises (9 cases each), server delay {args.delay * 1000:.0f} ms, "
              f"atelier grade at concurrency {concurrency}, load average {os.getloadavg()[0]:.1f}", flush=True)
        auto_s, auto_calls, _ = timed(["nbgrader", "autograde", "ps1"], nbgrader_root, "nbgrader.sqlite")
        print(f"nbgrader autograde:                {auto_s:7.1f} s  {auto_calls} model calls", flush=True)
        grade: list[float] = []
        kit_fb: list[float] = []
        one_run: list[float] = []
        auto_fb: list[float] = []
        warm: list[float] = []
        for run in range(repeat):
            kit_root = Path(tmp) / f"kit{run}"
            shutil.copytree(pristine, kit_root)
            fb_s, _, _ = timed(["nbgrader", "generate_feedback", "ps1", "--force"], nbgrader_root, "nbgrader.sqlite")
            auto_fb.append(fb_s)
            print(f"  then nbgrader generate_feedback: {fb_s:7.1f} s", flush=True)
            grade_s, grade_calls, out = timed(["atelier", "grade", "ps1", "--no-progress", *flag], kit_root,
                                              f"kit{run}.sqlite")
            grade.append(grade_s)
            print(f"atelier grade:                     {grade_s:7.2f} s  {grade_calls} model calls "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
            fb_s, _, _ = timed(["nbgrader", "generate_feedback", "ps1"], kit_root, f"kit{run}.sqlite")
            kit_fb.append(fb_s)
            print(f"  then nbgrader generate_feedback: {fb_s:7.2f} s", flush=True)
            one_root = Path(tmp) / f"kit{run}-feedback"
            shutil.copytree(pristine, one_root)
            one_s, one_calls, _ = timed(["atelier", "grade", "ps1", "--no-progress", "--feedback", *flag], one_root,
                                        f"kit{run}-feedback.sqlite")
            one_run.append(one_s)
            print(f"atelier grade --feedback:          {one_s:7.2f} s  {one_calls} model calls, "
                  f"{len(list(one_root.glob('feedback/*/ps1/*.html')))} feedback files", flush=True)
            warm_s, warm_calls, _ = timed(["atelier", "grade", "ps1", "--no-progress", "--force", *flag], kit_root,
                                          f"kit{run}.sqlite")
            warm.append(warm_s)
            print(f"atelier grade --force, warm cache: {warm_s:7.2f} s  {warm_calls} model calls", flush=True)
        print(out.split("\n\n")[0])

    if repeat > 1:
        for name, values in (("atelier grade", grade), ("generate_feedback after it", kit_fb),
                             ("atelier grade --feedback", one_run),
                             ("generate_feedback after autograde", auto_fb), ("atelier grade --force", warm)):
            print(f"{name}: min {min(values):.2f} s, median {statistics.median(values):.2f} s "
                  f"over {len(values)} runs")
    grade_s, kit_fb_s = statistics.median(grade), statistics.median(kit_fb)
    auto_fb_s, warm_s = statistics.median(auto_fb), statistics.median(warm)
    nbgrader_s, kit_s = auto_s + auto_fb_s, statistics.median(one_run)
    ratio = nbgrader_s / kit_s
    two_s = grade_s + kit_fb_s
    bound = grade_calls * args.delay / concurrency
    limit = BOUND_FACTOR * bound + STARTUP_S
    print(f"pipelines: nbgrader {nbgrader_s:.1f} s, kit (atelier grade --feedback) {kit_s:.1f} s: {ratio:.1f}x faster; "
          f"as two commands (atelier grade, then nbgrader generate_feedback) {two_s:.1f} s: {nbgrader_s / two_s:.1f}x")
    print(f"atelier grade {grade_s:.2f} s; bound {grade_calls} calls x {args.delay:g} s / {concurrency} = {bound:.2f} s; "
          f"limit {BOUND_FACTOR:g} x bound + {STARTUP_S:g} s = {limit:.2f} s")
    print(f"RESULT pipeline_ratio {ratio:.1f} target {PIPELINE_TARGET:g} {'ok' if ratio >= PIPELINE_TARGET else 'MISSED'}")
    print(f"RESULT grade_vs_bound {grade_s / bound:.2f} (s {grade_s:.2f}, bound {bound:.2f}) target "
          f"<= {limit:.2f} s {'ok' if grade_s <= limit else 'MISSED'}")
    print(f"RESULT grade_warm_s {warm_s:.2f} target {STARTUP_S:g} {'ok' if warm_s <= STARTUP_S else 'MISSED'}")
    print(f"RESULT grade_regrade_model_calls {warm_calls} target 0 {'ok' if warm_calls == 0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
