"""Keep llama.cpp off stderr: nbgrader scores a test cell 0 when anything reaches it, and
ipykernel forwards file descriptor 2, so C-level writes count as much as Python's."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["silence_llama_logs", "quiet_fd2", "recent_llama_logs"]

# llama.cpp's own log lines, kept in memory so an error message can quote them
_log_lines: deque[str] = deque(maxlen=40)
_callback: Any = None
_fd_lock = threading.RLock()


def silence_llama_logs() -> None:
    """Route llama.cpp and ggml logging to memory instead of stderr (idempotent).

    llama_cpp installs a callback at import that prints errors to stderr; this replaces it.
    """
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[misc]
    def _keep(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        _log_lines.append(text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(_keep, ctypes.c_void_p(0))
    _callback = _keep  # a ctypes callback must outlive its registration


def recent_llama_logs(n: int = 5) -> str:
    """The last lines llama.cpp logged, for error messages."""
    lines = [line.strip() for line in _log_lines if line.strip()]
    return " | ".join(lines[-n:])


@contextmanager
def quiet_fd2() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (C code that bypasses the logger)."""
    with _fd_lock:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: nothing can leak
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
