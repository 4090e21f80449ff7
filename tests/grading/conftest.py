"""Fixtures for the grading tests: the test-only specs under tests/grading/graders/."""

from __future__ import annotations

from pathlib import Path

import pytest

GRADERS = Path(__file__).resolve().parent / "graders"


@pytest.fixture
def test_graders(monkeypatch: pytest.MonkeyPatch) -> Path:
    from promptatelier import config
    from promptatelier.grading.spec import clear_spec_cache

    monkeypatch.setenv("ATELIER_GRADERS", str(GRADERS))
    config.reload_settings()
    clear_spec_cache()
    return GRADERS


@pytest.fixture
def mock_backend():
    from promptatelier.models import get_backend

    return get_backend("mock")


def spec_file(folder: Path, exercise_id: str, text: str) -> Path:
    """Write a spec for `exercise_id` (module.name) under `folder`, dedented, and forget the
    specs loaded before, so the next load_spec reads it."""
    import textwrap

    from promptatelier.grading.spec import clear_spec_cache

    module, name = exercise_id.split(".")
    path = folder / module / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    clear_spec_cache()
    return path
