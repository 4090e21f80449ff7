"""The TLS context each SDK client gets (models/_hosted.py): the shared CA bundle for https, and
for a plain-http server a context that loads nothing and would refuse any certificate."""

from __future__ import annotations

import ssl

from promptatelier.models._hosted import shared_tls_context, tls_context_for


def test_https_and_the_sdks_own_default_use_the_shared_bundle() -> None:
    shared = shared_tls_context()
    assert tls_context_for("https://api.example.com/v1") is shared
    assert tls_context_for(None) is shared  # OpenAI's own URL, or OPENAI_BASE_URL read by the SDK
    assert shared.cert_store_stats()["x509_ca"] > 0


def test_a_plain_http_server_gets_a_context_that_trusts_nothing() -> None:
    context = tls_context_for("http://127.0.0.1:8000/v1")
    assert context is not shared_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
