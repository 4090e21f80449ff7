"""`openai-compatible:BASE_URL#MODEL`: model strings, keys, structured-output forms (scripted
server), and real completions from llama-cpp-python's own server on the embedded model."""

from __future__ import annotations

import json

import jsonschema
import pytest

from promptatelier import complete, complete_many
from promptatelier.config import set_key
from promptatelier.errors import UnknownModelError, UnsupportedFeatureError
from promptatelier.models import get_backend
from promptatelier.models.openai_backend import OpenAICompatibleBackend
from tests.support import RunningServer
from tests.support.fixtures import llama_openai_server, scripted_server  # noqa: F401
from tests.support.scripted import Recorded, ScriptedServer, error, reply

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def compatible(server: ScriptedServer, model: str = "course-model") -> str:
    return f"openai-compatible:{server.url}/v1#{model}"


# --- model strings --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "model",
    [
        "openai-compatible:",
        "openai-compatible:http://127.0.0.1:8000/v1",
        "openai-compatible:http://127.0.0.1:8000/v1#",
        "openai-compatible:127.0.0.1:8000/v1#m",
        "openai-compatible:ftp://127.0.0.1/v1#m",
        "openai-compatible:#m",
    ],
)
def test_malformed_strings_are_refused_with_an_example(model: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        get_backend(model)
    assert "openai-compatible:http://127.0.0.1:8000/v1#my-model" in caught.value.fix


def test_the_cache_identity_holds_the_url_and_never_a_key() -> None:
    set_key("openai-compatible", "secret-course-key-123")
    one = get_backend("openai-compatible:http://10.0.0.1:8000/v1#llama")
    two = get_backend("openai-compatible:http://10.0.0.2:8000/v1/#llama")
    assert isinstance(one, OpenAICompatibleBackend)
    assert one.model == "llama" and one.base_url == "http://10.0.0.1:8000/v1"
    assert "10.0.0.1:8000" in one.cache_identity and "10.0.0.2:8000" in two.cache_identity
    assert one.cache_identity != two.cache_identity
    assert "secret" not in one.cache_identity


# --- against the scripted server --------------------------------------------------------------

@pytest.mark.server
def test_no_key_sends_a_placeholder_and_a_course_key_is_used(scripted_server: ScriptedServer) -> None:
    complete("one", model=compatible(scripted_server), cache=False)
    set_key("openai-compatible", "course-key-42")
    complete("two", model=compatible(scripted_server), cache=False)
    first, second = scripted_server.calls("/chat/completions")
    assert first.headers["authorization"] == "Bearer not-needed"
    assert second.headers["authorization"] == "Bearer course-key-42"
    assert first.json["max_tokens"] == 256 and "max_completion_tokens" not in first.json


@pytest.mark.server
def test_a_server_rejecting_json_schema_gets_the_llama_cpp_form_once_and_for_all(scripted_server: ScriptedServer) -> None:
    def llama_cpp_like(request: Recorded) -> object:
        form = request.json.get("response_format", {}).get("type")
        if form == "json_schema":
            # what llama-cpp-python's server answers: a 500 naming response_format
            return error(500, "1 validation error: body.response_format.type: Input should be 'text' or 'json_object'")
        return reply('{"name": "Ada", "age": 36}')

    scripted_server.responder = llama_cpp_like  # type: ignore[assignment]
    first = complete("A person", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    second = complete("Another person", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    assert json.loads(first.text) == json.loads(second.text) == {"name": "Ada", "age": 36}
    forms = [r.json["response_format"] for r in scripted_server.calls("/chat/completions")]
    # one probe without retries, then the llama.cpp form, which is remembered
    assert [f["type"] for f in forms] == ["json_schema", "json_object", "json_object"]
    assert forms[1]["schema"] == PERSON
    assert first.retries == 0


@pytest.mark.server
def test_a_server_rejecting_both_forms_is_unsupported(scripted_server: ScriptedServer) -> None:
    scripted_server.responder = lambda request: error(400, "response_format is not supported")  # type: ignore[assignment]
    with pytest.raises(UnsupportedFeatureError, match="structured output"):
        complete("A person", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    assert len(scripted_server.calls("/chat/completions")) == 2


@pytest.mark.server
def test_a_server_accepting_json_schema_keeps_it(scripted_server: ScriptedServer) -> None:
    scripted_server.queue(reply('{"name": "Bo", "age": 3}'), reply('{"name": "Cy", "age": 4}'))
    complete("A person", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    complete("Another", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    forms = [r.json["response_format"]["type"] for r in scripted_server.calls("/chat/completions")]
    assert forms == ["json_schema", "json_schema"]


@pytest.mark.server
def test_a_transient_failure_during_the_probe_is_retried_in_the_same_form(scripted_server: ScriptedServer) -> None:
    scripted_server.queue(error(503, "warming up"), reply('{"name": "Di", "age": 5}'))
    done = complete("A person", model=compatible(scripted_server), json_schema=PERSON, cache=False)
    forms = [r.json["response_format"]["type"] for r in scripted_server.calls("/chat/completions")]
    assert forms == ["json_schema", "json_schema"]
    assert done.retries == 1


# --- llama-cpp-python's own server on the embedded model ------------------------------------



@pytest.mark.server
@pytest.mark.local_model
@pytest.mark.slow
def test_a_real_completion_with_usage(llama_openai_server: RunningServer) -> None:
    done = complete("Name three colours.", model=llama_openai_server.model_string, max_tokens=16, cache=False)
    assert done.text.strip()
    assert done.usage.input_tokens > 5 and 0 < done.usage.output_tokens <= 16
    assert done.finish_reason in {"stop", "length"}
    assert done.model == llama_openai_server.model_string


@pytest.mark.server
@pytest.mark.local_model
@pytest.mark.slow
def test_temperature_zero_with_a_seed_is_deterministic(llama_openai_server: RunningServer) -> None:
    texts = {
        complete("Write a short slogan for a bakery.", model=llama_openai_server.model_string,
                 temperature=0, seed=3, max_tokens=16, cache=False).text
        for _ in range(2)
    }
    assert len(texts) == 1


@pytest.mark.server
@pytest.mark.local_model
@pytest.mark.slow
def test_json_schema_is_respected(llama_openai_server: RunningServer) -> None:
    done = complete(
        "Invent a person. Answer in JSON with a name and an age.",
        model=llama_openai_server.model_string, json_schema=PERSON, max_tokens=48, cache=False,
    )
    jsonschema.validate(json.loads(done.text), PERSON)


@pytest.mark.server
@pytest.mark.local_model
@pytest.mark.slow
def test_complete_many_and_logprobs_on_the_real_server(llama_openai_server: RunningServer) -> None:
    prompts = ["Say yes.", "Say no.", "Say maybe."]
    results = complete_many(prompts, model=llama_openai_server.model_string, concurrency=2,
                            max_tokens=4, logprobs=True, top_logprobs=2, cache=False, progress=False)
    assert results.failures == 0 and len(results) == 3
    for done in results.completions():
        assert done.logprobs and all(t.logprob <= 0 and len(t.top) == 2 for t in done.logprobs)
