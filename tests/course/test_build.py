"""`atelier build`: sources -> nbgrader generate_assignment -> notebooks/ and solutions/,
deterministic, and `--check` names every stale file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptatelier.cli import main
from promptatelier.course import BuildError, Layout, build, check, render

from .conftest import SOURCE, write_source

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]


def test_build_writes_learner_solution_and_nbgrader_source_notebooks(tiny_course: Path) -> None:
    touched = build(tiny_course)
    expected = {Path(p) for p in (
        "course/source/m09_en/09_tiny.ipynb", "course/source/m09_fr/09_tiny.ipynb",
        "notebooks/en/09_tiny.ipynb", "notebooks/fr/09_tiny.ipynb",
        "solutions/en/09_tiny.ipynb", "solutions/fr/09_tiny.ipynb",
    )}
    assert set(touched) == expected
    learner_fr = json.loads((tiny_course / "notebooks/fr/09_tiny.ipynb").read_text(encoding="utf-8"))
    learner_en = json.loads((tiny_course / "notebooks/en/09_tiny.ipynb").read_text(encoding="utf-8"))
    solution = json.loads((tiny_course / "solutions/fr/09_tiny.ipynb").read_text(encoding="utf-8"))

    def answer(nb: dict) -> str:
        return next("".join(c["source"]) for c in nb["cells"] if c["metadata"].get("promptatelier", {}).get("role") == "answer")

    # nbgrader's ClearSolutions put the language's stub where the reference was
    assert answer(learner_fr) == 'PROMPT = """\nVOTRE PROMPT ICI\n"""'
    assert answer(learner_en) == 'PROMPT = """\nYOUR PROMPT HERE\n"""'
    # the solution carries the reference answer without nbgrader's markers (they would be prompt text)
    assert answer(solution) == 'PROMPT = """\nAnswer yes or no: {text} (fr)\n"""'
    source = json.loads((tiny_course / "course/source/m09_fr/09_tiny.ipynb").read_text(encoding="utf-8"))
    assert "### BEGIN SOLUTION" in answer(source)
    # generate_assignment locked the test cell and recorded checksums
    test_cell = next(c for c in learner_fr["cells"] if c["metadata"].get("promptatelier", {}).get("role") == "test")
    assert test_cell["metadata"]["nbgrader"]["locked"] is True and "checksum" in test_cell["metadata"]["nbgrader"]
    for path in tiny_course.rglob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "SECRET-HIDDEN-INPUT" not in text and "h-secret-case" not in text, path


def test_a_rebuild_is_byte_identical_and_changes_nothing(tiny_course: Path) -> None:
    build(tiny_course)
    before = {p: p.read_bytes() for p in tiny_course.rglob("*.ipynb")}
    assert build(tiny_course) == []
    assert {p: p.read_bytes() for p in tiny_course.rglob("*.ipynb")} == before
    assert check(tiny_course) == []


def test_check_names_every_stale_file(tiny_course: Path) -> None:
    build(tiny_course)
    (tiny_course / "notebooks/en/09_tiny.ipynb").write_text("{}", encoding="utf-8")
    (tiny_course / "solutions/fr/09_tiny.ipynb").unlink()
    (tiny_course / "notebooks/fr/99_orphan.ipynb").write_text("{}", encoding="utf-8")
    problems = check(tiny_course)
    assert problems == [
        "notebooks/en/09_tiny.ipynb: out of date",
        "solutions/fr/09_tiny.ipynb: missing",
        "notebooks/fr/99_orphan.ipynb: no source produces it",
    ]
    # a source edit makes the generated notebooks stale too
    build(tiny_course)
    write_source(tiny_course, "en", SOURCE.format(lang="en").replace("# Module 9", "# Module nine"))
    assert sorted(check(tiny_course)) == [
        "course/source/m09_en/09_tiny.ipynb: out of date",
        "notebooks/en/09_tiny.ipynb: out of date",
        "solutions/en/09_tiny.ipynb: out of date",
    ]


def test_build_refuses_sources_whose_languages_disagree(tiny_course: Path) -> None:
    write_source(tiny_course, "fr", SOURCE.format(lang="fr").split("```python exercise=")[0])
    with pytest.raises(BuildError) as info:
        render(Layout(tiny_course))
    assert "exercises differ" in str(info.value)
    assert not (tiny_course / "notebooks").exists()


def test_cli_check_fails_with_the_stale_file_named(tiny_course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--root", str(tiny_course)]) == 0
    (tiny_course / "solutions/en/09_tiny.ipynb").write_text("{}", encoding="utf-8")
    assert main(["build", "--check", "--root", str(tiny_course)]) == 1
    err = capsys.readouterr().err
    assert "solutions/en/09_tiny.ipynb: out of date" in err and "Fix: run `atelier build`" in err


def test_the_committed_notebooks_are_up_to_date(root: Path) -> None:
    """What CI runs: the committed notebooks/, solutions/ and course/source/ match the sources."""
    assert check(root) == []
