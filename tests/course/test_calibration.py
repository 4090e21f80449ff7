"""Issue 5's bar: every exercise of the course is calibrated on the embedded model, its reference
solution at or above the pass threshold and its naive baseline below it (`atelier calibrate`).

Runs before the notebook tests, in the same response cache: the solution notebooks' grade cells
then reuse the references' requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.cli import main
from promptatelier.grading import list_exercises

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.local_model, pytest.mark.slow]


def test_every_course_exercise_is_calibrated_on_the_embedded_model(capsys: pytest.CaptureFixture[str]) -> None:
    exercises = list_exercises(ROOT / "graders")
    assert len(exercises) >= 21, exercises  # modules 1-7, at least three exercises each
    code = main(["calibrate", "--graders", str(ROOT / "graders")])
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if "FAIL" in line]
    assert code == 0 and not failing, "\n".join(failing) or out
    assert f"{len(exercises)}/{len(exercises)} exercises calibrated on local." in out
    for module in range(1, 8):
        assert sum(e.startswith(f"m{module:02d}.") for e in exercises) >= 3, f"module {module} has fewer than 3 exercises"
