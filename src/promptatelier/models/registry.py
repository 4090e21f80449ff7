"""Backends made from a model string: `local`, `mock`, `openai:MODEL`, `anthropic:MODEL`,
`openai-compatible:BASE_URL#MODEL`. Each provider's module is imported only when used."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from ..errors import UnknownModelError
from .base import Backend

__all__ = ["register", "get_backend", "providers", "parse_model_string", "clear_backends"]

Factory = Callable[[str, str], Backend]

# provider -> "module:attribute" of its factory, resolved lazily so SDKs load only when used
_LAZY: dict[str, str] = {
    "local": "promptatelier.models.local:LocalBackend",
    "mock": "promptatelier.models.mock:MockBackend",
    "openai": "promptatelier.models.openai_backend:OpenAIBackend",
    "openai-compatible": "promptatelier.models.openai_backend:OpenAICompatibleBackend",
    "anthropic": "promptatelier.models.anthropic_backend:AnthropicBackend",
}
_factories: dict[str, Factory] = {}
_instances: dict[str, Backend] = {}
_lock = threading.Lock()

EXAMPLES = (
    "local (the embedded model, offline), openai:gpt-4.1-mini, anthropic:claude-haiku-4-5, "
    "openai-compatible:http://127.0.0.1:8000/v1#my-model, mock"
)


def register(provider: str, factory: Factory) -> None:
    """Make `provider:...` model strings build backends with `factory(name, rest)`."""
    _factories[provider] = factory


def providers() -> list[str]:
    return sorted(set(_LAZY) | set(_factories))


def parse_model_string(model: str) -> tuple[str, str]:
    """Split `provider:rest` (rest may be empty, as in `local`)."""
    if not isinstance(model, str) or not model.strip():
        raise UnknownModelError(
            f"The model {model!r} is empty or not a string.",
            f"Name a model such as {EXAMPLES}.",
        )
    model = model.strip()
    if model.startswith("openai-compatible:"):
        return "openai-compatible", model[len("openai-compatible:"):]
    provider, _, rest = model.partition(":")
    return provider, rest


def _factory(provider: str) -> Factory:
    if provider in _factories:
        return _factories[provider]
    target = _LAZY.get(provider)
    if target is None:
        raise UnknownModelError(
            f"No backend is called {provider!r}.",
            f"Use one of: {EXAMPLES}.",
        )
    module_name, attr = target.split(":")
    factory: Factory = getattr(importlib.import_module(module_name), attr)
    _factories[provider] = factory
    return factory


def get_backend(model: str | Backend | None = None) -> Backend:
    """The backend for a model string (one shared instance per string and process).

    None means the learners' model from the configuration.
    """
    if isinstance(model, Backend):
        return model
    if model is None:
        from ..config import settings

        model = settings().model
    key = model.strip() if isinstance(model, str) else model
    with _lock:
        backend = _instances.get(key)
        if backend is None:
            provider, rest = parse_model_string(key)
            backend = _factory(provider)(key, rest)
            _instances[key] = backend
    return backend


def clear_backends() -> None:
    """Forget every backend instance (tests; after keys change)."""
    with _lock:
        _instances.clear()
