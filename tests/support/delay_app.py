"""A tiny asyncio OpenAI-compatible server that answers every chat completion after a fixed
delay: the load target of bench/bench_many.py, and of anyone measuring our client's overhead.

    python -m tests.support.delay_app --port 8123 --delay 0.2

A plain ASGI app (no framework) on uvicorn, one process. GET /stats gives the number of requests
served and the most in flight at once; POST /stats resets them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from . import wire

Scope = dict[str, Any]


class DelayApp:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path == "/stats":
            if method == "POST":
                self.requests = self.max_in_flight = 0
            await _send_json(send, 200, {"requests": self.requests, "max_in_flight": self.max_in_flight})
        elif path.endswith("/models"):
            await _send_json(send, 200, wire.openai_models(["delay"]))
        elif path.endswith("/chat/completions") and method == "POST":
            await self._complete(json.loads(body or b"{}"), send)
        else:
            await _send_json(send, 404, wire.openai_error(404, f"no route {path}"))

    async def _complete(self, request: dict[str, Any], send: Any) -> None:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        text = f"echo: {wire.prompt_text(request)}"
        await _send_json(send, 200, wire.openai_chat(text, str(request.get("model", "delay")), wire.words(text)))


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    uvicorn.run(
        DelayApp(args.delay), host="127.0.0.1", port=args.port, log_level="warning",
        access_log=False, backlog=2048, timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
