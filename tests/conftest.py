"""Isolation for every test: a private response cache, fresh settings, no real keys, no
course file from the developer's machine, and no backend instance carried over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Keys a developer may have exported must never reach a test (no test needs the network).
for _var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ATELIER_COMPATIBLE_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _isolated_atelier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from promptatelier import config
    from promptatelier.models import cost, registry

    monkeypatch.setenv("ATELIER_CACHE", str(tmp_path / "cache" / "responses.sqlite"))
    monkeypatch.setenv("ATELIER_CONFIG", str(ROOT / "atelier.toml"))
    for var in ("ATELIER_MODEL", "ATELIER_GRADING_MODEL", "ATELIER_JUDGE_MODEL", "ATELIER_LANG",
                "ATELIER_CONCURRENCY", "ATELIER_RPM", "ATELIER_CACHE_ENABLED", "ATELIER_GRADERS"):
        monkeypatch.delenv(var, raising=False)
    config.reload_settings()
    config.clear_keys()
    registry.clear_backends()
    cost.ledger().reset()
    yield
    config.clear_keys()
    registry.clear_backends()
    # forget, don't re-read: monkeypatch restores the environment only after this teardown
    config._resolve.cache_clear()


@pytest.fixture(scope="session")
def _course_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One response cache for every test that runs the course's own exercises on the embedded
    model (tests/course, and tests/grading/test_local_model.py): each request is made once a run."""
    return tmp_path_factory.mktemp("course-cache") / "responses.sqlite"


@pytest.fixture
def root() -> Path:
    return ROOT
