"""`atelier build`: course sources -> nbgrader source notebooks -> nbgrader's own
generate_assignment -> learner notebooks (notebooks/<lang>/) and solution notebooks
(solutions/<lang>/: the reference answers in place, without nbgrader's solution markers).

Every output is rendered in memory first (nbgrader runs in a scratch copy of the course root, so
the instructor's gradebook is never touched), then either written or compared with the tree
(`--check`). Output is deterministic: stable cell ids, no outputs, no execution counts, sorted
JSON, so a rebuild is byte-identical.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import AtelierError
from .lint import lint_modules
from .sources import LANGUAGES, Module, SourceError, discover, read_module

__all__ = ["BuildError", "Layout", "render", "write", "stale", "build", "check"]


class BuildError(AtelierError):
    """The build could not produce the notebooks (lint failures, nbgrader errors)."""


@dataclass(frozen=True)
class Layout:
    """Where the build reads and writes, all relative to the project root."""

    root: Path

    @property
    def course(self) -> Path:
        return self.root / "course"

    @property
    def graders(self) -> Path:
        return self.root / "graders"

    def managed(self) -> list[Path]:
        """The generated notebooks present on disk (what a build may overwrite or delete)."""
        found = list((self.course / "source").glob("*/*.ipynb"))
        for top in ("notebooks", "solutions"):
            for lang in LANGUAGES:
                found.extend((self.root / top / lang).glob("*.ipynb"))
        return sorted(found)


def _serialise(nb: object) -> bytes:
    import nbformat

    for cell in nb.cells:  # type: ignore[attr-defined]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return (nbformat.writes(nb) + "\n").encode("utf-8")  # type: ignore[arg-type]


def _solved(nb: object) -> object:
    """The notebook as a learner who found the reference answers would have it: nbgrader's
    solution markers removed, since inside an answer's string they would become part of the
    prompt the model reads."""
    import copy

    solved = copy.deepcopy(nb)
    for cell in solved.cells:  # type: ignore[attr-defined]
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            cell.source = "\n".join(line for line in cell.source.split("\n")
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return solved


def read_modules(layout: Layout) -> list[Module]:
    """Every source, read and linted; all problems reported at once."""
    modules: list[Module] = []
    problems: list[str] = []
    for path in discover(layout.course):
        try:
            modules.append(read_module(path, layout.graders))
        except SourceError as exc:
            problems.append(str(exc))
    problems += lint_modules(modules)
    if problems:
        raise BuildError(
            "The course sources have problems:\n  - " + "\n  - ".join(problems),
            "Fix each one in course/<lang>/ (or graders/), then run `atelier build` again.",
        )
    if not modules:
        raise BuildError(f"There are no module sources in {layout.course}/en or /fr.",
                         "Write course/en/mNN_slug.md and course/fr/mNN_slug.md.")
    return modules


def _generate(layout: Layout, sources: dict[Path, bytes], modules: list[Module]) -> dict[str, bytes]:
    """Run `nbgrader generate_assignment` in a scratch course root; release files by assignment."""
    config = layout.course / "nbgrader_config.py"
    if not config.is_file():
        raise BuildError(f"{config} is missing.", "Restore course/nbgrader_config.py from git.")
    released: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="atelier-build-") as scratch:
        root = Path(scratch)
        shutil.copy(config, root / "nbgrader_config.py")
        for rel, data in sources.items():
            target = root / rel.relative_to("course")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # one nbgrader run per language (a glob over its assignments): nbgrader_config.py picks
        # the language's code stub from the assignment name
        for lang in sorted({m.lang for m in modules}):
            pattern = f"m*_{lang}"
            run = subprocess.run(
                [sys.executable, "-m", "nbgrader", "generate_assignment", pattern,
                 "--no-db", "--force", "--log-level=ERROR"],
                cwd=root, capture_output=True, text=True,
            )
            if run.returncode != 0:
                raise BuildError(
                    f"nbgrader generate_assignment {pattern} failed:\n{run.stdout}{run.stderr}",
                    "Read nbgrader's message above; it usually names the cell with bad metadata.",
                )
        for module in modules:
            path = root / "release" / module.assignment / module.notebook_name
            released[f"{module.lang}/{module.notebook_name}"] = path.read_bytes()
    return released


def render(layout: Layout) -> dict[Path, bytes]:
    """Every generated file, by path relative to the project root."""
    import nbformat

    modules = read_modules(layout)
    files: dict[Path, bytes] = {}
    sources: dict[Path, bytes] = {}
    for module in modules:
        sources[Path("course/source") / module.assignment / module.notebook_name] = _serialise(module.notebook)
        files[Path("solutions") / module.lang / module.notebook_name] = _serialise(_solved(module.notebook))
    files.update(sources)
    for rel, raw in _generate(layout, sources, modules).items():
        files[Path("notebooks") / rel] = _serialise(nbformat.reads(raw.decode("utf-8"), as_version=4))
    return dict(sorted(files.items()))


def write(layout: Layout, files: dict[Path, bytes]) -> list[Path]:
    """Write what changed and delete generated notebooks no source produces; the paths touched."""
    touched: list[Path] = []
    for rel, data in files.items():
        target = layout.root / rel
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        touched.append(rel)
    for path in layout.managed():
        rel = path.relative_to(layout.root)
        if rel not in files:
            path.unlink()
            touched.append(rel)
    return touched


def stale(layout: Layout, files: dict[Path, bytes]) -> list[str]:
    """One line per generated file that differs from what the sources produce."""
    out: list[str] = []
    for rel, data in files.items():
        target = layout.root / rel
        if not target.is_file():
            out.append(f"{rel}: missing")
        elif target.read_bytes() != data:
            out.append(f"{rel}: out of date")
    for path in layout.managed():
        rel = path.relative_to(layout.root)
        if rel not in files:
            out.append(f"{rel}: no source produces it")
    return out


def build(root: Path) -> list[Path]:
    layout = Layout(root)
    return write(layout, render(layout))


def check(root: Path) -> list[str]:
    layout = Layout(root)
    return stale(layout, render(layout))
