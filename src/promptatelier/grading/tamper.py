"""Signs that a submission was tampered with, found by reading it (nothing is run).

Two scans: code that rebinds `grade`/`check` or the kit (`ast`), and the graded cells compared
with what `nbgrader generate_assignment` recorded, through nbgrader's own checksums: a test
cell deleted, stripped of its metadata, edited, unlocked or set to `grade: false`; an answer
cell deleted, stripped or moved. Each finding is a flag: the item goes to manual review, and the
trusted score (which never depends on those cells) is still recorded.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .course_dir import KIT_KEY, ExerciseSlot, ReferenceCell

__all__ = ["PROTECTED_NAMES", "check_cells", "last_cells_by_id", "scan_tampering"]

PROTECTED_NAMES = frozenset({"grade", "check", "promptatelier"})


def _code_of(source: str) -> str:
    """Cell source with IPython magics and shell lines blanked, so `ast` can read the rest."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _binds_protected(node: ast.AST) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in PROTECTED_NAMES:
        return f"defines {node.name}()"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            legit = (isinstance(node, ast.ImportFrom) and node.module == "promptatelier"
                     and alias.asname is None and alias.name in {"grade", "check"})
            legit = legit or (isinstance(node, ast.Import) and alias.name == "promptatelier" and alias.asname is None)
            if bound in PROTECTED_NAMES and not legit:
                return f"rebinds {bound} by an import"
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        targets = [node.target]
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name) and sub.id in PROTECTED_NAMES:
                return f"assigns {sub.id}"
            if isinstance(sub, ast.Attribute) and sub.attr in PROTECTED_NAMES:
                return f"assigns {ast.unparse(sub)}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"setattr", "exec", "eval"}:
        return f"calls {node.func.id}()"
    return None


def scan_tampering(cells: Iterable[Any], skip_ids: Iterable[str] = ()) -> list[str]:
    """Reasons to look at a submission: code that rebinds grade/check or the kit, found by `ast`.

    Cells whose grade_id is in `skip_ids` (locked test cells, restored from the source before
    anything reads them) are not scanned.
    """
    skip = set(skip_ids)
    found: list[str] = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in skip:
            continue
        try:
            tree = ast.parse(_code_of(cell.get("source", "")))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            reason = _binds_protected(node)
            if reason:
                found.append(f"cell {index + 1} {reason}")
                break
    return found


def _grade_id(cell: Any) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def last_cells_by_id(cells: Sequence[Any]) -> dict[str, tuple[int, Any]]:
    """Each grade_id's cell and position; of duplicates the last wins, as in nbgrader's DeduplicateIds."""
    return {gid: (i, cell) for i, cell in enumerate(cells) if (gid := _grade_id(cell))}


def _stripped(cells: Sequence[Any], exercise: str, role: str, source: str | None) -> bool:
    """A cell that was once this exercise's `role` cell but has lost its nbgrader metadata."""
    for cell in cells:
        if _grade_id(cell):
            continue
        kit = cell.get("metadata", {}).get(KIT_KEY) or {}
        if kit.get("exercise") == exercise and kit.get("role") == role:
            return True
        if source is not None and cell.get("source", "").strip() == source.strip():
            return True
    return False


def _test_changes(cell: Any, ref: ReferenceCell) -> list[str]:
    from nbgrader.utils import compute_checksum, is_grade, is_locked

    meta = cell.get("metadata", {}).get("nbgrader", {})
    changes = []
    if cell.get("cell_type") != ref.cell_type:
        changes.append(f"was turned into a {cell.get('cell_type')} cell")
    if not is_grade(cell):
        changes.append("was set to grade: false")
    if not is_locked(cell):
        changes.append("was unlocked")
    try:
        points = float(meta.get("points"))
    except (TypeError, ValueError):
        points = None
    if is_grade(cell) and ref.points is not None and points != ref.points:
        changes.append(f"had its points changed from {ref.points:g} to {meta.get('points')}")
    if cell.get("source", "").strip() != ref.source.strip():
        changes.append("was edited")
    if not changes:
        try:
            same = compute_checksum(cell) == ref.checksum
        except (KeyError, TypeError, ValueError, AttributeError):
            same = False
        if not same:
            changes.append("does not match nbgrader's checksum of the released cell")
    return changes


def check_cells(cells: Sequence[Any], slots: Sequence[ExerciseSlot],
                reference: dict[str, ReferenceCell]) -> dict[str, list[str]]:
    """Flags for each exercise (keyed by its test cell's grade_id) from its graded cells."""
    from nbgrader.utils import is_grade, is_solution

    counts = Counter(gid for cell in cells if (gid := _grade_id(cell)))
    found = last_cells_by_id(cells)
    flags: dict[str, list[str]] = {}
    previous_test: str | None = None
    for slot in slots:
        mine: list[str] = []
        for gid in (slot.answer_id, slot.test_id):
            if counts[gid] > 1:
                mine.append(f"the cell {gid} appears {counts[gid]} times (nbgrader keeps the last one)")
        test_ref = reference.get(slot.test_id)
        if slot.test_id not in found:
            how = "stripped of its nbgrader metadata" if _stripped(
                cells, slot.exercise_id, "test", test_ref.source if test_ref else None) else "deleted"
            mine.append(f"the locked test cell {slot.test_id} was {how}")
        elif test_ref is not None:
            mine += [f"the locked test cell {slot.test_id} {c}" for c in _test_changes(found[slot.test_id][1], test_ref)]
        if slot.answer_id not in found:
            how = "stripped of its nbgrader metadata" if _stripped(cells, slot.exercise_id, "answer", None) else "deleted"
            mine.append(f"the answer cell {slot.answer_id} was {how}")
        else:
            index, answer = found[slot.answer_id]
            if not is_solution(answer):
                mine.append(f"the answer cell {slot.answer_id} was set to solution: false")
            if is_grade(answer):
                mine.append(f"the answer cell {slot.answer_id} was set to grade: true")
            test_at = found.get(slot.test_id, (None,))[0]
            before = found.get(previous_test, (None,))[0] if previous_test else None
            if (test_at is not None and index > test_at) or (before is not None and index < before):
                mine.append(f"the answer cell {slot.answer_id} was moved out of its exercise")
        previous_test = slot.test_id
        flags[slot.test_id] = mine
    return flags
