"""A scripted backend for unit tests: deterministic, instant, no dependency.

`mock` echoes the last user message; `mock:upper` upper-cases it; a test can also give the
backend a function or a list of replies with `MockBackend.script(...)`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ModelUnavailableError
from .base import Backend, ChatRequest, Completion, TokenLogprob, TopLogprob, Usage

__all__ = ["MockBackend"]

Responder = Callable[[ChatRequest], "str | Completion | Exception"]


def _echo(request: ChatRequest) -> str:
    users = [m.content for m in request.messages if m.role == "user"]
    return users[-1] if users else ""


class MockBackend(Backend):
    provider = "mock"
    honours_seed = True  # its replies depend on the request alone
    default_concurrency = 64

    def __init__(self, name: str = "mock", rest: str = "") -> None:
        super().__init__(name)
        self.calls: list[ChatRequest] = []
        self._lock = threading.Lock()
        self._replies: list[str | Completion | Exception] = []
        self._responder: Responder = (lambda r: _echo(r).upper()) if rest == "upper" else _echo

    def script(
        self,
        responder: Responder | None = None,
        replies: Iterable[str | Completion | Exception] = (),
    ) -> MockBackend:
        """Answer with `replies` in order (then `responder`), or with `responder(request)`."""
        with self._lock:
            if responder is not None:
                self._responder = responder
            self._replies = list(replies)
        return self

    def complete(self, request: ChatRequest) -> Completion:
        with self._lock:
            self.calls.append(request)
            reply: Any = self._replies.pop(0) if self._replies else self._responder(request)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Completion):
            return reply
        text = str(reply)
        if request.json_schema is not None and not _is_json(text):
            text = json.dumps({"text": text})
        words = text.split()
        logprobs = None
        if request.logprobs:
            logprobs = tuple(
                TokenLogprob(w, -0.1, tuple(TopLogprob(t, lp) for t, lp in ((w, -0.1), ("…", -2.5))[: max(1, request.top_logprobs)]))
                for w in words
            )
        prompt_words = sum(len(m.content.split()) for m in request.messages) + len((request.system or "").split())
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(input_tokens=prompt_words, output_tokens=len(words)),
            latency_s=0.0,
            finish_reason="stop",
            logprobs=logprobs,
        )

    @staticmethod
    def outage(message: str = "The mock model is down.") -> ModelUnavailableError:
        return ModelUnavailableError(message, "Start the server again, or switch to the local model.")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
