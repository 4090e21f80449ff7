"""A scripted HTTP server on 127.0.0.1 speaking the OpenAI chat-completions and Anthropic Messages
wire formats, for testing the real SDKs against answers we choose.

    with ScriptedServer() as server:                     # a free port, stopped on exit
        server.queue(error(429, retry_after=0.05), reply("hello"))
        backend = ...  # point the SDK at server.url + "/v1" (OpenAI) or server.url (Anthropic)
        ...
        server.requests[-1].json                          # what the SDK sent
        server.max_in_flight                              # the most requests served at once

Without a queued action, `responder(request)` decides (default: echo the last user message).
An action is a reply, an HTTP error (with Retry-After and friends), or a dropped connection, each
after an optional delay. Routes: POST /v1/chat/completions, POST /v1/messages, GET /v1/models.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire

__all__ = ["Action", "Recorded", "ScriptedServer", "reply", "error", "drop"]


@dataclass
class Action:
    """What the server does with one request."""

    status: int = 200
    text: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    body: dict[str, Any] | None = None
    finish_reason: str = "stop"


def reply(text: str, *, delay_s: float = 0.0, finish_reason: str = "stop", body: dict[str, Any] | None = None) -> Action:
    """A successful answer with `text` (or a raw `body`)."""
    return Action(text=text, delay_s=delay_s, finish_reason=finish_reason, body=body)


def error(
    status: int,
    message: str = "",
    *,
    retry_after: float | None = None,
    delay_s: float = 0.0,
    headers: dict[str, str] | None = None,
    kind: str | None = None,
) -> Action:
    """An HTTP error in the provider's error format; `retry_after` sets the Retry-After header,
    `kind` the OpenAI error's type (a gateway's budget_exceeded, say)."""
    extra = dict(headers or {})
    if retry_after is not None:
        extra["retry-after"] = f"{retry_after:g}"
    text = message or f"scripted error {status}"
    body = None if kind is None else {"error": {"message": text, "type": kind, "param": None, "code": str(status)}}
    return Action(status=status, message=text, headers=extra, delay_s=delay_s, body=body)


def drop(*, delay_s: float = 0.0) -> Action:
    """Close the connection without answering (a crashed proxy, a network cut)."""
    return Action(drop=True, delay_s=delay_s)


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any]
    at: float

    @property
    def prompt(self) -> str:
        return wire.prompt_text(self.json)

    @property
    def retry_count(self) -> int:
        """The SDK's own count of retries for this request (its x-stainless-retry-count header)."""
        return int(self.headers.get("x-stainless-retry-count", "0"))


Responder = Callable[[Recorded], "Action | str"]


def echo(request: Recorded) -> Action:
    return reply(f"echo: {request.prompt}")


class ScriptedServer:
    """A threaded HTTP/1.1 server with keep-alive; each connection has its own thread."""

    def __init__(self, responder: Responder = echo, *, delay_s: float = 0.0, models: list[str] | None = None) -> None:
        self.responder = responder
        self.delay_s = delay_s
        self.models = models or ["scripted"]
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Action] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ---------------------------------------------------------------------------
    def queue(self, *actions: Action) -> ScriptedServer:
        """Answer the next requests with these actions, in order, before using the responder."""
        with self._lock:
            self._script.extend(actions)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.in_flight = self.max_in_flight = 0

    def calls(self, path_suffix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- life cycle --------------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving -----------------------------------------------------------------------------
    def _next_action(self, request: Recorded) -> Action:
        with self._lock:
            self.requests.append(request)
            action = self._script.popleft() if self._script else None
        if action is None:
            made = self.responder(request)
            action = reply(made) if isinstance(made, str) else made
        return action


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 makes bursts of connections wait for SYN retries


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access logs
        return

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            anthropic = "anthropic-version" in {k.lower() for k in self.headers}
            body = wire.anthropic_models(self.owner.models) if anthropic else wire.openai_models(self.owner.models)
            self._send(200, body)
        else:
            self._send(404, wire.openai_error(404, f"no route {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        request = Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
        owner = self.owner
        with owner._lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            action = owner._next_action(request)
            delay = action.delay_s or owner.delay_s
            if delay:
                time.sleep(delay)
            if action.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._answer(request, action)
        finally:
            with owner._lock:
                owner.in_flight -= 1

    def _answer(self, request: Recorded, action: Action) -> None:
        anthropic = request.path.rstrip("/").endswith("/messages")
        if not anthropic and not request.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, wire.openai_error(404, f"no route {request.path}"))
            return
        model = str(request.json.get("model", "scripted"))
        if action.status != 200:
            make = wire.anthropic_error if anthropic else wire.openai_error
            self._send(action.status, action.body or make(action.status, action.message), action.headers)
            return
        if action.body is not None:
            self._send(200, action.body, action.headers)
            return
        prompt_words = sum(wire.words(str(m.get("content", ""))) for m in request.json.get("messages", []))
        if anthropic:
            prompt_words += wire.words(str(request.json.get("system", "")))
            stop = "max_tokens" if action.finish_reason == "length" else "end_turn"
            self._send(200, wire.anthropic_message(action.text, model, prompt_words, stop), action.headers)
        else:
            self._send(200, wire.openai_chat(action.text, model, prompt_words, action.finish_reason), action.headers)
