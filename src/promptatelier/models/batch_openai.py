"""OpenAI's Batch API (and an OpenAI-compatible server that implements it): a JSONL file of
chat-completion requests uploaded with purpose "batch", a batch made from it, and the output and
error files read back when it ends."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import AtelierError, ConfigError
from .base import ChatRequest, Completion
from .batch_api import CANCELLED, ENDED, EXPIRED, FAILED, RUNNING, BatchAPI, BatchStatus, ItemError

__all__ = ["OpenAIBatch"]

ENDPOINT = "/v1/chat/completions"
_STATES = {"completed": ENDED, "failed": FAILED, "expired": EXPIRED, "cancelled": CANCELLED}
# error codes of requests the batch never ran (its window closed, or it was cancelled)
_UNRUN = ("batch_expired", "batch_cancelled", "batch_failed")


class OpenAIBatch(BatchAPI):
    provider = "openai"
    max_requests: ClassVar[int] = 50_000
    max_bytes: ClassVar[int] = 190_000_000  # the input file's limit is 200 MB

    def line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        self.backend._validate(request)
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": self.backend._params(request)}

    def check(self) -> None:
        super().check()
        if self.backend.provider != "openai-compatible":
            return
        client = self._client()
        try:
            client.batches.list(limit=1)
        except Exception as exc:
            if getattr(exc, "status_code", None) in (400, 404, 405, 501):
                raise ConfigError(
                    f"{self.backend.server} has no batch endpoint (GET /batches answered HTTP "
                    f"{exc.status_code}), so {self.backend.name} cannot grade with --batch.",  # type: ignore[attr-defined]
                    "Grade without --batch (a course's own server costs the same either way), or use a "
                    "server that implements OpenAI's Batch API (/v1/files and /v1/batches).",
                ) from None
            raise self.backend._translate(exc) from None

    def submit(self, items: Sequence[tuple[str, ChatRequest]]) -> str:
        data = "".join(json.dumps(self.line(c, r), ensure_ascii=False) + "\n" for c, r in items).encode("utf-8")
        client = self._client()
        upload = self._sdk(client.files.create, file=("requests.jsonl", data, "application/jsonl"), purpose="batch")
        batch = self._sdk(client.batches.create, input_file_id=upload.id, endpoint=ENDPOINT,
                          completion_window="24h", metadata={"created_by": "atelier grade"})
        return str(batch.id)

    def _batch(self, batch_id: str) -> Any:
        return self._sdk(self._client().batches.retrieve, batch_id)

    def status(self, batch_id: str) -> BatchStatus:
        batch = self._batch(batch_id)
        counts = batch.request_counts
        total, done, failed = (counts.total, counts.completed, counts.failed) if counts else (0, 0, 0)
        errors = [f"{e.message}" + (f" (line {e.line})" if getattr(e, "line", None) else "")
                  for e in ((batch.errors.data or []) if batch.errors else []) if e.message]
        return BatchStatus(batch_id, _STATES.get(batch.status, RUNNING), total, done, failed, "; ".join(errors)[:600])

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        content = self._sdk(self._client().files.content, file_id)
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> dict[str, Completion | ItemError]:
        batch = self._batch(batch_id)
        out: dict[str, Completion | ItemError] = {}
        for line in self._lines(batch.output_file_id) + self._lines(batch.error_file_id):
            custom_id = line.get("custom_id")
            if custom_id not in requests:
                continue
            out[custom_id] = self._item(line, requests[custom_id])
        for custom_id in requests:
            if custom_id not in out:
                out[custom_id] = ItemError("unfinished", f"the batch ended ({batch.status}) before this request ran")
        return out

    def _item(self, line: dict[str, Any], request: ChatRequest) -> Completion | ItemError:
        error = line.get("error") or {}
        response = line.get("response") or {}
        if error:
            kind = "unfinished" if error.get("code") in _UNRUN else "errored"
            return ItemError(kind, str(error.get("message") or error.get("code") or "no answer"))
        status = response.get("status_code")
        body = response.get("body") or {}
        if status != 200:
            inner = body.get("error") if isinstance(body, dict) else None
            message = inner.get("message") if isinstance(inner, dict) else str(body)[:200]
            return ItemError("errored", f"HTTP {status}: {self.backend._scrub(str(message))}")
        try:
            return self._priced(self.backend._to_completion(body, request, 0.0, 0))
        except AtelierError as exc:
            return ItemError("errored", exc.problem)
