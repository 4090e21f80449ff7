"""Reusable real servers for tests and benchmarks (all on 127.0.0.1, free ports, stopped on exit).

- `ScriptedServer` (scripted.py): in-process HTTP server speaking the OpenAI chat-completions and
  Anthropic Messages formats; answers are scripted with `reply`, `error` (any status, with
  Retry-After), `drop` (connection closed), each with a delay; it records every request and the
  most requests in flight at once.
- `llama_server()` (processes.py): llama-cpp-python's OpenAI-compatible server on the embedded
  SmolLM2 model; `.model_string` is the kit's `openai-compatible:URL#smollm2`.
- `delay_server(delay_s)` (processes.py + delay_app.py): a uvicorn asyncio server answering every
  chat completion after a fixed delay, for load and throughput measurements.
- `gateway_server(keys, ledger, upstream)` (processes.py): the course's gateway, LiteLLM's proxy
  with deploy/gateway/, in front of one of those servers.
- pytest fixtures in fixtures.py: `scripted_server`, `hosted_sdks` (the openai and anthropic SDKs
  pointed at the scripted server with fake keys), `llama_openai_server` (session-wide).
"""

from .processes import RunningServer, delay_server, embedded_model_path, free_port, gateway_server, llama_server
from .scripted import Action, Recorded, ScriptedServer, drop, error, reply

__all__ = [
    "Action",
    "Recorded",
    "RunningServer",
    "ScriptedServer",
    "delay_server",
    "drop",
    "embedded_model_path",
    "error",
    "free_port",
    "gateway_server",
    "llama_server",
    "reply",
]
