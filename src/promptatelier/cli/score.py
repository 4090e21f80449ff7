"""atelier score EXERCISE FILE.json: score sample outputs against an exercise's rubric, with no
model call, to try a rubric before any model runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "Score outputs (a JSON object: case name -> output text) with an exercise's rubric; no model call."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", help="the exercise id, e.g. m06.sentiment")
    parser.add_argument("file", help='a JSON file {"case name": "output text", ...}, or - for standard input')
    parser.add_argument("--visible", action="store_true", help="only the visible cases (default: visible and hidden)")
    parser.add_argument("--lang", choices=("en", "fr"), default=None, help="the course language (cases and feedback)")
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")


def run(args: argparse.Namespace) -> int:
    from ..config import settings
    from ..errors import AtelierError
    from ..grading import score_outputs

    source = "standard input" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        outputs = json.loads(text)
    except OSError as exc:
        raise AtelierError(f"Cannot read {source}: {exc.strerror}.", "Give the path of a JSON file of outputs.") from None
    except ValueError as exc:
        raise AtelierError(f"{source} is not JSON ({exc}).", 'Write {"case name": "output text", ...}.') from None
    if not isinstance(outputs, dict):
        raise AtelierError(f"{source} holds a JSON {type(outputs).__name__}, not an object.",
                           'Write {"case name": "output text", ...}.')
    evaluation = score_outputs(args.exercise, outputs, cases="visible" if args.visible else "all", lang=args.lang)
    if args.json:
        print(json.dumps(evaluation.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(evaluation.feedback_text(args.lang or settings().language))
    return 0
