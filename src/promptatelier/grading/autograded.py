"""The `autograded/<student>/<assignment>/` notebooks, written from the trusted results.

What `nbgrader autograde` would leave there, without running anything: the submission with
duplicate ids dropped and every graded or locked cell restored from the gradebook's reference
(nbgrader's DeduplicateIds, OverwriteKernelspec and OverwriteCells, done in this process on the
run's one gradebook session), every output cleared, and each kit test cell given the trusted
outputs: the feedback (HTML and text) then the points as the cell's execute_result, which is
what nbgrader reads as a test cell's partial credit. So `nbgrader generate_feedback`,
formgrader and `nbgrader export` work unchanged, and no output made by learner code (nor a
key, nor a hidden case) can be in the file.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .course_dir import KIT_KEY, Course, ExerciseSlot, ReferenceCell
from .gradebook import NotebookReference
from .journal import ItemResult

__all__ = ["MARK", "autograded_notebook", "write_autograded"]

# notebook metadata saying which program wrote an autograded notebook
MARK = "autograded_by"


def _nbgrader_meta(ref: ReferenceCell, task: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": ref.points is not None and not task, "grade_id": ref.grade_id,
                            "locked": ref.locked, "schema_version": 3, "solution": ref.solution,
                            "cell_type": ref.cell_type}
    if ref.checksum:
        meta["checksum"] = ref.checksum
    if ref.points is not None:
        meta["points"] = ref.points
    if task:
        meta["task"] = True
    return meta


def _restore(cell: Any, ref: ReferenceCell, task: bool) -> None:
    """nbgrader's OverwriteCells, stricter: a locked cell gets back its source and all its
    nbgrader metadata (a `grade: false` test cell is a test cell again)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    if cell.cell_type != ref.cell_type:
        fresh = new_code_cell(cell.source) if ref.cell_type == "code" else new_markdown_cell(cell.source)
        fresh.metadata = cell.metadata
        cell.clear()
        cell.update(fresh)
    if ref.locked:
        cell.source = ref.source
    cell.metadata["nbgrader"] = _nbgrader_meta(ref, task)


def _missing_test(ref: ReferenceCell, slot: ExerciseSlot) -> Any:
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(ref.source)
    cell.metadata = {"nbgrader": _nbgrader_meta(ref, False), KIT_KEY: {"exercise": slot.exercise_id, "role": "test"},
                     "deletable": False, "editable": False}
    return cell


def _outputs(result: ItemResult, redact: Callable[[str], str]) -> list[Any]:
    """What nbformat's new_output builds, without its schema validation per output (a third of
    the writing time): two fixed shapes of strings, valid by construction."""
    from nbformat import NotebookNode

    text = redact(result.feedback.strip())
    html = redact(result.feedback_html) if result.feedback_html else ""
    data = {"text/plain": text, **({"text/html": html} if html else {})}
    outputs = [NotebookNode(output_type="display_data", metadata=NotebookNode(), data=NotebookNode(data))]
    if result.scored:
        points = NotebookNode({"text/plain": f"{float(result.points or 0.0):g}"})
        outputs.append(NotebookNode(output_type="execute_result", metadata=NotebookNode(), data=points,
                                    execution_count=None))
    return outputs


def autograded_notebook(nb: Any, reference: NotebookReference, slots: list[ExerciseSlot],
                        results: Mapping[str, ItemResult], redact: Callable[[str], str]) -> Any:
    """The autograded copy of a submitted notebook (`results` keyed by test cell grade_id)."""
    nb = copy.deepcopy(nb)
    seen: set[str] = set()
    for cell in reversed(nb.cells):  # DeduplicateIds: of repeated grade_ids the last one keeps its metadata
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id")
        ref = reference.cells.get(grade_id) if grade_id else None
        if ref is None or grade_id in seen:
            del cell.metadata["nbgrader"]  # not a cell of the assignment: an ordinary cell
            continue
        seen.add(grade_id)
        _restore(cell, ref, grade_id in reference.tasks)
    if reference.kernelspec:
        nb.metadata["kernelspec"] = reference.kernelspec
    for slot in slots:
        if slot.test_id in seen:
            continue
        position = next((i + 1 for i, c in enumerate(nb.cells)
                         if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == slot.answer_id), len(nb.cells))
        nb.cells.insert(position, _missing_test(reference.cells[slot.test_id], slot))
    for cell in nb.cells:
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        cell.execution_count = None
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        result = results.get(grade_id) if grade_id else None
        cell.outputs = _outputs(result, redact) if result is not None else []
    nb.metadata.pop("widgets", None)  # saved widget state is output too (whatever learner code displayed)
    nb.metadata.setdefault(KIT_KEY, {})[MARK] = "atelier grade"
    return nb


def _copy_files(source: Path, dest: Path, ignore: list[str]) -> None:
    """autograde's file copies: the learner's other files, then the source's (which win)."""
    from nbgrader.utils import find_all_files

    if not source.is_dir():
        return
    for filename in find_all_files(str(source), ignore + ["*.ipynb"]):
        target = dest / os.path.relpath(filename, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        shutil.copy(filename, target)


def _cleaned(value: Any) -> Any:
    """Every string with its lone surrogates escaped, so nbgrader can write the feedback HTML."""
    from .redact import clean_text

    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _cleaned(value[key])
        return value
    if isinstance(value, list):
        value[:] = [_cleaned(v) for v in value]
    return value


def write_autograded(course: Course, student: str, assignment: str, name: str, nb: Any) -> Path:
    """Write the notebook to autograded/ (atomically; nbgrader leaves its files read-only)."""
    import nbformat

    dest = course.autograded(student, assignment)
    dest.mkdir(parents=True, exist_ok=True)
    coursedir = course.coursedir
    _copy_files(course.submitted(student, assignment), dest, list(coursedir.ignore))
    _copy_files(course.path(coursedir.source_directory, ".", assignment), dest, list(coursedir.ignore))
    text = nbformat.v4.writes_json(nb)  # validated when read; every change since is by construction
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = nbformat.v4.writes_json(_cleaned(nb))
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".ipynb")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path = dest / f"{name}.ipynb"
    os.replace(tmp, path)
    os.chmod(path, 0o664 if coursedir.groupshared else 0o444)
    return path
