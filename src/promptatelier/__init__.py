"""Prompt Atelier: a Jupyter course kit that teaches prompt engineering.

    from promptatelier import complete, complete_many, get_backend, check, grade
    reply = complete("Name three colours.", model="local", temperature=0, seed=1)

Importing this package is cheap: the model SDKs, llama.cpp, pandas and the grading engine load
only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Settings, get_key, reload_settings, set_key, settings
from .errors import (
    AtelierError,
    BackendError,
    ConfigError,
    MissingKeyError,
    ModelUnavailableError,
    SpecError,
    SubmissionError,
    UnknownModelError,
    UnsupportedFeatureError,
)
from .models import (
    Backend,
    BatchResult,
    ChatRequest,
    Completion,
    Message,
    Usage,
    complete,
    complete_many,
    get_backend,
    ledger,
)

if TYPE_CHECKING:
    from .grading import check, grade

__version__ = "0.1.0"

__all__ = [
    "AtelierError",
    "Backend",
    "BackendError",
    "BatchResult",
    "ChatRequest",
    "Completion",
    "ConfigError",
    "Message",
    "MissingKeyError",
    "ModelUnavailableError",
    "Settings",
    "SpecError",
    "SubmissionError",
    "UnknownModelError",
    "UnsupportedFeatureError",
    "Usage",
    "check",
    "complete",
    "complete_many",
    "get_backend",
    "get_key",
    "grade",
    "ledger",
    "reload_settings",
    "set_key",
    "settings",
]


def __getattr__(name: str) -> Any:
    # the grading engine loads on first use, keeping `import promptatelier` light
    if name in {"check", "grade"}:
        from . import grading

        return getattr(grading, name)
    raise AttributeError(f"module 'promptatelier' has no attribute {name!r}")


def _register_error_display() -> None:
    # in a notebook, a kit error shows its message and fix instead of a traceback through the kit
    from ._ipython import register_error_display

    register_error_display()


_register_error_display()
