"""OpenAI (`openai:MODEL`) and any OpenAI-compatible server (`openai-compatible:BASE_URL#MODEL`:
vLLM, Ollama, llama.cpp server) through the official openai SDK, imported on first use.

The hosted backend takes its base URL from the SDK's own `OPENAI_BASE_URL` when set (a proxy or
a gateway), else OpenAI's. Structured output uses `response_format` json_schema; a compatible
server that rejects it (llama.cpp's, llama-cpp-python's) is asked once with the llama.cpp form
`{"type": "json_object", "schema": ...}` instead, which it enforces with a grammar.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import UnknownModelError, UnsupportedFeatureError
from ._hosted import HostedBackend, host_of, retries_of, tls_context_for
from .base import ChatRequest, Completion, TokenLogprob, TopLogprob, Usage

__all__ = ["OpenAIBackend", "OpenAICompatibleBackend"]

# a compatible server with no key configured still gets an Authorization header
PLACEHOLDER_KEY = "not-needed"


def _strict_ok(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts `schema` (every object closed, all keys required)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties", True) is not False:
                return False
            if set(schema.get("required", [])) != set(props):
                return False
        return all(_strict_ok(v) for v in schema.values())
    if isinstance(schema, list):
        return all(_strict_ok(v) for v in schema)
    return True


def _response_class() -> type:
    """The HTTP response class of the installed SDK (httpx2 in openai 3.x, httpx before)."""
    try:
        import httpx2

        return httpx2.Response
    except ImportError:  # pragma: no cover - openai 1.x / 2.x
        import httpx

        return httpx.Response


def _json_of(answer: Any) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


class OpenAIBackend(HostedBackend):
    provider = "openai"
    key_provider = "openai"
    label = "OpenAI"
    library = "openai"
    # OpenAI documents its seed as best effort (replies may still differ), so a seeded request
    # above temperature 0 is sent every time rather than replayed as if it were reproducible
    honours_seed = False
    # well under any paid tier's limits per second; the SDK retries the 429s beyond them
    default_concurrency = 32
    # OpenAI deprecated max_tokens for max_completion_tokens; compatible servers know max_tokens
    tokens_param: ClassVar[str] = "max_completion_tokens"

    def __init__(self, name: str, rest: str) -> None:
        model = rest.strip()
        if not model:
            raise UnknownModelError(
                f"The model string {name!r} names no OpenAI model.",
                "Write it as openai:MODEL, for example openai:gpt-4.1-mini.",
            )
        super().__init__(name, model)
        self.base_url: str | None = None
        # which structured-output form the server takes: "json_schema" or "json_object" (the
        # llama.cpp form), or "probe" until a compatible server has answered a structured request
        self._json_mode = "json_schema"

    def _make_client(self, key: str | None, asynchronous: bool, timeout: float, max_retries: int) -> Any:
        import openai

        cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        http = openai.DefaultAsyncHttpxClient if asynchronous else openai.DefaultHttpxClient
        options: dict[str, Any] = {
            "api_key": key or PLACEHOLDER_KEY, "timeout": timeout, "max_retries": max_retries,
            "http_client": http(verify=tls_context_for(self.base_url)),
        }
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return cls(**options)

    # --- request ------------------------------------------------------------------------------
    def _validate(self, request: ChatRequest) -> None:
        if request.prefill is not None:
            raise UnsupportedFeatureError(
                f"{self.name} cannot continue a reply started for it (a prefill): the Chat Completions "
                "API answers a conversation that ends with an assistant turn with a new reply.",
                "Run prefill exercises on the embedded model (local) or an Anthropic model, or ask for "
                "the format in the prompt instead (a JSON schema gives structured output here).",
            )

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._json_mode == "json_object":
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": _strict_ok(schema)},
        }

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": request.chat_messages(),
            "temperature": request.temperature,
            self.tokens_param: request.max_tokens,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if request.stop:
            params["stop"] = list(request.stop)
        if request.logprobs:
            params["logprobs"] = True
            if request.top_logprobs:
                params["top_logprobs"] = request.top_logprobs
        if request.json_schema is not None:
            params["response_format"] = self._response_format(request.json_schema)
        return params

    def _probing(self, request: ChatRequest) -> bool:
        """The first structured request to a compatible server finds out which form it takes."""
        return request.json_schema is not None and self._json_mode == "probe"

    def _schema_rejected(self, exc: Exception) -> bool:
        # llama-cpp-python's server answers a request it cannot validate with a 500, others 400/422
        status = getattr(exc, "status_code", None)
        text = self._server_message(exc)
        return status in (400, 422, 500) and ("response_format" in text or "json_schema" in text)

    def _unsupported_schema(self, exc: Exception) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(
            f"{self.server} rejected structured output (json_schema) in both the OpenAI form and the "
            f"llama.cpp form: {self._server_message(exc)}",
            "Use a server that supports response_format json_schema (vLLM, Ollama, llama.cpp "
            "server), or ask for JSON in the prompt without json_schema.",
        )

    def _after_probe(self, exc: Exception) -> None:
        """A probe failed: switch to the llama.cpp form if the schema was the problem."""
        if self._schema_rejected(exc):
            self._json_mode = "json_object"

    def _fallback_failed(self, exc: Exception, request: ChatRequest) -> Exception:
        if request.json_schema is not None and self._json_mode == "json_object" and self._schema_rejected(exc):
            self._json_mode = "probe"
            return self._unsupported_schema(exc)
        return exc

    # The SDK's typed `chat.completions.create` spends about a third of the client's CPU time per
    # request on transforming typed params and building pydantic models (profiled with
    # bench/bench_many.py). Its documented `client.post` keeps everything that matters (auth,
    # retries with Retry-After, status errors) and hands back the HTTP response, read here.
    def _call(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        extra = 0
        if self._probing(request):
            try:
                answer = client.with_options(max_retries=0).post(
                    "/chat/completions", body=self._params(request), cast_to=_response_class()
                )
            except Exception as exc:
                self._after_probe(exc)
                extra = 0 if self._json_mode == "json_object" else 1
            else:
                self._json_mode = "json_schema"
                return _json_of(answer), retries_of(answer)
        try:
            answer = client.post("/chat/completions", body=self._params(request), cast_to=_response_class())
        except Exception as exc:
            raise self._fallback_failed(exc, request) from None
        return _json_of(answer), retries_of(answer) + extra

    async def _acall(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        extra = 0
        if self._probing(request):
            try:
                answer = await client.with_options(max_retries=0).post(
                    "/chat/completions", body=self._params(request), cast_to=_response_class()
                )
            except Exception as exc:
                self._after_probe(exc)
                extra = 0 if self._json_mode == "json_object" else 1
            else:
                self._json_mode = "json_schema"
                return _json_of(answer), retries_of(answer)
        try:
            answer = await client.post("/chat/completions", body=self._params(request), cast_to=_response_class())
        except Exception as exc:
            raise self._fallback_failed(exc, request) from None
        return _json_of(answer), retries_of(answer) + extra

    # --- reply --------------------------------------------------------------------------------
    def _to_completion(self, reply: Any, request: ChatRequest, latency_s: float, retries: int) -> Completion:
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices:
            raise self._translate(RuntimeError(f"{self.server} answered with no choices: {str(reply)[:200]}"))
        choice = choices[0]
        message = choice.get("message") or {}
        text = message.get("content") or message.get("refusal") or ""
        usage = reply.get("usage") or {}
        logprobs = None
        content = (choice.get("logprobs") or {}).get("content")
        if request.logprobs and content is not None:
            logprobs = tuple(
                TokenLogprob(
                    t["token"],
                    float(t["logprob"]),
                    tuple(TopLogprob(x["token"], float(x["logprob"])) for x in (t.get("top_logprobs") or ())),
                )
                for t in content
            )
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0),
            latency_s=latency_s,
            finish_reason=_finish(choice.get("finish_reason")),
            logprobs=logprobs,
            retries=retries,
        )

    def _probe(self, client: Any) -> str:
        models = client.models.list()
        ids = [m.id for m in models.data]
        if ids and self.model not in ids:
            return f"but it does not list the model {self.model!r} ({len(ids)} models)"
        return f"{len(ids)} models"


class OpenAICompatibleBackend(OpenAIBackend):
    """A course's own server speaking the OpenAI chat-completions API (usually no key)."""

    provider = "openai-compatible"
    key_provider = "openai-compatible"
    key_required = False
    tokens_param = "max_tokens"
    # vLLM, Ollama and llama.cpp's server take a seed, but batching makes none of them bit-exact
    honours_seed = False
    # a server queues what it cannot batch: 32 keeps vLLM busy and a one-slot server merely waits
    default_concurrency = 32

    EXAMPLE = "openai-compatible:http://127.0.0.1:8000/v1#my-model"

    def __init__(self, name: str, rest: str) -> None:
        base_url, sep, model = rest.strip().rpartition("#")
        parts = urlsplit(base_url)
        if not sep or not model.strip():
            raise UnknownModelError(
                f"The model string {name!r} does not say which model to use on the server.",
                f"Write openai-compatible:BASE_URL#MODEL, for example {self.EXAMPLE}.",
            )
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UnknownModelError(
                f"In {name!r}, {base_url!r} is not an http(s) URL.",
                f"Write openai-compatible:BASE_URL#MODEL, for example {self.EXAMPLE}.",
            )
        super().__init__(name, model.strip())
        self.base_url = base_url.rstrip("/")
        self._json_mode = "probe"
        self.label = f"the server at {host_of(self.base_url)}"

    @property
    def server(self) -> str:
        return self.base_url or self.label

    @property
    def cache_identity(self) -> str:
        # the URL is in the name; said explicitly so that a future name change keeps it
        return " ".join([f"openai-compatible:{self.base_url}#{self.model}", *self.identity_parts()])
