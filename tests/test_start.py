"""The README's start command: scripts/start serves the welcome notebook in JupyterLab."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_start_serves_the_welcome_notebook(root: Path, lang: str, tmp_path: Path) -> None:
    port, token = _free_port(), "start-test-token"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen(
        [str(root / "scripts" / "start"), lang, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/contents/00_welcome.ipynb?token={token}"
        deadline = time.monotonic() + 180
        notebook = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    notebook = json.load(answer)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        assert notebook is not None, f"scripts/start {lang} did not serve the welcome notebook (exit {server.poll()})"
        assert notebook["type"] == "notebook"
        assert notebook["content"]["metadata"]["promptatelier"]["lang"] == lang
        sources = "\n".join(c["source"] for c in notebook["content"]["cells"])
        assert "complete(" in sources
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
