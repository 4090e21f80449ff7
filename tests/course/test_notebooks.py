"""Every generated notebook against the real tools: nbclient runs each one top to bottom,
offline, on the embedded model; `nbgrader validate` gives solutions full marks and untouched
learner notebooks nothing; module 1 goes through the whole nbgrader round trip.

The tests share one response cache (tests/course/conftest.py); cold-cache run times per notebook
are bench/bench_notebooks.py's job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.local_model, pytest.mark.nbgrader, pytest.mark.slow]

NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for top in ("notebooks", "solutions") for p in (ROOT / top).glob("*/*.ipynb")
)
SOLUTIONS = [p for p in NOTEBOOKS if p.startswith("solutions/")]
LEARNER = [p for p in NOTEBOOKS if p.startswith("notebooks/")]
NOT_ANSWERED = {"en": "Not answered yet", "fr": "Pas encore de réponse"}


def _grade_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("relpath", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_offline(relpath: str) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    path = ROOT / relpath
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{relpath}: {out.get('ename')}: {out.get('evalue')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"{relpath} wrote to stderr: {out.text}"
    lang = nb.metadata["promptatelier"]["lang"]
    for cell in nb.cells:
        if cell.metadata.get("promptatelier", {}).get("role") == "check" and relpath.startswith("notebooks/"):
            shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            # the kit speaks the notebook's language, and an untouched answer is "not answered yet"
            assert NOT_ANSWERED[lang] in shown, f"{relpath}: {shown[:300]}"
    for cell in _grade_cells(nb):
        score, max_score = determine_grade(cell)
        if relpath.startswith("solutions/"):
            assert score == max_score, f"{relpath} {cell.metadata.nbgrader.grade_id}: {score}/{max_score}"
        else:
            assert score == 0, f"{relpath} {cell.metadata.nbgrader.grade_id}: an untouched answer scored {score}"


def _nbgrader_env() -> dict[str, str]:
    """The test's environment (isolated cache, course file) with the venv's bin folder on PATH:
    nbgrader runs `alembic` for its gradebook."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _validate(path: Path, *flags: str) -> str:
    run = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *flags, str(path)],
                         cwd=ROOT / "course", capture_output=True, text=True, env=_nbgrader_env())
    return run.stdout + run.stderr


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_nbgrader_validate_gives_solutions_full_marks(relpath: str) -> None:
    out = _validate(ROOT / relpath)
    assert "Success! Your notebook passes all the tests." in out, out


@pytest.mark.parametrize("relpath", [p for p in LEARNER if "00_welcome" not in p])
def test_nbgrader_validate_gives_untouched_learner_notebooks_nothing_without_error(relpath: str) -> None:
    out = _validate(ROOT / relpath, "--invert")
    assert "Success! The notebook does not pass any tests." in out, out
    assert "Traceback" not in out and "Error" not in out, out


def test_module_1_through_the_nbgrader_round_trip(tmp_path: Path) -> None:
    """generate_assignment -> a submission -> autograde -> generate_feedback, with the real
    commands in a scratch course root; the learner answered two of the three exercises."""
    import nbformat
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(ROOT / "course" / "source" / "m01_en", course / "source" / "m01_en")
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course / "nbgrader_config.py")

    def nbgrader(*args: str) -> None:
        run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                             env=_nbgrader_env())
        assert run.returncode == 0, run.stdout + run.stderr

    nbgrader("db", "student", "add", "alice")
    nbgrader("generate_assignment", "m01_en", "--force")
    released = nbformat.read(course / "release" / "m01_en" / "01_anatomy.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / "en" / "01_anatomy.ipynb", as_version=4)
    answers = {c.metadata["promptatelier"]["exercise"]: c.source for c in solution.cells
               if c.metadata.get("promptatelier", {}).get("role") == "answer"}
    for cell in released.cells:
        kit = cell.metadata.get("promptatelier", {})
        if kit.get("role") == "answer" and kit["exercise"] in ("m01.order_line", "m01.ticket_route"):
            cell.source = "\n".join(line for line in answers[kit["exercise"]].splitlines() if "SOLUTION" not in line)
    submitted = course / "submitted" / "alice" / "m01_en"
    submitted.mkdir(parents=True)
    nbformat.write(released, submitted / "01_anatomy.ipynb")

    nbgrader("autograde", "m01_en", "--force")
    nbgrader("generate_feedback", "m01_en", "--force")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("m01_en", "alice")
        grades = {g.name: g.score for g in sub.notebooks[0].grades}
        assert grades["m01-order_line-test"] == 3.0
        assert grades["m01-ticket_route-test"] == 2.0
        assert grades["m01-review_label-test"] == 0.0
        assert sub.score == 5.0 and sub.max_score == 8.0
    feedback = (course / "feedback" / "alice" / "m01_en" / "01_anatomy.html").read_text(encoding="utf-8")
    assert "Score: 5.0 / 8.0" in feedback or "5.0 / 8.0" in feedback
    # hidden cases are never revealed by the returned feedback
    for hidden in ("h-teapot", "h-belgium", "h-towels", "handle of the teapot", "Please send 4 towels"):
        assert hidden not in feedback
