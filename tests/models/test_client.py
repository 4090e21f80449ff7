"""Unit tests on the mock backend for models/client.py, cache.py, cost.py, registry.py and
config.py."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptatelier import complete, complete_many
from promptatelier.config import clear_keys, get_key, key_source, reload_settings, set_key, settings
from promptatelier.errors import BackendError, ConfigError, ModelUnavailableError, UnknownModelError
from promptatelier.models import ChatRequest, Completion, Usage, get_backend, ledger
from promptatelier.models.cache import ResponseCache, cache_key, get_cache
from promptatelier.models.client import concurrency_for, is_cacheable
from promptatelier.models.cost import cost_of, price_for
from promptatelier.models.mock import MockBackend
from promptatelier.models.registry import parse_model_string, providers, register

ROOT = Path(__file__).resolve().parents[2]


def mock(name: str = "mock") -> MockBackend:
    backend = get_backend(name)
    assert isinstance(backend, MockBackend)
    return backend


# --- complete and the cache -----------------------------------------------------------------

def test_complete_caches_reproducible_requests_only() -> None:
    backend = mock()
    first = complete("hello", model="mock", temperature=0)
    second = complete("hello", model="mock", temperature=0)
    assert (first.cached, second.cached) == (False, True) and second.text == "hello"
    assert len(backend.calls) == 1
    # temperature above 0 with no fixed seed is not reproducible: asked again every time
    sampled = ChatRequest.from_prompt("hello", temperature=0.9).with_(seed=None)
    complete(sampled, model="mock")
    complete(sampled, model="mock")
    assert len(backend.calls) == 3
    complete("hello", model="mock", temperature=0, cache=False)
    assert len(backend.calls) == 4


def test_an_unseeded_request_above_temperature_zero_is_asked_every_time() -> None:
    backend = mock()
    assert ChatRequest.from_prompt("hello").seed is None
    for _ in range(2):
        complete("hello", model="mock", temperature=0.9)
    assert len(backend.calls) == 2
    complete("hello", model="mock", temperature=0.9, seed=4)
    complete("hello", model="mock", temperature=0.9, seed=4)
    assert len(backend.calls) == 3  # the mock's seeds hold: the seeded request is replayed


class _NoSeed(MockBackend):
    honours_seed = False


def test_a_seed_is_cached_only_where_the_backend_honours_seeds() -> None:
    register("noseed", lambda name, rest: _NoSeed(name))
    backend = get_backend("noseed:x")
    for _ in range(2):
        complete("hello", model="noseed:x", temperature=0.9, seed=4)
    assert len(backend.calls) == 2  # a best-effort seed is not replayed as if it were exact
    for _ in range(2):
        complete("hello", model="noseed:x", temperature=0)
    assert len(backend.calls) == 3  # temperature 0 always is: the cache makes regrading reproducible
    seeded = ChatRequest.from_prompt("hello", temperature=1.0, seed=1)
    assert [is_cacheable(seeded, get_backend(m)) for m in ("local", "openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5",
                                                          "openai-compatible:http://127.0.0.1:1/v1#m")] == [True, False, False, False]
    assert is_cacheable(seeded.with_(temperature=0.0), get_backend("anthropic:claude-haiku-4-5"))


class _Versioned(MockBackend):
    library = "atelier-no-such-distribution"
    version = "1"

    def identity_parts(self) -> list[str]:
        return [*super().identity_parts(), f"v{self.version}"]


def test_the_cache_identity_holds_the_library_version_and_a_new_one_is_not_served_old_replies() -> None:
    register("versioned", lambda name, rest: _Versioned(name))
    backend = get_backend("versioned:m")
    assert isinstance(backend, _Versioned)
    assert backend.cache_identity == "versioned:m atelier-no-such-distribution==absent v1"
    complete("hello", model=backend)
    assert complete("hello", model=backend).cached
    backend.version = "2"
    assert not complete("hello", model=backend).cached
    assert len(backend.calls) == 2
    assert get_backend("anthropic:claude-haiku-4-5").cache_identity == (
        f"anthropic:claude-haiku-4-5 anthropic=={importlib.metadata.version('anthropic')}")


def test_a_cached_answer_costs_nothing_and_keeps_no_retries(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path / "c.sqlite")
    request = ChatRequest.from_prompt("hi")
    store.put("openai:gpt-4.1-mini", request, Completion("hey", "openai:gpt-4.1-mini", Usage(1, 1), retries=3, cached=True))
    hit = store.get("openai:gpt-4.1-mini", request)
    assert hit is not None and hit.retries == 0 and not hit.cached
    assert store.get("openai:gpt-4.1", request) is None
    stats = store.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 1, 1)
    assert store.clear() == 1 and store.stats().entries == 0


def test_the_cache_key_ignores_keys_entirely() -> None:
    request = ChatRequest.from_prompt("hi")
    set_key("openai", "sk-one-1111111111")
    one = cache_key("openai:gpt-4.1-mini", request)
    set_key("openai", "sk-two-2222222222")
    assert cache_key("openai:gpt-4.1-mini", request) == one
    assert not any("key" in f.name for f in dataclasses.fields(ChatRequest))


CHANGES = {
    "messages": (ChatRequest.from_prompt("other").messages,),
    "system": ("Be brief.",),
    "temperature": (0.7,),
    "max_tokens": (12,),
    "seed": (0, 1),
    "stop": (("END",),),
    "json_schema": ({"type": "object"},),
    "logprobs": (True,),
    "top_logprobs": (3,),
}


def test_every_output_changing_parameter_changes_the_cache_key() -> None:
    assert set(CHANGES) == {f.name for f in dataclasses.fields(ChatRequest)}, "a new field needs a case here"
    base = ChatRequest.from_prompt("hi")
    keys = {cache_key("mock", base)}
    for field, values in CHANGES.items():
        for value in values:
            keys.add(cache_key("mock", base.with_(**{field: value})))
    keys.add(cache_key("mock:upper", base))
    keys.add(cache_key("openai-compatible:http://a:1/v1#m", base))
    keys.add(cache_key("openai-compatible:http://b:1/v1#m", base))
    assert len(keys) == 1 + sum(len(v) for v in CHANGES.values()) + 3
    # and the same request made twice has the same key
    assert cache_key("mock", ChatRequest.from_prompt("hi")) == cache_key("mock", base)


WRITER = textwrap.dedent(
    """
    import sys
    from promptatelier.models import ChatRequest, Completion, Usage
    from promptatelier.models.cache import ResponseCache
    store = ResponseCache(sys.argv[1])
    tag = sys.argv[2]
    sys.stdin.readline()  # start together
    for i in range(150):
        request = ChatRequest.from_prompt(f"{tag} {i}")
        store.put("mock", request, Completion(f"{tag}-{i}", "mock", Usage(1, 1)))
        assert store.get("mock", request).text == f"{tag}-{i}"
    print("done")
    """
)


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    ResponseCache(path)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for tag in ("alpha", "beta")
    ]
    outputs = [p.communicate("go\n", timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "done" and err == ""
    store = ResponseCache(path)
    assert store.stats().entries == 300
    for tag in ("alpha", "beta"):
        hit = store.get("mock", ChatRequest.from_prompt(f"{tag} 149"))
        assert hit is not None and hit.text == f"{tag}-149"


# --- complete_many on the mock ------------------------------------------------------------

def test_complete_many_keeps_order_and_isolates_errors() -> None:
    backend = mock()
    outage = MockBackend.outage()

    def responder(request: ChatRequest) -> object:
        prompt = request.messages[-1].content
        if prompt == "down":
            return outage
        if prompt == "bug":
            return ZeroDivisionError("oops")
        return prompt.upper()

    backend.script(responder)
    results = complete_many(["a", "down", "b", "bug", "c"], model="mock", cache=False, progress=False)
    assert [r.text if isinstance(r, Completion) else None for r in results] == ["A", None, "B", None, "C"]
    assert results[1] is outage
    assert isinstance(results[3], BackendError) and "ZeroDivisionError" in str(results[3])
    assert results.failures == 2 and len(results.completions()) == 3
    with pytest.raises(ModelUnavailableError):
        results.raise_first()


def test_complete_many_counts_cache_hits_and_records_costs() -> None:
    mock()
    complete_many(["x", "y"], model="mock", progress=False)
    again = complete_many(["x", "y", "z"], model="mock", progress=False, tag="ex1")
    assert again.cache_hits == 2
    row = {r.model: r for r in ledger().snapshot()}["mock"]
    assert row.requests == 5 and row.cached == 2
    assert ledger().by_tag["ex1"].requests == 3


def test_a_request_dict_without_prompt_is_refused() -> None:
    with pytest.raises(BackendError, match="'prompt'"):
        complete_many([{"text": "hi"}], model="mock", progress=False)


# --- cost ------------------------------------------------------------------------------------

def test_prices_course_table_first_then_defaults_then_provider_wildcards() -> None:
    table = {"openai:gpt-4.1-mini": {"input": 1.0, "output": 2.0}, "openai-compatible:*": {"input": 0.5, "output": 0.5}}
    assert price_for("openai:gpt-4.1-mini", table) == {"input": 1.0, "output": 2.0}
    assert price_for("openai:gpt-4.1", table) == {"input": 2.0, "output": 8.0}
    assert price_for("openai-compatible:http://x/v1#m", table) == {"input": 0.5, "output": 0.5}
    assert price_for("openai:unknown-model", table) is None
    assert cost_of("openai:gpt-4.1-mini", Usage(1_000_000, 500_000), table) == pytest.approx(2.0)
    assert cost_of("openai:unknown-model", Usage(10, 10), table) == 0.0


def test_ledger_marks_unpriced_models_and_does_not_charge_cached_answers() -> None:
    ledger().record(Completion("a", "openai:mystery", Usage(100, 100)))
    ledger().record(Completion("b", "openai:gpt-4.1", Usage(1000, 0), cost_usd=0.002))
    ledger().record(Completion("b", "openai:gpt-4.1", Usage(1000, 0), cost_usd=0.002, cached=True))
    rows = {r.model: r for r in ledger().snapshot()}
    assert rows["openai:mystery"].priced is False
    assert rows["openai:gpt-4.1"].priced is True and rows["openai:gpt-4.1"].requests == 2
    assert rows["openai:gpt-4.1"].input_tokens == 1000
    assert ledger().total_cost() == pytest.approx(0.002)


def test_course_prices_apply_to_completions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = tmp_path / "atelier.toml"
    course.write_text('[prices."mock"]\ninput = 1000000.0\noutput = 0.0\n', encoding="utf-8")
    monkeypatch.setenv("ATELIER_CONFIG", str(course))
    reload_settings()
    done = complete("four words right here", model="mock", cache=False)
    assert done.cost_usd == pytest.approx(4.0)


# --- configuration ---------------------------------------------------------------------------

@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder with atelier.toml, used as the current directory."""
    toml = tmp_path / "atelier.toml"
    toml.write_text(
        '[models]\nlearner = "mock:toml"\n[run]\nconcurrency = 3\nmax_retries = 1\n'
        '[cache]\npath = "here/cache.sqlite"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ATELIER_CONFIG", str(toml))
    monkeypatch.delenv("ATELIER_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    reload_settings()
    return tmp_path


def test_precedence_argument_env_dotenv_toml_default(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = settings()
    assert (cfg.model, cfg.concurrency, cfg.max_retries) == ("mock:toml", 3, 1)
    assert cfg.timeout_s == 120.0  # a default
    assert cfg.cache_path == str(course / "here" / "cache.sqlite")  # relative to the course file
    (course / ".env").write_text("ATELIER_MODEL=mock:dotenv\nATELIER_CONCURRENCY=5\n", encoding="utf-8")
    cfg = reload_settings()
    assert (cfg.model, cfg.concurrency) == ("mock:dotenv", 5)
    monkeypatch.setenv("ATELIER_MODEL", "mock:env")
    cfg = reload_settings()
    assert (cfg.model, cfg.concurrency) == ("mock:env", 5)
    assert get_backend().name == "mock:env"
    assert get_backend("mock:argument").name == "mock:argument"
    assert complete("x", model="mock:upper", cache=False).text == "X"


def test_concurrency_comes_from_the_backend_unless_the_call_or_the_course_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().concurrency == 0  # the project's atelier.toml leaves it to the backends
    defaults = {m: concurrency_for(m) for m in ("local", "mock", "openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5",
                                                 "openai-compatible:http://127.0.0.1:1/v1#m")}
    assert defaults["local"] == 1
    assert defaults["openai:gpt-4.1-mini"] >= 32 and defaults["openai-compatible:http://127.0.0.1:1/v1#m"] >= 32
    assert 16 <= defaults["anthropic:claude-haiku-4-5"] <= 32 and defaults["mock"] >= 32
    assert concurrency_for("openai:gpt-4.1-mini", 5) == 5
    assert concurrency_for("local", 8) == 1  # the local model runs one request at a time whatever is asked
    monkeypatch.setenv("ATELIER_CONCURRENCY", "3")
    reload_settings()
    assert concurrency_for("openai:gpt-4.1-mini") == 3 and concurrency_for("anthropic:claude-haiku-4-5", 7) == 7


def test_the_course_file_sets_concurrency_for_every_backend(course: Path) -> None:
    assert concurrency_for("openai:gpt-4.1-mini") == 3 and concurrency_for("mock") == 3


@pytest.mark.parametrize(
    ("var", "value", "setting"),
    [("ATELIER_CONCURRENCY", "many", "concurrency"), ("ATELIER_MAX_RETRIES", "-1", "max_retries"),
     ("ATELIER_TIMEOUT", "soon", "timeout_s"), ("ATELIER_CACHE_ENABLED", "perhaps", "cache_enabled")],
)
def test_bad_values_name_the_setting_and_where_it_came_from(monkeypatch: pytest.MonkeyPatch, var: str, value: str, setting: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as caught:
        reload_settings()
    monkeypatch.delenv(var)  # the shared fixture reloads settings at teardown
    assert setting in str(caught.value) and var in str(caught.value) and repr(value) in str(caught.value)


def test_bad_language_toml_and_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_LANG", "de")
    with pytest.raises(ConfigError, match="'en' or 'fr'"):
        reload_settings()
    monkeypatch.delenv("ATELIER_LANG")
    broken = tmp_path / "atelier.toml"
    broken.write_text("[run\nconcurrency = 2\n", encoding="utf-8")
    monkeypatch.setenv("ATELIER_CONFIG", str(broken))
    with pytest.raises(ConfigError, match="not valid TOML"):
        reload_settings()
    broken.write_text('[prices."openai:x"]\ninput = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="prices"):
        reload_settings()
    monkeypatch.setenv("ATELIER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="ATELIER_CONFIG"):
        reload_settings()
    monkeypatch.setenv("ATELIER_CONFIG", str(ROOT / "atelier.toml"))  # the shared fixture reloads at teardown


def test_keys_widget_then_env_then_dotenv_never_toml(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (course / "atelier.toml").write_text('OPENAI_API_KEY = "sk-in-toml"\n[keys]\nopenai = "sk-in-toml"\n', encoding="utf-8")
    reload_settings()
    assert get_key("openai") is None
    (course / ".env").write_text("OPENAI_API_KEY=sk-dotenv\n", encoding="utf-8")
    assert (get_key("openai"), key_source("openai")) == ("sk-dotenv", ".env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert (get_key("openai"), key_source("openai")) == ("sk-env", "environment")
    set_key("openai", "  sk-widget  ")
    assert (get_key("openai"), key_source("openai")) == ("sk-widget", "session")
    clear_keys()
    assert get_key("openai") == "sk-env"
    with pytest.raises(ConfigError, match="provider"):
        set_key("mistral", "k")


def test_settings_never_hold_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-appear")
    set_key("anthropic", "sk-ant-should-not-appear")
    assert "should-not-appear" not in repr(reload_settings())


# --- registry --------------------------------------------------------------------------------

def test_unknown_provider_and_empty_model_strings() -> None:
    with pytest.raises(UnknownModelError) as caught:
        get_backend("mistral:large")
    assert "'mistral'" in caught.value.problem and "openai:gpt-4.1-mini" in caught.value.fix
    for bad in ("", "   "):
        with pytest.raises(UnknownModelError, match="empty"):
            get_backend(bad)


def test_parse_and_shared_instances_and_registration() -> None:
    assert parse_model_string("openai-compatible:http://h:1/v1#m") == ("openai-compatible", "http://h:1/v1#m")
    assert parse_model_string("local") == ("local", "")
    assert get_backend("mock") is get_backend(" mock ")
    assert {"local", "mock", "openai", "openai-compatible", "anthropic"} <= set(providers())
    register("echo2", lambda name, rest: MockBackend(name, "upper"))
    assert complete("hi", model="echo2:x", cache=False).text == "HI"


def test_import_promptatelier_loads_no_sdk() -> None:
    code = (
        "import sys, promptatelier, promptatelier.models\n"
        "heavy = [m for m in ('openai', 'anthropic', 'llama_cpp', 'httpx2', 'pandas', 'matplotlib', 'nbformat', 'asyncio', 'dotenv')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    # and using a hosted backend loads its SDK, and only then
    code = "import sys\nfrom promptatelier import get_backend\nget_backend('anthropic:m')\nprint('anthropic' in sys.modules, 'openai' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["False", "False"]  # constructing is free: the SDK loads on the first request


def test_get_cache_shares_one_store_per_path(tmp_path: Path) -> None:
    assert get_cache(tmp_path / "a.sqlite") is get_cache(str(tmp_path / "a.sqlite"))
    assert get_cache() is get_cache(settings().cache_path)


def test_an_autograde_kernel_reads_no_dotenv_key(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nbgrader's autograde runs learners' code beside the kit: the course's .env is the instructor's
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (course / ".env").write_text("OPENAI_API_KEY=sk-instructor\nATELIER_MODEL=mock:dotenv\n", encoding="utf-8")
    assert get_key("openai") == "sk-instructor"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    reload_settings()
    assert get_key("openai") is None and settings().model != "mock:dotenv"


def test_a_schemas_key_order_is_part_of_the_request() -> None:
    one = ChatRequest.from_prompt("x", json_schema={"type": "object", "properties": {"name": {}, "price": {}}})
    two = ChatRequest.from_prompt("x", json_schema={"type": "object", "properties": {"price": {}, "name": {}}})
    assert one.fingerprint() != two.fingerprint()
    assert one.fingerprint() == ChatRequest.from_prompt("x", json_schema=dict(one.json_schema)).fingerprint()
