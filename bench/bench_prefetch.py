"""`atelier calibrate` with the embedded model in one process against one worker process per core.

The embedded model decodes one request at a time in a process; with several cores,
`atelier calibrate` (and the calibration test, the longest part of CI) runs the model in one
worker process per core, each on one llama.cpp thread, and reads their outputs back from the
response cache (grading/prefetch.py). This benchmark calibrates the same exercises from an empty
cache both ways, in turn, checks that both print the same table, and reports the wall-time ratio.
Target: at least 1.3x faster on two cores. 2x is the ceiling, never reached: the one process
already evaluates prompts on both cores (only generation is single-threaded), and the workers'
start-up and the parent's scoring pass are not shared.

    .venv/bin/python bench/bench_prefetch.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3
EXERCISES = ["m01.review_label", "m02.review_summary", "m04.order_update", "m08.not_found"]
QUICK = ["m01.review_label"]


def calibrate(exercises: list[str], jobs: int, cache: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(ATELIER_CACHE=str(cache), ATELIER_CONFIG=str(ROOT / "atelier.toml"))
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "promptatelier.cli", "calibrate", *exercises, "--jobs", str(jobs)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"atelier calibrate --jobs {jobs} failed:\n{run.stdout}\n{run.stderr}")
    return elapsed, run.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one exercise, one round")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (one process, workers)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from promptatelier.grading.prefetch import default_jobs

    exercises = QUICK if args.quick else EXERCISES
    jobs = max(2, default_jobs("local"))
    print(f"exercises: {' '.join(exercises)}; workers: {jobs}; load average {os.getloadavg()[0]:.1f}")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            one_s, one_out = calibrate(exercises, 1, Path(tmp) / f"one-{round_}.sqlite")
            many_s, many_out = calibrate(exercises, jobs, Path(tmp) / f"many-{round_}.sqlite")
            table = lambda out: [l for l in out.splitlines() if not re.match(r"^\s*$", l)]  # noqa: E731
            if table(one_out) != table(many_out):
                sys.exit(f"the two runs disagree:\n--- one process\n{one_out}\n--- {jobs} workers\n{many_out}")
            ratios.append(one_s / many_s)
            print(f"round {round_ + 1}: one process {one_s:.1f} s, {jobs} workers {many_s:.1f} s: "
                  f"{one_s / many_s:.2f}x, same table")
    ratio = min(ratios)
    status = "ok" if ratio >= TARGET else "MISSED"
    print(f"RESULT prefetch_speedup {ratio:.2f} target {TARGET} {status}")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
