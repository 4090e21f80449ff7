"""Helpers for the headless widget tests: a mock backend the test can script, and a way to hold
a model call until the test lets it go (to test Stop)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from promptatelier.models import get_backend
from promptatelier.models.mock import MockBackend


@pytest.fixture
def mock() -> MockBackend:
    backend = get_backend("mock")
    assert isinstance(backend, MockBackend)
    return backend


@pytest.fixture
def gate(mock: MockBackend) -> Iterator[threading.Event]:
    """The mock model blocks until the test sets the returned event."""
    release = threading.Event()
    started = threading.Event()

    def slow(request):  # noqa: ANN001, ANN202
        started.set()
        release.wait(10)
        return "late answer"

    mock.script(slow)
    release.started = started  # type: ignore[attr-defined]
    yield release
    release.set()


@pytest.fixture
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.config import reload_settings

    monkeypatch.setenv("ATELIER_CACHE_ENABLED", "0")
    reload_settings()
