"""Criteria, registered by name so that specs can use them with arguments.

A criterion is a small callable returning a `Score`. Four families:

- ``output`` criteria get ``(output, case, spec, **args)``: one model output for one case;
- ``prompt`` criteria get ``(submission, spec, **args)``: the learner's prompt itself (with the
  hidden cases reachable through ``spec.hidden_cases()`` for the no-leak check);
- ``cases`` criteria get ``(outputs, spec, **args)``: every (case, output) pair at once, for
  properties of the whole set (outputs that do not change with the input);
- ``judge`` criteria are scored by an LLM judge (see `judge.py`); the runner batches them.

Register a new one with the decorator; its keyword-only parameters are the arguments a spec may
give, and their annotations are checked when the spec loads (a TOML ``"false"`` is not a bool)::

    @criterion("starts_with", family="output", label=("Starts with {prefix!r}", "Commence par {prefix!r}"))
    def starts_with(output, case, spec, *, prefix: str) -> Score: ...

Any argument may come from the case instead of the spec: ``text = { case = "vars.order_id" }``
(see `CaseRef`), resolved for each case before the criterion is called.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import SpecError

__all__ = [
    "Criterion",
    "CaseRef",
    "criterion",
    "get_criterion",
    "registry",
    "resolve_args",
    "has_case_refs",
    "parse_case_refs",
    "FAMILIES",
]

FAMILIES = ("output", "prompt", "cases", "judge")
# modules holding the built-in criteria, imported on first look-up
_MODULES = ("text", "structure", "language", "safety", "prompt", "judge", "logic", "copying", "meaning")


# ---------------------------------------------------------------- arguments taken from the case


@dataclass(frozen=True)
class CaseRef:
    """An argument read from each case: `path` is ``expected``, ``expected.<key>...`` or
    ``vars.<name>``; `format` wraps the value (``"ORD-{}"``), with `escape = "regex"` escaping it
    first so a case's text can sit inside a pattern."""

    path: str
    format: str | None = None
    escape: str | None = None

    def describe(self) -> str:
        return f"the case's {self.path}"

    def resolve(self, case: Any) -> Any:
        head, _, rest = self.path.partition(".")
        if head == "expected":
            value, where = case.expected, "expected"
            if value is None:
                raise self._missing(case, "has no expected answer")
        elif head == "vars":
            value, where = case.vars, "vars"
        elif head == "name":
            value, where = case.name, "name"
        else:  # checked at parse time; kept for direct use
            raise self._missing(case, "names neither expected, vars nor name")
        for key in rest.split(".") if rest else ():
            where += f".{key}"
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise self._missing(case, f"has no {where}")
        return self._formatted(value)

    def _formatted(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._formatted(v) for v in value]
        if self.escape == "regex" and not isinstance(value, (dict, list)):
            value = re.escape(str(value))
        if self.format is not None:
            return self.format.replace("{}", str(value))
        return value

    def _missing(self, case: Any, why: str) -> SpecError:
        name = getattr(case, "name", "?")
        return SpecError(
            f"A criterion takes an argument from the case's {self.path}, but case {name!r} {why}.",
            f"Give every case {self.path} (in its [[cases]] / [[hidden]] table), or write the argument as a plain value.",
        )


_REF_KEYS = {"case", "format", "escape"}


def parse_case_refs(value: Any) -> Any:
    """The argument with every ``{ case = "..." }`` table turned into a CaseRef (raises ValueError)."""
    if isinstance(value, dict):
        if "case" in value and set(value) <= _REF_KEYS:
            path = value["case"]
            if not isinstance(path, str) or not re.fullmatch(r"(expected|vars|name)(\.[\w-]+)*", path) or path == "vars":
                raise ValueError(
                    f'{{ case = {path!r} }} does not name a part of the case; write case = "expected", '
                    '"expected.<key>" or "vars.<name>"'
                )
            fmt, escape = value.get("format"), value.get("escape")
            if fmt is not None and (not isinstance(fmt, str) or "{}" not in fmt):
                raise ValueError('format must be a text holding {} where the case\'s value goes, e.g. format = "ORD-{}"')
            if escape not in (None, "regex"):
                raise ValueError('escape must be "regex" (or left out)')
            return CaseRef(path, fmt, escape)
        return {k: parse_case_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [parse_case_refs(v) for v in value]
    return value


def has_case_refs(value: Any) -> bool:
    if isinstance(value, CaseRef):
        return True
    if isinstance(value, dict):
        return any(has_case_refs(v) for v in value.values())
    if isinstance(value, list):
        return any(has_case_refs(v) for v in value)
    return False


def resolve_args(args: dict[str, Any], case: Any) -> dict[str, Any]:
    """The arguments with every CaseRef replaced by the case's value (raises SpecError)."""
    if not has_case_refs(args):
        return args

    def walk(value: Any) -> Any:
        if isinstance(value, CaseRef):
            return value.resolve(case)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return {k: walk(v) for k, v in args.items()}


# ---------------------------------------------------------------- type checks from annotations

_NONE = type(None)


_PLURAL = {bool: "true/false values", int: "whole numbers", float: "numbers", str: "texts", dict: "tables", list: "lists"}


def _plural(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_plural(a) for a in typing.get_args(hint) if a is not _NONE)
    if origin is list:
        return "lists"
    if origin is dict:
        return "tables"
    return _PLURAL.get(hint, "values")


def _toml_words(hint: Any) -> str:
    """What a value of this annotation looks like in TOML, for error messages."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not _NONE]
        return " or ".join(_toml_words(a) for a in members)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if origin is list:
        inner = typing.get_args(hint)
        return f"a list of {_plural(inner[0])}" if inner else "a list"
    if origin is dict or hint is dict:
        return "a table"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a text",
            list: "a list", Any: "any value"}.get(hint, getattr(hint, "__name__", str(hint)))


def _conforms(value: Any, hint: Any) -> bool:
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if isinstance(value, CaseRef):
        return True  # checked per case, once resolved
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is _NONE or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list or hint is list:
        inner = typing.get_args(hint)
        return isinstance(value, list) and (not inner or all(_conforms(v, inner[0]) for v in value))
    if origin is dict or hint is dict:
        inner = typing.get_args(hint)
        return isinstance(value, dict) and (not inner or all(_conforms(k, inner[0]) and _conforms(v, inner[1]) for k, v in value.items()))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Criterion:
    name: str
    family: str
    fn: Callable[..., Any]
    label: tuple[str, str] | Callable[[dict[str, Any], str], str]
    needs_expected: bool = False
    # a failed gate sets the whole exercise to 0 (e.g. answers leaked into the prompt)
    gate: bool = False
    # checks arguments at spec load time; raises ValueError with a readable message
    validate: Callable[[dict[str, Any]], None] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    # French words for argument values the French label shows, e.g. {"unit": {"words": "mots"}}
    fr_values: dict[str, dict[str, str]] = field(default_factory=dict)
    # keyword-only parameter -> its annotation (resolved), for type checks
    hints: dict[str, Any] = field(default_factory=dict)

    def describe(self, args: dict[str, Any], lang: str) -> str:
        if callable(self.label):
            return self.label(args, lang)
        template = self.label[1] if lang == "fr" else self.label[0]
        values = {**self.defaults, **{k: (v.describe() if isinstance(v, CaseRef) else v) for k, v in args.items()}}
        if lang == "fr":
            values = {k: self.fr_values.get(k, {}).get(v, v) if isinstance(v, str) else v for k, v in values.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template

    def check_args(self, args: dict[str, Any]) -> None:
        """Raise ValueError when `args` do not fit the criterion's signature and types.

        Arguments taken from the case are type-checked when a case resolves them
        (`check_resolved`); the criterion's own `validate` runs on plain values only.
        """
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
        self._check_types(args)
        if self.validate is not None and not has_case_refs(args):
            self.validate(args)

    def check_resolved(self, args: dict[str, Any]) -> None:
        """The type and value checks of arguments once a case has filled them in."""
        self._check_types(args)
        if self.validate is not None:
            self.validate(args)

    def _check_types(self, args: dict[str, Any]) -> None:
        for key, value in args.items():
            hint = self.hints.get(key, Any)
            if not _conforms(value, hint):
                raise ValueError(f"argument '{key}' must be {_toml_words(hint)}, got {_shown(value)}")


_registry: dict[str, Criterion] = {}
_loaded = False


def _keyword_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that cannot be resolved: no type check for it
        hints = {}
    return {n: hints.get(n, Any) for n, p in params.items() if p.kind == inspect.Parameter.KEYWORD_ONLY}


def criterion(
    name: str,
    *,
    family: str = "output",
    label: tuple[str, str] | Callable[[dict[str, Any], str], str] | None = None,
    needs_expected: bool = False,
    gate: bool = False,
    validate: Callable[[dict[str, Any]], None] | None = None,
    fr_values: dict[str, dict[str, str]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn` under `name`; a second criterion with the same name is refused."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}")

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        known = _registry.get(name)
        if known is not None and (known.fn.__module__, known.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(
                f"A criterion called {name!r} is already registered (by {known.fn.__module__}); "
                "choose another name."
            )
        defaults = {
            n: p.default
            for n, p in inspect.signature(fn).parameters.items()
            if p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
        }
        _registry[name] = Criterion(
            name, family, fn, label or (name, name), needs_expected, gate, validate, defaults, fr_values or {},
            _keyword_hints(fn),
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
