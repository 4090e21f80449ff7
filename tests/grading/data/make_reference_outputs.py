"""Regenerate reference_outputs.json: the embedded model's outputs for every course exercise's
reference and baseline on its visible cases (temperature 0, rendered as `evaluate` renders
them). They are the real texts `not_degenerate` is calibrated on (tests/grading/test_criteria_meaning.py).

    ATELIER_CACHE=/tmp/h4.sqlite python tests/grading/data/make_reference_outputs.py
"""

from __future__ import annotations

import json
from pathlib import Path

from promptatelier.errors import SpecError
from promptatelier.grading import list_exercises, load_spec
from promptatelier.grading.submission import normalise, render_request
from promptatelier.models import complete_many


def main() -> None:
    samples = []
    for exercise in list_exercises():
        try:
            spec = load_spec(exercise)
        except SpecError as exc:
            print(f"skipped {exercise}: {exc.problem}")
            continue
        for kind in ("reference", "baseline"):
            submission = normalise(spec, getattr(spec, kind))
            requests = [render_request(spec, submission, case, temperature=0) for case in spec.cases]
            for case, reply in zip(spec.cases, complete_many(requests, model="local")):
                if not isinstance(reply, Exception):
                    samples.append({"exercise": exercise, "kind": kind, "case": case.name, "output": reply.text})
    path = Path(__file__).with_name("reference_outputs.json")
    path.write_text(json.dumps(samples, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(samples)} outputs written to {path}")


if __name__ == "__main__":
    main()
