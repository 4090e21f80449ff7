"""nbgrader's gradebook, read and written through nbgrader's own API (nbgrader.api.Gradebook).

Read: what `generate_assignment` recorded for each notebook (the reference cells with their
checksums, the kernelspec). Written: what `nbgrader autograde` would write, with the trusted
results: the submission and its timestamp, each kit test cell's auto_score, the answer cell's
comment, late penalties. One session for the whole run (autograde opens several per notebook).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .course_dir import CohortError, Course, ExerciseSlot, ReferenceCell
from .journal import ItemResult

__all__ = ["GradebookWriter", "NotebookReference", "comment_text"]


@dataclass
class NotebookReference:
    """One notebook of the assignment as the gradebook knows it (trusted)."""

    name: str
    cells: dict[str, ReferenceCell] = field(default_factory=dict)  # by grade_id, in notebook order
    kernelspec: dict[str, Any] | None = None
    tasks: frozenset[str] = frozenset()
    # the gradebook's grade, solution and task cells: database id -> (grade_id, max score), so
    # a learner's grade and comment rows are matched by their cell_id column, with no query
    by_cell_id: dict[str, tuple[str, float]] = field(default_factory=dict)


def _reference(nb: Any) -> NotebookReference:
    points = {c.name: float(c.max_score) for c in nb.grade_cells}
    solutions = {c.name for c in nb.solution_cells}
    tasks = {c.name: float(c.max_score) for c in nb.task_cells}
    cells = {
        c.name: ReferenceCell(grade_id=c.name, cell_type=c.cell_type, source=c.source or "", checksum=c.checksum,
                              locked=bool(c.locked), points=points.get(c.name, tasks.get(c.name)),
                              solution=c.name in solutions)
        for c in nb.source_cells
    }
    by_cell_id = {c.id: (c.name, float(c.max_score or 0.0)) for c in [*nb.grade_cells, *nb.task_cells]}
    by_cell_id.update({c.id: (c.name, 0.0) for c in nb.solution_cells})
    kernelspec = json.loads(nb.kernelspec) if nb.kernelspec else None
    return NotebookReference(nb.name, cells, kernelspec, frozenset(tasks), by_cell_id)


class GradebookWriter:
    """The run's gradebook session: checks the assignment, gives the references, writes results.

    Only the rows `nbgrader autograde` owns are written (auto_score, needs_manual_grade,
    auto_comment, late penalty); manual scores and comments are never touched.
    """

    def __init__(self, course: Course, assignment: str, slots: Sequence[ExerciseSlot]) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        self.course = course
        self.assignment = assignment
        url = course.db_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
            raise CohortError(
                f"There is no gradebook at {url[len('sqlite:///'):]}.",
                f"Run `nbgrader generate_assignment {assignment}` in {course.root} first: it creates the gradebook.",
            )
        self.gb = Gradebook(url, course.coursedir.course_id)
        self._late_plugin: Any = None
        # loaded by `preload` for the notebooks about to be written, until the next commit
        self._submissions: dict[str, Any] = {}
        self._rows: dict[tuple[str, str], Any] = {}
        try:
            found = self.gb.find_assignment(assignment)
        except MissingEntry:
            self.close()
            raise CohortError(
                f"The gradebook ({url}) has no assignment {assignment!r}.",
                f"Run `nbgrader generate_assignment {assignment}` in {course.root} first.",
            ) from None
        self.references = {nb.name: _reference(nb) for nb in found.notebooks}
        for slot in slots:
            ref = self.references.get(slot.notebook)
            if ref is None or slot.test_id not in ref.cells or slot.answer_id not in ref.cells:
                self.close()
                raise CohortError(
                    f"The gradebook does not know the cells of {slot.exercise_id} "
                    f"({slot.test_id}, {slot.answer_id}) in {slot.notebook}.",
                    f"Run `nbgrader generate_assignment {assignment} --force` after changing the notebook.",
                )
        self.gb.db.commit()  # end this thread's read transaction: the writer thread has its own session

    def close(self) -> None:
        self.gb.close()

    def commit(self) -> None:
        self.gb.db.commit()
        self._submissions.clear()
        self._rows.clear()

    def preload(self, students: Sequence[str]) -> None:
        """These learners' submissions and submitted notebooks, with their grade and comment rows,
        in three queries for a batch (nbgrader's find_* take one each per notebook, and its rows
        one lazy load per list); `write` uses them until the next commit."""
        from nbgrader.api import Assignment, Notebook, SubmittedAssignment, SubmittedNotebook
        from sqlalchemy.orm import selectinload

        db = self.gb.db
        wanted = list(dict.fromkeys(students))
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            part = wanted[start:start + 500]
            submissions = (db.query(SubmittedAssignment)
                           .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                           .filter(Assignment.name == self.assignment, SubmittedAssignment.student_id.in_(part)))
            self._submissions.update((sub.student_id, sub) for sub in submissions)
            rows = (db.query(SubmittedNotebook, SubmittedAssignment.student_id, Notebook.name)
                    .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                    .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                    .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                    .filter(Assignment.name == self.assignment, SubmittedAssignment.student_id.in_(part))
                    .options(selectinload(SubmittedNotebook.grades), selectinload(SubmittedNotebook.comments)))
            self._rows.update(((student, name), row) for row, student, name in rows)

    def release(self) -> None:
        """End the calling thread's gradebook session (each thread has its own)."""
        self.gb.db.remove()

    def prepare(self, students: Sequence[str]) -> None:
        """Each learner's student row and submission, made (or re-stamped) before any result is
        written, in one transaction (kept until `commit`): nbgrader's add_student and
        add_submission commit each one, two disk syncs per learner. The rows are those
        add_submission makes (nbgrader 0.9, pinned): the submission mirrors the assignment, a
        grade per grade or task cell and a comment per solution or task cell of each notebook."""
        from nbgrader.api import Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook

        db = self.gb.db
        with db.no_autoflush:
            assignment = self.gb.find_assignment(self.assignment)
            known: set[str] = set()
            existing: dict[str, Any] = {}
            for start in range(0, len(students), 500):  # SQLite's limit on bound parameters
                part = list(students[start:start + 500])
                known.update(row[0] for row in db.query(Student.id).filter(Student.id.in_(part)))
                existing.update((sub.student_id, sub) for sub in db.query(SubmittedAssignment).filter(
                    SubmittedAssignment.assignment_id == assignment.id, SubmittedAssignment.student_id.in_(part)))
            for student in students:
                folder = self.course.submitted(student, self.assignment)
                timestamp = self.course.coursedir.get_existing_timestamp(str(folder))
                submission = existing.get(student)
                if submission is not None:
                    if timestamp is not None and submission.timestamp != timestamp:
                        submission.timestamp = timestamp
                    continue
                if student not in known:
                    db.add(Student(id=student))
                submission = SubmittedAssignment(assignment=assignment, student_id=student, timestamp=timestamp)
                for notebook in assignment.notebooks:
                    row = SubmittedNotebook(notebook=notebook, assignment=submission)
                    for cell in notebook.grade_cells:
                        Grade(cell_id=cell.id, notebook=row)
                    for cell in notebook.solution_cells:
                        Comment(cell_id=cell.id, notebook=row)
                    for cell in notebook.task_cells:
                        Comment(cell_id=cell.id, notebook=row)
                        Grade(cell_id=cell.id, notebook=row)
                db.add(submission)
        db.flush()

    def _submission(self, student: str) -> Any:
        with self.gb.db.no_autoflush:
            # nbgrader's add_submission, autoflushed while it builds the rows, trips SQLAlchemy
            # warnings (autograde shows them too); it flushes them itself when it commits
            return self._find_or_add_submission(student)

    def _find_or_add_submission(self, student: str) -> Any:
        from nbgrader.api import MissingEntry

        folder = self.course.submitted(student, self.assignment)
        timestamp = self.course.coursedir.get_existing_timestamp(str(folder))
        submission = self._submissions.get(student)
        if submission is None:
            try:
                submission = self.gb.find_submission(self.assignment, student)
            except MissingEntry:
                submission = None
        if submission is not None and (timestamp is None or submission.timestamp == timestamp):
            return submission
        if submission is None:
            try:
                self.gb.find_student(student)
            except MissingEntry:
                self.gb.update_or_create_student(student)
        if timestamp:
            return self.gb.update_or_create_submission(self.assignment, student, timestamp=timestamp)
        return self.gb.update_or_create_submission(self.assignment, student)

    def write(self, student: str, notebook: str, results: Sequence[ItemResult], *, submitted: bool,
              lang: str = "en") -> None:
        """One notebook's rows (kept until `commit`). A notebook not submitted scores 0 everywhere
        (as autograde does); graded cells the kit does not own keep any score they have, else
        wait for a person."""
        cells = self.references[notebook].by_cell_id
        with self.gb.db.no_autoflush:  # flushed once, at commit (the late penalty flushes what it sums)
            submission = self._submission(student)
            row = self._rows.get((student, notebook)) or self.gb.find_submission_notebook(notebook, self.assignment,
                                                                                          student)
            by_test = {r.test_id: r for r in results}
            by_answer = {r.answer_id: r for r in results}
            for grade in row.grades:
                name, max_score = cells.get(grade.cell_id, ("", 0.0))
                result = by_test.get(name)
                if result is not None:
                    trusted = result.points if result.scored else None
                    grade.auto_score = None if trusted is None else min(float(trusted), max_score)
                    grade.needs_manual_grade = grade.manual_score is not None or result.needs_manual
                elif not submitted:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
                elif grade.auto_score is None and grade.manual_score is None:
                    grade.needs_manual_grade = True
            for comment in row.comments:
                result = by_answer.get(cells.get(comment.cell_id, ("",))[0])
                if result is not None:
                    comment.auto_comment = comment_text(result, lang)
            self._late_penalty(student, submission, row)

    def _late_penalty(self, student: str, submission: Any, row: Any) -> None:
        """nbgrader's AssignLatePenalties, with its configured plugin (imported only when late)."""
        row.late_submission_penalty = None
        late = submission.total_seconds_late
        if not late or late <= 0:
            return
        if self._late_plugin is None:
            from nbgrader.preprocessors import AssignLatePenalties

            assigner = AssignLatePenalties(config=self.course.config)
            assigner.init_plugin()
            self._late_plugin = assigner.plugin_inst
        self.gb.db.flush()
        penalty = self._late_plugin.late_submission_penalty(student, row.score, late)
        if penalty is not None:
            row.late_submission_penalty = min(max(0.0, penalty), row.score)


_LINES = {
    "en": {"score": "Trusted grade: {points:g} / {max:g}.", "review": "To be reviewed by your instructor: {reasons}.",
           "manual": "This answer will be graded by your instructor: {reasons}."},
    "fr": {"score": "Note vérifiée : {points:g} / {max:g}.", "review": "À revoir par votre formateur : {reasons}.",
           "manual": "Cette réponse sera notée par votre formateur : {reasons}."},
}


def comment_text(r: ItemResult, lang: str = "en") -> str:
    """The answer cell's comment: what generate_feedback and formgrader show beside the answer."""
    lines = _LINES["fr" if lang == "fr" else "en"]
    reasons = "; ".join(r.flags)
    if r.status == "manual":
        return lines["manual"].format(reasons=reasons)
    out = []
    if r.status == "invalid" or r.status == "not_graded":
        out.append(r.feedback.strip())
    if r.scored:
        out.append(lines["score"].format(points=r.points, max=r.max_points))
    if r.flags:
        out.append(lines["review"].format(reasons=reasons))
    return "\n".join(line for line in out if line)
