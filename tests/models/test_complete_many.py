"""complete_many against a real local server (the scripted one, through the openai-compatible
backend and the official SDK's async client): order, failures in place, retries, concurrency,
rate limit and cache."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest

from promptatelier import complete_many
from promptatelier.config import reload_settings
from promptatelier.errors import BackendError, ModelUnavailableError
from tests.support.fixtures import scripted_server  # noqa: F401
from tests.support.scripted import Recorded, ScriptedServer, error, reply

pytestmark = pytest.mark.server


def model_of(server: ScriptedServer) -> str:
    return f"openai-compatible:{server.url}/v1#batch"


class Moody:
    """ok-N answers; flaky-N fails once (503) then answers; dead-N is refused (400) every time;
    down-N fails (500) every time."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: Recorded) -> object:
        prompt = request.prompt
        with self.lock:
            self.attempts[prompt] += 1
            attempt = self.attempts[prompt]
        if prompt.startswith("flaky") and attempt == 1:
            return error(503, "warming up", retry_after=0.05)
        if prompt.startswith("dead"):
            return error(400, "this prompt is refused")
        if prompt.startswith("down"):
            return error(500, "crashed", retry_after=0.05)
        return reply(f"echo: {prompt}", delay_s=0.02)


@pytest.fixture
def retries_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "2")
    reload_settings()


def test_order_kept_failures_in_place_and_retries_counted(scripted_server: ScriptedServer, retries_2: None) -> None:
    moody = Moody()
    scripted_server.responder = moody  # type: ignore[assignment]
    kinds = ["ok", "flaky", "ok", "dead", "flaky", "down", "ok", "ok", "dead", "flaky"] * 3
    prompts = [f"{kind}-{i}" for i, kind in enumerate(kinds)]
    results = complete_many(prompts, model=model_of(scripted_server), concurrency=6, cache=False, progress=False)

    assert len(results) == len(prompts)
    for prompt, result in zip(prompts, results, strict=True):
        if prompt.startswith(("ok", "flaky")):
            assert result.text == f"echo: {prompt}"
            assert result.retries == (1 if prompt.startswith("flaky") else 0)
        elif prompt.startswith("dead"):
            assert isinstance(result, BackendError) and not isinstance(result, ModelUnavailableError)
            assert "this prompt is refused" in str(result)
        else:
            assert isinstance(result, ModelUnavailableError)
    assert results.failures == kinds.count("dead") + kinds.count("down")
    # one retry per flaky prompt, two (all of them) per prompt whose server stays down
    assert results.retries == kinds.count("flaky") * 1 + kinds.count("down") * 2
    assert [i for i, _ in results.errors()] == [i for i, k in enumerate(kinds) if k in ("dead", "down")]
    assert all(moody.attempts[p] == 1 for p in prompts if p.startswith("dead"))  # 400: never retried
    assert all(moody.attempts[p] == 3 for p in prompts if p.startswith("down"))


def test_concurrency_bound_is_respected(scripted_server: ScriptedServer) -> None:
    scripted_server.delay_s = 0.1
    results = complete_many([f"p{i}" for i in range(30)], model=model_of(scripted_server), concurrency=5,
                            cache=False, progress=False)
    assert results.failures == 0
    assert scripted_server.max_in_flight == 5


def test_without_a_concurrency_the_backends_own_default_applies(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.models import get_backend

    scripted_server.delay_s = 0.3
    default = get_backend(model_of(scripted_server)).default_concurrency
    results = complete_many([f"p{i}" for i in range(default + 10)], model=model_of(scripted_server), cache=False,
                            progress=False)
    assert results.failures == 0
    assert 8 < scripted_server.max_in_flight <= default  # more than the old blanket 8, never more than its own
    scripted_server.reset()
    monkeypatch.setenv("ATELIER_CONCURRENCY", "4")  # the course's setting wins over the backend's
    reload_settings()
    complete_many([f"q{i}" for i in range(12)], model=model_of(scripted_server), cache=False, progress=False)
    assert scripted_server.max_in_flight == 4


def test_requests_per_minute_spaces_request_starts(scripted_server: ScriptedServer) -> None:
    # 600 a minute: one start every 0.1 s, although 8 could run at once. The server runs in this
    # process, so its arrival times share our clock: the k-th arrival cannot precede the k-th
    # allowed start (network delays only make arrivals later).
    began = time.monotonic()
    results = complete_many([f"p{i}" for i in range(8)], model=model_of(scripted_server), concurrency=8,
                            requests_per_minute=600, cache=False, progress=False)
    assert results.failures == 0
    arrivals = sorted(r.at for r in scripted_server.calls("/chat/completions"))
    assert len(arrivals) == 8
    for k, at in enumerate(arrivals):
        assert at - began >= k * 0.1 - 0.01


def test_a_second_run_comes_from_the_cache(scripted_server: ScriptedServer) -> None:
    prompts = [f"cache me {i}" for i in range(10)]
    first = complete_many(prompts, model=model_of(scripted_server), temperature=0, progress=False)
    served = len(scripted_server.requests)
    second = complete_many(prompts, model=model_of(scripted_server), temperature=0, progress=False)
    assert served == 10 and len(scripted_server.requests) == served
    assert first.cache_hits == 0 and second.cache_hits == 10
    assert all(r.cached for r in second) and not any(r.cached for r in first)
    assert [r.text for r in second] == [r.text for r in first]


def test_per_request_parameters_and_dict_requests(scripted_server: ScriptedServer) -> None:
    requests = [
        {"prompt": "short", "max_tokens": 5},
        {"prompt": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]},
        "plain",
    ]
    results = complete_many(requests, model=model_of(scripted_server), temperature=0.5, seed=11,
                            cache=False, progress=False)
    assert results.failures == 0
    by_prompt = {r.prompt: r.json for r in scripted_server.calls("/chat/completions")}
    assert by_prompt["short"]["max_tokens"] == 5
    assert by_prompt["hi"]["messages"][0] == {"role": "system", "content": "Be terse."}
    assert all(body["temperature"] == 0.5 and body["seed"] == 11 for body in by_prompt.values())


def test_runs_from_inside_a_running_event_loop(scripted_server: ScriptedServer) -> None:
    """A Jupyter kernel has a loop running; complete_many must still work there, twice."""

    async def in_kernel() -> list[str]:
        texts = []
        for round_ in range(2):
            results = complete_many([f"r{round_}-{i}" for i in range(4)], model=model_of(scripted_server),
                                    cache=False, progress=False)
            texts += [r.text for r in results.raise_first()]
        return texts

    texts = asyncio.run(in_kernel())
    assert texts == [f"echo: r{r}-{i}" for r in range(2) for i in range(4)]


def test_a_server_that_is_gone_fails_every_item_in_place(scripted_server: ScriptedServer, retries_2: None) -> None:
    model = model_of(scripted_server)
    scripted_server.stop()
    reload_settings()
    results = complete_many(["a", "b", "c"], model=model, cache=False, progress=False)
    assert results.failures == 3
    assert all(isinstance(r, ModelUnavailableError) for r in results)
    assert results.retries == 3 * 2
