"""How much `import promptatelier` adds to Python's start-up, and which heavy modules it drags in.

Runs `python -c pass` and `python -c "import promptatelier"` alternately in fresh processes and
compares medians (alternating spreads background load evenly over both) of wall time, or of CPU
time when the machine is busier than it has cores. Target: under 0.3 s added, and none of openai, anthropic, llama_cpp, pandas (nor numpy, matplotlib, nbformat,
ipywidgets) loaded by the import.

    .venv/bin/python bench/bench_import.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3
MUST_BE_LAZY = ("openai", "anthropic", "llama_cpp", "pandas")
SHOULD_BE_LAZY = ("numpy", "matplotlib", "nbformat", "ipywidgets", "httpx", "jsonschema", "nbgrader")


# as on a learner's machine, where bytecode is compiled once and cached (this sandbox sets
# PYTHONDONTWRITEBYTECODE, which would time the compiler instead of the import)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(code: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def loaded_modules() -> list[str]:
    probe = (
        "import sys, json, promptatelier; "
        f"print(json.dumps([m for m in {MUST_BE_LAZY + SHOULD_BE_LAZY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=ENV).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (CI)")
    parser.add_argument("--runs", type=int, help="runs of each kind (default 30, quick 8)")
    args = parser.parse_args()
    runs = args.runs or (8 if args.quick else 30)

    _time("import promptatelier")  # warm the OS file cache once
    bare: list[tuple[float, float]] = []
    kit: list[tuple[float, float]] = []
    for _ in range(runs):
        bare.append(_time("pass"))
        kit.append(_time("import promptatelier"))
    med = statistics.median
    wall_added = med(w for w, _ in kit) - med(w for w, _ in bare)
    cpu_added = med(c for _, c in kit) - med(c for _, c in bare)
    # on an idle machine wall time is what a learner feels; on a loaded one (CI, a shared
    # server) it is inflated by waiting for a CPU, and CPU time is the import's real cost
    load = os.getloadavg()[0]
    busy = load > (os.cpu_count() or 1)
    added = cpu_added if busy else wall_added
    loaded = loaded_modules()
    heavy = [m for m in loaded if m in MUST_BE_LAZY]
    print(f"runs {runs} of each, {os.cpu_count()} CPUs, load average {load:.1f}")
    for label, rows in (("python -c pass", bare), ("python -c 'import promptatelier'", kit)):
        print(f"{label:<34} wall median {med(w for w, _ in rows) * 1000:6.0f} ms   "
              f"CPU median {med(c for _, c in rows) * 1000:6.0f} ms")
    print(f"added by the import: wall {wall_added * 1000:.0f} ms, CPU {cpu_added * 1000:.0f} ms "
          f"(judged on {'CPU: the machine is busy' if busy else 'wall'})")
    print(f"heavy modules loaded by the import: {', '.join(heavy) or 'none'}")
    print(f"other watched modules loaded: {', '.join(m for m in loaded if m not in heavy) or 'none'}")
    assert not heavy, f"`import promptatelier` loads {heavy}: move those imports inside functions"
    ok = added < TARGET_S
    print(f"RESULT import_added_s {added:.3f} target {TARGET_S} {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
