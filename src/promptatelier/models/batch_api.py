"""Providers' batch APIs: OpenAI's Batch API and Anthropic's Message Batches.

A batch costs half the price of the same requests sent live, and its results come back within
24 hours. One small contract, one module per provider (batch_openai.py, batch_anthropic.py), the
official SDK doing the HTTP with the backend's own client (key, base URL, retries, timeouts):

    api = batch_api("openai:gpt-4.1-mini")
    batch_id = api.submit([(custom_id, request), ...])
    api.status(batch_id)                       # BatchStatus: running, ended, failed...
    api.results(batch_id, {custom_id: request})  # custom_id -> Completion or ItemError

A custom_id is the request's response-cache key (`request_key`), so a result goes straight into
the cache and a grading run afterwards finds it there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from ..errors import AtelierError, ConfigError
from .base import Backend, ChatRequest, Completion, Message
from .cache import cache_key
from .cost import cost_of

__all__ = [
    "BATCH_DISCOUNT",
    "BatchAPI",
    "BatchStatus",
    "ItemError",
    "batch_api",
    "request_from_json",
    "request_json",
    "request_key",
    "split",
]

# what a batch costs against the same requests sent live (both providers: half)
BATCH_DISCOUNT = 0.5

# states of a batch, the same words for every provider
RUNNING, ENDED, FAILED, EXPIRED, CANCELLED = "running", "ended", "failed", "expired", "cancelled"


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch is: `state` one of running, ended, failed, expired, cancelled."""

    id: str
    state: str
    total: int = 0
    succeeded: int = 0
    errored: int = 0
    message: str = ""  # the provider's reason for a failed batch

    @property
    def running(self) -> bool:
        return self.state == RUNNING


@dataclass(frozen=True)
class ItemError:
    """A request of a batch that has no answer: `errored` (the request itself failed: sending it
    live may work) or `unfinished` (the batch expired, was cancelled or failed before it ran)."""

    kind: str
    message: str


def request_key(backend: Backend, request: ChatRequest) -> str:
    """The custom_id of a request: its response-cache key (64 hex digits, which both providers
    accept as a custom_id)."""
    return cache_key(backend.cache_identity, request)


def request_json(request: ChatRequest) -> str:
    return json.dumps(asdict(request), ensure_ascii=False, separators=(",", ":"))


def request_from_json(text: str) -> ChatRequest:
    data = json.loads(text)
    data["messages"] = tuple(Message(m["role"], m["content"]) for m in data["messages"])
    data["stop"] = tuple(data.get("stop") or ())
    return ChatRequest(**data)


class BatchAPI:
    """One provider's batch endpoints, through the backend's SDK client."""

    provider: ClassVar[str] = ""
    # the provider's limits on one batch (requests, bytes of requests); `split` keeps under both
    max_requests: ClassVar[int] = 50_000
    max_bytes: ClassVar[int] = 100_000_000

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """One request as the provider's batch takes it."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise a ConfigError when this server cannot take batches (before anything is sent)."""
        self.backend._key()  # a missing key says how to set it

    def submit(self, items: Sequence[tuple[str, ChatRequest]]) -> str:
        raise NotImplementedError

    def status(self, batch_id: str) -> BatchStatus:
        raise NotImplementedError

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> dict[str, Completion | ItemError]:
        """Every request of the batch: its Completion (priced at the batch discount) or why none."""
        raise NotImplementedError

    # --- shared helpers ----------------------------------------------------------------------
    def _client(self) -> Any:
        return self.backend._sync_client()

    def _priced(self, completion: Completion) -> Completion:
        return replace(completion, cost_usd=cost_of(self.backend.name, completion.usage) * BATCH_DISCOUNT,
                       latency_s=0.0, retries=0)

    def _sdk(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """An SDK call, its exceptions said as the backend says them (the key masked)."""
        try:
            return call(*args, **kwargs)
        except AtelierError:
            raise
        except Exception as exc:
            raise self.backend._translate(exc) from None


def split(items: Sequence[tuple[str, ChatRequest]], api: BatchAPI, limit: int | None = None) -> list[list[tuple[str, ChatRequest]]]:
    """Items in batches under the provider's count and size limits (and `limit` requests)."""
    most = min(api.max_requests, limit) if limit else api.max_requests
    batches: list[list[tuple[str, ChatRequest]]] = []
    current: list[tuple[str, ChatRequest]] = []
    size = 0
    for custom_id, request in items:
        n = len(json.dumps(api.line(custom_id, request), ensure_ascii=False).encode()) + 1
        if current and (len(current) >= most or size + n > api.max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append((custom_id, request))
        size += n
    if current:
        batches.append(current)
    return batches


def batch_api(model: str | Backend) -> BatchAPI:
    """The batch API of `model`'s provider, or a ConfigError saying what to do instead."""
    from .registry import get_backend

    backend = get_backend(model)
    provider = getattr(backend, "provider", "")
    if provider in ("openai", "openai-compatible"):
        from .batch_openai import OpenAIBatch

        return OpenAIBatch(backend)
    if provider == "anthropic":
        from .batch_anthropic import AnthropicBatch

        return AnthropicBatch(backend)
    if provider == "local":
        problem = (f"--batch sends requests through a provider's batch API, and {backend.name} (the embedded "
                   "model) runs on this machine: it has none.")
    else:
        problem = f"--batch sends requests through a provider's batch API, and {backend.name} has none."
    raise ConfigError(problem, "Grade without --batch, or grade with a hosted model that has one: "
                               "--model openai:MODEL or anthropic:MODEL (or [models] grading in atelier.toml).")
