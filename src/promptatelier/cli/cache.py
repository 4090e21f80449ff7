"""atelier cache stats|clear."""

from __future__ import annotations

import argparse

HELP = "Show the response cache's size and hit rate, or clear it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["stats", "clear"])


def run(args: argparse.Namespace) -> int:
    from ..models import get_cache

    cache = get_cache()
    if args.action == "clear":
        print(f"Removed {cache.clear()} cached responses from {cache.path}.")
        return 0
    s = cache.stats()
    print(f"cache:    {s.path}")
    print(f"entries:  {s.entries}")
    print(f"size:     {s.size_bytes / 1024:.1f} KiB")
    print(f"hits:     {s.hits}")
    print(f"misses:   {s.misses}")
    print(f"hit rate: {s.hit_rate:.0%}")
    return 0
