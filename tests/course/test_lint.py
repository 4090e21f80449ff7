"""The sources lint: the two languages must agree on exercises, ids, points and code."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.course import SourceError, lint, read_module
from promptatelier.course.lint import code_shape

from .conftest import SOURCE, write_source


def test_the_committed_course_lints_clean(root: Path) -> None:
    assert lint(root / "course", root / "graders") == []


def test_the_tiny_course_lints_clean(tiny_course: Path) -> None:
    assert lint(tiny_course / "course", tiny_course / "graders") == []


def test_strings_and_comments_may_differ_but_code_may_not() -> None:
    assert code_shape('x = f("hello")  # en') == code_shape('x = f("bonjour")  # fr')
    assert code_shape('x = f("hello")') != code_shape('x = g("hello")')
    assert code_shape('x = f("a", t=0)') != code_shape('x = f("a", t=1)')


def test_an_exercise_missing_in_one_language_is_reported(tiny_course: Path) -> None:
    text = SOURCE.format(lang="fr").split('```python exercise=')[0]
    write_source(tiny_course, "fr", text)
    problems = lint(tiny_course / "course", tiny_course / "graders")
    assert any("exercises differ" in p and "m09.labels" in p for p in problems), problems


def test_different_code_between_languages_is_reported(tiny_course: Path) -> None:
    text = SOURCE.format(lang="fr").replace("from promptatelier import check, grade",
                                            "from promptatelier import check, grade, complete")
    write_source(tiny_course, "fr", text)
    problems = lint(tiny_course / "course", tiny_course / "graders")
    assert any("code cell 1 differs" in p for p in problems), problems


def test_a_module_without_its_translation_is_reported(tiny_course: Path) -> None:
    (tiny_course / "course" / "fr" / "m09_tiny.md").unlink()
    problems = lint(tiny_course / "course", tiny_course / "graders")
    assert any("no counterpart in fr" in p for p in problems), problems


def test_a_notebook_that_does_not_set_its_language_is_reported(tiny_course: Path) -> None:
    write_source(tiny_course, "fr", SOURCE.format(lang="fr").replace('= "fr"', '= "en"'))
    problems = lint(tiny_course / "course", tiny_course / "graders")
    assert any('ATELIER_LANG"] = "fr"' in p for p in problems), problems


def test_an_exercise_without_a_spec_is_reported(tiny_course: Path) -> None:
    for lang in ("en", "fr"):
        write_source(tiny_course, lang, SOURCE.format(lang=lang).replace("m09.labels", "m09.nothing"))
    problems = lint(tiny_course / "course", tiny_course / "graders")
    assert any("m09.nothing" in p and "spec" in p for p in problems), problems


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('PROMPT = "no markers"', "BEGIN SOLUTION"),
        ('PROMPT = make("""\n### BEGIN SOLUTION\nx\n### END SOLUTION\n""")', "not a Python literal"),
        ('ANSWER = """\n### BEGIN SOLUTION\nx\n### END SOLUTION\n"""', "spec expects PROMPT"),
        ('PROMPT = """\n### BEGIN SOLUTION\nx\n### END SOLUTION\n"""\nprint(PROMPT)', "exactly one assignment"),
    ],
)
def test_a_malformed_answer_cell_is_a_clear_error(tiny_course: Path, answer: str, message: str) -> None:
    start = SOURCE.index('PROMPT = """')
    end = SOURCE.index('"""\n```', start + 12) + 3
    text = SOURCE[:start] + answer + SOURCE[end:]
    path = write_source(tiny_course, "en", text.format(lang="en"))
    with pytest.raises(SourceError) as info:
        read_module(path, tiny_course / "graders")
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_exercise_cells_are_expanded_with_nbgrader_and_kit_metadata(tiny_course: Path) -> None:
    module = read_module(tiny_course / "course" / "fr" / "m09_tiny.md", tiny_course / "graders")
    cells = module.notebook.cells
    roles = [c.metadata.get("promptatelier", {}).get("role") for c in cells]
    assert roles == [None, None, None, "answer", "check", "test"]
    heading, answer, check, test = cells[2:]
    assert heading.source.startswith("### Exercice 1 · Rien que l'étiquette (2 points)")
    assert answer.metadata["nbgrader"] == {"solution": True, "grade": False, "locked": False,
                                           "grade_id": "m09-labels-answer", "schema_version": 3}
    assert answer.metadata["promptatelier"] == {"exercise": "m09.labels", "role": "answer", "variable": "PROMPT"}
    assert check.source == 'check("m09.labels", PROMPT)'
    assert test.source.splitlines()[-1] == 'grade("m09.labels", PROMPT)'
    assert test.metadata["nbgrader"]["points"] == 2.0 and test.metadata["nbgrader"]["locked"] is True
    assert module.assignment == "m09_fr" and module.notebook_name == "09_tiny.ipynb"
    assert "SECRET-HIDDEN-INPUT" not in str(module.notebook)
