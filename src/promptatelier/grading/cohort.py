"""Trusted grading of a cohort: the run behind `atelier grade ASSIGNMENT`.

Learner code runs in the same kernel as nbgrader's test cells and can redefine anything, so no
grade comes from a kernel. Each answer is read from its cell (answers.py, never executed), the
exercise it answers comes from the instructor's source notebook (course_dir.py), scoring happens
in this process through `evaluate_many`, and the results go where `nbgrader autograde` would put
them: the gradebook (gradebook.py) and the `autograded/` notebooks (autograded.py), so
`nbgrader generate_feedback` and formgrader work with no autograde before. The journal
(journal.py) makes a run resumable; the response cache makes a regrade free of model calls.

One submission never stops the cohort: an unreadable notebook, text no request can carry or an
evaluation that raises marks that item for manual grading with its reason; an outage leaves it
"not graded" (never 0) for the next run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelUnavailableError
from .answers import Answer, read_answer
from .course_dir import CohortError, Course, ExerciseSlot
from .journal import FINAL, ItemResult, Journal
from .tamper import check_cells, scan_tampering

__all__ = [
    "Answer",
    "CohortError",
    "CohortRun",
    "Course",
    "ExerciseSlot",
    "ItemResult",
    "Journal",
    "grade_cohort",
    "grading_concurrency",
    "pending_answers",
    "read_answer",
    "scan_tampering",
    "submission_hash",
]

Evaluator = Callable[..., list[Any]]


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
    def manual(self) -> list[ItemResult]:
        return [r for r in self.results if r.status == "manual"]

    @property
    def flagged(self) -> list[ItemResult]:
        return [r for r in self.results if r.flags]


@dataclass
class _Notebook:
    """One learner's notebook in this run, and what is still to do before it can be written."""

    student: str
    name: str
    slots: list[ExerciseSlot]
    nb: Any = None
    submitted: bool = True
    problem: str | None = None  # why it cannot be read
    results: dict[str, ItemResult] = field(default_factory=dict)  # by test_id
    waiting: int = 0
    # what was decided before the gradebook's reference was checked: by test_id, the result (or
    # the answer to evaluate) and the released answer text the decision compared with
    decided: dict[str, tuple[ItemResult | _Pending, str | None]] = field(default_factory=dict)


@dataclass
class _Pending:
    notebook: _Notebook
    base: dict[str, Any]
    value: Any
    lang: str
    flags: list[str]
    override: ItemResult | None = None  # found by the gradebook check after it was sent: its result


def _canonical(value: Any) -> str:
    # ASCII escapes: a lone surrogate in an answer hashes like any other character
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


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


def submission_hash(exercise_id: str, answer: Answer, model: str, judge: str, spec_hash: str, lang: str = "") -> str:
    payload = _canonical({"exercise": exercise_id, "answer": answer.value, "problem": answer.problem,
                          "model": model, "judge": judge, "spec": spec_hash, "lang": lang})
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def grading_concurrency(model: str, given: int | None) -> int:
    """The shipped default for the grading model's backend unless one is given or configured."""
    try:
        from ..models.client import concurrency_for
    except ImportError:
        from ..config import settings

        return max(1, given or settings().concurrency or 8)
    return concurrency_for(model, given)


def _default_evaluator() -> Evaluator:
    from . import evaluate_many

    return evaluate_many


def _read_submission(path: Path) -> tuple[Any, str | None]:
    """The notebook, or why it cannot be read (a corrupted upload is graded by hand, never 0)."""
    import warnings

    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an old notebook's missing cell ids, said once per file
            return nbformat.read(path, as_version=4), None
    except Exception as exc:
        return None, f"the notebook {path.name} cannot be read ({type(exc).__name__}: {str(exc)[:200]})"


def _answer_for(slot: ExerciseSlot, nb: Any, released: str | None) -> Answer:
    from .tamper import last_cells_by_id

    cell = last_cells_by_id(nb.cells).get(slot.answer_id, (None, None))[1]
    if cell is None or cell.cell_type != "code":
        return Answer(problem=f"The answer cell of {slot.exercise_id} ({slot.answer_id}) is missing from the "
                              "notebook; it may have been deleted.")
    answer = read_answer(cell.source, slot.variable)
    if answer.ok and released is not None:
        given = read_answer(released, slot.variable)
        if given.ok and answer.value == given.value:
            return Answer(problem=f"Not answered yet: {slot.variable} is still the text given in the notebook.")
    return answer


def _criteria_rows(evaluation: Any) -> list[dict[str, Any]]:
    return [{"name": getattr(c, "name", str(c)), "score": getattr(c, "score", None)}
            for c in getattr(evaluation, "criteria", None) or []]


# a visible case's output kept in the journal for the report, at most this long
CASE_OUTPUT_CHARS = 600


def _case_rows(evaluation: Any) -> list[dict[str, Any]]:
    """Each visible case's output and the criteria it failed (evaluations hold no hidden case's output)."""
    return [{"case": o.name, "output": (o.text or o.error or "")[:CASE_OUTPUT_CHARS],
             "failed": [key for key, v in (o.verdicts or {}).items() if v.score is not None and v.score < 1]}
            for o in getattr(evaluation, "outputs", None) or []]


def _from_evaluation(base: dict[str, Any], evaluation: Any, lang: str) -> ItemResult:
    status = evaluation.status
    points = None if status == "not_graded" or evaluation.points is None else float(evaluation.points)
    return ItemResult(**base, status=status, points=points, feedback=evaluation.feedback_text(lang),
                      feedback_html=evaluation.feedback_html(lang), criteria=_criteria_rows(evaluation),
                      review=[str(f) for f in evaluation.flags or []], graded_at=time.time(),
                      cases=_case_rows(evaluation))


def _failed(base: dict[str, Any], error: BaseException) -> ItemResult:
    if isinstance(error, ModelUnavailableError):
        return ItemResult(**base, status="not_graded", points=None,
                          feedback=f"Not graded yet: the grading model could not be reached ({error.problem}). "
                                   "Your work will be graded when the model is back.",
                          graded_at=time.time())
    return _manual(base, f"the grader failed on this answer ({type(error).__name__}: {str(error)[:300]})")


def _manual(base: dict[str, Any], reason: str) -> ItemResult:
    return ItemResult(**base, status="manual", points=None, feedback=f"Graded by hand: {reason}.",
                      review=[reason], graded_at=time.time())


def _call(evaluate_many: Evaluator, items: list[tuple[str, Any]], model: str, concurrency: int, lang: str) -> list[Any]:
    kwargs: dict[str, Any] = dict(model=model, cases="all", concurrency=concurrency, progress=False)
    try:
        params = inspect.signature(evaluate_many).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    if "lang" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs["lang"] = lang
    return evaluate_many(items, **kwargs)


def _evaluate(evaluate_many: Evaluator, chunk: list[_Pending], model: str, concurrency: int) -> list[Any]:
    """Evaluations (or the exception for each item), in order. A chunk that raises is retried one
    item at a time, so the item that breaks the grader is the only one left to a person."""
    items = [(p.base["exercise_id"], p.value) for p in chunk]
    try:
        out = _call(evaluate_many, items, model, concurrency, chunk[0].lang)
        if len(out) != len(chunk):
            raise RuntimeError(f"evaluate_many returned {len(out)} results for {len(chunk)} answers")
        return out
    except (ConfigError, CancelledError):
        raise  # the model is misconfigured (every item would fail the same way), or the run is stopping
    except ModelUnavailableError as exc:
        return [exc] * len(chunk)
    except Exception as exc:
        if len(chunk) == 1:
            return [exc]
        return [_evaluate(evaluate_many, [p], model, concurrency)[0] for p in chunk]


def _evaluate_chunk(evaluate_many: Evaluator, chunk: list[_Pending], model: str, concurrency: int) -> list[Any]:
    """Evaluations for a chunk, in its order: one `evaluate_many` per course language in it."""
    out: dict[int, Any] = {}
    for lang in dict.fromkeys(p.lang for p in chunk):
        group = [i for i, p in enumerate(chunk) if p.lang == lang]
        out.update(zip(group, _evaluate(evaluate_many, [chunk[i] for i in group], model, concurrency), strict=True))
    return [out[i] for i in range(len(chunk))]


def _result(p: _Pending, evaluation: Any) -> ItemResult:
    if isinstance(evaluation, BaseException):
        return _failed(p.base, evaluation)
    try:
        return _from_evaluation(p.base, evaluation, p.lang)
    except Exception as exc:  # e.g. feedback that cannot be rendered: the item, not the run
        return _failed(p.base, exc)


class _Run:
    """One `grade_cohort` call: reads the cohort, evaluates what is new, writes each notebook once
    all its exercises have a result.

    Reading decides what to evaluate from the released answer texts (the gradebook's, or the
    release/ copies while the gradebook is still loading); `check` then compares each notebook
    with the gradebook's reference (nbgrader's checksums, the released texts) before any result
    is kept, and corrects what a stale release/ copy got wrong."""

    def __init__(self, course: Course, assignment: str, slots: list[ExerciseSlot], model: str, judge: str,
                 force: bool) -> None:
        from .redact import Redactor

        self.course, self.assignment, self.slots = course, assignment, slots
        self.model, self.judge, self.force = model, judge, force
        self.writer: Any = None
        self.journal = Journal.for_assignment(course, assignment)
        self.redact = Redactor({s.exercise_id for s in slots})
        self.spec_hashes = {s.exercise_id: _spec_fingerprint(s.exercise_id) for s in slots}
        self.books: list[_Notebook] = []
        self.journaled: set[int] = set()  # results taken from the journal (by id)
        self.recorded: dict[tuple[str, str, str], ItemResult] = {}  # journaled as their chunk ended
        self.reused = 0

    def open_gradebook(self) -> None:
        from .gradebook import GradebookWriter

        if self.writer is None:
            self.writer = GradebookWriter(self.course, self.assignment, self.slots)

    def released(self) -> dict[str, dict[str, str]]:
        """The gradebook's released text of each answer cell, by notebook and grade_id."""
        return {name: {s.answer_id: ref.cells[s.answer_id].source for s in self.slots if s.notebook == name}
                for name, ref in self.writer.references.items()}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.journal.close()

    def read(self, student: str, name: str, slots: list[ExerciseSlot], released: dict[str, str]) -> list[_Pending]:
        """The notebook's answers and what to do with each (`released`: answer grade_id -> the text
        given in the notebook); results are kept by `check`."""
        path = self.course.submitted(student, self.assignment) / f"{name}.ipynb"
        book = _Notebook(student, name, slots, submitted=path.is_file())
        self.books.append(book)
        if book.submitted:
            book.nb, book.problem = _read_submission(path)
        pending = []
        for slot in slots:
            decision = self._decide(book, slot, released.get(slot.answer_id))
            book.decided[slot.test_id] = (decision, released.get(slot.answer_id))
            if isinstance(decision, _Pending):
                book.waiting += 1
                pending.append(decision)
        return pending

    def _decide(self, book: _Notebook, slot: ExerciseSlot, released: str | None) -> ItemResult | _Pending:
        answer = Answer(problem=f"The notebook {book.name}.ipynb was not submitted.")
        if book.nb is not None and book.problem is None:
            answer = _answer_for(slot, book.nb, released)
        digest = submission_hash(slot.exercise_id, answer, self.model, self.judge,
                                 self.spec_hashes[slot.exercise_id], slot.lang)
        base = dict(student=book.student, notebook=book.name, exercise_id=slot.exercise_id, test_id=slot.test_id,
                    answer_id=slot.answer_id, submission_hash=digest, max_points=slot.points)
        done = None if self.force or book.problem else self.journal.get(book.student, book.name, slot.test_id, digest)
        if done is not None and done.status in FINAL:
            self.journaled.add(id(done))
            return done
        if book.problem:
            return _manual(base, book.problem)
        if answer.manual:
            return _manual(base, answer.problem or "")
        if not book.submitted or not answer.ok:
            return ItemResult(**base, status="invalid", points=0.0, feedback=answer.problem or "",
                              graded_at=time.time())
        return _Pending(book, base, answer.value, slot.lang, [])

    def check(self, book: _Notebook) -> list[_Pending]:
        """The notebook against the gradebook's reference: tampering flags on every item, results
        decided at reading kept, and what a different released text changes (an answer sent for
        evaluation that is in fact the given text gets that result instead; one that is not,
        returned to be evaluated)."""
        reference = self.writer.references[book.name].cells
        tamper: dict[str, list[str]] = {}
        code: list[str] = []
        unreadable = False
        if book.nb is not None and book.problem is None:
            try:
                tamper = check_cells(book.nb.cells, book.slots, reference)
                code = scan_tampering(book.nb.cells, [g for g, c in reference.items() if c.locked])
            except Exception as exc:  # a cell shaped like nothing nbformat allows
                book.problem = f"the notebook's cells cannot be checked ({type(exc).__name__}: {exc})"
                unreadable = True
        late = []
        for slot in book.slots:
            decision, released = book.decided.pop(slot.test_id)
            given = reference[slot.answer_id].source
            now = self._decide(book, slot, given) if unreadable or released != given else decision
            flags = [] if book.problem else code + tamper.get(slot.test_id, [])
            if isinstance(decision, _Pending):
                if isinstance(now, _Pending):
                    decision.flags = flags
                else:  # already sent for evaluation: this result replaces it
                    decision.override, decision.flags = now, flags
            elif isinstance(now, _Pending):
                now.flags = flags
                book.waiting += 1
                late.append(now)
            else:
                self.reused += id(now) in self.journaled
                self.finish(book, now, flags)
        return late

    def finish(self, book: _Notebook, item: ItemResult, flags: list[str]) -> None:
        item.review = self.redact.all(item.review)
        item.flags = self.redact.all(dict.fromkeys(list(item.review) + list(flags)))
        item.feedback = self.redact(item.feedback)
        item.feedback_html = self.redact(item.feedback_html)
        item.cases = [dict(c, output=self.redact(c["output"])) for c in item.cases]
        book.results[item.test_id] = item

    def write(self, books: list[_Notebook], journal: Journal) -> None:
        """The notebooks' gradebook rows and autograded copies, in one gradebook transaction. A
        copy that cannot be built sends its notebook's items to manual grading (and a stale
        copy is removed)."""
        from .autograded import autograded_notebook, write_autograded

        self.writer.preload([book.student for book in books])
        for book in books:
            target = self.course.autograded(book.student, self.assignment) / f"{book.name}.ipynb"
            if book.nb is not None and book.problem is None:
                try:
                    nb = autograded_notebook(book.nb, self.writer.references[book.name], book.slots, book.results,
                                             self.redact)
                    write_autograded(self.course, book.student, self.assignment, book.name, nb)
                except Exception as exc:
                    reason = f"the autograded notebook cannot be written ({type(exc).__name__}: {str(exc)[:200]})"
                    for item in list(book.results.values()):
                        self.finish(book, _manual(_identity(item), reason), item.flags)
                    target.unlink(missing_ok=True)
            elif target.exists():
                target.unlink()
            lang = book.slots[0].lang if book.slots else "en"
            self.writer.write(book.student, book.name, list(book.results.values()), submitted=book.submitted,
                              lang=lang)
        self.writer.commit()
        journal.put([r for book in books for r in book.results.values()
                     if self.recorded.get((r.student, r.notebook, r.test_id)) is not r])


# chunks of answers evaluated at once when the model takes several requests in flight: while one
# chunk's outputs are scored and written, the next one's requests keep the budget busy
AHEAD = 2


class _Job(threading.Thread):
    """One chunk's evaluation in a thread of its own (daemon: an interrupted run never waits on
    it at exit); `result` waits for it and raises what it raised."""

    def __init__(self, fn: Callable[[list[_Pending]], list[Any]], chunk: list[_Pending]) -> None:
        super().__init__(name="atelier-grade-eval", daemon=True)
        self.fn, self.chunk = fn, chunk
        self.value: list[Any] = []
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.value = self.fn(self.chunk)
        except BaseException as exc:  # raised in the caller's thread by result()
            self.error = exc

    def result(self) -> list[Any]:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


class _Ahead:
    """Chunks evaluated in order, `depth` at once: the caller handles chunk k (feedback, journal,
    writer) while the next ones are evaluated, all sharing the model's concurrency
    (`shared_concurrency`: one event loop, one budget of requests in flight). The first chunks
    start on entering, so the caller can do other work while their requests are out. Depth 1
    evaluates each chunk in the caller's thread, one after the other, when it is asked for.
    A chunk starts only when the caller has taken the one `depth` places before it, so a caller
    that stops (gradebook error, interrupt) starts no more, and the requests of those still
    running are cancelled. Chunks appended to `chunks` before the caller gets to them are run too."""

    def __init__(self, fn: Callable[[list[_Pending]], list[Any]], chunks: list[list[_Pending]], depth: int,
                 model: str, concurrency: int) -> None:
        self.fn, self.chunks, self.depth = fn, chunks, depth
        self.model, self.concurrency = model, concurrency
        self.todo = iter(chunks)  # a list's iterator also yields what is appended later
        self.running: deque[_Job] = deque()
        self.shared = ExitStack()

    def __enter__(self) -> Iterator[tuple[list[_Pending], list[Any]]]:
        if self.depth < 2:
            return ((chunk, self.fn(chunk)) for chunk in self.todo)
        from ..models.client import shared_concurrency

        self.shared.enter_context(shared_concurrency(self.model, self.concurrency))
        self._top_up()
        return self._overlapped()

    def __exit__(self, *exc: object) -> None:
        self.shared.close()  # cancels the requests of chunks still running (a stopped run)
        for job in self.running:
            job.join()

    def _top_up(self) -> None:
        while len(self.running) < self.depth and (chunk := next(self.todo, None)) is not None:
            self.running.append(_Job(self.fn, chunk))

    def _overlapped(self) -> Iterator[tuple[list[_Pending], list[Any]]]:
        while True:
            self._top_up()
            if not self.running:
                return
            job = self.running[0]
            evaluations = job.result()
            self.running.popleft()
            self._top_up()
            yield job.chunk, evaluations


class _Writer(threading.Thread):
    """Writes finished notebooks (gradebook rows, autograded copies) while the next answers are
    evaluated, so the writing fills the time spent waiting for the model. The gradebook session
    and the journal connection it uses are its own (SQLAlchemy's scoped session is per thread)."""

    def __init__(self, job: _Run, students: Sequence[str]) -> None:
        super().__init__(name="atelier-grade-writer", daemon=True)
        self.job = job
        self.students = students
        self.books: queue.SimpleQueue[list[_Notebook] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def run(self) -> None:
        journal = Journal(self.job.journal.path)
        prepared = False
        try:
            while (books := self.books.get()) is not None:
                if self.error is None and books:
                    try:
                        if not prepared:  # with the first results, not while the run starts its model calls
                            self.job.writer.prepare(self.students)
                            prepared = True
                        self.job.write(books, journal)
                    except BaseException as exc:  # raised in the caller's thread by stop()
                        self.error = exc
        finally:
            journal.close()
            self.job.writer.release()

    def stop(self) -> None:
        """Finish the queued writes (also when the run is interrupted), then end."""
        if self.is_alive():
            self.books.put(None)
            self.join()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _release_copies(course: Course, assignment: str, notebooks: dict[str, list[ExerciseSlot]]) -> dict[str, dict[str, str]] | None:
    """The text given in each answer cell, from the release/ copies `nbgrader generate_assignment`
    wrote with the gradebook, so that reading the submissions need not wait for the gradebook
    (nbgrader's API and SQLAlchemy: a third of a second); `_Run.check` compares them with the
    gradebook's. None, and the gradebook is read first, unless it is a SQLite file that exists
    and every notebook has its copy."""
    import warnings

    import nbformat

    url = course.db_url
    if not url.startswith("sqlite:///") or not Path(url[len("sqlite:///"):]).is_file():
        return None
    folder = course.path(course.coursedir.release_directory, ".", assignment)
    given: dict[str, dict[str, str]] = {}
    for name, slots in notebooks.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        except Exception:
            return None
        cells = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell.get("source", "") for cell in nb.cells}
        given[name] = {s.answer_id: cells[s.answer_id] for s in slots if s.answer_id in cells}
    return given


def _identity(item: ItemResult) -> dict[str, Any]:
    return {k: getattr(item, k) for k in ("student", "notebook", "exercise_id", "test_id", "answer_id",
                                          "submission_hash", "max_points")}


def _cohort(course: Course, assignment: str, students: Sequence[str] | None) -> list[str]:
    cohort = course.students(assignment)
    where = course.submitted("*", assignment)
    if students:
        missing = sorted(set(students) - set(cohort))
        if missing:
            raise CohortError(
                f"No submission of {assignment!r} for {', '.join(missing)} in {where}.",
                "Check the student ids, or collect their work first (`nbgrader collect` / `zip_collect`).",
            )
        cohort = [s for s in cohort if s in set(students)]
    if not cohort:
        raise CohortError(
            f"There is no submission of {assignment!r} to grade in {where}.",
            "Collect the learners' work first (`nbgrader collect` or `nbgrader zip_collect`).",
        )
    return cohort


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
    """Grade every submission of `assignment` into the gradebook and `autograded/`.

    Results already in the journal for the same submission (same answer, model, spec and
    language) are reused unless `force`. Instructor mistakes (no gradebook, a broken spec, an
    unknown model) raise before any work; a learner's submission never does.
    """
    from ..config import settings
    from ..models import get_backend
    from ..models.cost import ledger
    from .spec import load_spec

    started = time.perf_counter()
    course = course if isinstance(course, Course) else Course(course)
    cfg = settings()
    model = model or cfg.grading_model
    slots = course.layout(assignment)
    for exercise in dict.fromkeys(s.exercise_id for s in slots):
        load_spec(exercise)
    get_backend(model)
    concurrency = grading_concurrency(model, concurrency)
    evaluate_many = evaluator or _default_evaluator()
    cohort = _cohort(course, assignment, students)

    run = _Run(course, assignment, slots, model, cfg.judge_model, force)
    by_notebook: dict[str, list[ExerciseSlot]] = {}
    for slot in slots:
        by_notebook.setdefault(slot.notebook, []).append(slot)
    early = _release_copies(course, assignment, by_notebook)
    pending: list[_Pending] = []
    calls_before, hits_before = _calls(ledger()), _hits(ledger())
    bar = None
    writer = _Writer(run, cohort)
    try:
        if early is None:
            run.open_gradebook()  # an instructor's mistake (no such assignment...) raises before any work
        released = early if early is not None else run.released()
        for student in cohort:
            for name, nb_slots in by_notebook.items():
                pending += run.read(student, name, nb_slots, released[name])
        warm_up = getattr(get_backend(model), "warm_up", None)
        if pending and not force and warm_up is not None:
            # new answers are new requests: the SDK's import first, not while the gradebook loads
            # (a forced regrade is usually served by the response cache, which needs no SDK)
            warm_up()
        depth = AHEAD if concurrency > 1 else 1
        size = max(concurrency, 8) if depth > 1 else max(4 * concurrency, 8)
        chunks = _chunked(pending, size, tapering=depth > 1)
        with _Ahead(lambda chunk: _evaluate_chunk(evaluate_many, chunk, model, concurrency), chunks,
                    depth, model, concurrency) as evaluated:
            run.open_gradebook()  # read from release/ copies: the gradebook loads while the first requests are out
            late = [p for book in run.books for p in run.check(book)]
            chunks += _chunked(late, size, tapering=depth > 1)
            pending += late
            writer.start()
            writer.books.put([book for book in run.books if not book.waiting])
            if progress and pending:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(pending), desc=f"grading {assignment}", unit="answer")
            for chunk, evaluations in evaluated:
                _record(run, writer, chunk, evaluations, on_batch, bar)
    finally:
        writer.stop()
        if bar is not None:
            bar.close()
        run.close()
    writer.raise_error()
    order = {(s, slot.notebook, slot.test_id): i for i, (s, slot) in
             enumerate((s, slot) for s in cohort for slot in slots)}
    results = sorted((r for book in run.books for r in book.results.values()), key=lambda r: order.get((r.student, r.notebook, r.test_id), 0))
    return CohortRun(
        assignment=assignment, model=model, results=results, reused=run.reused, evaluated=len(pending),
        model_calls=_calls(ledger()) - calls_before, cache_hits=_hits(ledger()) - hits_before,
        wall_s=time.perf_counter() - started,
    )


def pending_answers(
    assignment: str,
    *,
    course: str | Path | Course | None = None,
    model: str | None = None,
    students: Sequence[str] | None = None,
    force: bool = False,
) -> list[tuple[str, Any, str]]:
    """What `grade_cohort` with the same arguments would evaluate, as (exercise id, answer,
    course language), writing nothing: so that its model requests can be collected beforehand
    (`atelier grade --batch`). Reads the answers as grading does, journal included."""
    from ..config import settings

    course = course if isinstance(course, Course) else Course(course)
    cfg = settings()
    model = model or cfg.grading_model
    slots = course.layout(assignment)
    cohort = _cohort(course, assignment, students)
    by_notebook: dict[str, list[ExerciseSlot]] = {}
    for slot in slots:
        by_notebook.setdefault(slot.notebook, []).append(slot)
    run = _Run(course, assignment, slots, model, cfg.judge_model, force)
    try:
        run.open_gradebook()
        released = run.released()
        pending: list[_Pending] = []
        for student in cohort:
            for name, nb_slots in by_notebook.items():
                pending += run.read(student, name, nb_slots, released[name])
        for book in run.books:
            pending += run.check(book)
    finally:
        run.close()
    return [(p.base["exercise_id"], p.value, p.lang) for p in pending if p.override is None]


def _chunked(pending: list[_Pending], size: int, *, tapering: bool) -> list[list[_Pending]]:
    """Chunks of `size` answers; tapering, the last ones halve down to 8 answers, so that the
    last chunk's scoring and writing, which no request overlaps, stay short (overlapped chunks
    share the model's concurrency, so small ones leave no request slot idle)."""
    chunks, start = [], 0
    while start < len(pending):
        left = len(pending) - start
        step = size if not tapering or left > 2 * size else max(8, -(-left // 2))
        chunks.append(pending[start:start + step])
        start += step
    return chunks


def _record(run: _Run, writer: _Writer, chunk: list[_Pending], evaluations: list[Any],
            on_batch: Callable[[list[ItemResult]], None] | None, bar: Any) -> None:
    """A chunk's results: journaled, and each notebook whose answers all have one sent to the writer."""
    writer.raise_error()  # a gradebook that cannot be written stops the run before more model calls
    new: list[ItemResult] = []
    for p, evaluation in zip(chunk, evaluations, strict=True):
        item = p.override or _result(p, evaluation)
        run.finish(p.notebook, item, p.flags)
        new.append(item)
    run.journal.put(new)
    run.recorded.update(((r.student, r.notebook, r.test_id), r) for r in new)
    done = []
    for p in chunk:
        p.notebook.waiting -= 1
        if not p.notebook.waiting:
            done.append(p.notebook)
    writer.books.put(done)
    if on_batch is not None:
        on_batch(new)
    if bar is not None:
        bar.update(len(chunk))
        bar.set_postfix(not_graded=sum(r.status == "not_graded" for r in new), refresh=False)


def _calls(book: Any) -> int:
    return sum(r.requests - r.cached for r in book.snapshot())


def _hits(book: Any) -> int:
    return sum(r.cached for r in book.snapshot())
