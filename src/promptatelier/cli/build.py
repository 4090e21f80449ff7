"""atelier build: the course sources become the learner and solution notebooks."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError

HELP = "Build notebooks/ and solutions/ from course/ with nbgrader (--check: fail if they are stale)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a scratch directory and fail, naming each stale file, "
                             "when the committed notebooks differ from what the sources produce")
    parser.add_argument("--root", type=Path,
                        help="the project root holding course/ and graders/ (default: the folder of "
                             "atelier.toml, else the current directory)")


def project_root(explicit: Path | None) -> Path:
    """The project root: --root, else the folder of atelier.toml, else the current directory."""
    from ..config import settings

    root = explicit or settings().course_root or Path.cwd()
    if not (root / "course").is_dir():
        raise ConfigError(
            f"{root} has no course/ folder.",
            "Run atelier build from the project root, or pass --root PATH.",
        )
    return root.resolve()


def run(args: argparse.Namespace) -> int:
    import sys

    from ..course import build, check

    root = project_root(args.root)
    if args.check:
        problems = check(root)
        if problems:
            print("atelier build --check: the generated notebooks are stale:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            print("  Fix: run `atelier build` and commit notebooks/, solutions/ and course/source/.",
                  file=sys.stderr)
            return 1
        print("notebooks/, solutions/ and course/source/ are up to date.")
        return 0
    touched = build(root)
    for rel in touched:
        print(f"wrote {rel}")
    print(f"{len(touched)} file(s) changed." if touched else "Nothing to do: everything is up to date.")
    return 0
