"""The `atelier` command. Each subcommand is a module of this package that defines
`HELP` (one line), `add_arguments(parser)` and `run(args) -> int`; modules are discovered, so
adding a command means adding a module. Heavy imports stay inside `run`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from ..errors import AtelierError

__all__ = ["main"]


def _commands() -> dict[str, object]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "run") and hasattr(module, "add_arguments"):
            found[getattr(module, "NAME", info.name)] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atelier",
        description="Prompt Atelier: build, check and grade a prompt-engineering course.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _commands().items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)  # type: ignore[attr-defined]
        module.add_arguments(command)  # type: ignore[attr-defined]
        command.set_defaults(_run=module.run)  # type: ignore[attr-defined]
    return parser


def _own_bin_on_path() -> None:
    """nbgrader runs `alembic` (and the build runs `nbgrader`) by name: make the commands installed
    beside this interpreter findable even when the virtual environment is not activated."""
    import os

    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if here not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([here, path]) if path else here


def _short_lived_process() -> None:
    """GC settings for the `atelier` process alone: its heap is mostly imported modules and
    SDK/ORM objects that live to the end, which CPython's default thresholds rescan again and
    again (0.4-0.6 s of CPU in a cohort's `atelier grade`); cycles still get collected."""
    import gc

    gc.set_threshold(10_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> int:
    process = argv is None  # the `atelier` command itself, not a caller in Python (tests, notebooks)
    if process:
        _short_lived_process()
    _own_bin_on_path()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except AtelierError as exc:
        print(f"atelier {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"atelier {args.command}: interrupted.", file=sys.stderr)
        return 130
    finally:
        if process:
            import gc

            gc.freeze()  # the interpreter's exit then skips collecting the whole heap (0.3 s after a grade)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
