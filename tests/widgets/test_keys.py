"""The key entry keeps keys in memory only: never in widget state, the environment, or output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from promptatelier.config import get_key, key_source
from promptatelier.widgets import KeyEntry

CANARY = "sk-canary-7f3a9c51e2d84b60"


class RecordingComm:
    """Stands in for the browser's comm: records every message the kernel would send."""

    kernel = True
    comm_id = "recording"

    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, data=None, buffers=None, **kwargs) -> None:  # noqa: ANN001
        self.sent.append(data)

    def on_msg(self, *args) -> None:  # noqa: ANN002
        pass

    def close(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        pass


def test_a_typed_key_goes_to_memory_and_the_field_is_emptied() -> None:
    keys = KeyEntry()
    field = keys.fields["openai"]
    comm = RecordingComm()
    field.comm = comm
    field.set_state({"value": CANARY})  # what the browser sends on Enter
    assert get_key("openai") == CANARY and key_source("openai") == "session"
    assert field.value == "" and field.get_state()["value"] == ""
    # the kernel tells the browser to empty the field, and never echoes the key back
    assert CANARY not in repr(comm.sent)
    assert {"method": "update", "state": {"value": ""}, "buffer_paths": []} in comm.sent
    assert CANARY not in repr(keys) and CANARY not in keys.states["openai"].value
    assert "sk-…60" in keys.states["openai"].value
    assert all(CANARY not in v for v in os.environ.values())
    field.comm = None


def test_child_processes_do_not_inherit_a_typed_key() -> None:
    KeyEntry().fields["anthropic"].value = CANARY
    assert get_key("anthropic") == CANARY
    out = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.environ.items()))"],
                         capture_output=True, text=True, check=True).stdout
    assert CANARY not in out


def test_forget_removes_the_session_key() -> None:
    keys = KeyEntry()
    assert keys.forget_buttons["openai"].disabled
    keys.fields["openai"].value = CANARY
    assert not keys.forget_buttons["openai"].disabled
    keys.forget_buttons["openai"].click()
    assert get_key("openai") is None and "no key" in keys.states["openai"].value
    assert "forgotten" in keys.message.value


def test_says_where_each_key_comes_from(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-123456")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ATELIER_COMPATIBLE_API_KEY=from-dotenv-abcdef\n")
    keys = KeyEntry()
    text = repr(keys)
    assert "OpenAI: no key" in text
    assert "from the environment variable ANTHROPIC_API_KEY" in text and "sk-…56" in text
    assert "from the .env file (ATELIER_COMPATIBLE_API_KEY)" in text
    assert "from-dotenv-abcdef" not in text and "sk-ant-from-env-123456" not in text
    assert "environment variable" in keys.children[0].value  # the intro says where keys come from


@pytest.mark.server
def test_a_session_key_reaches_the_server_and_the_playground_answers() -> None:
    """Key widget -> official openai SDK -> a real HTTP server on 127.0.0.1, which sees the key."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from promptatelier.widgets import Playground

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization", ""))
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({
                "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Bonjour la classe"}}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        KeyEntry(["openai-compatible"]).fields["openai-compatible"].value = CANARY
        p = Playground("hello", model=f"openai-compatible:http://127.0.0.1:{server.server_port}/v1#m")
        p.run_button.click()
        assert p.wait(30)
        assert p.answer_text == "Bonjour la classe", p.answer.value
        assert seen == [f"Bearer {CANARY}"]
        assert CANARY not in repr(p) and CANARY not in p.answer.value
    finally:
        server.shutdown()
        server.server_close()


def test_french() -> None:
    keys = KeyEntry(lang="fr")
    assert "aucune clé" in keys.states["openai"].value
    assert "jamais enregistrée" in keys.children[0].value
