"""The one protocol every backend implements: a chat request in, a completion out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar, Literal

__all__ = [
    "Message",
    "ChatRequest",
    "Usage",
    "TopLogprob",
    "TokenLogprob",
    "Completion",
    "Backend",
    "library_version",
]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """Everything that can change a model's output, and nothing else (no key, no URL)."""

    messages: tuple[Message, ...]
    system: str | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    # None: unseeded (above temperature 0, every call draws anew and nothing is cached)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    logprobs: bool = False
    top_logprobs: int = 0

    @classmethod
    def from_prompt(
        cls,
        prompt: str | list[dict[str, str]] | list[Message] | tuple[Message, ...],
        **params: Any,
    ) -> ChatRequest:
        """A request from a plain string (one user message) or a list of chat messages.

        A leading system message in the list becomes `system` unless `system` is given too.
        """
        if isinstance(prompt, str):
            messages: list[Message] = [Message("user", prompt)]
        else:
            messages = [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in prompt]  # type: ignore[arg-type]
        if messages and messages[0].role == "system" and params.get("system") is None:
            params["system"] = messages[0].content
            messages = messages[1:]
        if "stop" in params and params["stop"] is not None:
            stop = params["stop"]
            params["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        elif "stop" in params:
            params["stop"] = ()
        return cls(messages=tuple(messages), **params)

    def chat_messages(self) -> list[dict[str, str]]:
        """The conversation as OpenAI-style dicts, system prompt first when there is one."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        out.extend({"role": m.role, "content": m.content} for m in self.messages)
        return out

    def fingerprint(self) -> str:
        """A stable hash of the request's content (what the cache keys on, with the model)."""
        data = asdict(self)
        if self.json_schema is not None:  # its key order is the order the reply's keys come in
            data["json_schema"] = json.dumps(self.json_schema, ensure_ascii=False)
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def prefill(self) -> str | None:
        """The start of the reply the model must continue: the text of a last assistant turn."""
        if self.messages and self.messages[-1].role == "assistant":
            return self.messages[-1].content
        return None

    def with_(self, **changes: Any) -> ChatRequest:
        return replace(self, **changes)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class TopLogprob:
    token: str
    logprob: float


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str = "stop"
    logprobs: tuple[TokenLogprob, ...] | None = None
    cost_usd: float = 0.0
    cached: bool = False
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        lp = data.get("logprobs")
        logprobs = None
        if lp is not None:
            logprobs = tuple(
                TokenLogprob(t["token"], t["logprob"], tuple(TopLogprob(**x) for x in t.get("top", ())))
                for t in lp
            )
        return cls(
            text=data["text"],
            model=data["model"],
            usage=Usage(**data.get("usage", {})),
            latency_s=data.get("latency_s", 0.0),
            finish_reason=data.get("finish_reason", "stop"),
            logprobs=logprobs,
            cost_usd=data.get("cost_usd", 0.0),
            cached=data.get("cached", False),
            retries=data.get("retries", 0),
        )

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=None)
def library_version(distribution: str) -> str:
    """The installed version of `distribution` ("absent" when it is not installed), read once per
    process from its metadata without importing it."""
    import importlib.metadata  # here, not at the top: `import promptatelier` stays quick

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


class Backend:
    """A model backend. Subclasses implement `complete`; `acomplete` is optional.

    `name` is the model string that made it (``openai:gpt-4.1-mini``); `cache_identity` is what
    the response cache keys on besides the request: the model string (a custom server's URL is in
    it), the version of the library that talks to the model and, for the local model, its file and
    generation settings. Never a key.
    """

    provider: ClassVar[str] = "base"
    # the distribution (SDK or binding) whose version goes into the cache identity: a new SDK or
    # llama.cpp may change the replies, so it must not be served the old ones
    library: ClassVar[str | None] = None
    # whether a fixed seed makes sampling above temperature 0 reproducible here; only then is such
    # a request cached (temperature 0 always is: the cache is what makes regrading reproducible)
    honours_seed: ClassVar[bool] = False
    # requests in flight at once in complete_many when neither the call nor the course says
    default_concurrency: ClassVar[int] = 8
    # a hard cap whatever is asked (the local model runs one request at a time)
    max_parallel: ClassVar[int | None] = None

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def cache_identity(self) -> str:
        """``NAME LIBRARY==VERSION [more]``, e.g. ``openai:gpt-4.1-mini openai==3.57.0``."""
        return " ".join([self.name, *self.identity_parts()])

    def identity_parts(self) -> list[str]:
        """What, besides the model string, decides this backend's replies (subclasses extend it)."""
        return [f"{self.library}=={library_version(self.library)}"] if self.library else []

    def reproducible(self, request: ChatRequest) -> bool:
        """Whether `request` may be cached: temperature 0, or a fixed seed where seeds hold."""
        return request.temperature == 0 or (request.seed is not None and self.honours_seed)

    def complete(self, request: ChatRequest) -> Completion:  # pragma: no cover - abstract
        raise NotImplementedError

    async def acomplete(self, request: ChatRequest) -> Completion:
        """Async form; the default runs `complete` in a worker thread."""
        import asyncio  # here, not at the top: `import promptatelier` stays quick

        return await asyncio.to_thread(self.complete, request)

    def check(self) -> str:
        """Whether the backend is usable now (for `atelier doctor`): a short status or raises."""
        return "ok"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
