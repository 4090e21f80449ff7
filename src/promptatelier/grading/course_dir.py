"""The course as nbgrader sees it: its root, configuration and paths (nbgrader's own
CourseDirectory), the learners who submitted, and where each kit exercise sits in the
instructor's source notebooks (trusted, never read from a submission)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AtelierError

__all__ = ["KIT_KEY", "CohortError", "Course", "ExerciseSlot", "ReferenceCell", "fast_nbgrader_imports",
           "ignored_dir"]

KIT_KEY = "promptatelier"


class CohortError(AtelierError):
    """The course, the assignment or the gradebook is not in a state that can be graded."""


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
    lang: str = "en"  # the notebook's language (its kit metadata), which picks feedback and cases


@dataclass(frozen=True)
class ReferenceCell:
    """A graded or locked cell as `nbgrader generate_assignment` recorded it in the gradebook
    (after ClearSolutions: an answer cell holds the released stub)."""

    grade_id: str
    cell_type: str
    source: str
    checksum: str | None
    locked: bool
    points: float | None  # a grade cell's points, None for other cells
    solution: bool


def fast_nbgrader_imports() -> None:
    """Import nbgrader's modules for grading without what makes `import nbgrader` slow (2.7 s here).

    - `nbgrader/__init__.py` loads the Jupyter server extensions (tornado handlers, the exchange)
      before any submodule: 0.35-0.45 s that grading never uses. Registering the package without
      running its `__init__` still lets `nbgrader.api`, `.coursedir`, `.utils`, `.preprocessors`
      import as usual; only a Jupyter server looks at the package's own attributes.
    - jsonschema (under nbformat) imports `rfc3987_syntax` when installed, to check the "iri"
      string format nbformat's schema never uses; it builds a lark grammar at import: 1.35 s.
    - `nbgrader.utils` imports three functions of `setuptools.archive_util` (for zip_collect),
      which imports all of setuptools: 0.12 s. A stand-in gives them, importing it on first call.
    For `atelier grade`'s own process, before nbgrader is first imported; no effect after.
    """
    import importlib.util
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    if "setuptools" not in sys.modules and "nbgrader.utils" not in sys.modules:
        sys.modules.setdefault("setuptools.archive_util", _archive_util_on_first_use())
    if "nbgrader" in sys.modules:
        return
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)
    sys.modules["nbgrader"] = package
    from nbgrader._version import __version__

    package.__version__ = __version__


def _archive_util_on_first_use() -> Any:
    """A stand-in for `setuptools.archive_util`: any of its names, first used, puts the real module
    in its place (module `__getattr__`, and the three functions nbgrader imports by name)."""
    import sys
    import types

    stand_in = types.ModuleType("setuptools.archive_util")

    def real() -> Any:
        if sys.modules.get("setuptools.archive_util") is stand_in:
            del sys.modules["setuptools.archive_util"]
        import setuptools.archive_util

        return setuptools.archive_util

    def forward(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(real(), name)(*args, **kwargs)

        call.__name__ = name
        return call

    def attribute(name: str) -> Any:
        if name.startswith("__"):  # what the import system asks of any module (__path__...)
            raise AttributeError(name)
        return getattr(real(), name)

    for name in ("unpack_archive", "unpack_tarfile", "unpack_zipfile"):
        setattr(stand_in, name, forward(name))
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    return stand_in


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

    @property
    def state_dir(self) -> Path:
        """Where the kit keeps learners' data for this course (journal): git-ignored by itself."""
        return ignored_dir(self.root / ".atelier")

    def path(self, step: str, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(step, student, assignment))

    def submitted(self, student: str, assignment: str) -> Path:
        return self.path(self.coursedir.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        return self.path(self.coursedir.autograded_directory, student, assignment)

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

    def layout(self, assignment: str) -> list[ExerciseSlot]:
        """Every exercise of the assignment, read from the kit metadata of the source notebooks."""
        import nbformat

        slots: list[ExerciseSlot] = []
        for path in self.source_notebooks(assignment):
            nb = nbformat.read(path, as_version=4)
            answers: dict[str, Any] = {}
            tests: dict[str, Any] = {}
            for cell in nb.cells:
                kit = cell.get("metadata", {}).get(KIT_KEY) or {}
                exercise, role = kit.get("exercise"), kit.get("role")
                if exercise and role == "answer":
                    answers[exercise] = cell
                elif exercise and role == "test":
                    tests[exercise] = cell
            lang = _language(nb)
            for exercise, test in tests.items():
                slots.append(_slot(path, exercise, answers.get(exercise), test, lang))
        if not slots:
            raise CohortError(
                f"The assignment {assignment!r} has no kit exercise (no cell with metadata.{KIT_KEY}).",
                "Generate its notebooks with `atelier build`, which writes the exercise metadata.",
            )
        return slots


def _language(nb: Any) -> str:
    from ..config import settings

    kit = nb.metadata.get(KIT_KEY) or {}
    lang = kit.get("lang") or kit.get("language") or settings().language
    return lang if lang in {"en", "fr"} else "en"


def _slot(path: Path, exercise: str, answer: Any, test: Any, lang: str) -> ExerciseSlot:
    if answer is None:
        raise CohortError(
            f"{path.name}: exercise {exercise} has a test cell but no answer cell.",
            "Rebuild the notebook with `atelier build`: each exercise needs an answer cell "
            f"(metadata.{KIT_KEY}.role = 'answer').",
        )
    answer_id = answer.metadata.get("nbgrader", {}).get("grade_id")
    test_meta = test.metadata.get("nbgrader", {})
    if not answer_id or not test_meta.get("grade_id"):
        raise CohortError(
            f"{path.name}: exercise {exercise} has cells without an nbgrader grade_id.",
            "Rebuild the notebook with `atelier build`, then `nbgrader generate_assignment`.",
        )
    return ExerciseSlot(
        notebook=path.stem, exercise_id=exercise, answer_id=answer_id, test_id=test_meta["grade_id"],
        variable=answer.metadata[KIT_KEY].get("variable", "PROMPT"),
        points=float(test_meta.get("points", 0)), test_source=test.source, lang=lang,
    )


def ignored_dir(path: Path) -> Path:
    """`path`, created with a `.gitignore` of `*` in it: what it holds (learners' answers,
    scores, feedback) never reaches a repository, wherever the course root lives."""
    path.mkdir(parents=True, exist_ok=True)
    marker = path / ".gitignore"
    if not marker.exists():
        marker.write_text("# learners' data, written by atelier: never commit it\n*\n", encoding="utf-8")
    return path
