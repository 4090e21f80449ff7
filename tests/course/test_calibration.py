"""Issue 5's bar: every exercise of the course is calibrated on the embedded model, its reference
solution at or above the pass threshold and its naive baseline below it (`atelier calibrate`).

Runs before the notebook tests, in the same response cache: the solution notebooks' grade cells
then reuse the references' requests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptatelier.cli import main
from promptatelier.grading import list_exercises

ROOT = Path(__file__).resolve().parents[2]
# one test, a few thousand model calls: it gets its own timeout (the suite default is 15 minutes)
pytestmark = [pytest.mark.local_model, pytest.mark.slow, pytest.mark.timeout(3600)]


def test_every_course_exercise_is_calibrated_on_the_embedded_model(capsys: pytest.CaptureFixture[str]) -> None:
    exercises = list_exercises(ROOT / "graders")
    modules = sorted({e.split(".")[0] for e in exercises})
    for module in modules:
        assert sum(e.startswith(f"{module}.") for e in exercises) >= 3, f"module {module} has fewer than 3 exercises"
    assert len(exercises) >= 3 * len(modules) and "m01" in modules, exercises
    code = main(["calibrate", "--graders", str(ROOT / "graders")])
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if "FAIL" in line]
    assert code == 0 and not failing, "\n".join(failing) or out
    # one row per exercise and course language: every row is ok, and every exercise has a row
    total = re.search(r"^(\d+)/(\d+) exercises calibrated on local\.$", out, re.M)
    assert total and total[1] == total[2] and int(total[2]) >= len(exercises), out
    rows = [line.split()[0] for line in out.splitlines() if line.rstrip().endswith("  ok")]
    assert len(rows) == int(total[2]) and set(rows) == set(exercises), out
