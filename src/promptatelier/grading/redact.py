"""What must never reach a file a learner (or a repository) can read: API keys and hidden cases.

The kit's grading writes feedback, comments, journals and reports; none of them is meant to
hold a key or a hidden input, and each goes through `Redactor` before it is written, so a
message quoting one (an SDK error, a model echoing its input) cannot leak it either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["HIDDEN", "REDACTED", "Redactor", "clean_text", "is_secret_name", "secret_values"]

REDACTED = "[redacted]"
HIDDEN = "[hidden case]"
# environment variables that hold credentials: *_API_KEY, *_TOKEN, *_SECRET..., ATELIER_*KEY*
_SECRET_NAME = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD)(_|$)|^ATELIER_.*KEY", re.IGNORECASE)
# shorter strings are too common to hide without garbling ordinary feedback
MIN_SECRET_CHARS = 8
MIN_HIDDEN_CHARS = 16


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    return bool(_SECRET_NAME.search(name))


def secret_values(environ: Mapping[str, str] | None = None) -> set[str]:
    """Every credential this process could use: secret-named variables and the provider keys
    the kit would read (key widget, environment, .env)."""
    from ..config import KEY_ENV_VARS, get_key

    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_CHARS}
    for provider in KEY_ENV_VARS:
        key = get_key(provider)
        if key and len(key) >= MIN_SECRET_CHARS:
            values.add(key)
    return values


def clean_text(text: str) -> str:
    """`text` with every lone surrogate written as its escape (`\\ud800`), so it can be stored
    and encoded as UTF-8 (notebooks, SQLite, HTML) without an error."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _hidden_texts(exercise_ids: Iterable[str]) -> set[str]:
    from .spec import load_spec

    texts: set[str] = set()
    for exercise in exercise_ids:
        for case in load_spec(exercise).hidden_cases():
            found = list(case.vars.values())
            expected = case.expected
            if isinstance(expected, str):
                found.append(expected)
            elif isinstance(expected, Mapping):
                found += [v for v in expected.values() if isinstance(v, str)]
            elif isinstance(expected, (list, tuple)):
                found += [v for v in expected if isinstance(v, str)]
            texts.update(t.strip() for t in found if isinstance(t, str) and len(t.strip()) >= MIN_HIDDEN_CHARS)
    return texts


def _with_escapes(texts: set[str]) -> list[str]:
    """The texts as written in plain text, in HTML and in JSON strings; longest first."""
    import html
    import json

    forms = set(texts) | {html.escape(t) for t in texts} | {json.dumps(t)[1:-1] for t in texts}
    return sorted(forms, key=len, reverse=True)


class Redactor:
    """Replaces keys and the hidden cases of the given exercises in any text about to be written."""

    def __init__(self, exercise_ids: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> None:
        self.keys = _with_escapes(secret_values(environ))
        self.hidden = _with_escapes(_hidden_texts(exercise_ids))

    def __call__(self, text: str) -> str:
        text = clean_text(text)
        for key in self.keys:
            if key in text:
                text = text.replace(key, REDACTED)
        for hidden in self.hidden:
            if hidden in text:
                text = text.replace(hidden, HIDDEN)
        return text

    def all(self, texts: Iterable[str]) -> list[str]:
        return [self(t) for t in texts]
