"""Criteria, registered by name so that specs can use them with arguments.

A criterion is a small callable returning a `Score`. Three families:

- ``output`` criteria get ``(output, case, spec, **args)``: one model output for one case;
- ``prompt`` criteria get ``(submission, spec, **args)``: the learner's prompt itself (with the
  hidden cases reachable through ``spec.hidden_cases()`` for the no-leak check);
- ``judge`` criteria are scored by an LLM judge (see `judge.py`); the runner batches them.

Register a new one with the decorator::

    @criterion("starts_with", family="output", label=("Starts with {prefix!r}", "Commence par {prefix!r}"))
    def starts_with(output, case, spec, *, prefix: str) -> Score: ...
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import SpecError

__all__ = ["Criterion", "criterion", "get_criterion", "registry", "FAMILIES"]

FAMILIES = ("output", "prompt", "judge")
# modules holding the built-in criteria, imported on first look-up
_MODULES = ("text", "structure", "language", "safety", "prompt", "judge")


@dataclass(frozen=True)
class Criterion:
    name: str
    family: str
    fn: Callable[..., Any]
    label: tuple[str, str]
    needs_expected: bool = False
    # a failed gate sets the whole exercise to 0 (e.g. answers leaked into the prompt)
    gate: bool = False
    # checks arguments at spec load time; raises ValueError with a readable message
    validate: Callable[[dict[str, Any]], None] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    # French words for argument values the French label shows, e.g. {"unit": {"words": "mots"}}
    fr_values: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self, args: dict[str, Any], lang: str) -> str:
        template = self.label[1] if lang == "fr" else self.label[0]
        values = {**self.defaults, **args}
        if lang == "fr":
            values = {k: self.fr_values.get(k, {}).get(v, v) if isinstance(v, str) else v for k, v in values.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template

    def check_args(self, args: dict[str, Any]) -> None:
        """Raise ValueError when `args` do not fit the criterion's signature."""
        params = inspect.signature(self.fn).parameters
        accepted = {n for n, p in params.items() if p.kind == inspect.Parameter.KEYWORD_ONLY}
        required = {n for n in accepted if params[n].default is inspect.Parameter.empty}
        unknown = set(args) - accepted
        if unknown:
            raise ValueError(
                f"unknown argument(s) {sorted(unknown)}; '{self.name}' accepts {sorted(accepted) or 'none'}"
            )
        missing = required - set(args)
        if missing:
            raise ValueError(f"missing argument(s) {sorted(missing)} for '{self.name}'")
        if self.validate is not None:
            self.validate(args)


_registry: dict[str, Criterion] = {}
_loaded = False


def criterion(
    name: str,
    *,
    family: str = "output",
    label: tuple[str, str] | None = None,
    needs_expected: bool = False,
    gate: bool = False,
    validate: Callable[[dict[str, Any]], None] | None = None,
    fr_values: dict[str, dict[str, str]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn` under `name` (a later registration with the same name replaces it)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}")

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        defaults = {
            n: p.default
            for n, p in inspect.signature(fn).parameters.items()
            if p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
        }
        _registry[name] = Criterion(
            name, family, fn, label or (name, name), needs_expected, gate, validate, defaults, fr_values or {}
        )
        return fn

    return wrap


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _MODULES:
            importlib.import_module(f"{__name__}.{module}")


def registry() -> dict[str, Criterion]:
    """Every registered criterion by name."""
    _load_builtins()
    return dict(_registry)


def get_criterion(name: str) -> Criterion:
    _load_builtins()
    try:
        return _registry[name]
    except KeyError:
        raise SpecError(
            f"No criterion is called {name!r}.",
            f"Use one of: {', '.join(sorted(_registry))} (graders/README.md describes each).",
        ) from None
