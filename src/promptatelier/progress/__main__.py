"""`python -m promptatelier.progress`: the progress service, as JupyterHub runs it.

`--check` runs only the checks (settings, results folder, port) and exits: deploy/atelier_hub.py
calls it when the hub loads its configuration, so a mistake stops the hub with the fix.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .service import ProgressConfigError, ServiceSettings, bind, check_data_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promptatelier.progress", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the settings, the folder and the port, then exit")
    args = parser.parse_args(argv)
    try:
        settings = ServiceSettings.from_environ(need_hub=not args.check)
        check_data_dir(settings.data_dir)
        sockets = bind(settings.host, settings.port)
    except ProgressConfigError as exc:
        print(f"atelier-progress: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for s in sockets:
            s.close()
        return 0
    asyncio.run(_serve(settings, sockets))
    return 0


async def _serve(settings: ServiceSettings, sockets: list) -> None:  # type: ignore[type-arg]
    from tornado.httpserver import HTTPServer

    from .app import make_app
    from .store import Store

    store = Store(settings.data_dir)
    server = HTTPServer(make_app(settings, store), xheaders=True)
    server.add_sockets(sockets)
    print(f"atelier-progress: listening on http://{settings.host}:{settings.port}{settings.prefix} "
          f"(results in {store.path}; prompts {'kept' if settings.share_prompts else 'not kept'})", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    store.close()


if __name__ == "__main__":
    sys.exit(main())
