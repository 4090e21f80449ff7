"""Anthropic's Messages API (`anthropic:MODEL`) through the official anthropic SDK, imported on
first use.

The system prompt goes in the top-level `system` parameter. Structured output uses the API's
`output_config.format` (json_schema). There is no seed and there are no logprobs. The base URL
comes from the SDK's own `ANTHROPIC_BASE_URL` when set (a gateway), else Anthropic's.

Temperature: the SDK's `messages.create` has had no `temperature` keyword since anthropic 1.0,
and API version 2026-10-21, which anthropic 2.x sends, refuses sampling parameters at any value.
So `temperature` goes in the request body (`extra_body`, capped at Anthropic's maximum of 1)
whenever the API version in use predates that (anthropic 0.x and 1.x, or an older
`anthropic-version` set through ANTHROPIC_CUSTOM_HEADERS), and is dropped for good on a model that
refuses it (the newest ones do, at any API version). Where it is not sent, the model samples as it
always does: the response cache is what makes a temperature-0 regrade reproducible.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnknownModelError, UnsupportedFeatureError
from ._hosted import HostedBackend, shared_tls_context
from .base import ChatRequest, Completion, Usage

__all__ = ["AnthropicBackend", "SAMPLING_REMOVED_IN"]

# the first Messages API version that refuses temperature, top_p and top_k at any value
SAMPLING_REMOVED_IN = "2026-10-21"
# Anthropic's temperature runs from 0 to 1
MAX_TEMPERATURE = 1.0


class AnthropicBackend(HostedBackend):
    provider = "anthropic"
    key_provider = "anthropic"
    label = "Anthropic"
    library = "anthropic"
    honours_seed = False  # the Messages API takes no seed
    default_concurrency = 16

    def __init__(self, name: str, rest: str) -> None:
        model = rest.strip()
        if not model:
            raise UnknownModelError(
                f"The model string {name!r} names no Anthropic model.",
                "Write it as anthropic:MODEL, for example anthropic:claude-haiku-4-5.",
            )
        super().__init__(name, model)
        # set once the model has answered a 400 about temperature: never sent to it again
        self._temperature_refused = False

    def _make_client(self, key: str | None, asynchronous: bool, timeout: float, max_retries: int) -> Any:
        import anthropic

        cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        http = anthropic.DefaultAsyncHttpxClient if asynchronous else anthropic.DefaultHttpxClient
        return cls(api_key=key, timeout=timeout, max_retries=max_retries, http_client=http(verify=shared_tls_context()))

    def _validate(self, request: ChatRequest) -> None:
        if request.logprobs:
            raise UnsupportedFeatureError(
                f"{self.name} cannot return logprobs: Anthropic's API has none.",
                "Ask for logprobs on the local model or an OpenAI model, or turn logprobs off.",
            )
        if not request.messages or request.messages[0].role != "user":
            raise UnsupportedFeatureError(
                f"{self.name} needs the conversation to start with a user message "
                f"(it starts with {request.messages[0].role if request.messages else 'nothing'}).",
                "Put the instructions in the system prompt and start the messages with the user's turn.",
            )

    def _sends_temperature(self, client: Any) -> bool:
        """Whether this client's API version and this model take a temperature."""
        headers = {str(k).lower(): v for k, v in client.default_headers.items() if isinstance(v, str)}
        return not self._temperature_refused and headers.get("anthropic-version", "") < SAMPLING_REMOVED_IN

    def _refuses_temperature(self, exc: Exception) -> bool:
        return getattr(exc, "status_code", None) == 400 and "temperature" in self._server_message(exc)

    def _params(self, request: ChatRequest, temperature: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.system:
            params["system"] = request.system
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        if request.json_schema is not None:
            params["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
        if temperature:
            # no keyword of the SDK's create() since anthropic 1.0: merged into the JSON body as is
            params["extra_body"] = {"temperature": min(request.temperature, MAX_TEMPERATURE)}
        return params

    def _resend(self, exc: Exception, request: ChatRequest, sent_temperature: bool) -> dict[str, Any]:
        """The request again without temperature when that is what the model refused; else re-raise."""
        if not (sent_temperature and self._refuses_temperature(exc)):
            raise exc
        self._temperature_refused = True
        return self._params(request)

    def _call(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        create = client.messages.with_raw_response.create
        sent = self._sends_temperature(client)
        try:
            raw = create(**self._params(request, sent))
        except Exception as exc:
            raw = create(**self._resend(exc, request, sent))
        return raw.parse(), raw.retries_taken

    async def _acall(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        create = client.messages.with_raw_response.create
        sent = self._sends_temperature(client)
        try:
            raw = await create(**self._params(request, sent))
        except Exception as exc:
            raw = await create(**self._resend(exc, request, sent))
        return await raw.parse(), raw.retries_taken

    def _to_completion(self, reply: Any, request: ChatRequest, latency_s: float, retries: int) -> Completion:
        text = "".join(getattr(block, "text", "") for block in reply.content if block.type == "text")
        usage = reply.usage
        inputs = (
            (usage.input_tokens or 0)
            + (getattr(usage, "cache_creation_input_tokens", None) or 0)
            + (getattr(usage, "cache_read_input_tokens", None) or 0)
        )
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(inputs, usage.output_tokens or 0),
            latency_s=latency_s,
            finish_reason="length" if reply.stop_reason == "max_tokens" else "stop",
            retries=retries,
        )

    def _probe(self, client: Any) -> str:
        page = client.models.list(limit=20)
        ids = [m.id for m in page.data]
        return f"{len(ids)}+ models" if ids else ""
