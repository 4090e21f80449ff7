"""`complete` and `complete_many`: the cache, the ledger and concurrency around any backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ..config import settings
from ..errors import AtelierError, BackendError
from .base import Backend, ChatRequest, Completion, Message
from .cache import ResponseCache, get_cache
from .cost import cost_of, ledger
from .registry import get_backend

__all__ = ["complete", "complete_many", "make_request", "BatchResult", "is_cacheable", "concurrency_for",
           "shared_concurrency"]

Prompt = str | list[dict[str, str]] | list[Message] | tuple[Message, ...]
RequestLike = str | ChatRequest | dict[str, Any] | list[dict[str, str]]


def make_request(prompt: Prompt | ChatRequest, **params: Any) -> ChatRequest:
    """A ChatRequest from a prompt and keyword parameters (None values mean the default)."""
    if isinstance(prompt, ChatRequest):
        return prompt.with_(**{k: v for k, v in params.items() if v is not None}) if params else prompt
    clean = {k: v for k, v in params.items() if v is not None}
    return ChatRequest.from_prompt(prompt, **clean)


def is_cacheable(request: ChatRequest, backend: Backend | None = None) -> bool:
    """Reproducible requests are cached: temperature 0, or a fixed seed on a backend whose seeds
    hold (`Backend.honours_seed`); with no backend, temperature 0 only."""
    if backend is None:
        return request.temperature == 0
    return backend.reproducible(request)


def concurrency_for(model: str | Backend | None = None, concurrency: int | None = None) -> int:
    """How many requests to `model` to keep in flight: `concurrency` if given, else the course's
    setting (ATELIER_CONCURRENCY, `[run] concurrency`), else the backend's own default; never
    more than the backend can run at once (the local model: 1)."""
    backend = get_backend(model)
    limit = concurrency or settings().concurrency or backend.default_concurrency
    if backend.max_parallel:
        limit = min(limit, backend.max_parallel)
    return max(1, limit)


def _resolve_cache(cache: bool | ResponseCache) -> ResponseCache | None:
    if isinstance(cache, ResponseCache):
        return cache
    if cache and settings().cache_enabled:
        return get_cache()
    return None


def _finish(backend: Backend, completion: Completion, tag: str | None) -> Completion:
    if not completion.cached and completion.cost_usd == 0.0:
        completion = replace(completion, cost_usd=cost_of(backend.name, completion.usage))
    ledger().record(completion, tag)
    return completion


def complete(
    prompt: Prompt | ChatRequest,
    model: str | Backend | None = None,
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
    json_schema: dict[str, Any] | None = None,
    logprobs: bool | None = None,
    top_logprobs: int | None = None,
    cache: bool | ResponseCache = True,
    tag: str | None = None,
) -> Completion:
    """One completion. `model` is a model string (default: the course's learner model).

    >>> complete("Name three colours.", model="local", temperature=0, seed=1).text  # doctest: +SKIP
    """
    backend = get_backend(model)
    request = make_request(
        prompt, system=system, temperature=temperature, max_tokens=max_tokens, seed=seed, stop=stop,
        json_schema=json_schema, logprobs=logprobs, top_logprobs=top_logprobs,
    )
    store = _resolve_cache(cache) if is_cacheable(request, backend) else None
    identity = backend.cache_identity if store is not None else ""
    if store is not None:
        hit = store.get(identity, request)
        if hit is not None:
            return _finish(backend, replace(hit, cached=True, latency_s=0.0), tag)
    completion = backend.complete(request)
    if store is not None:
        store.put(identity, request, completion)
    return _finish(backend, completion, tag)


class BatchResult(list):  # type: ignore[type-arg]
    """The results of `complete_many`, in input order: a Completion, or the error for that item.

    Also says how the batch went: `retries` (summed over requests), `failures`, `cache_hits`,
    `wall_s`.
    """

    retries: int = 0
    failures: int = 0
    cache_hits: int = 0
    wall_s: float = 0.0

    def completions(self) -> list[Completion]:
        return [r for r in self if isinstance(r, Completion)]

    def errors(self) -> list[tuple[int, Exception]]:
        return [(i, r) for i, r in enumerate(self) if isinstance(r, Exception)]

    def raise_first(self) -> BatchResult:
        for _, error in self.errors():
            raise error
        return self


class _RateLimiter:
    """At most `per_minute` request starts per minute, spaced evenly (0 means no limit)."""

    def __init__(self, per_minute: int) -> None:
        import asyncio  # here, not at the top: `import promptatelier` stays quick

        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            import asyncio

            await asyncio.sleep(start - now)


class _SharedLoop:
    """One event loop, in its own thread, for every `complete_many` on one backend while
    `shared_concurrency` is active, whichever thread calls it: the batches of several threads
    share one budget of requests in flight and one rate limit (a batch's requests take the slots
    another no longer uses), and the backend's clients, with their open connections, serve
    every batch instead of one each."""

    def __init__(self, backend: Backend, limit: int, rpm: int) -> None:
        import asyncio

        self.backend = backend
        self.limit = limit
        self.loop = asyncio.new_event_loop()
        self.semaphore = asyncio.Semaphore(limit)  # bound to the loop on first use, which is this one's
        self.limiter = _RateLimiter(rpm)
        self.closing = False
        self.thread = threading.Thread(target=self.loop.run_forever, name="atelier-model-calls", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        import asyncio
        from concurrent.futures import CancelledError

        if self.closing:
            coro.close()
            raise CancelledError(f"the shared batches to {self.backend.name} are ending")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Cancel what is still in flight (an interrupted run), close the clients, end the loop.
        A batch that arrives meanwhile raises CancelledError instead of starting."""
        import asyncio

        self.closing = True

        async def finish() -> None:
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            closer = getattr(self.backend, "aclose", None)
            if closer is not None:
                await closer()

        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


_shared: dict[str, _SharedLoop] = {}
_shared_lock = threading.Lock()


@contextmanager
def shared_concurrency(
    model: str | Backend | None = None, concurrency: int | None = None, *, requests_per_minute: int | None = None
) -> Iterator[int]:
    """Within the block, every `complete_many` to `model`, from any thread, runs on one event loop
    with at most `concurrency` requests in flight in all (each call's own `concurrency` is not
    used) and one `requests_per_minute`. For a caller that runs batches side by side, say one
    batch's requests while another's outputs are scored. Yields the shared concurrency."""
    backend = get_backend(model)
    limit = concurrency_for(backend, concurrency)
    rpm = settings().requests_per_minute if requests_per_minute is None else requests_per_minute
    shared = _SharedLoop(backend, limit, rpm)
    with _shared_lock:
        if backend.name in _shared:
            shared.close()
            raise BackendError(
                f"shared_concurrency for {backend.name} is already active.",
                "Run the batches that share one budget inside a single shared_concurrency block.",
            )
        _shared[backend.name] = shared
    try:
        yield limit
    finally:
        try:
            shared.close()
        finally:
            with _shared_lock:
                del _shared[backend.name]


def _to_request(item: RequestLike, defaults: dict[str, Any]) -> ChatRequest:
    if isinstance(item, ChatRequest):
        return item
    if isinstance(item, dict):
        params = dict(defaults)
        params.update({k: v for k, v in item.items() if k != "prompt"})
        if "prompt" not in item:
            raise BackendError(
                f"A request dict has no 'prompt' key: {sorted(item)}.",
                "Give each request as a string, a ChatRequest, or a dict with 'prompt' and parameters.",
            )
        return make_request(item["prompt"], **params)
    return make_request(item, **defaults)


def complete_many(
    requests: Iterable[RequestLike],
    model: str | Backend | None = None,
    *,
    concurrency: int | None = None,
    requests_per_minute: int | None = None,
    progress: bool | None = None,
    cache: bool | ResponseCache = True,
    tag: str | None = None,
    **defaults: Any,
) -> BatchResult:
    """Many completions, a bounded number in flight, results in input order.

    A failed request leaves its error in its slot instead of sinking the batch. The backends
    retry 429, 5xx, timeouts and dropped connections themselves (honouring Retry-After);
    `requests_per_minute` spaces request starts for a shared endpoint. A progress bar shows on
    batches of more than 20 requests unless `progress=False`.
    """
    backend = get_backend(model)
    cfg = settings()
    items = [_to_request(r, defaults) for r in requests]
    limit = concurrency_for(backend, concurrency)
    rpm = cfg.requests_per_minute if requests_per_minute is None else requests_per_minute
    store = _resolve_cache(cache)
    show = progress if progress is not None else len(items) > 20
    shared = _shared.get(backend.name)
    if shared is not None and shared.backend is backend and threading.current_thread() is not shared.thread:
        return shared.run(_complete_all(backend, items, limit, rpm, store, show, tag, shared))
    return _run_sync(_complete_all(backend, items, limit, rpm, store, show, tag))


async def _complete_all(
    backend: Backend,
    items: list[ChatRequest],
    limit: int,
    rpm: int,
    store: ResponseCache | None,
    show: bool,
    tag: str | None,
    shared: _SharedLoop | None = None,
) -> BatchResult:
    import asyncio

    results = BatchResult([None] * len(items))
    started = time.perf_counter()
    semaphore = shared.semaphore if shared is not None else asyncio.Semaphore(limit)
    identity = backend.cache_identity if store is not None else ""
    limiter = shared.limiter if shared is not None else _RateLimiter(rpm)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=f"{backend.name}", unit="req")

    async def one(index: int, request: ChatRequest) -> None:
        use_cache = store is not None and is_cacheable(request, backend)
        try:
            if use_cache:
                hit = store.get(identity, request)  # type: ignore[union-attr]
                if hit is not None:
                    results[index] = _finish(backend, replace(hit, cached=True, latency_s=0.0), tag)
                    results.cache_hits += 1
                    return
            async with semaphore:
                await limiter.wait()
                completion = await backend.acomplete(request)
            if use_cache:
                store.put(identity, request, completion)  # type: ignore[union-attr]
            results.retries += completion.retries
            results[index] = _finish(backend, completion, tag)
        except AtelierError as exc:
            results[index] = exc
            results.failures += 1
            # the SDK backends note on their errors how many retries were spent before giving up
            results.retries += getattr(exc, "retries", 0)
        except Exception as exc:  # a backend bug must not sink the other requests either
            results[index] = BackendError(
                f"{backend.name} failed on request {index}: {type(exc).__name__}: {exc}",
                "Run that request alone with complete() to see the full error.",
            )
            results.failures += 1
        finally:
            if bar is not None:
                bar.update(1)

    try:
        await asyncio.gather(*(one(i, r) for i, r in enumerate(items)))
    finally:
        if bar is not None:
            bar.close()
        closer = getattr(backend, "aclose", None)
        if closer is not None and shared is None:  # a shared loop's clients serve its next batches
            await closer()
    results.wall_s = time.perf_counter() - started
    return results


def _run_sync(coro: Any) -> Any:
    """Run a coroutine to completion, also from inside a running loop (Jupyter's kernel)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="atelier-complete-many")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
