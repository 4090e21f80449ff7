"""Configuration, resolved in one place.

Order, first wins:
1. an explicit argument (``complete(..., model="openai:gpt-4.1-mini")``);
2. an environment variable (``ATELIER_MODEL``, ``ATELIER_GRADING_MODEL``...);
3. a ``.env`` file (in the current directory or the course root);
4. the course file ``atelier.toml`` (found from ``ATELIER_CONFIG`` or by walking up from the
   current directory);
5. the defaults below: everything on the embedded ``local`` model, no judge.

API keys follow the same order but never come from ``atelier.toml``, and a key typed into the
key widget (``set_key``) wins over all of them. Keys are kept in memory only: nothing here
writes a key anywhere.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any


from .errors import ConfigError

__all__ = [
    "Settings",
    "settings",
    "reload_settings",
    "set_key",
    "get_key",
    "key_source",
    "clear_keys",
    "KEY_ENV_VARS",
    "find_course_file",
]

CONFIG_FILE_NAME = "atelier.toml"

# provider -> environment variable holding its key
KEY_ENV_VARS: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-compatible": "ATELIER_COMPATIBLE_API_KEY",
}

# setting name -> environment variable
_ENV: dict[str, str] = {
    "model": "ATELIER_MODEL",
    "grading_model": "ATELIER_GRADING_MODEL",
    "judge_model": "ATELIER_JUDGE_MODEL",
    "concurrency": "ATELIER_CONCURRENCY",
    "requests_per_minute": "ATELIER_RPM",
    "max_retries": "ATELIER_MAX_RETRIES",
    "timeout_s": "ATELIER_TIMEOUT",
    "cache_path": "ATELIER_CACHE",
    "cache_enabled": "ATELIER_CACHE_ENABLED",
    "language": "ATELIER_LANG",
    "graders_dir": "ATELIER_GRADERS",
}

# where each setting sits in atelier.toml: (table, key)
_TOML: dict[str, tuple[str, str]] = {
    "model": ("models", "learner"),
    "grading_model": ("models", "grading"),
    "judge_model": ("models", "judge"),
    "concurrency": ("run", "concurrency"),
    "requests_per_minute": ("run", "requests_per_minute"),
    "max_retries": ("run", "max_retries"),
    "timeout_s": ("run", "timeout_s"),
    "cache_path": ("cache", "path"),
    "cache_enabled": ("cache", "enabled"),
    "language": ("course", "language"),
    "graders_dir": ("course", "graders"),
}


def _default_cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "prompt-atelier" / "responses.sqlite")


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. Build it with `settings()`; never holds a key."""

    model: str = "local"
    grading_model: str = "local"
    judge_model: str = ""
    # requests in flight at once; 0: each backend's own default (Backend.default_concurrency:
    # local 1, openai and openai-compatible 32, anthropic 16)
    concurrency: int = 0
    requests_per_minute: int = 0
    max_retries: int = 4
    timeout_s: float = 120.0
    cache_path: str = field(default_factory=_default_cache_path)
    cache_enabled: bool = True
    language: str = "en"
    # where exercise specs live; relative paths are taken from the course file's folder
    graders_dir: str = ""
    # the models a learner may pick in the widgets (the learner model is always among them)
    available_models: tuple[str, ...] = ()
    # model string (or "provider:*") -> {"input": USD per million tokens, "output": ...}
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    course_file: str | None = None

    @property
    def course_root(self) -> Path | None:
        return Path(self.course_file).parent if self.course_file else None


def find_course_file(start: Path | None = None) -> Path | None:
    """`ATELIER_CONFIG` if set, else the nearest atelier.toml from `start` upwards."""
    explicit = os.environ.get("ATELIER_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"ATELIER_CONFIG points to {path}, which is not a file.",
                "Set ATELIER_CONFIG to the path of the course's atelier.toml, or unset it.",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.",
            "Correct the line it names; see atelier.toml in the project root for a working example.",
        ) from exc


def _dotenv(course_file: Path | None) -> dict[str, str]:
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        # nbgrader's autograde runs learners' code in this kernel: it must find no instructor's
        # key, and the course's .env is the instructor's (`atelier grade` grades without it)
        return {}
    from dotenv import dotenv_values  # here, not at the top: `import promptatelier` stays quick

    values: dict[str, str] = {}
    places = [Path.cwd() / ".env"]
    if course_file is not None:
        places.insert(0, course_file.parent / ".env")
    for place in places:
        if place.is_file():
            values.update({k: v for k, v in dotenv_values(place).items() if v is not None})
    return values


def _coerce(name: str, raw: Any, origin: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "int":
            value: Any = int(raw)
            if value < 0:
                raise ValueError
            return value
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin} has {raw!r} for '{name}', which is not a valid {kind}.",
            f"Give '{name}' a {kind} value ({'a whole number ≥ 0' if kind == 'int' else kind}).",
        ) from None


@lru_cache(maxsize=1)
def _resolve() -> Settings:
    course_file = find_course_file()
    data = _read_toml(course_file) if course_file else {}
    dotenv = _dotenv(course_file)
    values: dict[str, Any] = {}
    for name, (table, key) in _TOML.items():
        section = data.get(table, {})
        if isinstance(section, dict) and key in section:
            values[name] = _coerce(name, section[key], f"{course_file} [{table}] {key}")
    for name, var in _ENV.items():
        if var in dotenv:
            values[name] = _coerce(name, dotenv[var], f".env {var}")
    for name, var in _ENV.items():
        if var in os.environ:
            values[name] = _coerce(name, os.environ[var], f"the environment variable {var}")
    if values.get("language", "en") not in {"en", "fr"}:
        raise ConfigError(
            f"The course language is {values['language']!r}.",
            "Set ATELIER_LANG or [course] language to 'en' or 'fr'.",
        )
    prices = data.get("prices", {})
    if not isinstance(prices, dict) or any(
        not isinstance(v, dict) or not {"input", "output"} <= set(v) for v in prices.values()
    ):
        raise ConfigError(
            f"{course_file}: the [prices] table is malformed.",
            'Write one entry per model: [prices."openai:gpt-4.1-mini"] input = 0.4  output = 1.6 '
            "(US dollars per million tokens).",
        )
    if course_file is not None:
        for name in ("cache_path", "graders_dir"):
            if values.get(name) and not Path(values[name]).is_absolute():
                values[name] = str(course_file.parent / values[name])
    available = data.get("models", {}).get("available", [])
    if not isinstance(available, list) or not all(isinstance(m, str) for m in available):
        raise ConfigError(
            f"{course_file}: [models] available must be a list of model strings.",
            'Write for example: available = ["local", "openai:gpt-4.1-mini"]',
        )
    learner = values.get("model", "local")
    values["available_models"] = tuple(dict.fromkeys([learner, *available]))
    return Settings(
        **values,
        prices={k: {"input": float(v["input"]), "output": float(v["output"])} for k, v in prices.items()},
        course_file=str(course_file) if course_file else None,
    )


def settings() -> Settings:
    """The configuration in force (cached; `reload_settings()` after changing files or env)."""
    return _resolve()


def reload_settings() -> Settings:
    _resolve.cache_clear()
    return _resolve()


# Keys typed into the key widget: this dict is the only place they live.
_session_keys: dict[str, str] = {}


def set_key(provider: str, key: str | None) -> None:
    """Keep `key` for `provider` in memory for this session (None or '' forgets it)."""
    if provider not in KEY_ENV_VARS:
        raise ConfigError(
            f"There is no provider called {provider!r}.",
            f"Use one of: {', '.join(KEY_ENV_VARS)}.",
        )
    if key:
        _session_keys[provider] = key.strip()
    else:
        _session_keys.pop(provider, None)


def clear_keys() -> None:
    _session_keys.clear()


def get_key(provider: str) -> str | None:
    """The key for `provider`: key widget, then environment, then .env; None when there is none."""
    source, value = _find_key(provider)
    return value


def key_source(provider: str) -> str | None:
    """Where the key for `provider` comes from ('session', 'environment', '.env') or None."""
    return _find_key(provider)[0]


def _find_key(provider: str) -> tuple[str | None, str | None]:
    if provider in _session_keys:
        return "session", _session_keys[provider]
    var = KEY_ENV_VARS.get(provider)
    if var is None:
        return None, None
    if os.environ.get(var):
        return "environment", os.environ[var]
    course_file = find_course_file()
    value = _dotenv(course_file).get(var)
    if value:
        return ".env", value
    return None, None


def mask(key: str | None) -> str:
    """A key as it may be shown: its first 3 and last 2 characters."""
    if not key:
        return "(none)"
    return f"{key[:3]}…{key[-2:]}" if len(key) > 8 else "•" * len(key)
