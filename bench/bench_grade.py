"""`atelier grade` against sequential `nbgrader autograde`: a cohort on a server answering after 200 ms.

    .venv/bin/python bench/bench_grade.py            # 30 learners x 3 exercises
    .venv/bin/python bench/bench_grade.py --quick    # 6 learners (CI)

The test course (tests/grading/course: 3 exercises, 9 cases per learner) is generated with the
real `nbgrader generate_assignment`; every learner submits distinct prompts. The model is
tests/support's delay server (uvicorn, OpenAI-compatible, 200 ms per answer) through the
openai-compatible backend, for the notebook kernels and for `atelier grade` alike. Each timed
run starts from an empty response cache. Then a regrade (`--force`) with the warm cache counts
the requests the server received (target 0). Ends with `RESULT` lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEEDUP_TARGET = 10.0


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 learners, for CI")
    parser.add_argument("--learners", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    learners = args.learners or (6 if args.quick else 30)

    from tests.support import delay_server

    cc = _course_module()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp, delay_server(args.delay) as server:
        root = cc.build_course(Path(tmp) / "course")
        for i in range(learners):
            cc.submit(root, f"learner{i:02d}", _answers(i))
        model = server.model_string
        common = {"ATELIER_MODEL": model, "ATELIER_GRADING_MODEL": model, "ATELIER_JUDGE_MODEL": "",
                  "ATELIER_CONFIG": str(ROOT / "atelier.toml")}

        def timed(argv: list[str], cache: str) -> tuple[float, int, str]:
            before = server.stats()["requests"]
            started = time.perf_counter()
            proc = cc.run(argv, root, ATELIER_CACHE=str(Path(tmp) / cache), **common)
            return time.perf_counter() - started, server.stats()["requests"] - before, proc.stdout

        print(f"cohort: {learners} learners x 3 exercises (9 cases each), server delay {args.delay * 1000:.0f} ms",
              flush=True)
        auto_s, auto_calls, _ = timed(["nbgrader", "autograde", "ps1"], "autograde.sqlite")
        print(f"nbgrader autograde (sequential):    {auto_s:7.1f} s  {auto_calls} model calls", flush=True)
        grade_s, grade_calls, out = timed(
            ["atelier", "grade", "ps1", "--no-progress", "--concurrency", str(args.concurrency)], "grade.sqlite")
        print(f"atelier grade (concurrency {args.concurrency}):   {grade_s:7.1f} s  {grade_calls} model calls",
              flush=True)
        regrade_s, regrade_calls, _ = timed(
            ["atelier", "grade", "ps1", "--no-progress", "--force", "--concurrency", str(args.concurrency)],
            "grade.sqlite")
        print(f"atelier grade --force, warm cache:  {regrade_s:7.1f} s  {regrade_calls} model calls", flush=True)
        print(out.split("\n\n")[0])

    ratio = auto_s / grade_s
    print(f"speed-up: {ratio:.1f}x")
    print(f"RESULT grade_speedup_vs_autograde {ratio:.1f} target {SPEEDUP_TARGET:g} "
          f"{'ok' if ratio >= SPEEDUP_TARGET else 'MISSED'}")
    print(f"RESULT grade_regrade_model_calls {regrade_calls} target 0 {'ok' if regrade_calls == 0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
