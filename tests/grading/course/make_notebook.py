"""Writes the test course's assignments as `atelier build` lays out exercises (answer, check and
test cells with the kit's metadata): source/ps1/ps1.ipynb (three kit exercises) and
source/ps2/ps2.ipynb (one kit exercise and one ordinary nbgrader exercise, whose test cell only
`nbgrader autograde` can score). Run it after changing the exercises:
`python tests/grading/course/make_notebook.py`."""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# exercise id, points, the reference answer cell's code
EXERCISES = [
    ("tc.label", 2, 'PROMPT = """\n### BEGIN SOLUTION\n'
     "Classify the sentiment of the review between <review> tags.\n"
     "Answer with exactly one word: positive or negative. No other text.\n\n"
     "<review>{review}</review>\n"
     '### END SOLUTION\n"""'),
    ("tc.french", 2, 'PROMPT = {\n    "system": """\n### BEGIN SOLUTION\n'
     "Tu es un assistant qui répond toujours en français, en une phrase courte.\n"
     '### END SOLUTION\n""",\n    "user": """\n### BEGIN SOLUTION\n'
     "Réponds en français à cette question : {question}\n"
     '### END SOLUTION\n""",\n}'),
    ("tc.json", 3, 'PROMPT = """\n### BEGIN SOLUTION\n'
     "Extract the person's name and age from the text between <text> tags.\n"
     'Reply with JSON only, like {"name": "Ann", "age": 30}.\n\n'
     "<text>{text}</text>\n"
     '### END SOLUTION\n"""'),
]


def exercise_cells(exercise: str, points: int, answer: str) -> list[nbformat.NotebookNode]:
    slug = exercise.replace(".", "-")
    intro = nbformat.v4.new_markdown_cell(f"### Exercise {exercise}\n\nWrite your prompt in the cell below.")
    answer_cell = nbformat.v4.new_code_cell(answer)
    answer_cell.metadata = {
        "nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": f"{slug}-answer",
                     "schema_version": 3},
        "promptatelier": {"exercise": exercise, "role": "answer", "variable": "PROMPT"},
    }
    check_cell = nbformat.v4.new_code_cell(f'check("{exercise}", PROMPT)')
    check_cell.metadata = {"promptatelier": {"exercise": exercise, "role": "check"}}
    test_cell = nbformat.v4.new_code_cell(f'grade("{exercise}", PROMPT)')
    test_cell.metadata = {
        "nbgrader": {"grade": True, "solution": False, "locked": True, "points": points,
                     "grade_id": f"{slug}-test", "schema_version": 3},
        "promptatelier": {"exercise": exercise, "role": "test"},
    }
    return [intro, answer_cell, check_cell, test_cell]


def ordinary_cells() -> list[nbformat.NotebookNode]:
    """An nbgrader exercise of the usual kind: a solution cell and an assert test cell."""
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nANSWER = 42\n### END SOLUTION")
    answer.metadata = {"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "ordinary-answer",
                                    "schema_version": 3}}
    test = nbformat.v4.new_code_cell("assert ANSWER == 42")
    test.metadata = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                                  "grade_id": "ordinary-test", "schema_version": 3}}
    return [nbformat.v4.new_markdown_cell("### An ordinary exercise\n\nSet ANSWER to 42."), answer, test]


def write(name: str, cells: list[nbformat.NotebookNode]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "promptatelier": {"lang": "en"},
    }
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# Test assignment {name}"))
    nb.cells.append(nbformat.v4.new_code_cell("from promptatelier import check, grade"))
    nb.cells.extend(cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    path = HERE / "source" / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def main() -> None:
    write("ps1", [cell for exercise, points, answer in EXERCISES for cell in exercise_cells(exercise, points, answer)])
    write("ps2", exercise_cells(*EXERCISES[0]) + ordinary_cells())


if __name__ == "__main__":
    main()
