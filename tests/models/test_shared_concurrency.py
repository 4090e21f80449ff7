"""shared_concurrency: batches run side by side from several threads share one budget of
requests in flight, one rate limit and one set of clients, against the real scripted server."""

from __future__ import annotations

import threading
import time

import pytest

from promptatelier import complete_many
from promptatelier.errors import BackendError
from promptatelier.models import get_backend
from promptatelier.models.client import shared_concurrency
from tests.support.fixtures import scripted_server  # noqa: F401
from tests.support.scripted import ScriptedServer

pytestmark = pytest.mark.server


def model_of(server: ScriptedServer) -> str:
    return f"openai-compatible:{server.url}/v1#shared"


def _side_by_side(model: str, batches: int, size: int, concurrency: int) -> list[list[str]]:
    texts: list[list[str]] = [[] for _ in range(batches)]

    def batch(i: int) -> None:
        result = complete_many([f"b{i}-{j}" for j in range(size)], model=model, concurrency=concurrency,
                               cache=False, progress=False)
        texts[i] = [r.text for r in result.raise_first()]

    threads = [threading.Thread(target=batch, args=(i,)) for i in range(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return texts


def test_batches_from_several_threads_never_exceed_the_shared_budget(scripted_server: ScriptedServer) -> None:
    scripted_server.delay_s = 0.05
    model = model_of(scripted_server)
    with shared_concurrency(model, 4) as limit:
        assert limit == 4
        texts = _side_by_side(model, batches=3, size=10, concurrency=10)  # each asks for 10: the block's 4 rule
    assert scripted_server.max_in_flight == 4
    assert texts == [[f"echo: b{i}-{j}" for j in range(10)] for i in range(3)]  # each batch in its own order

    scripted_server.reset()
    scripted_server.delay_s = 0.2  # long enough for the three batches to overlap on a busy machine
    _side_by_side(model, batches=3, size=8, concurrency=4)  # outside the block: a budget per batch
    assert scripted_server.max_in_flight > 4


def test_the_clients_serve_every_batch_of_the_block(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(scripted_server)
    backend = get_backend(model)
    made: list[bool] = []
    make = backend._make_client

    def counting(key: object, asynchronous: bool, *args: object) -> object:
        made.append(asynchronous)
        return make(key, asynchronous, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(backend, "_make_client", counting)
    with shared_concurrency(model, 4):
        for _ in range(3):
            complete_many(["a", "b", "c", "d"], model=model, cache=False, progress=False).raise_first()
    assert made == [True]  # one client (4 in flight at most, one lane) for the three batches
    complete_many(["a"], model=model, cache=False, progress=False).raise_first()
    assert made == [True, True]  # after the block, a batch makes its own again


def test_one_rate_limit_for_every_batch_of_the_block(scripted_server: ScriptedServer) -> None:
    # 600 a minute: a start every 0.1 s for both batches together. The server shares our clock:
    # the k-th arrival cannot precede the k-th allowed start (network delays only make it later).
    model = model_of(scripted_server)
    with shared_concurrency(model, 8, requests_per_minute=600):
        began = time.monotonic()
        _side_by_side(model, batches=2, size=3, concurrency=8)
    arrivals = sorted(r.at for r in scripted_server.calls("/chat/completions"))
    assert len(arrivals) == 6
    for k, at in enumerate(arrivals):
        assert at - began >= k * 0.1 - 0.01


def test_a_second_block_for_the_same_model_is_refused(scripted_server: ScriptedServer) -> None:
    model = model_of(scripted_server)
    with shared_concurrency(model, 2):
        with pytest.raises(BackendError, match="already active"), shared_concurrency(model, 2):
            pass
        assert complete_many(["still fine"], model=model, cache=False, progress=False).raise_first()[0].text
