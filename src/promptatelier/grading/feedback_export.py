"""`nbgrader generate_feedback`, faster: on one gradebook connection, and inside `atelier grade`.

nbgrader's GetGrades opens a new gradebook (a new SQLAlchemy engine: table checks, the course
row, every query compiled afresh) for each notebook it exports, then closes it: a third of the
export time of a kit notebook. `fast_feedback(c)` in nbgrader_config.py swaps it for
`SharedGetGrades`, which reads the same rows into the same feedback through one engine kept for
the run (the exporter builds its preprocessors once per `generate_feedback`).

`write_feedback` runs that same command's converter (nbgrader's GenerateFeedback, with the
course's nbgrader_config.py) in `atelier grade --feedback`'s own process, which has nbgrader
loaded already, split across the machine's cores: the same files as the command, without a new
interpreter and nbgrader's import, which are most of the command's time for a class.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SharedGetGrades", "fast_feedback", "write_feedback"]


@functools.cache
def _shared_get_grades() -> type:
    """Built on first use: it subclasses nbgrader's preprocessor, which a process that only reads
    the course's paths (`atelier grade`) must not import."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import GetGrades

    class SharedGetGrades(GetGrades):
        """nbgrader's GetGrades (same rows, same resources, same log) with its gradebook kept
        open across notebooks; each notebook's reads end its session, so none sees stale rows."""

        def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
            info = resources["nbgrader"]
            self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
            self.student_id, self.db_url = info["student"], info["db_url"]
            books = self.__dict__.setdefault("_atelier_gradebooks", {})
            if self.db_url not in books:
                books[self.db_url] = Gradebook(self.db_url)
            self.gradebook = books[self.db_url]
            try:
                nb, resources = super(GetGrades, self).preprocess(nb, resources)  # the cells, as GetGrades
                notebook = self.gradebook.find_submission_notebook(self.notebook_id, self.assignment_id,
                                                                   self.student_id)
                late_penalty = notebook.late_submission_penalty
                if late_penalty is None:
                    late_penalty = 0
                else:
                    self.log.warning("Late submission penalty: {}".format(late_penalty))
                info["score"] = notebook.score - late_penalty
                info["max_score"] = notebook.max_score
                info["late_penalty"] = late_penalty
            finally:
                self.gradebook.db.remove()  # the session ends (as GetGrades' close); the engine stays
            return nb, resources

    SharedGetGrades.__module__ = __name__
    return SharedGetGrades


def __getattr__(name: str) -> Any:
    if name == "SharedGetGrades":
        return _shared_get_grades()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fast_feedback(c: Any) -> None:
    """In nbgrader_config.py: `generate_feedback` exports with SharedGetGrades in place of
    GetGrades (its other preprocessors unchanged). Call it after any change of that list.

    In a process that has not loaded nbgrader's converters (`atelier grade` reads this file only
    for the course's paths) it leaves the configuration alone.
    """
    if "nbgrader.converters" not in sys.modules:
        return
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades

    configured = c.GenerateFeedback.get("preprocessors") if "GenerateFeedback" in c else None
    steps = list(configured) if configured else GenerateFeedback.class_traits()["preprocessors"].default()
    c.GenerateFeedback.preprocessors = [_shared_get_grades() if step is GetGrades else step for step in steps]


def write_feedback(root: str | Path, assignment: str, students: Sequence[str], *, workers: int | None = None) -> None:
    """`nbgrader generate_feedback ASSIGNMENT --force` for `students` only: their feedback HTML,
    written by nbgrader's own converter with the course's configuration (so formgrader, the
    exchange's `release_feedback` and learners see exactly what the command writes).

    The conversions run in `workers` processes (default: one per core, at most as many as
    learners), each a fork of this one, which has nbgrader loaded. Raises CohortError naming the
    learners whose feedback nbgrader could not write; the others' feedback is written.
    """
    import nbgrader.converters  # noqa: F401 - loaded once, before the fork and before the config is read

    students = sorted(set(students))
    if not students:
        return
    count = workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    count = max(1, min(count, len(students)))
    groups = [students[i::count] for i in range(count)]
    if count == 1:
        problems = _export(str(root), assignment, groups[0])
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            problems = [p for found in pool.map(_export, [str(root)] * count, [assignment] * count, groups) for p in found]
    if problems:
        from .course_dir import CohortError

        raise CohortError(
            f"nbgrader could not write the feedback of {assignment!r}: " + "; ".join(problems) + ".",
            f"Run `nbgrader generate_feedback {assignment} --force` in the course folder to see nbgrader's own "
            "messages, fix what they name, then run it again.",
        )


def _export(root: str, assignment: str, students: list[str]) -> list[str]:
    """One worker: the converter for these learners (every other learner of the course excluded,
    with nbgrader's own `student_id_exclude`), its errors as messages."""
    from nbgrader.converters import GenerateFeedback

    from .course_dir import Course

    course = Course(root)  # read now, with the converters loaded: the config's fast_feedback applies
    coursedir = course.coursedir
    coursedir.assignment_id = assignment
    regexp = re.compile(coursedir.format_path(coursedir.autograded_directory, "(?P<student_id>.*)", assignment,
                                              escape=True) + "$")
    others = set()
    for path in glob.glob(coursedir.format_path(coursedir.autograded_directory, "*", assignment)):
        found = regexp.match(path)
        if found and found["student_id"] not in students:
            others.add(found["student_id"])
    coursedir.student_id = students[0] if len(students) == 1 else "*"
    coursedir.student_id_exclude = ",".join(sorted(others))
    converter = GenerateFeedback(coursedir=coursedir, config=course.config)
    converter.force = True
    errors: list[str] = []
    converter.log = _quiet_log(errors)
    try:
        converter.start()
    except Exception as exc:  # nbgrader logs each failed learner, then raises once for all of them
        if not errors:
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


def _quiet_log(errors: list[str]) -> logging.Logger:
    """The converter's log: nbgrader's per-learner progress lines are not printed (atelier grade
    prints its own summary); its errors are kept for the one error the caller raises."""

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("There was an error processing assignment '"):
                errors.append(message.removeprefix("There was an error processing assignment ").strip())

    log = logging.getLogger("promptatelier.feedback")
    log.handlers = [Keep(level=logging.ERROR)]
    log.propagate = False
    log.setLevel(logging.ERROR)
    return log
