"""In a notebook, a kit error shows the kit's message (what went wrong, how to fix it, in the
course language) and the learner's own line, not a traceback through the kit's files.

The cell still fails with an error output (ename, evalue, traceback): nbgrader, nbclient and
"Run All" see an error as before; only the text shown changes. Registered when
`promptatelier` is imported inside IPython; outside IPython nothing here runs or imports.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import traceback
    from types import TracebackType

__all__ = ["register_error_display", "error_lines"]

_KIT = os.path.dirname(os.path.abspath(__file__)) + os.sep
WORDS = {"en": ("How to fix it", ": ", "in", "line"), "fr": ("Comment corriger", "\u00a0: ", "dans", "ligne")}
RED, BOLD, DIM, RESET = "\x1b[1;31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


def _learner_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The frames of the traceback in the learner's code: not the kit's files, nor Python's or an
    installed library's (IPython's own `exec` of the cell is one)."""
    import sysconfig
    import traceback

    hidden = tuple({_KIT, *(os.path.join(sysconfig.get_path(name), "") for name in ("stdlib", "purelib", "platlib"))})
    return [frame for frame in traceback.extract_tb(tb) if not os.path.abspath(frame.filename).startswith(hidden)]


def error_lines(exc: BaseException, tb: TracebackType | None, lang: str, where: Any = None) -> list[str]:
    """The lines shown for a kit error: its name and problem, the fix, and where in the
    learner's code it came from (`where(filename)` names a cell, as IPython's compiler does)."""
    import linecache

    from .errors import AtelierError

    problem, fix = exc.localised(lang) if isinstance(exc, AtelierError) else (str(exc), "")
    fix_word, colon, in_word, line_word = WORDS.get(lang, WORDS["en"])
    lines = [f"{RED}{type(exc).__name__}{RESET}{colon}{problem}"]
    if fix:
        lines.append(f"{BOLD}{fix_word}{colon}{RESET}{fix}")
    for frame in _learner_frames(tb):
        named = where(frame.filename) if where is not None else None
        place = f"{named[0]} {named[1]}" if named else frame.filename
        code = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        lines.append(f"{DIM}({in_word} {place}, {line_word} {frame.lineno}{colon}{code}){RESET}")
    return lines


def _show(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
          tb_offset: int | None = None) -> list[str]:
    """IPython's custom exception handler: show the kit's message as the cell's error output."""
    from .config import settings

    try:
        lang = settings().language
    except Exception:  # noqa: BLE001 - a broken configuration must not hide the error itself
        lang = "en"
    compiler = getattr(shell, "compile", None)
    stb = error_lines(value, tb, lang, getattr(compiler, "format_code_name", None))
    shell._showtraceback(etype, value, stb)  # ipykernel sends it as the cell's error output
    return stb


def register_error_display() -> bool:
    """Install the handler in the running IPython shell, if there is one; True when installed."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    from .errors import AtelierError

    if shell.custom_exceptions and shell.custom_exceptions != (AtelierError,):
        return False  # someone else's handler: leave it alone
    shell.set_custom_exc((AtelierError,), _show)
    return True
