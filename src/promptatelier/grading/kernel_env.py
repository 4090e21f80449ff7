"""Kernels that nbgrader starts (autograde, validate, generate_solution) get no API key.

Learner code runs in those kernels and can print `os.environ`: with the instructor's keys in the
environment of `nbgrader autograde`, a key would land in `autograded/` and in the learner's
feedback. nbgrader's `Execute` hard-wires its kernel manager (a constructor default that
configuration cannot override), so `scrub_kernels(c)` in nbgrader_config.py swaps `Execute` for
`ScrubbedExecute` in every preprocessor list that runs notebooks, and its kernel manager removes
the credentials from the kernel's environment. Files are another matter: code in such a kernel can
still read `.env` or `graders/` from disk, which is why `atelier grade` (which runs no learner
code) replaces autograde, and autograde must not run on the instructor's course checkout.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import Any

from .redact import is_secret_name, secret_values

__all__ = ["ScrubbedExecute", "ScrubbedKernelManager", "scrub_kernels", "scrubbed_env"]


def scrubbed_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without credentials: secret-named variables (`*_API_KEY`, `*_TOKEN`, `ATELIER_*KEY*`...)
    and any variable holding a key the kit would use (environment or `.env`)."""
    secrets = secret_values(env)
    return {k: v for k, v in env.items() if not is_secret_name(k) and v not in secrets}


@functools.cache
def _classes() -> dict[str, type]:
    """The two classes, built on first use: they subclass jupyter_client's and nbgrader's, whose
    import a process that only reads the course's paths (`atelier grade`) must not pay."""
    from jupyter_client.manager import AsyncKernelManager
    from nbgrader.preprocessors import Execute

    class ScrubbedKernelManager(AsyncKernelManager):
        """jupyter_client's kernel manager, launching kernels with a scrubbed environment."""

        async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
            cmd, kw = await super()._async_pre_start_kernel(**kw)
            kw["env"] = scrubbed_env(kw.get("env") or os.environ)
            return cmd, kw

    class ScrubbedExecute(Execute):
        """nbgrader's Execute (same configuration: `c.Execute.timeout`...) on scrubbed kernels."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("kernel_manager_class", ScrubbedKernelManager)
            super().__init__(*args, **kwargs)

    for cls in (ScrubbedKernelManager, ScrubbedExecute):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return {"ScrubbedKernelManager": ScrubbedKernelManager, "ScrubbedExecute": ScrubbedExecute, "Execute": Execute}


def __getattr__(name: str) -> Any:
    if name in ("ScrubbedKernelManager", "ScrubbedExecute"):
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _swapped(cls: type, trait: str) -> list[Any]:
    classes = _classes()
    default = cls.class_traits()[trait].default()
    return [classes["ScrubbedExecute"] if step is classes["Execute"] else step for step in default]


def scrub_kernels(c: Any) -> None:
    """In nbgrader_config.py: every nbgrader command that executes notebooks does it on
    scrubbed kernels. Call it after any change of these lists (it starts from nbgrader's defaults).

    In a process that has not loaded nbgrader's converters, nothing can run a notebook (`atelier
    grade` reads this file only for the course's paths): it leaves the configuration alone.
    """
    if "nbgrader.converters" not in sys.modules:
        return
    from nbgrader.converters import Autograde, GenerateSolution
    from nbgrader.validator import Validator

    c.Autograde.autograde_preprocessors = _swapped(Autograde, "autograde_preprocessors")
    c.GenerateSolution.preprocessors = _swapped(GenerateSolution, "preprocessors")
    c.Validator.preprocessors = _swapped(Validator, "preprocessors")
