"""deploy/gateway/serve_model.py: llama.cpp's server on the embedded model, found without being
named, served as smollm2, answering the kit."""

from __future__ import annotations

import sys

import pytest

from promptatelier import complete
from tests.support.processes import _serve, free_port

from . import GATEWAY_DIR

pytestmark = [pytest.mark.server, pytest.mark.local_model, pytest.mark.slow]


def test_it_serves_the_embedded_model_as_smollm2_with_no_model_argument() -> None:
    port = free_port()
    args = [sys.executable, str(GATEWAY_DIR / "serve_model.py"), "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", "1", "--n_ctx", "1024"]
    with _serve(args, "/v1/models", port, "smollm2", 120.0) as server:
        reply = complete("Say hello.", model=server.model_string, temperature=0, max_tokens=8, cache=False)
    assert reply.text.strip() and reply.usage.output_tokens > 0
