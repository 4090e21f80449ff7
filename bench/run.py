"""Runs every benchmark in this folder (bench_*.py) and collects their RESULT lines.

    python bench/run.py            full runs (minutes; the figures in bench/README.md)
    python bench/run.py --quick    the CI mode: small sizes, checks the benchmarks still run
    python bench/run.py import many   only the benchmarks whose name contains one of these words

Each benchmark is a standalone script that prints its figures and ends with lines of the form
`RESULT <name> <value> target <target> <ok|MISSED>`. This runner exits non-zero only when a
benchmark crashes: a missed target is reported, not hidden, but it does not fail CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    words = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if words:
        scripts = [s for s in scripts if any(w in s.stem for w in words)]
    results: list[dict[str, str]] = []
    crashed: list[str] = []
    for script in scripts:
        print(f"\n=== {script.name}{' (quick)' if quick else ''}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script), *(["--quick"] if quick else [])],
            cwd=HERE.parent, text=True, capture_output=True,
        )
        print(proc.stdout, end="")
        mine = []
        for line in proc.stdout.splitlines():
            parts = line.split()
            # RESULT <name> <value> [details...] target <target...> <status>
            if len(parts) >= 6 and parts[0] == "RESULT" and "target" in parts[3:-1]:
                at = parts.index("target", 3)
                mine.append({"bench": script.stem, "name": parts[1], "value": parts[2],
                             "target": " ".join(parts[at + 1:-1]), "status": parts[-1]})
        results.extend(mine)
        # run alone, a benchmark exits 1 on a missed target; here that is reported, not a crash
        missed = any(r["status"] == "MISSED" for r in mine)
        if proc.returncode != 0 and not (proc.returncode == 1 and missed):
            print(proc.stderr[-4000:], file=sys.stderr)
            crashed.append(script.name)
        print(f"--- {script.name}: {time.perf_counter() - started:.1f} s", flush=True)
    print("\n=== summary")
    for r in results:
        print(f"{r['name']:<36} {r['value']:>12}  target {r['target']:<8} {r['status']}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / ("summary-quick.json" if quick else "summary.json")).write_text(json.dumps(results, indent=2))
    if crashed:
        print(f"\nbenchmarks that crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
