"""The Anthropic backend through the official anthropic SDK, against the scripted server speaking
the Messages API (pointed at with the SDK's own ANTHROPIC_BASE_URL)."""

from __future__ import annotations

import pytest

from promptatelier import complete, complete_many
from promptatelier.config import clear_keys
from promptatelier.errors import BackendError, MissingKeyError, ModelUnavailableError, UnknownModelError, UnsupportedFeatureError
from promptatelier.models import get_backend
from tests.support import wire
from tests.support.fixtures import FAKE_ANTHROPIC_KEY, hosted_sdks, scripted_server  # noqa: F401
from tests.support.scripted import ScriptedServer, drop, error, reply

pytestmark = pytest.mark.server

MODEL = "anthropic:claude-haiku-4-5"


def test_system_prompt_goes_top_level_and_the_reply_is_mapped(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(reply("Bonjour !"))
    done = complete(
        [{"role": "system", "content": "Réponds en français."}, {"role": "user", "content": "Say hello."}],
        model=MODEL, max_tokens=64, stop=["###"], cache=False,
    )
    assert done.text == "Bonjour !"
    assert done.model == MODEL and done.finish_reason == "stop" and done.retries == 0
    sent = hosted_sdks.calls("/v1/messages")[-1]
    assert sent.json["system"] == "Réponds en français."
    assert sent.json["messages"] == [{"role": "user", "content": "Say hello."}]
    assert sent.json["model"] == "claude-haiku-4-5"
    assert sent.json["max_tokens"] == 64 and sent.json["stop_sequences"] == ["###"]
    assert FAKE_ANTHROPIC_KEY in (sent.headers.get("x-api-key", "") + sent.headers.get("authorization", ""))
    # 3 system words + 2 user words in, 2 words out; claude-haiku-4-5 is priced
    assert (done.usage.input_tokens, done.usage.output_tokens) == (5, 2)
    assert done.cost_usd == pytest.approx((5 * 1.0 + 2 * 5.0) / 1e6)


def test_cached_prompt_tokens_count_as_input_and_max_tokens_as_length(hosted_sdks: ScriptedServer) -> None:
    body = wire.anthropic_message("partial", "claude-haiku-4-5", input_tokens=10, stop_reason="max_tokens",
                                  cache_read_input_tokens=90)
    hosted_sdks.queue(reply("", body=body))
    done = complete("Long document...", model=MODEL, cache=False)
    assert done.usage.input_tokens == 100
    assert done.finish_reason == "length"


def test_json_schema_uses_output_config(hosted_sdks: ScriptedServer) -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    hosted_sdks.queue(reply('{"label": "spam"}'))
    assert complete("Classify: WIN A PRIZE", model=MODEL, json_schema=schema, cache=False).text == '{"label": "spam"}'
    sent = hosted_sdks.calls("/v1/messages")[-1].json
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def test_logprobs_are_unsupported_and_nothing_is_sent(hosted_sdks: ScriptedServer) -> None:
    with pytest.raises(UnsupportedFeatureError, match="logprobs"):
        complete("Yes or no?", model=MODEL, logprobs=True, cache=False)
    assert hosted_sdks.requests == []


def test_429_529_500_and_a_dropped_connection_are_retried_and_counted(hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "4")
    from promptatelier.config import reload_settings

    reload_settings()
    hosted_sdks.queue(error(429, retry_after=0.05), error(529, "Overloaded"), error(500), drop(), reply("finally"))
    done = complete("Hello", model=MODEL, cache=False)
    assert done.text == "finally"
    assert done.retries == 4
    assert [r.retry_count for r in hosted_sdks.calls("/v1/messages")] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (lambda: error(529, "Overloaded"), "HTTP 529"),
        (lambda: error(429, "rate limited", retry_after=0.05), "rate-limited"),
        (lambda: error(500, "boom"), "HTTP 500"),
        (drop, "could not reach"),
    ],
)
def test_failures_that_outlast_the_retries_are_an_outage(hosted_sdks: ScriptedServer, failure, words: str) -> None:  # type: ignore[no-untyped-def]
    hosted_sdks.queue(failure(), failure(), failure())
    with pytest.raises(ModelUnavailableError) as caught:
        complete("Hello", model=MODEL, cache=False)
    assert words in caught.value.problem
    assert caught.value.retries == 2  # type: ignore[attr-defined]
    assert len(hosted_sdks.calls("/v1/messages")) == 3


def test_401_is_a_key_error_without_the_key(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.queue(error(401, f"invalid x-api-key {FAKE_ANTHROPIC_KEY}"))
    with pytest.raises(MissingKeyError) as caught:
        complete("Hello", model=MODEL, cache=False)
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert FAKE_ANTHROPIC_KEY not in str(caught.value)


def test_missing_key(hosted_sdks: ScriptedServer) -> None:
    clear_keys()
    with pytest.raises(MissingKeyError, match="ANTHROPIC_API_KEY"):
        complete("Hello", model=MODEL, cache=False)
    assert hosted_sdks.requests == []


def test_a_conversation_must_start_with_the_user(hosted_sdks: ScriptedServer) -> None:
    with pytest.raises(UnsupportedFeatureError, match="user message"):
        complete([{"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "Hello"}], model=MODEL, cache=False)


def test_complete_many_through_the_async_client(hosted_sdks: ScriptedServer) -> None:
    hosted_sdks.delay_s = 0.05
    prompts = [f"question {i}" for i in range(12)]
    results = complete_many(prompts, model=MODEL, concurrency=4, cache=False, progress=False)
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert results.failures == 0
    assert 1 < hosted_sdks.max_in_flight <= 4
    assert all(r.headers.get("x-stainless-async", "").startswith("async") for r in hosted_sdks.calls("/v1/messages"))


def test_a_model_string_without_a_model_is_refused() -> None:
    with pytest.raises(UnknownModelError, match="anthropic:claude-haiku-4-5"):
        get_backend("anthropic:")


def test_check_reports_a_masked_key(hosted_sdks: ScriptedServer) -> None:
    status = get_backend(MODEL).check()
    assert "reachable" in status and FAKE_ANTHROPIC_KEY not in status


def _api_version(sent) -> str:  # type: ignore[no-untyped-def]
    return {k.lower(): v for k, v in sent.headers.items()}["anthropic-version"]


def test_temperature_is_sent_only_where_the_api_version_takes_one(hosted_sdks: ScriptedServer) -> None:
    from promptatelier.models.anthropic_backend import SAMPLING_REMOVED_IN

    complete("Hello", model=MODEL, temperature=0, cache=False)
    sent = hosted_sdks.calls("/v1/messages")[-1]
    # anthropic 2.x speaks 2026-10-21, which refuses sampling parameters; 0.x and 1.x take them
    assert ("temperature" in sent.json) == (_api_version(sent) < SAMPLING_REMOVED_IN)


def test_an_older_api_version_gets_the_temperature_capped_at_one(hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "anthropic-version: 2023-06-01")
    complete("Hello", model=MODEL, temperature=0, cache=False)
    complete("Hello", model=MODEL, temperature=1.5, cache=False)
    first, second = hosted_sdks.calls("/v1/messages")
    assert _api_version(first) == "2023-06-01"
    assert first.json["temperature"] == 0
    assert second.json["temperature"] == 1.0


def test_a_model_that_refuses_temperature_is_asked_again_without_and_never_sent_one_again(
    hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "anthropic-version: 2023-06-01")
    hosted_sdks.queue(error(400, "temperature is deprecated for this model."), reply("first"), reply("second"))
    assert complete("Hello", model=MODEL, temperature=0, cache=False).text == "first"
    assert complete_many(["Again"], model=MODEL, temperature=0, cache=False, progress=False)[0].text == "second"
    sent = [r.json for r in hosted_sdks.calls("/v1/messages")]
    assert ["temperature" in body for body in sent] == [True, False, False]


def test_another_400_is_not_resent(hosted_sdks: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "anthropic-version: 2023-06-01")
    hosted_sdks.queue(error(400, "max_tokens: must be at most 64000"))
    with pytest.raises(BackendError, match="max_tokens"):
        complete("Hello", model=MODEL, temperature=0, cache=False)
    assert len(hosted_sdks.calls("/v1/messages")) == 1
