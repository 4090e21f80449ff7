"""Trusted grading of a cohort: `atelier grade ASSIGNMENT` behind the command line.

Learner code runs in the same kernel as nbgrader's test cells and can redefine anything, so the
in-notebook grade is not trusted. Here each answer is read from its cell with `ast` (never
executed), the exercise it answers comes from the instructor's *source* notebook (matched by
grade_id, never from the submission), scoring happens in this clean process through
`evaluate_many`, and the scores go into nbgrader's gradebook for formgrader and
`nbgrader generate_feedback`. A journal (SQLite, next to the gradebook) keeps every finished
(student, exercise, submission hash) so an interrupted run resumes without redoing work, and the
response cache makes a regrade free of model calls.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AtelierError, ModelUnavailableError

__all__ = [
    "Answer",
    "CohortRun",
    "Course",
    "ExerciseSlot",
    "ItemResult",
    "Journal",
    "grade_cohort",
    "read_answer",
    "scan_tampering",
]

KIT_KEY = "promptatelier"
# answers longer than this are not parsed (a prompt is text, not a data dump)
MAX_ANSWER_CHARS = 100_000
# two grades closer than this fraction of the cell's points agree
AGREEMENT_TOLERANCE = 0.01
PROTECTED_NAMES = frozenset({"grade", "check", "promptatelier"})


class CohortError(AtelierError):
    """The course, the assignment or the gradebook is not in a state that can be graded."""


# ---------------------------------------------------------------- reading answers without running them


@dataclass(frozen=True)
class Answer:
    """A learner's answer as read from its cell: the literal, or why it cannot be graded."""

    value: Any = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _first_non_literal(node: ast.AST) -> ast.AST:
    """The innermost part of a container that is not a literal (what to name in the message)."""
    children: list[ast.AST] = []
    if isinstance(node, ast.Dict):
        children = [k for k in node.keys if k is not None] + list(node.values)
    elif isinstance(node, (ast.List, ast.Tuple)):
        children = list(node.elts)
    for child in children:
        try:
            ast.literal_eval(child)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return _first_non_literal(child)
    return node


def _describe(node: ast.AST) -> str:
    inner = _first_non_literal(node)
    if inner is not node:
        return f"{'a dict' if isinstance(node, ast.Dict) else 'a list'} containing {_describe(inner)}"
    if isinstance(node, ast.JoinedStr):
        return "an f-string (its {...} parts would run code)"
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.BinOp):
        return "an expression (e.g. strings joined with +)"
    if isinstance(node, ast.Attribute):
        return "an attribute lookup"
    return f"a Python {type(node).__name__} expression"


def _shape_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return None
        return "a dict whose keys and values are not all strings"
    if isinstance(value, list):
        if all(isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
               for m in value):
            return None
        return "a list whose items are not all dicts of strings"
    return f"a {type(value).__name__}"


def read_answer(source: str, variable: str) -> Answer:
    """The literal assigned to `variable` in an answer cell's source, without executing anything.

    The cell must be exactly one assignment `VARIABLE = <literal>` of a string, a dict of strings
    or a list of dicts of strings; anything else is an Answer with a `problem` (scores 0).
    """
    expected = f"`{variable} = \"\"\"...\"\"\"` (one assignment of text written between quotes)"
    if len(source) > MAX_ANSWER_CHARS:
        return Answer(problem=f"The answer cell is longer than {MAX_ANSWER_CHARS:,} characters.")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Answer(problem=f"The answer cell is not valid Python (line {exc.lineno}: {exc.msg}); "
                              f"it should be {expected}.")
    except (ValueError, RecursionError, MemoryError):
        return Answer(problem=f"The answer cell cannot be read; it should be {expected}.")
    body = tree.body
    if not body:
        return Answer(problem=f"The answer cell is empty; it should be {expected}.")
    if len(body) != 1:
        return Answer(problem=f"The answer cell holds {len(body)} statements; only {expected} is "
                              "graded, so other code in it is not allowed.")
    node = body[0]
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value_node = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value_node = node.target, node.value
    else:
        return Answer(problem=f"The answer cell is not an assignment; it should be {expected}.")
    if not isinstance(target, ast.Name) or target.id != variable:
        name = target.id if isinstance(target, ast.Name) else ast.unparse(target)
        return Answer(problem=f"The answer cell assigns {name!r} instead of {variable!r}; "
                              f"it should be {expected}.")
    try:
        value = ast.literal_eval(value_node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return Answer(problem=f"{variable} is {_describe(value_node)}, not a literal: the grader never "
                              f"runs code, so write the text itself, as {expected}.")
    shape = _shape_problem(value)
    if shape is not None:
        return Answer(problem=f"{variable} is {shape}; it must be a string, a dict of strings "
                              "or a list of {'role': ..., 'content': ...} dicts.")
    return Answer(value=value)


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
    if isinstance(node, (ast.Assign,)):
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


def scan_tampering(cells: Iterable[Any], skip_ids: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Reasons to look at a submission: code that rebinds grade/check or the kit, found by `ast`.

    Reading only: nothing is run. Cells whose grade_id is in `skip_ids` (locked test cells, which
    nbgrader restores from the source anyway) are not scanned.
    """
    found: list[str] = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in skip_ids:
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


# ---------------------------------------------------------------- the course, as nbgrader sees it


@dataclass(frozen=True)
class ExerciseSlot:
    """One exercise of a notebook, from the instructor's source notebook (trusted)."""

    notebook: str
    exercise_id: str
    answer_id: str
    test_id: str
    variable: str
    points: float
    test_source: str
    released_answer: Answer


def _load_nbgrader_config(root: Path) -> Any:
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = root / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    except Exception as exc:
        raise CohortError(
            f"{path} cannot be loaded: {type(exc).__name__}: {exc}.",
            "Fix the line it names, then check it with `nbgrader list` in that folder.",
        ) from exc


class Course:
    """An nbgrader course root, with nbgrader's own path rules (CourseDirectory) and config."""

    def __init__(self, root: str | Path | None = None) -> None:
        from nbgrader.coursedir import CourseDirectory

        root = Path(root or os.getcwd()).resolve()
        if not root.is_dir():
            raise CohortError(f"The course folder {root} does not exist.",
                              "Pass the course root (the folder with nbgrader_config.py) with --course.")
        self.config = _load_nbgrader_config(root)
        self.coursedir = CourseDirectory(config=self.config)
        if "root" not in self.config.get("CourseDirectory", {}):
            self.coursedir.root = str(root)
        self.root = Path(self.coursedir.root)

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    def path(self, step: str, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(step, student, assignment))

    def source_notebooks(self, assignment: str) -> list[Path]:
        folder = self.path(self.coursedir.source_directory, ".", assignment)
        found = sorted(folder.glob("*.ipynb"))
        if not found:
            raise CohortError(
                f"No source notebook for the assignment {assignment!r} in {folder}.",
                "Check the assignment name (`nbgrader list`) and the course folder (--course).",
            )
        return found

    def students(self, assignment: str) -> list[str]:
        pattern = self.coursedir.format_path(self.coursedir.submitted_directory, "*", assignment)
        parts = Path(self.coursedir.directory_structure).parts
        position = parts.index("{student_id}") if "{student_id}" in parts else 1
        base = len(self.root.parts)
        return sorted(Path(p).parts[base + position] for p in glob.glob(pattern) if Path(p).is_dir())

    def released_cells(self, notebook: Path) -> dict[str, Any]:
        """The notebook's answer and test cells as learners receive them, keyed by grade_id.

        Built from the source with nbgrader's own ClearSolutions, so it matches generate_assignment
        whether or not the release folder exists.
        """
        import nbformat
        from nbgrader.preprocessors import ClearSolutions

        nb = nbformat.read(notebook, as_version=4)
        clear = ClearSolutions(config=self.config)
        nb, _ = clear.preprocess(nb, {})
        cells = {}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id:
                cells[grade_id] = cell
        return cells

    def layout(self, assignment: str) -> list[ExerciseSlot]:
        """Every exercise of the assignment, read from the kit metadata of the source notebooks."""
        import nbformat

        slots: list[ExerciseSlot] = []
        for path in self.source_notebooks(assignment):
            nb = nbformat.read(path, as_version=4)
            released = self.released_cells(path)
            answers: dict[str, Any] = {}
            tests: dict[str, Any] = {}
            for cell in nb.cells:
                kit = cell.get("metadata", {}).get(KIT_KEY) or {}
                exercise, role = kit.get("exercise"), kit.get("role")
                if not exercise:
                    continue
                if role == "answer":
                    answers[exercise] = cell
                elif role == "test":
                    tests[exercise] = cell
            for exercise, test in tests.items():
                answer = answers.get(exercise)
                if answer is None:
                    raise CohortError(
                        f"{path.name}: exercise {exercise} has a test cell but no answer cell.",
                        "Rebuild the notebook with `atelier build`: each exercise needs an answer cell "
                        "(metadata.promptatelier.role = 'answer').",
                    )
                variable = answer.metadata[KIT_KEY].get("variable", "PROMPT")
                answer_id = answer.metadata.get("nbgrader", {}).get("grade_id")
                test_meta = test.metadata.get("nbgrader", {})
                if not answer_id or not test_meta.get("grade_id"):
                    raise CohortError(
                        f"{path.name}: exercise {exercise} has cells without an nbgrader grade_id.",
                        "Rebuild the notebook with `atelier build`, then `nbgrader generate_assignment`.",
                    )
                released_answer = released.get(answer_id)
                slots.append(ExerciseSlot(
                    notebook=path.stem,
                    exercise_id=exercise,
                    answer_id=answer_id,
                    test_id=test_meta["grade_id"],
                    variable=variable,
                    points=float(test_meta.get("points", 0)),
                    test_source=test.source,
                    released_answer=read_answer(released_answer.source, variable) if released_answer else Answer(),
                ))
        if not slots:
            raise CohortError(
                f"The assignment {assignment!r} has no kit exercise (no cell with metadata.{KIT_KEY}).",
                "Generate its notebooks with `atelier build`, which writes the exercise metadata.",
            )
        return slots


# ---------------------------------------------------------------- results and the journal


@dataclass
class ItemResult:
    """The trusted result for one (student, exercise)."""

    student: str
    notebook: str
    exercise_id: str
    test_id: str
    answer_id: str
    submission_hash: str
    status: str  # graded | invalid | not_graded
    points: float | None
    max_points: float
    feedback: str
    criteria: list[dict[str, Any]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # the evaluation's reasons for manual review
    notebook_score: float | None = None  # what nbgrader autograde recorded from the notebook
    flags: list[str] = field(default_factory=list)  # everything the instructor should look at
    graded_at: float = 0.0

    @property
    def disagrees(self) -> bool:
        if self.notebook_score is None or self.points is None:
            return False
        return abs(self.notebook_score - self.points) > AGREEMENT_TOLERANCE * max(self.max_points, 1.0)


_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL,
    notebook TEXT NOT NULL,
    test_id TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (student, notebook, test_id)
);
"""


class Journal:
    """Finished results of one assignment, written as each batch finishes (resumable runs)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_JOURNAL_SCHEMA)

    @staticmethod
    def for_assignment(course: Course, assignment: str) -> Journal:
        return Journal(course.root / ".atelier" / "grading" / f"{assignment}.sqlite")

    def get(self, student: str, notebook: str, test_id: str, submission_hash: str) -> ItemResult | None:
        row = self.db.execute(
            "SELECT data FROM results WHERE student=? AND notebook=? AND test_id=? AND submission_hash=?",
            (student, notebook, test_id, submission_hash),
        ).fetchone()
        return ItemResult(**json.loads(row[0])) if row else None

    def put(self, results: Sequence[ItemResult]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO results(student, notebook, test_id, submission_hash, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.student, r.notebook, r.test_id, r.submission_hash, json.dumps(asdict(r), ensure_ascii=False))
                 for r in results],
            )

    def all(self) -> list[ItemResult]:
        rows = self.db.execute("SELECT data FROM results ORDER BY student, notebook, test_id").fetchall()
        return [ItemResult(**json.loads(r[0])) for r in rows]

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------- the grading run


@dataclass
class CohortRun:
    """What a run did: every result (reused or new), the flags, and how the model was used."""

    assignment: str
    model: str
    results: list[ItemResult]
    reused: int = 0
    evaluated: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    wall_s: float = 0.0

    @property
    def not_graded(self) -> list[ItemResult]:
        return [r for r in self.results if r.status == "not_graded"]

    @property
    def flagged(self) -> list[ItemResult]:
        return [r for r in self.results if r.flags]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _spec_fingerprint(exercise_id: str) -> str:
    """A hash of the exercise's spec files, so a changed rubric is regraded (not reused)."""
    from ..config import settings

    graders = settings().graders_dir
    module, _, name = exercise_id.partition(".")
    digest = hashlib.sha256(exercise_id.encode())
    if graders:
        for path in sorted(Path(graders, module).glob(f"{name}*")):
            if path.is_file():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def submission_hash(exercise_id: str, answer: Answer, model: str, judge: str, spec_hash: str) -> str:
    payload = _canonical({"exercise": exercise_id, "answer": answer.value, "problem": answer.problem,
                          "model": model, "judge": judge, "spec": spec_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _criteria_rows(evaluation: Any) -> list[dict[str, Any]]:
    rows = []
    for result in getattr(evaluation, "criteria", None) or []:
        rows.append({"name": getattr(result, "name", str(result)), "score": getattr(result, "score", None)})
    return rows


def _from_evaluation(base: dict[str, Any], evaluation: Any, lang: str) -> ItemResult:
    status = getattr(evaluation, "status", "graded")
    points = getattr(evaluation, "points", None)
    if status == "not_graded":
        points = None
    feedback = evaluation.feedback_text(lang)
    return ItemResult(**base, status=status, points=None if points is None else float(points),
                      feedback=feedback, criteria=_criteria_rows(evaluation),
                      review=[str(f) for f in (getattr(evaluation, "flags", None) or [])], graded_at=time.time())


def _not_graded(base: dict[str, Any], error: BaseException) -> ItemResult:
    problem = getattr(error, "problem", str(error))
    return ItemResult(**base, status="not_graded", points=None,
                      feedback=f"Not graded yet: the grading model could not be reached ({problem}). "
                               "Your work will be graded when the model is back.",
                      graded_at=time.time())


def _notebook_scores(course: Course, assignment: str, student: str, notebook: str) -> dict[str, float | None] | None:
    """The test cells' scores as nbgrader autograde computed them in the learner's kernel.

    Read from the autograded notebook (whose locked cells nbgrader restored from the source), so
    it is what autograde found, whatever happened to the gradebook since. None if never autograded.
    """
    import nbformat
    from nbgrader.utils import determine_grade, is_grade

    path = course.path(course.coursedir.autograded_directory, student, assignment) / f"{notebook}.ipynb"
    if not path.is_file():
        return None
    nb = nbformat.read(path, as_version=4)
    scores: dict[str, float | None] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade(cell):
            score, _ = determine_grade(cell)
            scores[cell.metadata.nbgrader["grade_id"]] = None if score is None else float(score)
    return scores


def _language(nb: Any) -> str:
    from ..config import settings

    kit = nb.metadata.get(KIT_KEY) or {}
    lang = kit.get("lang") or kit.get("language") or settings().language
    return lang if lang in {"en", "fr"} else "en"


Evaluator = Callable[..., list[Any]]


def _default_evaluator() -> Evaluator:
    from . import evaluate_many

    return evaluate_many


def grade_cohort(
    assignment: str,
    *,
    course: str | Path | Course | None = None,
    model: str | None = None,
    concurrency: int | None = None,
    students: Sequence[str] | None = None,
    force: bool = False,
    progress: bool = False,
    evaluator: Evaluator | None = None,
    on_batch: Callable[[list[ItemResult]], None] | None = None,
) -> CohortRun:
    """Grade every submission of `assignment` and write the trusted scores to the gradebook.

    Results already in the journal for the same submission (same answer, model and spec) are
    reused unless `force`; a model outage leaves an item "not graded" (no score in the gradebook,
    marked for manual grading) and it is retried on the next run.
    """
    import nbformat

    from ..config import settings
    from ..models.cost import ledger

    started = time.perf_counter()
    course = course if isinstance(course, Course) else Course(course)
    cfg = settings()
    model = model or cfg.grading_model
    judge = cfg.judge_model
    concurrency = max(1, concurrency or cfg.concurrency)
    evaluate_many = evaluator or _default_evaluator()
    slots = course.layout(assignment)
    gradebook = _GradebookWriter(course, assignment, slots)

    cohort = course.students(assignment)
    if students:
        missing = sorted(set(students) - set(cohort))
        if missing:
            raise CohortError(
                f"No submission of {assignment!r} for {', '.join(missing)} in "
                f"{course.path(course.coursedir.submitted_directory, '*', assignment)}.",
                "Check the student ids, or collect their work first (`nbgrader collect` / `zip_collect`).",
            )
        cohort = [s for s in cohort if s in set(students)]
    if not cohort:
        raise CohortError(
            f"There is no submission of {assignment!r} to grade in "
            f"{course.path(course.coursedir.submitted_directory, '*', assignment)}.",
            "Collect the learners' work first (`nbgrader collect` or `nbgrader zip_collect`).",
        )

    journal = Journal.for_assignment(course, assignment)
    spec_hashes = {s.exercise_id: _spec_fingerprint(s.exercise_id) for s in slots}
    results: list[ItemResult] = []
    pending: list[tuple[dict[str, Any], Any, str]] = []  # (base, submission, language)
    reused = 0
    for student in cohort:
        folder = course.path(course.coursedir.submitted_directory, student, assignment)
        by_notebook: dict[str, list[ExerciseSlot]] = {}
        for slot in slots:
            by_notebook.setdefault(slot.notebook, []).append(slot)
        for notebook, nb_slots in by_notebook.items():
            path = folder / f"{notebook}.ipynb"
            nb = _read_submission(path)
            cells = _cells_by_id(nb) if nb is not None else {}
            lang = _language(nb) if nb is not None else cfg.language
            scores = _notebook_scores(course, assignment, student, notebook)
            test_ids = {s.test_id for s in nb_slots}
            tampering = scan_tampering(nb.cells, test_ids) if nb is not None else []
            for slot in nb_slots:
                answer = _answer_for(slot, nb, cells, path)
                digest = submission_hash(slot.exercise_id, answer, model, judge, spec_hashes[slot.exercise_id])
                base = dict(student=student, notebook=notebook, exercise_id=slot.exercise_id,
                            test_id=slot.test_id, answer_id=slot.answer_id, submission_hash=digest,
                            max_points=slot.points)
                extra_flags = list(tampering)
                submitted_test = cells.get(slot.test_id)
                if submitted_test is not None and submitted_test.source.strip() != slot.test_source.strip():
                    extra_flags.append(f"the locked test cell {slot.test_id} was edited")
                context = {"notebook_score": (scores or {}).get(slot.test_id), "flags": extra_flags}
                done = None if force else journal.get(student, notebook, slot.test_id, digest)
                if done is not None and done.status != "not_graded":
                    _annotate(done, context)
                    results.append(done)
                    reused += 1
                elif not answer.ok:
                    item = ItemResult(**base, status="invalid", points=0.0, feedback=answer.problem or "",
                                      graded_at=time.time())
                    _annotate(item, context)
                    results.append(item)
                    journal.put([item])
                else:
                    pending.append(({**base, "_context": context}, answer.value, lang))

    gradebook.write([r for r in results])
    calls_before = _calls(ledger())
    hits_before = _hits(ledger())
    batch = max(2 * concurrency, 8)
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=f"grading {assignment}", unit="answer")
    try:
        for start in range(0, len(pending), batch):
            chunk = pending[start:start + batch]
            new = _evaluate_chunk(evaluate_many, chunk, model, concurrency)
            journal.put([r for r in new if r.status != "not_graded"])
            gradebook.write(new)
            results.extend(new)
            if on_batch is not None:
                on_batch(new)
            if bar is not None:
                bar.update(len(chunk))
                bar.set_postfix(not_graded=sum(r.status == "not_graded" for r in results), refresh=False)
    finally:
        if bar is not None:
            bar.close()
        journal.close()
    order = {(s, slot.notebook, slot.test_id): i for i, (s, slot) in
             enumerate((s, slot) for s in cohort for slot in slots)}
    results.sort(key=lambda r: order.get((r.student, r.notebook, r.test_id), 0))
    return CohortRun(
        assignment=assignment, model=model, results=results, reused=reused, evaluated=len(pending),
        model_calls=_calls(ledger()) - calls_before, cache_hits=_hits(ledger()) - hits_before,
        wall_s=time.perf_counter() - started,
    )


def _calls(book: Any) -> int:
    return sum(r.requests - r.cached for r in book.snapshot())


def _hits(book: Any) -> int:
    return sum(r.cached for r in book.snapshot())


def _annotate(item: ItemResult, context: dict[str, Any]) -> None:
    """Attach what this run learnt from the files: the in-notebook score and tampering flags."""
    item.notebook_score = context["notebook_score"]
    flags = [f"manual review: {r}" for r in item.review] + list(context["flags"])
    if item.disagrees:
        flags.insert(0, f"in-notebook grade {item.notebook_score:g} differs from the trusted grade "
                        f"{item.points:g} (of {item.max_points:g})")
    item.flags = flags


def _evaluate_chunk(evaluate_many: Evaluator, chunk: list[tuple[dict[str, Any], Any, str]], model: str,
                    concurrency: int) -> list[ItemResult]:
    items = [(base["exercise_id"], submission) for base, submission, _ in chunk]
    try:
        evaluations: list[Any] = evaluate_many(items, model=model, cases="all", concurrency=concurrency,
                                               progress=False)
    except ModelUnavailableError as exc:
        evaluations = [exc] * len(chunk)
    out = []
    for (base, _, lang), evaluation in zip(chunk, evaluations, strict=True):
        clean = {k: v for k, v in base.items() if k != "_context"}
        item = (_not_graded(clean, evaluation) if isinstance(evaluation, BaseException)
                else _from_evaluation(clean, evaluation, lang))
        _annotate(item, base["_context"])
        out.append(item)
    return out


def _read_submission(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        return None
    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # a corrupted upload: graded as missing answers, with the reason
        return None


def _cells_by_id(nb: Any) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in cells:  # the first wins, like nbgrader's DeduplicateIds
            cells[grade_id] = cell
    return cells


def _answer_for(slot: ExerciseSlot, nb: Any, cells: dict[str, Any], path: Path) -> Answer:
    if nb is None:
        reason = "was not submitted" if not path.exists() else "cannot be read as a notebook"
        return Answer(problem=f"The notebook {path.name} {reason}.")
    cell = cells.get(slot.answer_id)
    if cell is None or cell.cell_type != "code":
        return Answer(problem=f"The answer cell of {slot.exercise_id} ({slot.answer_id}) is missing from the "
                              "notebook; it may have been deleted.")
    answer = read_answer(cell.source, slot.variable)
    if answer.ok and slot.released_answer.ok and answer.value == slot.released_answer.value:
        return Answer(problem=f"Not answered yet: {slot.variable} is still the text given in the notebook.")
    return answer


# ---------------------------------------------------------------- the gradebook


class _GradebookWriter:
    """Writes trusted results into nbgrader's gradebook the way autograde would.

    The score goes to the test cell's Grade.auto_score; the rubric feedback goes to the answer
    cell's Comment.auto_comment (generate_feedback shows comments of solution cells only). A
    submission never autograded gets its SubmittedAssignment / SubmittedNotebook / Grade rows
    created like autograde creates them. Manual scores and comments are never touched.
    """

    def __init__(self, course: Course, assignment: str, slots: list[ExerciseSlot]) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        self.course = course
        self.assignment = assignment
        self.slots = {(s.notebook, s.test_id): s for s in slots}
        url = course.db_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
            raise CohortError(
                f"There is no gradebook at {url[len('sqlite:///'):]}.",
                f"Run `nbgrader generate_assignment {assignment}` in {course.root} first: it creates the gradebook.",
            )
        with Gradebook(course.db_url, course.coursedir.course_id) as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                raise CohortError(
                    f"The gradebook ({course.db_url}) has no assignment {assignment!r}.",
                    f"Run `nbgrader generate_assignment {assignment}` in {course.root} first.",
                ) from None
            for slot in slots:
                try:
                    gb.find_grade_cell(slot.test_id, slot.notebook, assignment)
                    gb.find_solution_cell(slot.answer_id, slot.notebook, assignment)
                except MissingEntry:
                    raise CohortError(
                        f"The gradebook does not know the cells of {slot.exercise_id} "
                        f"({slot.test_id}, {slot.answer_id}) in {slot.notebook}.",
                        f"Run `nbgrader generate_assignment {assignment} --force` after changing the notebook.",
                    ) from None

    def _submission(self, gb: Any, student: str) -> None:
        from nbgrader.api import MissingEntry

        try:
            gb.find_submission(self.assignment, student)
            return
        except MissingEntry:
            pass
        gb.update_or_create_student(student)
        folder = self.course.path(self.course.coursedir.submitted_directory, student, self.assignment)
        timestamp = self.course.coursedir.get_existing_timestamp(str(folder))
        if timestamp:
            gb.update_or_create_submission(self.assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(self.assignment, student)

    def write(self, results: Iterable[ItemResult]) -> None:
        from nbgrader.api import Gradebook

        results = list(results)
        if not results:
            return
        with warnings.catch_warnings(), Gradebook(self.course.db_url, self.course.coursedir.course_id) as gb:
            # nbgrader's own add_submission trips SQLAlchemy autoflush warnings (autograde shows them too)
            warnings.simplefilter("ignore")
            for student in sorted({r.student for r in results}):
                self._submission(gb, student)
            for r in results:
                grade = gb.find_grade(r.test_id, r.notebook, self.assignment, r.student)
                comment = gb.find_comment(r.answer_id, r.notebook, self.assignment, r.student)
                if r.status == "not_graded":
                    grade.auto_score = None
                    grade.needs_manual_grade = True
                else:
                    grade.auto_score = min(float(r.points or 0.0), r.max_points)
                    grade.needs_manual_grade = grade.manual_score is not None or bool(r.flags)
                comment.auto_comment = _comment_text(r)
            gb.db.commit()


def _comment_text(r: ItemResult) -> str:
    lines = [r.feedback.strip()]
    if r.status == "graded" or r.status == "invalid":
        lines.append(f"\nTrusted grade: {r.points:g} / {r.max_points:g}.")
    return "\n".join(line for line in lines if line)
