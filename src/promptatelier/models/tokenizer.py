"""Counting tokens with a model's own tokenizer: the embedded model's, loaded vocabulary-only.

A token budget is only honest in real tokens: four characters per token is wrong for French,
for code and for emoji. The embedded SmolLM2's tokenizer is always here (no network), so the
kit counts with it; hosted models split text differently (the count says which tokenizer).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

__all__ = ["count_tokens", "tokenize", "TOKENIZER_NAME"]

TOKENIZER_NAME = "SmolLM2"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _vocabulary() -> Any:
    """The embedded model loaded vocabulary-only (no weights: a few MB, a fraction of a second)."""
    from ._quiet import quiet_fd2, silence_llama_logs
    from .local import _import_llama_cpp, close_at_exit, locate_model

    _import_llama_cpp()
    from llama_cpp import Llama

    silence_llama_logs()
    with quiet_fd2():
        llm = Llama(str(locate_model()), vocab_only=True, verbose=False)
    import atexit

    atexit.register(close_at_exit, llm)
    return llm


def tokenize(text: str) -> list[str]:
    """The pieces the embedded model's tokenizer cuts `text` into."""
    llm = _vocabulary()
    with _lock:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return [llm.detokenize([i]).decode("utf-8", errors="replace") for i in ids]


def count_tokens(text: str) -> int:
    """How many tokens the embedded model's tokenizer makes of `text`."""
    if not text:
        return 0
    llm = _vocabulary()
    with _lock:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
