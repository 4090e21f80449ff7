"""A tiny course (one exercise, both languages) in a temporary project root, for build tests
that must not depend on the real course's content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SPEC = '''id = "m09.labels"
points = 2
kind = "template"
placeholders = ["text"]
title = { en = "Labels only", fr = "Rien que l'étiquette" }
instructions = { en = "Write a template.", fr = "Écrivez un gabarit." }
reference = "Label {text}"
baseline = "{text}"

[[cases]]
name = "one"
vars = { text = "a" }

[[hidden]]
name = "h-secret-case"
vars = { text = "SECRET-HIDDEN-INPUT" }

[[criteria]]
use = "label_only"
labels = ["yes", "no"]
'''

SOURCE = '''---
jupyter:
  kernelspec:
    display_name: Python 3
    language: python
    name: python3
---

# Module 9 ({lang})

```python
import os
os.environ["ATELIER_LANG"] = "{lang}"
from promptatelier import check, grade
```

```python exercise="m09.labels"
PROMPT = """
### BEGIN SOLUTION
Answer yes or no: {{text}} ({lang})
### END SOLUTION
"""
```
'''


def write_source(root: Path, lang: str, text: str | None = None, name: str = "m09_tiny.md") -> Path:
    path = root / "course" / lang / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else SOURCE.format(lang=lang), encoding="utf-8")
    return path


@pytest.fixture
def tiny_course(tmp_path: Path, root: Path) -> Path:
    project = tmp_path / "project"
    (project / "graders" / "m09").mkdir(parents=True)
    (project / "graders" / "m09" / "labels.toml").write_text(SPEC, encoding="utf-8")
    (project / "course").mkdir()
    shutil.copy(root / "course" / "nbgrader_config.py", project / "course" / "nbgrader_config.py")
    for lang in ("en", "fr"):
        write_source(project, lang)
    return project


@pytest.fixture(autouse=True)
def _shared_course_cache(_course_cache: Path, _isolated_atelier, monkeypatch: pytest.MonkeyPatch) -> None:
    """The course's notebooks are run several ways (nbclient, nbgrader validate, the round trip)
    with the same model requests: one response cache for the session keeps CI time down. Cold-cache
    run times per notebook are measured by bench/bench_notebooks.py, not here."""
    from promptatelier import config

    monkeypatch.setenv("ATELIER_CACHE", str(_course_cache))
    config._resolve.cache_clear()
