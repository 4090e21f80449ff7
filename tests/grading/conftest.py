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
