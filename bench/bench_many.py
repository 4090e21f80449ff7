"""complete_many's throughput against a server that answers every request after 200 ms.

    .venv/bin/python bench/bench_many.py            # 1,000 requests at concurrency 32
    .venv/bin/python bench/bench_many.py --quick    # 320 requests (CI)

The server (tests/support/delay_app.py: uvicorn, asyncio) runs in its own process; requests go
through the openai-compatible backend (the official openai SDK, async client) with the cache off.
The ideal is concurrency / delay = 160 requests/s; the target is 90 % of it. The last line is
`RESULT many_throughput_ratio <ratio> target 0.90 <ok|MISSED>`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 0.90


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, for CI")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.2, help="server delay per request, seconds")
    parser.add_argument("--profile", action="store_true", help="cProfile the client side, top 25 lines")
    args = parser.parse_args()
    n = args.requests or (320 if args.quick else 1000)

    os.environ["ATELIER_CACHE_ENABLED"] = "0"
    from promptatelier.config import reload_settings
    from promptatelier.models import complete_many
    from tests.support import delay_server

    reload_settings()
    prompts = [f"request {i}: say something short" for i in range(n)]
    with delay_server(args.delay) as server:
        # a short warm-up so that imports and the first connections are not measured
        complete_many(prompts[: args.concurrency], model=server.model_string, concurrency=args.concurrency,
                      cache=False, progress=False).raise_first()
        server_before = server.stats()["requests"]
        load_before = os.getloadavg()[0]
        client_cpu, server_cpu = time.process_time(), _process_cpu_s(server.process.pid)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        result = complete_many(prompts, model=server.model_string, concurrency=args.concurrency,
                               cache=False, progress=False)
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        client_cpu = time.process_time() - client_cpu
        server_cpu = _process_cpu_s(server.process.pid) - server_cpu
        stats = server.stats()
    ideal = args.concurrency / args.delay
    rate = n / result.wall_s
    ratio = rate / ideal
    ok = ratio >= TARGET and result.failures == 0
    print(f"requests {n}  concurrency {args.concurrency}  server delay {args.delay * 1000:.0f} ms")
    print(f"wall {result.wall_s:.2f} s  throughput {rate:.1f} req/s  ideal {ideal:.1f} req/s")
    print(f"failures {result.failures}  retries {result.retries}  server saw {stats['requests'] - server_before} "
          f"requests, at most {stats['max_in_flight']} in flight")
    print(f"CPU per request: client {client_cpu / n * 1000:.2f} ms, server {server_cpu / n * 1000:.2f} ms; "
          f"{os.cpu_count()} cores, load average {load_before:.1f} before the run (other work competes for them)")
    print(f"RESULT many_throughput_ratio {ratio:.3f} target {TARGET:.2f} {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
