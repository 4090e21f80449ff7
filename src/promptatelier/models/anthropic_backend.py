"""Anthropic's Messages API (`anthropic:MODEL`) through the official anthropic SDK, imported on
first use.

The system prompt goes in the top-level `system` parameter. Structured output uses the API's
`output_config.format` (json_schema). The SDK's `messages.create` (anthropic 2.x) takes no
sampling parameters, so temperature and seed are not sent; there are no logprobs. The base URL
comes from the SDK's own `ANTHROPIC_BASE_URL` when set (a gateway), else Anthropic's.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnknownModelError, UnsupportedFeatureError
from ._hosted import HostedBackend, shared_tls_context
from .base import ChatRequest, Completion, Usage

__all__ = ["AnthropicBackend"]


class AnthropicBackend(HostedBackend):
    provider = "anthropic"
    key_provider = "anthropic"
    label = "Anthropic"

    def __init__(self, name: str, rest: str) -> None:
        model = rest.strip()
        if not model:
            raise UnknownModelError(
                f"The model string {name!r} names no Anthropic model.",
                "Write it as anthropic:MODEL, for example anthropic:claude-haiku-4-5.",
            )
        super().__init__(name, model)

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

    def _params(self, request: ChatRequest) -> dict[str, Any]:
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
        return params

    def _call(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        raw = client.messages.with_raw_response.create(**self._params(request))
        return raw.parse(), raw.retries_taken

    async def _acall(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        raw = await client.messages.with_raw_response.create(**self._params(request))
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
