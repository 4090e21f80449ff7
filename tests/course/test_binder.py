"""Binder installs the same dependencies as the project, and opens the course's notebooks."""

from __future__ import annotations

import tomllib
from pathlib import Path


def _names(lines: list[str]) -> list[str]:
    return sorted(line.split(";")[0].strip().replace(" ", "") for line in lines if line.strip() and not line.startswith("#"))


def test_binder_requirements_match_the_project_dependencies(root: Path) -> None:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    binder = (root / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert _names(binder) == _names(project["dependencies"])


def test_postbuild_installs_the_kit_and_the_welcome_notebooks_exist(root: Path) -> None:
    post = root / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install --no-cache-dir --no-deps ." in post.read_text(encoding="utf-8")
    for lang in ("en", "fr"):
        assert (root / "notebooks" / lang / "00_welcome.ipynb").is_file()
