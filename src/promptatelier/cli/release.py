"""atelier release: the learners' copy of the course, without solutions or hidden cases."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Write the learners' copy of the course (notebooks, kit, specs without hidden cases or solutions) into a folder."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dest", type=Path, metavar="FOLDER", help="where to write it (outside the course repository)")
    parser.add_argument("--lang", nargs="+", choices=["en", "fr"], default=["en", "fr"],
                        help="the languages to include (default: both)")
    parser.add_argument("--force", action="store_true", help="replace FOLDER when it holds an earlier release")
    parser.add_argument("--root", type=Path,
                        help="the project root holding notebooks/ and graders/ (default: the folder of "
                             "atelier.toml, else the current directory)")


def run(args: argparse.Namespace) -> int:
    from ..course.release import release
    from .build import project_root

    written = release(project_root(args.root), args.dest, tuple(args.lang), force=args.force)
    notebooks = sum(1 for p in written if p.suffix == ".ipynb")
    specs = sum(1 for p in written if p.suffix == ".toml" and "graders" in p.parts)
    print(f"Released {len(written)} files into {args.dest}: {notebooks} notebooks, {specs} exercise specs "
          "(no hidden cases, reference solutions or baselines).")
    print("Checked: no hidden case, reference solution or solution marker is in any of them.")
    return 0
