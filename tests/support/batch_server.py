"""A server on 127.0.0.1 speaking the providers' batch wire formats, for the official SDKs:

- OpenAI: POST /v1/files (multipart upload of the JSONL input), POST /v1/batches, GET
  /v1/batches/{id} and /v1/batches (list), GET /v1/files/{id}/content (output and error JSONL);
- Anthropic: POST /v1/messages/batches, GET /v1/messages/batches/{id}, and the JSONL at the
  batch's results_url;
- the live endpoints too (POST /v1/chat/completions, POST /v1/messages), counted in `live`.

A batch runs when the test says so: `finish()` answers every request of the batches still
running (optionally only the first `ran` of each, the rest expired or cancelled), `fail()` fails
one. `answer(body)` decides each answer, batch or live: a text, or an int for an HTTP error.
With `batches=False` the batch routes answer 404 (a server without a batch endpoint).
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire

__all__ = ["BatchServer"]

Answer = Callable[[dict[str, Any]], "str | int"]


def echo(body: dict[str, Any]) -> str:
    return f"echo: {wire.prompt_text(body)}"


def _iso(offset_h: float = 0.0) -> str:
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=offset_h)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _prompt_words(body: dict[str, Any]) -> int:
    words = sum(wire.words(str(m.get("content", ""))) for m in body.get("messages", []))
    return words + wire.words(str(body.get("system", "")))


class BatchServer:
    def __init__(self, answer: Answer = echo, *, batches: bool = True) -> None:
        self.answer = answer
        self.batches_enabled = batches
        self.files: dict[str, dict[str, Any]] = {}
        self.openai: dict[str, dict[str, Any]] = {}  # batch objects
        self.anthropic: dict[str, dict[str, Any]] = {}
        self.anthropic_requests: dict[str, list[dict[str, Any]]] = {}
        self.anthropic_results: dict[str, bytes] = {}
        self.live: list[dict[str, Any]] = []  # bodies of live requests
        self.uploads: list[dict[str, Any]] = []  # each upload's form fields and content type
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- life cycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> BatchServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, name="batch-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # --- what the test drives ----------------------------------------------------------------
    def batch_ids(self) -> list[str]:
        return list(self.openai) + list(self.anthropic)

    def input_lines(self, batch_id: str) -> list[dict[str, Any]]:
        if batch_id in self.anthropic_requests:
            return self.anthropic_requests[batch_id]
        data = self.files[self.openai[batch_id]["input_file_id"]]["data"]
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def finish(self, ran: int | None = None, how: str = "expired") -> None:
        """Every running batch ends: its first `ran` requests answered (all by default), the
        others `how` (expired or cancelled)."""
        with self._lock:
            for batch_id, batch in self.openai.items():
                if batch["status"] == "in_progress":
                    self._finish_openai(batch_id, batch, ran, how)
            for batch_id, batch in self.anthropic.items():
                if batch["processing_status"] == "in_progress":
                    self._finish_anthropic(batch_id, batch, ran, how)

    def fail(self, batch_id: str, message: str) -> None:
        with self._lock:
            batch = self.openai[batch_id]
            batch.update(status="failed", failed_at=int(datetime.datetime.now().timestamp()),
                         errors={"object": "list", "data": [{"code": "invalid_request", "message": message, "line": 1,
                                                             "param": None}]})

    # --- batch processing --------------------------------------------------------------------
    def _file(self, data: bytes, purpose: str, filename: str) -> dict[str, Any]:
        file_id = f"file-{next(self._ids)}"
        obj = {"id": file_id, "object": "file", "bytes": len(data), "created_at": 1, "filename": filename,
               "purpose": purpose, "status": "processed"}
        self.files[file_id] = {**obj, "data": data}
        return obj

    def _finish_openai(self, batch_id: str, batch: dict[str, Any], ran: int | None, how: str) -> None:
        out, err = [], []
        lines = self.input_lines(batch_id)
        for i, line in enumerate(lines):
            row: dict[str, Any] = {"id": f"batch_req_{next(self._ids)}", "custom_id": line["custom_id"]}
            if ran is not None and i >= ran:
                err.append({**row, "response": None,
                            "error": {"code": f"batch_{how}", "message": f"This request was {how} before it ran."}})
                continue
            body = line["body"]
            made = self.answer(body)
            if isinstance(made, int):
                err.append({**row, "error": None, "response": {"status_code": made, "request_id": "r",
                                                               "body": wire.openai_error(made, f"scripted {made}")}})
            else:
                chat = wire.openai_chat(made, body.get("model", "scripted"), _prompt_words(body))
                out.append({**row, "error": None, "response": {"status_code": 200, "request_id": "r", "body": chat}})
        dump = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
        if out:
            batch["output_file_id"] = self._file(dump(out), "batch_output", "output.jsonl")["id"]
        if err:
            batch["error_file_id"] = self._file(dump(err), "batch_output", "errors.jsonl")["id"]
        state = "completed" if ran is None else how
        batch.update(status=state, request_counts={"total": len(lines), "completed": len(out), "failed": len(err)})

    def _finish_anthropic(self, batch_id: str, batch: dict[str, Any], ran: int | None, how: str) -> None:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        rows = []
        for i, item in enumerate(self.anthropic_requests[batch_id]):
            params = item["params"]
            if ran is not None and i >= ran:
                kind = "canceled" if how == "cancelled" else "expired"
                result: dict[str, Any] = {"type": kind}
                counts[kind] += 1
            else:
                made = self.answer(params)
                if isinstance(made, int):
                    result = {"type": "errored", "error": wire.anthropic_error(made, f"scripted {made}")}
                    counts["errored"] += 1
                else:
                    result = {"type": "succeeded",
                              "message": wire.anthropic_message(made, params.get("model", "scripted"), _prompt_words(params))}
                    counts["succeeded"] += 1
            rows.append({"custom_id": item["custom_id"], "result": result})
        self.anthropic_results[batch_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
        batch.update(processing_status="ended", request_counts=counts, ended_at=_iso(),
                     results_url=f"{self.url}/v1/messages/batches/{batch_id}/results")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 makes bursts of connections wait for SYN retries


class _Handler(BaseHTTPRequestHandler):
    owner: BatchServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(404, wire.openai_error(404, f"no route {self.path}"))

    def _record(self) -> None:
        with self.owner._lock:
            self.owner.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        owner = self.owner
        path = self.path.split("?")[0].rstrip("/")
        parts = path.split("/")
        with owner._lock:
            if not owner.batches_enabled and "batches" in parts:
                return self._not_found()
            if path == "/v1/batches":
                return self._send(200, {"object": "list", "data": list(owner.openai.values()), "has_more": False})
            if len(parts) == 4 and parts[2] == "batches" and parts[3] in owner.openai:
                return self._send(200, owner.openai[parts[3]])
            if len(parts) == 5 and parts[2] == "files" and parts[4] == "content" and parts[3] in owner.files:
                return self._send(200, owner.files[parts[3]]["data"], "application/octet-stream")
            if len(parts) == 5 and parts[3] == "batches" and parts[4] in owner.anthropic:
                return self._send(200, owner.anthropic[parts[4]])
            if len(parts) == 6 and parts[5] == "results" and parts[4] in owner.anthropic_results:
                return self._send(200, owner.anthropic_results[parts[4]], "application/binary")
        self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        self._record()
        owner = self.owner
        raw = self.rfile.read(int(self.headers.get("content-length", "0") or 0))
        path = self.path.split("?")[0].rstrip("/")
        if not owner.batches_enabled and ("batches" in path or path.endswith("/files")):
            return self._not_found()
        if path == "/v1/files":
            return self._upload(raw)
        body = json.loads(raw) if raw else {}
        with owner._lock:
            if path == "/v1/batches":
                return self._openai_batch(body)
            if path == "/v1/messages/batches":
                return self._anthropic_batch(body)
        if path in ("/v1/chat/completions", "/v1/messages"):
            anthropic = path == "/v1/messages"
            with owner._lock:
                owner.live.append(body)
            made = owner.answer(body)
            if isinstance(made, int):
                make = wire.anthropic_error if anthropic else wire.openai_error
                return self._send(made, make(made, f"scripted {made}"))
            if anthropic:
                return self._send(200, wire.anthropic_message(made, body.get("model", "scripted"), _prompt_words(body)))
            return self._send(200, wire.openai_chat(made, body.get("model", "scripted"), _prompt_words(body)))
        self._not_found()

    def _upload(self, raw: bytes) -> None:
        content_type = self.headers.get("content-type", "")
        message = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, Any] = {}
        data, filename = b"", ""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "file":
                data, filename = payload, part.get_filename() or ""
            else:
                fields[str(name)] = payload.decode()
        with self.owner._lock:
            self.owner.uploads.append({"content_type": content_type, "fields": fields, "filename": filename})
            if fields.get("purpose") != "batch" or not data:
                return self._send(400, wire.openai_error(400, "expected a JSONL file with purpose=batch"))
            self._send(200, self.owner._file(data, "batch", filename))

    def _openai_batch(self, body: dict[str, Any]) -> None:
        owner = self.owner
        file = owner.files.get(body.get("input_file_id", ""))
        if file is None or body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return self._send(400, wire.openai_error(400, f"bad batch: {body}"))
        lines = [json.loads(line) for line in file["data"].decode().splitlines() if line.strip()]
        ids = [line["custom_id"] for line in lines]
        if len(set(ids)) != len(ids) or any(line.get("url") != body["endpoint"] or line.get("method") != "POST"
                                            for line in lines):
            return self._send(400, wire.openai_error(400, "each line needs a unique custom_id, POST and the batch's url"))
        batch_id = f"batch_{next(owner._ids)}"
        owner.openai[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
            "input_file_id": file["id"], "completion_window": "24h", "status": "in_progress",
            "output_file_id": None, "error_file_id": None, "created_at": 1, "in_progress_at": 1,
            "expires_at": 86401, "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        self._send(200, owner.openai[batch_id])

    def _anthropic_batch(self, body: dict[str, Any]) -> None:
        owner = self.owner
        requests = body.get("requests") or []
        ids = [r.get("custom_id") for r in requests]
        if not requests or len(set(ids)) != len(ids) or any(not r.get("params") for r in requests):
            return self._send(400, wire.anthropic_error(400, "requests need unique custom_ids and params"))
        batch_id = f"msgbatch_{next(owner._ids):04d}"
        owner.anthropic_requests[batch_id] = requests
        owner.anthropic[batch_id] = {
            "id": batch_id, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
            "created_at": _iso(), "expires_at": _iso(24), "ended_at": None, "archived_at": None,
            "cancel_initiated_at": None, "results_url": None,
        }
        self._send(200, owner.anthropic[batch_id])
