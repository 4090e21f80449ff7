"""Course sources: one jupytext Markdown notebook per module and language, expanded into the
nbgrader notebook an instructor would have written by hand.

An author writes an exercise as one fenced cell that names it::

    ```python exercise="m01.labels"
    PROMPT = \"\"\"
    ### BEGIN SOLUTION
    ...the reference prompt...
    ### END SOLUTION
    \"\"\"
    ```

and the build turns it into the four cells every exercise has: a heading with the spec's title,
points and instructions (from graders/, so the notebook and `check` never disagree), the nbgrader
answer cell, the `check` cell and the locked autograder test cell (conventions.md).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "LANGUAGES",
    "Exercise",
    "Module",
    "SourceError",
    "discover",
    "read_module",
    "spec_info",
]

LANGUAGES = ("en", "fr")
_NAME = re.compile(r"^m(?P<num>\d\d)_(?P<slug>[a-z0-9_]+)\.md$")
_SCHEMA_VERSION = 3
_KIT = "promptatelier"

_LABELS = {
    "en": {"exercise": "Exercise", "points": ("point", "points"), "check": "Try it on the visible cases",
           "test": "Autograder (locked)"},
    "fr": {"exercise": "Exercice", "points": ("point", "points"), "check": "Essayez sur les cas visibles",
           "test": "Correction automatique (verrouillée)"},
}


class SourceError(SpecError):
    """A course source is malformed: names the file, the cell and the fix."""


@dataclass(frozen=True)
class Exercise:
    id: str
    variable: str
    points: float

    @property
    def grade_stem(self) -> str:
        return self.id.replace(".", "-")


@dataclass
class Module:
    """One source file, read and expanded (`notebook` holds the solutions in place)."""

    path: Path
    lang: str
    number: str
    slug: str
    notebook: NotebookNode
    exercises: list[Exercise] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What pairs the two languages of a module: m01_anatomy."""
        return f"m{self.number}_{self.slug}"

    @property
    def assignment(self) -> str:
        """The nbgrader assignment: one per module and language, e.g. m01_en."""
        return f"m{self.number}_{self.lang}"

    @property
    def notebook_name(self) -> str:
        return f"{self.number}_{self.slug}.ipynb"


def discover(course_dir: Path) -> list[Path]:
    """Every module source under course/<lang>/, in a stable order."""
    found: list[Path] = []
    for lang in LANGUAGES:
        folder = course_dir / lang
        if folder.is_dir():
            found.extend(sorted(p for p in folder.glob("m*.md") if _NAME.match(p.name)))
    return found


def spec_info(graders_dir: Path, exercise_id: str) -> dict[str, Any]:
    """The title, instructions, points and answer variable of an exercise, from its validated
    spec (`promptatelier.grading.load_spec`). Hidden cases are never read here."""
    from ..grading import load_spec

    try:
        spec = load_spec(exercise_id, graders_dir)
    except SpecError as exc:
        raise SourceError(f"The exercise {exercise_id!r} has no usable spec: {exc.problem}", exc.fix) from exc
    return {"title": spec.title, "instructions": spec.instructions, "points": spec.points,
            "variable": spec.variable}


def _cell_id(seed: str, taken: set[str]) -> str:
    """A stable nbformat cell id from the cell's content, unique in its notebook."""
    base = hashlib.sha1(seed.encode("utf-8")).hexdigest()[:12]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _answer_variable(source: str, where: str) -> str:
    """The variable an answer cell assigns; the cell must be one literal assignment."""
    if "### BEGIN SOLUTION" not in source or "### END SOLUTION" not in source:
        raise SourceError(
            f"{where}: the answer cell has no '### BEGIN SOLUTION' / '### END SOLUTION' region.",
            "Put the reference answer between the two markers, inside the string literal.",
        )
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SourceError(f"{where}: the answer cell is not valid Python ({exc.msg}).", "Fix its syntax.") from exc
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1 \
            or not isinstance(body[0].targets[0], ast.Name):
        raise SourceError(
            f"{where}: an answer cell must be exactly one assignment, NAME = <literal>.",
            'Write for example PROMPT = """...""" and nothing else in the cell.',
        )
    try:
        ast.literal_eval(body[0].value)
    except ValueError as exc:
        raise SourceError(
            f"{where}: the answer is not a Python literal ({exc}).",
            "Use a string, a dict of strings or a list of dicts of strings: the grader reads it with ast.",
        ) from exc
    return body[0].targets[0].id


def _heading(lang: str, number: int, info: dict[str, Any]) -> str:
    labels = _LABELS[lang]
    points = info["points"]
    shown = int(points) if points == int(points) else points
    unit = labels["points"][0 if points <= 1 else 1]
    title = info["title"][lang].strip()
    instructions = info["instructions"][lang].strip()
    return f"### {labels['exercise']} {number} · {title} ({shown} {unit})\n\n{instructions}"


def read_module(path: Path, graders_dir: Path) -> Module:
    """Read one source and expand its exercise cells (see the module docstring)."""
    import jupytext
    import nbformat

    match = _NAME.match(path.name)
    lang = path.parent.name
    if match is None or lang not in LANGUAGES:
        raise SourceError(
            f"{path} is not named like a module source.",
            "Name sources course/<en|fr>/mNN_slug.md, e.g. course/fr/m01_anatomy.md.",
        )
    text = path.read_text(encoding="utf-8")
    try:
        raw = jupytext.reads(text, fmt="md")
    except Exception as exc:  # jupytext raises assorted errors on broken headers
        raise SourceError(f"{path} cannot be read by jupytext: {exc}.", "Fix the file's header or fences.") from exc
    module = Module(path, lang, match["num"], match["slug"], nbformat.v4.new_notebook())
    cells: list[Any] = []
    seen: set[str] = set()
    for index, cell in enumerate(raw.cells, start=1):
        meta = dict(cell.metadata)
        exercise_id = meta.pop("exercise", None)
        if cell.cell_type != "code" or exercise_id is None:
            if meta.get("role"):
                raise SourceError(
                    f"{path}, cell {index}: 'role' without 'exercise'.",
                    'Name the exercise on the fence: ```python exercise="m01.name"',
                )
            new = (nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code"
                   else nbformat.v4.new_markdown_cell(cell.source))
            cells.append(new)
            continue
        where = f"{path}, cell {index} ({exercise_id})"
        if meta.pop("role", "answer") != "answer" or meta:
            raise SourceError(
                f"{where}: unexpected fence options {sorted(meta) or 'role'}.",
                'Write only exercise="...": the build writes the heading, the check and the test cells.',
            )
        if not re.fullmatch(rf"m{module.number}\.[a-z0-9_]+", str(exercise_id)):
            raise SourceError(
                f"{where}: the exercise id must be m{module.number}.<name> (lowercase, digits, _).",
                f'Write exercise="m{module.number}.my_exercise" and the spec graders/m{module.number}/my_exercise.toml.',
            )
        if exercise_id in seen:
            raise SourceError(f"{where}: the exercise appears twice.", "Give each exercise one answer cell.")
        seen.add(exercise_id)
        variable = _answer_variable(cell.source, where)
        info = spec_info(graders_dir, exercise_id)
        if variable != info["variable"]:
            raise SourceError(
                f"{where}: the answer cell assigns {variable} but the spec expects {info['variable']}.",
                f"Assign {info['variable']} in the answer cell, or set variable = \"{variable}\" in the spec.",
            )
        exercise = Exercise(exercise_id, variable, info["points"])
        module.exercises.append(exercise)
        cells.extend(_exercise_cells(lang, len(module.exercises), exercise, info, cell.source))
    taken: set[str] = set()
    for cell in cells:
        cell.id = _cell_id(f"{cell.cell_type}\n{cell.source}", taken)
    nb = module.notebook
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        _KIT: {"module": f"m{module.number}", "lang": lang},
    }
    return module


def _exercise_cells(lang: str, number: int, exercise: Exercise, info: dict[str, Any], source: str) -> list[Any]:
    import nbformat

    stem = exercise.grade_stem
    heading = nbformat.v4.new_markdown_cell(_heading(lang, number, info))
    answer = nbformat.v4.new_code_cell(source.strip("\n"))
    answer.metadata = {
        "nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": f"{stem}-answer",
                     "schema_version": _SCHEMA_VERSION},
        _KIT: {"exercise": exercise.id, "role": "answer", "variable": exercise.variable},
    }
    check = nbformat.v4.new_code_cell(f'check("{exercise.id}", {exercise.variable})')
    check.metadata = {_KIT: {"exercise": exercise.id, "role": "check"}}
    test = nbformat.v4.new_code_cell(
        f"# {_LABELS[lang]['test']}\n"
        f'grade("{exercise.id}", {exercise.variable})'
    )
    test.metadata = {
        "nbgrader": {"grade": True, "solution": False, "locked": True, "points": exercise.points,
                     "grade_id": f"{stem}-test", "schema_version": _SCHEMA_VERSION},
        _KIT: {"exercise": exercise.id, "role": "test"},
    }
    return [heading, answer, check, test]
