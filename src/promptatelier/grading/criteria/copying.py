"""`not_echo`: the output is not a copy of the case's input.

A prompt that makes the model repeat its input earns every criterion the input itself would
pass (its facts, its numbers, its language); what it never does is the task. An output counts
as an echo when nearly all of it is made of long verbatim runs of the input and it is nearly as
long as the input: extraction, quoting and structured conversion stay well below that.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from typing import Any

from ..base import Score
from . import criterion

_SPACES = re.compile(r"\s+")


def _plain(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip().casefold()


def copied_share(output: str, source: str, min_run: int = 20) -> float:
    """The share of the output's characters that sit in verbatim runs (≥ `min_run` characters)
    of the source, after folding case and spaces."""
    out, src = _plain(output), _plain(source)
    if not out or not src:
        return 0.0
    matcher = SequenceMatcher(None, out, src, autojunk=False)
    covered = sum(block.size for block in matcher.get_matching_blocks() if block.size >= min_run)
    return covered / len(out)


def _check(args: dict[str, Any]) -> None:
    share = args.get("max_share", 0.8)
    if not 0 < share <= 1:
        raise ValueError("max_share must be a number in (0, 1]")


@criterion("not_echo", label=("Does the task rather than repeat the input", "Fait la tâche au lieu de recopier l'entrée"),
           validate=_check)
def not_echo(output: str, case: Any, spec: Any, *, max_share: float = 0.8, min_run: int = 20) -> Score:
    """Fails when more than `max_share` of the output is verbatim runs of the case's input and
    the output is at least half as long as that input."""
    source = "\n".join(case.vars.values())
    if not source.strip() or not output.strip():
        return Score(1.0, "not a copy of the input", "pas une copie de l'entrée")
    share = copied_share(output, source, min_run)
    if share > max_share and len(_plain(output)) >= 0.5 * len(_plain(source)):
        return Score(0.0, f"{round(share * 100)}% of the output repeats the input word for word",
                     f"{round(share * 100)}\u00a0% de la sortie recopie l'entrée mot pour mot")
    return Score(1.0, "not a copy of the input", "pas une copie de l'entrée")
