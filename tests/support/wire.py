"""Response bodies in the OpenAI chat-completions and Anthropic Messages wire formats.

Shared by the scripted test server and the benchmark's ASGI server, so that both answer exactly
what the official SDKs expect to parse.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

_ids = itertools.count(1)


def words(text: str) -> int:
    return len(text.split())


def prompt_text(body: dict[str, Any]) -> str:
    """The last user message of an OpenAI or Anthropic request body."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content)
    return ""


def openai_chat(
    text: str,
    model: str = "scripted",
    prompt_tokens: int = 0,
    finish_reason: str = "stop",
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish_reason,
        "logprobs": {"content": logprobs} if logprobs is not None else None,
    }
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": words(text),
            "total_tokens": prompt_tokens + words(text),
        },
    }


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "invalid_api_key", 404: "model_not_found",
            429: "rate_limit_exceeded"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def openai_models(ids: list[str]) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "test"} for i in ids]}


def anthropic_message(
    text: str,
    model: str = "scripted",
    input_tokens: int = 0,
    stop_reason: str = "end_turn",
    cache_read_input_tokens: int = 0,
) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": words(text),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cache_read_input_tokens,
        },
    }


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def anthropic_models(ids: list[str]) -> dict[str, Any]:
    data = [{"id": i, "type": "model", "display_name": i, "created_at": "2025-01-01T00:00:00Z"} for i in ids]
    return {"data": data, "has_more": False, "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None}
