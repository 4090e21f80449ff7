"""OpenAI (`openai:MODEL`) and any OpenAI-compatible server (`openai-compatible:BASE_URL#MODEL`:
vLLM, Ollama, llama.cpp server) through the official openai SDK, imported on first use.

The hosted backend takes its base URL from the SDK's own `OPENAI_BASE_URL` when set (a proxy or
a gateway), else OpenAI's. Structured output uses `response_format` json_schema; a compatible
server that rejects it (llama.cpp's, llama-cpp-python's) is asked once with the llama.cpp form
`{"type": "json_object", "schema": ...}` instead, which it enforces with a grammar.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import UnknownModelError, UnsupportedFeatureError
from ._hosted import HostedBackend, host_of
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


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


class OpenAIBackend(HostedBackend):
    provider = "openai"
    key_provider = "openai"
    label = "OpenAI"
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
        # which structured-output form the server takes: "json_schema", then "json_object"
        self._json_mode = "json_schema"

    def _make_client(self, key: str | None, asynchronous: bool, timeout: float, max_retries: int) -> Any:
        import openai

        cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        options: dict[str, Any] = {"api_key": key or PLACEHOLDER_KEY, "timeout": timeout, "max_retries": max_retries}
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return cls(**options)

    # --- request ------------------------------------------------------------------------------
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

    def _schema_rejected(self, exc: Exception, request: ChatRequest) -> bool:
        """A 400/422 on a structured request the first time: worth one try in the other form."""
        return (
            request.json_schema is not None
            and self._json_mode == "json_schema"
            and isinstance(self, OpenAICompatibleBackend)
            and getattr(exc, "status_code", None) in (400, 422)
        )

    def _unsupported_schema(self, exc: Exception) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(
            f"{self.server} rejected structured output (json_schema) in both the OpenAI form and the "
            f"llama.cpp form: {self._server_message(exc)}",
            "Use a server that supports response_format json_schema (vLLM, Ollama, llama.cpp "
            "server), or ask for JSON in the prompt without json_schema.",
        )

    def _call(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        try:
            raw = client.chat.completions.with_raw_response.create(**self._params(request))
        except Exception as exc:
            if not self._schema_rejected(exc, request):
                raise
            self._json_mode = "json_object"
            try:
                raw = client.chat.completions.with_raw_response.create(**self._params(request))
            except Exception as again:
                if getattr(again, "status_code", None) in (400, 422):
                    self._json_mode = "json_schema"
                    raise self._unsupported_schema(again) from None
                raise
        return raw.parse(), raw.retries_taken

    async def _acall(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        try:
            raw = await client.chat.completions.with_raw_response.create(**self._params(request))
        except Exception as exc:
            if not self._schema_rejected(exc, request):
                raise
            self._json_mode = "json_object"
            try:
                raw = await client.chat.completions.with_raw_response.create(**self._params(request))
            except Exception as again:
                if getattr(again, "status_code", None) in (400, 422):
                    self._json_mode = "json_schema"
                    raise self._unsupported_schema(again) from None
                raise
        parsed = raw.parse()
        return (await parsed if inspect.isawaitable(parsed) else parsed), raw.retries_taken

    # --- reply --------------------------------------------------------------------------------
    def _to_completion(self, reply: Any, request: ChatRequest, latency_s: float, retries: int) -> Completion:
        if not reply.choices:
            raise self._translate(RuntimeError(f"{self.server} answered with no choices"))
        choice = reply.choices[0]
        message = choice.message
        text = message.content or getattr(message, "refusal", None) or ""
        usage = Usage()
        if reply.usage is not None:
            usage = Usage(reply.usage.prompt_tokens or 0, reply.usage.completion_tokens or 0)
        logprobs = None
        if request.logprobs and choice.logprobs is not None and choice.logprobs.content is not None:
            logprobs = tuple(
                TokenLogprob(
                    t.token,
                    float(t.logprob),
                    tuple(TopLogprob(x.token, float(x.logprob)) for x in (t.top_logprobs or ())),
                )
                for t in choice.logprobs.content
            )
        return Completion(
            text=text,
            model=self.name,
            usage=usage,
            latency_s=latency_s,
            finish_reason=_finish(choice.finish_reason),
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
        self.label = f"the server at {host_of(self.base_url)}"

    @property
    def server(self) -> str:
        return self.base_url or self.label

    @property
    def cache_identity(self) -> str:
        # the URL is in the name; said explicitly so that a future name change keeps it
        return f"openai-compatible:{self.base_url}#{self.model}"
