"""Anthropic's Message Batches: Messages API requests sent in one call, results streamed as JSONL
from the batch's results_url once it has ended."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import AtelierError
from .base import ChatRequest, Completion
from .batch_api import CANCELLED, ENDED, EXPIRED, RUNNING, BatchAPI, BatchStatus, ItemError

__all__ = ["AnthropicBatch"]


class AnthropicBatch(BatchAPI):
    provider = "anthropic"
    max_requests: ClassVar[int] = 100_000
    max_bytes: ClassVar[int] = 250_000_000  # the API's limit is 256 MB

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        self.backend._validate(request)
        params = self.backend._params(request, self.backend._sends_temperature(self._client()))
        params.update(params.pop("extra_body", {}))  # a batch's params are the request body itself
        return {"custom_id": custom_id, "params": params}

    def submit(self, items: Sequence[tuple[str, ChatRequest]]) -> str:
        lines = [self.line(c, r) for c, r in items]
        batch = self._sdk(self._client().messages.batches.create, requests=lines)
        return str(batch.id)

    def status(self, batch_id: str) -> BatchStatus:
        batch = self._sdk(self._client().messages.batches.retrieve, batch_id)
        c = batch.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        if batch.processing_status != "ended":
            state = RUNNING
        else:
            state = EXPIRED if c.expired else CANCELLED if c.canceled else ENDED
        return BatchStatus(batch_id, state, total, c.succeeded, c.errored)

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> dict[str, Completion | ItemError]:
        out: dict[str, Completion | ItemError] = {}
        for entry in self._sdk(self._client().messages.batches.results, batch_id):
            if entry.custom_id in requests:
                out[entry.custom_id] = self._item(entry.result, requests[entry.custom_id])
        for custom_id in requests:
            out.setdefault(custom_id, ItemError("unfinished", "the batch's results do not list this request"))
        return out

    def _item(self, result: Any, request: ChatRequest) -> Completion | ItemError:
        if result.type == "succeeded":
            try:
                return self._priced(self.backend._to_completion(result.message, request, 0.0, 0))
            except AtelierError as exc:
                return ItemError("errored", exc.problem)
        if result.type == "errored":
            inner = getattr(result.error, "error", None)
            message = getattr(inner, "message", None) or getattr(inner, "type", None) or "errored"
            return ItemError("errored", f"{getattr(inner, 'type', 'error')}: {self.backend._scrub(str(message))}")
        return ItemError("unfinished", f"the request {result.type} before it ran")
