"""An evaluation's answer cell in a notebook: the solution region sits in strings between the
list's items, so nbgrader's stub leaves valid Python; those strings are scaffolding, not cases."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptatelier.errors import SubmissionError
from promptatelier.grading import load_spec, normalise
from promptatelier.grading.spec import clear_spec_cache

SPEC = """
id = "t10.cells"
points = 2
kind = "eval_cases"
min_cases = 1
title = "A test set"
instructions = "Write cases."
reference = [{ review = "I love it.", expected = "positive" }]
baseline = [{ review = "It broke.", expected = "negative" }]

[task]
kind = "template"
placeholders = ["review"]
prompt = "Label <r>{review}</r>: positive or negative."

[[task.criteria]]
use = "label_accuracy"
labels = ["positive", "negative"]

[[mutants]]
name = "always-positive"
prompt = "Say positive. <r>{review}</r>"
"""

SOLUTION_CELL = '''[
    """
### BEGIN SOLUTION
""",
    {"review": "I love it.", "expected": "positive"},
    """
### END SOLUTION
""",
]'''


@pytest.fixture
def spec(tmp_path: Path):  # noqa: ANN201
    folder = tmp_path / "t10"
    folder.mkdir()
    path = folder / "cells.toml"
    path.write_text(textwrap.dedent(SPEC), encoding="utf-8")
    clear_spec_cache()
    return load_spec(path)


def test_the_solution_cells_scaffolding_is_not_part_of_the_answer(spec) -> None:  # noqa: ANN001
    import ast

    got = normalise(spec, ast.literal_eval(SOLUTION_CELL))
    assert got.data == [{"review": "I love it.", "expected": "positive"}]
    assert got.parts == normalise(spec, spec.reference).parts


@pytest.mark.parametrize("stub", ["YOUR PROMPT HERE", "VOTRE PROMPT ICI"])
def test_an_untouched_cell_is_not_answered_yet(spec, stub: str) -> None:  # noqa: ANN001
    with pytest.raises(SubmissionError, match="Not answered yet"):
        normalise(spec, [f"\n{stub}\n"])


def test_a_string_that_is_more_than_scaffolding_is_still_refused(spec) -> None:  # noqa: ANN001
    with pytest.raises(SubmissionError, match="each a dict"):
        normalise(spec, ["I love it.", {"review": "It broke.", "expected": "negative"}])


def test_atelier_grade_reads_an_evaluation_cell_without_running_it(spec) -> None:  # noqa: ANN001
    from promptatelier.grading.answers import read_answer

    answer = read_answer(f"CASES = {SOLUTION_CELL}", "CASES")
    assert answer.problem is None and normalise(spec, answer.value).parts == normalise(spec, spec.reference).parts
    rubric = read_answer('RUBRIC = [{"use": "length", "unit": "words", "max": 25}, {"use": "contains", "text": {"case": "vars.order"}}]',
                         "RUBRIC")
    assert rubric.problem is None and rubric.value[0]["max"] == 25
    untouched = read_answer('CASES = [\n    """\nYOUR PROMPT HERE\n""",\n]', "CASES")
    assert untouched.problem is None
    with pytest.raises(SubmissionError, match="Not answered yet"):
        normalise(spec, untouched.value)
    assert "not all dicts of strings" in read_answer('CASES = [{"review": {1, 2}}]', "CASES").problem
