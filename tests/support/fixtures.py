"""pytest fixtures around the support servers. Use them by importing them into a test module or
a conftest.py:

    from tests.support.fixtures import scripted_server, llama_openai_server, hosted_sdks  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from promptatelier.config import reload_settings, set_key

from .processes import RunningServer, llama_server
from .scripted import ScriptedServer

__all__ = ["scripted_server", "llama_openai_server", "hosted_sdks", "FAKE_OPENAI_KEY", "FAKE_ANTHROPIC_KEY"]

FAKE_OPENAI_KEY = "sk-test-0123456789abcdefSECRET"
FAKE_ANTHROPIC_KEY = "sk-ant-test-0123456789abcdefSECRET"


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A ScriptedServer on a free port (echoes by default), stopped after the test."""
    with ScriptedServer() as server:
        yield server


def point_hosted_sdks(monkeypatch: pytest.MonkeyPatch, url: str, *, max_retries: int) -> None:
    """The openai and anthropic SDKs pointed at a local server at `url` (through their own
    OPENAI_BASE_URL / ANTHROPIC_BASE_URL), with fake keys, `max_retries` and a short timeout."""
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("ATELIER_MAX_RETRIES", str(max_retries))
    monkeypatch.setenv("ATELIER_TIMEOUT", "10")
    reload_settings()
    set_key("openai", FAKE_OPENAI_KEY)
    set_key("anthropic", FAKE_ANTHROPIC_KEY)


@pytest.fixture
def hosted_sdks(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """The openai and anthropic SDKs pointed at the scripted server, with fake keys, 2 retries
    and a short timeout."""
    point_hosted_sdks(monkeypatch, scripted_server.url, max_retries=2)
    return scripted_server


@pytest.fixture(scope="session")
def llama_openai_server() -> Iterator[RunningServer]:
    """llama-cpp-python's own server on the embedded model, once per test session."""
    with llama_server() as server:
        yield server
