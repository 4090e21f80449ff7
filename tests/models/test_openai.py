"""The hosted OpenAI backend through the official openai SDK, against the scripted server (pointed
at with the SDK's own OPENAI_BASE_URL): replies, retries, outages and key errors."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sqlite3

import pytest

from promptatelier import complete
from promptatelier.config import clear_keys, settings, set_key
from promptatelier.errors import BackendError, MissingKeyError, ModelUnavailableError, UnknownModelError
from promptatelier.models import ChatRequest, get_backend
from promptatelier.models.openai_backend import OpenAIBackend
from tests.support import wire
from tests.support.fixtures import FAKE_OPENAI_KEY, hosted_sdks, scripted_server  # noqa: F401
from tests.support.scripted import ScriptedServer, drop, error, reply

pytestmark = pytest.mark.server

MODEL = "openai:gpt-4.1-mini"


def test_reply_is_mapped_and_request_carries_every_parameter(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(reply("Red, green and blue."))
    done = complete(
        "Name three colours.", model=MODEL, system="Answer in one line.", temperature=0.3, seed=7,
        max_tokens=50, stop=["END"], cache=False,
    )
    assert done.text == "Red, green and blue."
    assert done.model == MODEL
    assert done.finish_reason == "stop"
    assert done.retries == 0
    assert done.latency_s > 0
    # the server counts words: 4 + 3 prompt words, 4 reply words; gpt-4.1-mini is priced
    assert (done.usage.input_tokens, done.usage.output_tokens) == (7, 4)
    assert done.cost_usd == pytest.approx((7 * 0.4 + 4 * 1.6) / 1e6)
    sent = hosted_sdks.calls("/chat/completions")[-1]
    assert sent.json["model"] == "gpt-4.1-mini"
    assert sent.json["messages"] == [
        {"role": "system", "content": "Answer in one line."},
        {"role": "user", "content": "Name three colours."},
    ]
    assert sent.json["temperature"] == 0.3
    assert sent.json["seed"] == 7
    assert sent.json["max_completion_tokens"] == 50
    assert sent.json["stop"] == ["END"]
    assert "response_format" not in sent.json and "logprobs" not in sent.json
    assert sent.headers["authorization"] == f"Bearer {FAKE_OPENAI_KEY}"


def test_length_finish_reason_is_normalised(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(reply("cut", finish_reason="length"))
    assert complete("Tell a long story.", model=MODEL, cache=False).finish_reason == "length"


def test_json_schema_uses_response_format_strict_only_when_openai_accepts_it(hosted_sdks: ScriptedServer) -> None:
    closed = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"],
              "additionalProperties": False}
    open_ = {"type": "object", "properties": {"label": {"type": "string"}}}
    hosted_sdks.queue(reply('{"label": "positive"}'), reply('{"label": "negative"}'))
    assert complete("Classify: great!", model=MODEL, json_schema=closed, cache=False).text == '{"label": "positive"}'
    complete("Classify: awful", model=MODEL, json_schema=open_, cache=False)
    first, second = hosted_sdks.calls("/chat/completions")
    assert first.json["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "response", "schema": closed, "strict": True}}
    assert second.json["response_format"]["json_schema"]["strict"] is False


def test_logprobs_are_requested_and_mapped(hosted_sdks: ScriptedServer) -> None:
    tokens = [
        {"token": "Yes", "logprob": -0.1, "bytes": None,
         "top_logprobs": [{"token": "Yes", "logprob": -0.1, "bytes": None}, {"token": "No", "logprob": -2.4, "bytes": None}]},
    ]
    hosted_sdks.queue(reply("", body=wire.openai_chat("Yes", "gpt-4.1-mini", 3, logprobs=tokens)))
    done = complete("Yes or no?", model=MODEL, logprobs=True, top_logprobs=2, cache=False)
    sent = hosted_sdks.calls("/chat/completions")[-1].json
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert done.logprobs is not None and len(done.logprobs) == 1
    assert done.logprobs[0].token == "Yes" and done.logprobs[0].logprob == pytest.approx(-0.1)
    assert [t.token for t in done.logprobs[0].top] == ["Yes", "No"]


def test_429_with_retry_after_is_retried_after_the_servers_delay(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(error(429, "slow down", retry_after=1.0), reply("done"))
    done = complete("Hello", model=MODEL, cache=False)
    assert done.text == "done"
    assert done.retries == 1
    first, second = hosted_sdks.calls("/chat/completions")
    assert second.retry_count == 1
    # the SDK's own backoff would be at most 0.5 s; waiting a full second means Retry-After ruled
    assert second.at - first.at >= 0.95


def test_500s_until_retries_run_out_are_an_outage(hosted_sdks: ScriptedServer) -> None:
    assert settings().max_retries == 2
    hosted_sdks.queue(error(500), error(502), error(503))
    with pytest.raises(ModelUnavailableError) as caught:
        complete("Hello", model=MODEL, cache=False)
    assert len(hosted_sdks.calls("/chat/completions")) == 3
    assert caught.value.retries == 2  # type: ignore[attr-defined]
    assert "HTTP 503" in caught.value.problem and "after 2 retries" in caught.value.problem
    assert "local" in caught.value.fix


def test_dropped_connections_are_retried_then_an_outage(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(drop(), reply("back"))
    assert complete("Hello", model=MODEL, cache=False).retries == 1
    hosted_sdks.queue(drop(), drop(), drop())
    with pytest.raises(ModelUnavailableError, match="could not reach"):
        complete("Hello again", model=MODEL, cache=False)


def test_a_server_that_is_not_there_is_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import free_port

    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "0")
    from promptatelier.config import reload_settings

    reload_settings()
    set_key("openai", FAKE_OPENAI_KEY)
    with pytest.raises(ModelUnavailableError):
        complete("Hello", model=MODEL, cache=False)


def test_401_is_a_key_error_that_never_shows_the_key(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(error(401, f"Incorrect API key provided: {FAKE_OPENAI_KEY}."))
    with pytest.raises(MissingKeyError) as caught:
        complete("Hello", model=MODEL, cache=False)
    assert len(hosted_sdks.calls("/chat/completions")) == 1  # a refused key is not retried
    text = str(caught.value)
    assert "401" in text and "OPENAI_API_KEY" in text
    assert FAKE_OPENAI_KEY not in text and FAKE_OPENAI_KEY[-10:] not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_400_names_the_servers_complaint_with_the_key_masked(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(error(400, f"max_completion_tokens is too large (key {FAKE_OPENAI_KEY})"))
    with pytest.raises(BackendError) as caught:
        complete("Hello", model=MODEL, cache=False)
    assert not isinstance(caught.value, ModelUnavailableError)
    assert "max_completion_tokens is too large" in str(caught.value)
    assert FAKE_OPENAI_KEY not in str(caught.value)


def test_404_points_at_the_model_name(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(error(404, "The model `gpt-9` does not exist"))
    with pytest.raises(BackendError) as caught:
        complete("Hello", model="openai:gpt-9", cache=False)
    assert not isinstance(caught.value, ModelUnavailableError)
    assert "gpt-9" in caught.value.problem and "model name" in caught.value.fix


def test_missing_key_says_where_to_put_one_and_sends_nothing(hosted_sdks: ScriptedServer) -> None:
    clear_keys()
    with pytest.raises(MissingKeyError) as caught:
        complete("Hello", model=MODEL, cache=False)
    message = str(caught.value)
    for hint in ("OPENAI_API_KEY", ".env", "key widget", "'local'"):
        assert hint in message
    assert hosted_sdks.requests == []


def test_key_from_environment_and_a_new_key_from_the_widget(hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_keys()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000000000")
    complete("one", model=MODEL, cache=False)
    set_key("openai", "sk-from-widget-1111111111")
    complete("two", model=MODEL, cache=False)
    first, second = hosted_sdks.calls("/chat/completions")
    assert first.headers["authorization"] == "Bearer sk-from-env-0000000000"
    assert second.headers["authorization"] == "Bearer sk-from-widget-1111111111"


def test_the_cache_file_never_holds_the_key(hosted_sdks: ScriptedServer) -> None:
    done = complete("Cache me", model=MODEL)
    again = complete("Cache me", model=MODEL)
    assert not done.cached and again.cached and again.text == done.text
    assert len(hosted_sdks.calls("/chat/completions")) == 1
    path = settings().cache_path
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, model, completion FROM responses").fetchall()
    assert rows and all(FAKE_OPENAI_KEY not in " ".join(map(str, row)) for row in rows)
    for suffix in ("", "-wal"):
        try:
            data = open(path + suffix, "rb").read()
        except FileNotFoundError:
            continue
        assert FAKE_OPENAI_KEY.encode() not in data


def test_async_clients_live_per_event_loop_and_close(hosted_sdks: ScriptedServer) -> None:
    from promptatelier.models._hosted import LANE_DEPTH

    backend = get_backend(MODEL)
    hosted_sdks.delay_s = 0.2

    async def batch(n: int) -> tuple[list[str], list[object]]:
        texts = await asyncio.gather(*(backend.acomplete(ChatRequest.from_prompt(f"q{i}")) for i in range(n)))
        clients = [lane.client for lane in backend._lanes[asyncio.get_running_loop()]]  # type: ignore[attr-defined]
        await backend.aclose()  # type: ignore[attr-defined]
        assert all(client.is_closed() for client in clients)
        return [t.text for t in texts], clients

    few, one_client = asyncio.run(batch(3))
    many, clients = asyncio.run(batch(2 * LANE_DEPTH + 1))  # a new loop: new clients, not the closed one
    assert few == [f"echo: q{i}" for i in range(3)]
    assert many == [f"echo: q{i}" for i in range(2 * LANE_DEPTH + 1)]
    assert len(one_client) == 1  # a small batch keeps to one client
    assert len(clients) == 3  # LANE_DEPTH requests per client at most
    assert one_client[0] not in clients


def test_check_reports_a_masked_key_and_a_reachable_server(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.models = ["gpt-4.1-mini", "gpt-4.1"]
    status = get_backend(MODEL).check()
    assert "reachable" in status and "session" in status
    assert FAKE_OPENAI_KEY not in status and FAKE_OPENAI_KEY[:3] in status


@pytest.mark.parametrize("model", ["openai:", "openai:   "])
def test_a_model_string_without_a_model_is_refused(model: str) -> None:
    with pytest.raises(UnknownModelError, match="openai:gpt-4.1-mini"):
        get_backend(model)


def test_the_backend_is_made_by_the_registry() -> None:
    backend = get_backend(MODEL)
    assert isinstance(backend, OpenAIBackend) and backend.model == "gpt-4.1-mini"
    # a new SDK may change what is sent, hence the replies: its version is part of the cache identity
    assert backend.cache_identity == f"{MODEL} openai=={importlib.metadata.version('openai')}"


def test_a_server_slower_than_the_timeout_is_an_outage(hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_TIMEOUT", "0.3")
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "1")
    from promptatelier.config import reload_settings

    reload_settings()
    hosted_sdks.delay_s = 1.0
    with pytest.raises(ModelUnavailableError, match="did not answer in time") as caught:
        complete("Hello", model=MODEL, cache=False)
    assert caught.value.retries == 1  # type: ignore[attr-defined]
    assert len(hosted_sdks.calls("/chat/completions")) == 2


QUIET = """
import logging, os
from promptatelier import complete
from promptatelier.config import set_key
from promptatelier.errors import ModelUnavailableError
set_key("openai", "sk-test-quiet-000000")
set_key("anthropic", "sk-ant-quiet-000000")
print(complete("one", model="openai:gpt-4.1-mini", cache=False).retries)
try:
    complete("two", model="anthropic:claude-haiku-4-5", cache=False)
except ModelUnavailableError:
    print("outage")
for name in ("openai", "anthropic", "httpx2"):
    logging.getLogger(name).warning("a library warning")
"""


def test_nothing_reaches_stderr_from_the_sdks(scripted_server: ScriptedServer) -> None:
    """nbgrader scores a cell that writes to stderr 0: retries, outages and SDK log warnings
    must stay silent when nobody configured logging."""
    import os
    import subprocess
    import sys

    scripted_server.queue(error(429, retry_after=0.05), reply("fine"), error(500), error(500))
    env = dict(os.environ, OPENAI_BASE_URL=scripted_server.url + "/v1", ANTHROPIC_BASE_URL=scripted_server.url,
               ATELIER_MAX_RETRIES="1")
    out = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "outage"]
    assert out.stderr == ""
