"""Builds a real nbgrader course root from this folder for the cohort tests and the benchmark:
`nbgrader generate_assignment`, learners' submissions made from the *released* notebook."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "ps1"
BIN = Path(sys.executable).parent


def learners() -> dict[str, dict[str, Any]]:
    return tomllib.loads((HERE / "learners.toml").read_text(encoding="utf-8"))


def env(**extra: str) -> dict[str, str]:
    """The environment of the nbgrader / atelier commands: this venv's tools first on PATH
    (nbgrader's gradebook calls `alembic`), the test course's specs as the graders folder."""
    out = dict(os.environ)
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out["ATELIER_GRADERS"] = str(HERE / "graders")
    out.update(extra)
    return out


def run(args: list[str], root: Path, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
    """One real command (`nbgrader ...`, `atelier ...`) in the course root."""
    program = str(BIN / args[0])
    proc = subprocess.run([program, *args[1:]], cwd=root, env=env(**extra), text=True, capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def build_course(dest: Path) -> Path:
    """A course root at `dest` with the assignment generated (release/ and gradebook.db)."""
    shutil.copytree(HERE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py", "learners.toml"))
    shutil.copy(HERE / "nbgrader_config.py", dest / "nbgrader_config.py")
    run(["nbgrader", "generate_assignment", ASSIGNMENT], dest)
    return dest


def working_copy(generated: Path, dest: Path, monkeypatch: Any) -> Path:
    """A private copy of a generated course, with the kit pointed at the test course's specs."""
    from promptatelier.config import reload_settings

    shutil.copytree(generated, dest)
    monkeypatch.setenv("ATELIER_GRADERS", str(HERE / "graders"))
    monkeypatch.setenv("PATH", env()["PATH"])
    reload_settings()
    return dest


def submit(root: Path, student: str, answers: dict[str, str], *, extra_cell: str | None = None,
           edited_test: str | None = None, edited_test_source: str | None = None,
           change: Any = None, assignment: str = ASSIGNMENT, notebook: str | None = None) -> Path:
    """Write `student`'s submission: the released notebook with these answer cells' sources;
    `change(nb)` then edits the notebook as a tampering learner would."""
    import nbformat

    notebook = notebook or assignment
    nb = nbformat.read(root / "release" / assignment / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        kit = cell.get("metadata", {}).get("promptatelier") or {}
        if kit.get("role") == "answer" and kit.get("exercise") in answers:
            cell.source = answers[kit["exercise"]].strip("\n")
        if kit.get("role") == "test" and kit.get("exercise") == edited_test:
            cell.source = edited_test_source or "0"
    if extra_cell:
        position = next((i for i, c in enumerate(nb.cells) if "from promptatelier import" in c.source), -1) + 1
        nb.cells.insert(position, nbformat.v4.new_code_cell(extra_cell.strip("\n")))
    if change is not None:
        change(nb)
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{notebook}.ipynb")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp)
    return folder


def submit_learner(root: Path, student: str, profile: str | None = None) -> Path:
    """Submit one of learners.toml's profiles (strong, naive, cheat) as `student`."""
    data = dict(learners()[profile or student])
    extra = data.pop("extra_cell", None)
    edited = data.pop("edited_test", None)
    edited_source = data.pop("edited_test_source", None)
    return submit(root, student, data, extra_cell=extra, edited_test=edited, edited_test_source=edited_source)
