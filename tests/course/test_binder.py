"""Binder installs the same dependencies as the project, and opens the course's notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest


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


@pytest.mark.slow
def test_binder_requirements_install_in_a_fresh_virtual_environment(root: Path, tmp_path: Path) -> None:
    """What mybinder.org does: requirements first, then postBuild's install of the kit, in a new
    environment; the wheel cache that scripts/setup fills stands in for Binder's own compile."""
    venv_dir = tmp_path / "binder-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    python = venv_dir / "bin" / "python"
    wheels = os.environ.get("ATELIER_WHEEL_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prompt-atelier" / "wheels"
    )
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--find-links", wheels,
         "-r", str(root / "binder" / "requirements.txt")],
        capture_output=True, text=True, cwd=root,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    post = subprocess.run(
        ["bash", str(root / "binder" / "postBuild")],
        capture_output=True, text=True, cwd=root, env={**os.environ, "PATH": f"{venv_dir / 'bin'}:{os.environ['PATH']}"},
    )
    assert post.returncode == 0, post.stderr[-3000:]
    assert "SmolLM2-135M-Instruct" in post.stdout
    pip_check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert pip_check.returncode == 0, pip_check.stdout
