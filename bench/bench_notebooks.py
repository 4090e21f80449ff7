"""Time to run each course notebook top to bottom in a fresh kernel, offline, on the embedded
model, with a cold response cache (what a learner's first "Run all" costs). Target: under 2
minutes per notebook on 2 cores.

    python bench/bench_notebooks.py            every notebook in notebooks/ and solutions/
    python bench/bench_notebooks.py --quick    the English welcome and module 1 solution only
    python bench/bench_notebooks.py 08 09      only the notebooks whose path holds one of these

Writes bench/results/notebooks.json (one entry per notebook, replaced on each run)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 120.0
RESULTS = ROOT / "bench" / "results" / "notebooks.json"


def run(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"{path}: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    return elapsed


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    paths = sorted(p for top in ("notebooks", "solutions") for p in (ROOT / top).glob("*/*.ipynb"))
    if quick:
        paths = [ROOT / "notebooks/en/00_welcome.ipynb", ROOT / "solutions/en/01_anatomy.ipynb"]
    words = [a for a in argv if not a.startswith("-")]
    if words:
        paths = [p for p in paths if any(w in p.relative_to(ROOT).as_posix() for w in words)]
    data = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    with tempfile.TemporaryDirectory() as cache:
        for path in paths:
            os.environ["ATELIER_CACHE"] = str(Path(cache) / f"{path.parent.parent.name}-{path.parent.name}-{path.stem}.sqlite")
            seconds = run(path)
            rel = path.relative_to(ROOT).as_posix()
            data[rel] = {"seconds": round(seconds, 1), "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
            print(f"{rel}: {seconds:.1f} s", flush=True)
            print(f"RESULT notebook:{rel} {seconds:.1f} target {TARGET_S:.0f} {'ok' if seconds < TARGET_S else 'MISSED'}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
