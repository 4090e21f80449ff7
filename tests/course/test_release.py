"""`atelier release`: the learners' copy holds the notebooks and the kit, never a hidden case, a
reference solution or a solution notebook; it works (check and grade on visible cases); and a
leak in the course content stops the release."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptatelier.course.release import ReleaseError, release, texts_of
from promptatelier.grading import evaluate, list_exercises, load_spec

ROOT = Path(__file__).resolve().parents[2]


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="ignore") for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "learners"
    release(ROOT, dest)
    return dest


def test_the_learners_copy_holds_notebooks_and_kit_but_no_solutions(bundle: Path) -> None:
    for lang in ("en", "fr"):
        assert sorted(p.name for p in (bundle / "notebooks" / lang).glob("*.ipynb")) == \
            sorted(p.name for p in (ROOT / "notebooks" / lang).glob("*.ipynb"))
    for kit in ("pyproject.toml", "atelier.toml", "scripts/setup", "scripts/start", "binder/postBuild",
                "src/promptatelier/__init__.py", "README.md"):
        assert (bundle / kit).is_file(), kit
    for absent in ("solutions", "course", "tests", "bench", ".env", ".venv"):
        assert not (bundle / absent).exists(), absent
    assert not list(bundle.rglob("*.hidden.toml")) and not list(bundle.rglob("__pycache__"))


def test_no_hidden_case_or_reference_solution_reaches_the_copy(bundle: Path) -> None:
    text = _all_text(bundle)
    # the full notebooks json-escape their strings: search the cells' text too
    cells = "\n".join("".join(c["source"]) for nb in bundle.rglob("*.ipynb") for c in json.loads(nb.read_text())["cells"])
    text += cells
    assert "### BEGIN SOLUTION" not in cells + _all_text(bundle / "graders")
    checked = 0
    for exercise in list_exercises(ROOT / "graders"):
        spec = load_spec(exercise, ROOT / "graders")
        for case in spec.hidden_cases():
            for value in texts_of(case.vars):
                if len(value) >= 24:
                    assert value not in text, f"a hidden input of {exercise} is in the learners' copy"
                    checked += 1
        # the reference's longest text that the exercise does not show itself (an exercise may show
        # one line of its answer's format, such as one test case of a test set)
        shown = " ".join(texts_of([spec.instructions, spec.hints]))
        own = [t.strip() for t in texts_of(spec.reference) if t.strip() and t.strip() not in shown]
        assert own, f"every text of the reference of {exercise} is shown in its own instructions"
        longest = max(own, key=len)
        assert longest not in text, f"the reference of {exercise} is in the learners' copy"
    assert checked > 20  # the course's hidden inputs were really looked for


def test_released_specs_load_and_grade_on_visible_cases_only(bundle: Path) -> None:
    from promptatelier.models import get_backend

    mock_backend = get_backend("mock")
    graders = bundle / "graders"
    assert sorted(list_exercises(graders)) == sorted(list_exercises(ROOT / "graders"))
    spec = load_spec("m01.review_label", graders)
    assert spec.released and spec.reference is None and spec.baseline is None and spec.hidden_cases() == ()
    mock_backend.script(lambda request: "positive")
    ev = evaluate(spec, {"system": "Sort reviews. One word.", "user": "Review: {review}"}, model="mock")
    assert ev.status == "graded" and ev.cases_run == {"visible": len(spec.cases), "hidden": 0}
    assert "visible cases only" in ev.feedback_text("en") and "cas visibles" in ev.feedback_text("fr")
    checked = evaluate(spec, {"system": "Sort reviews. One word.", "user": "Review: {review}"}, model="mock", cases="visible")
    assert "visible cases only" not in checked.feedback_text("en")  # a check never claimed hidden cases


def test_calibrate_refuses_a_learners_copy(bundle: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "promptatelier.cli", "calibrate", "m01.review_label",
                          "--graders", str(bundle / "graders")], capture_output=True, text=True)
    assert run.returncode != 0 and "learners' copy" in run.stderr


@pytest.mark.local_model
@pytest.mark.slow
def test_a_solved_notebook_runs_in_the_learners_copy(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A learner who answered every exercise of module 1, in the copy, with the copy's own
    atelier.toml found from the notebook's folder: every grade cell scores, on visible cases."""
    import nbformat
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    monkeypatch.delenv("ATELIER_CONFIG", raising=False)
    path = bundle / "notebooks" / "en" / "01_anatomy_answered.ipynb"
    shutil.copy(ROOT / "solutions" / "en" / "01_anatomy.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    path.unlink()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    grades = [determine_grade(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(grades) == 3 and all(score > 0 for score, _ in grades), grades


def test_a_leak_in_the_course_content_stops_the_release(tiny_course: Path, tmp_path: Path) -> None:
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "Try: SECRET-HIDDEN-INPUT with a longer tail"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for lang in ("en", "fr"):
        (tiny_course / "notebooks" / lang).mkdir(parents=True)
        (tiny_course / "notebooks" / lang / "09_tiny.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    # the hidden input long enough to count as a leak
    spec = tiny_course / "graders" / "m09" / "labels.toml"
    spec.write_text(spec.read_text().replace('"SECRET-HIDDEN-INPUT"', '"SECRET-HIDDEN-INPUT with a longer tail"'))
    dest = tmp_path / "out"
    with pytest.raises(ReleaseError) as caught:
        release(tiny_course, dest)
    assert "notebooks/en/09_tiny.ipynb: holds a hidden input of m09.labels" in caught.value.problem
    assert "SECRET" not in str(caught.value)  # the error names the leak, never shows it
    assert not dest.exists()

    notebook["cells"][0]["source"] = "Try your own product."
    for lang in ("en", "fr"):
        (tiny_course / "notebooks" / lang / "09_tiny.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    release(tiny_course, dest)
    released = (dest / "graders" / "m09" / "labels.toml").read_text()
    assert "released = true" in released and "SECRET" not in released and "Label {text}" not in released


def test_release_refuses_unsafe_destinations(tiny_course: Path, tmp_path: Path) -> None:
    for lang in ("en", "fr"):
        (tiny_course / "notebooks" / lang).mkdir(parents=True)
    with pytest.raises(ReleaseError, match="inside the course repository"):
        release(tiny_course, tiny_course / "release")
    other = tmp_path / "someone-elses"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me")
    with pytest.raises(ReleaseError, match="not empty"):
        release(tiny_course, other)
    with pytest.raises(ReleaseError, match="will not delete"):
        release(tiny_course, other, force=True)
    assert (other / "thesis.txt").read_text() == "keep me"
    previous = tmp_path / "previous"
    release(tiny_course, previous)
    (previous / "notebooks" / "en" / "stale.ipynb").write_text("{}")
    release(tiny_course, previous, force=True)
    assert not (previous / "notebooks" / "en" / "stale.ipynb").exists()


def test_atelier_release_command_one_language(tmp_path: Path) -> None:
    dest = tmp_path / "fr-only"
    run = subprocess.run([sys.executable, "-m", "promptatelier.cli", "release", str(dest), "--lang", "fr",
                          "--root", str(ROOT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "no hidden cases" in run.stdout
    assert (dest / "notebooks" / "fr" / "00_welcome.ipynb").is_file() and not (dest / "notebooks" / "en").exists()
    again = subprocess.run([sys.executable, "-m", "promptatelier.cli", "release", str(dest), "--root", str(ROOT)],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stderr


def test_a_reference_split_over_string_literals_is_still_found(tiny_course: Path, tmp_path: Path) -> None:
    first = "Answer yes or no about the text between the tags below, in lower case."
    second = "Write the single word and nothing else, no full stop: <t>{text}</t>"
    spec = tiny_course / "graders" / "m09" / "labels.toml"
    spec.write_text(spec.read_text().replace('reference = "Label {text}"', f'reference = """{first}\n{second}"""'))

    def notebook(code: str) -> None:
        cells = [{"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}]
        for lang in ("en", "fr"):
            folder = tiny_course / "notebooks" / lang
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "09_tiny.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))

    notebook(f'complete(\n    "{first}\\n"\n    "{second}"\n)')  # the whole reference, in two literals
    with pytest.raises(ReleaseError, match="holds the reference solution of m09.labels"):
        release(tiny_course, tmp_path / "out")
    notebook(f'complete("{first}\\n<t>a text</t>")')  # one shared line is a technique, not the answer
    release(tiny_course, tmp_path / "out")
