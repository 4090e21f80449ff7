"""atelier ask: one prompt, one reply, printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError

HELP = "Send one prompt to a model and print the reply's text."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="the user message ('-' reads it from standard input)")
    parser.add_argument("--model", "-m", help="model string (default: the course's learner model)")
    parser.add_argument("--system", "-s", help="system prompt")
    parser.add_argument("--temperature", "-t", type=float, default=0.0)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-schema", type=Path, help="a JSON Schema file the reply must follow")
    parser.add_argument("--usage", action="store_true", help="also print tokens, latency and cost")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..models import complete

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    schema = None
    if args.json_schema:
        try:
            schema = json.loads(args.json_schema.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Cannot read the JSON schema {args.json_schema}: {exc}.",
                "Give the path of a file holding one JSON Schema object.",
            ) from exc
    reply = complete(
        prompt, model=args.model, system=args.system, temperature=args.temperature,
        max_tokens=args.max_tokens, seed=args.seed, json_schema=schema,
    )
    print(reply.text)
    if args.usage:
        print(
            f"[{reply.model}] {reply.usage.input_tokens} in / {reply.usage.output_tokens} out tokens, "
            f"{reply.latency_s:.2f} s, ${reply.cost_usd:.6f}{' (cached)' if reply.cached else ''}"
        )
    return 0
