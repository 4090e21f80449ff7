"""`nbgrader generate_feedback` on one gradebook connection for the whole run.

nbgrader's GetGrades opens a new gradebook (a new SQLAlchemy engine: table checks, the course
row, every query compiled afresh) for each notebook it exports, then closes it: a third of the
export time of a kit notebook. `fast_feedback(c)` in nbgrader_config.py swaps it for
`SharedGetGrades`, which reads the same rows into the same feedback through one engine kept for
the run (the exporter builds its preprocessors once per `generate_feedback`).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = ["SharedGetGrades", "fast_feedback"]


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
