"""The learner side: after `check()`, one short POST of the result to the course's progress
service, when the notebook runs on a course hub that has the service on.

It posts only when the server's environment holds both ATELIER_PROGRESS_URL (set by the hub,
deploy/atelier_hub.py) and JUPYTERHUB_API_TOKEN (the server's own hub token, which tells the
service who is posting), and never while nbgrader runs a notebook (an instructor's autograde
would otherwise report learners' answers under the instructor's name). Everywhere else it does
nothing. The prompt goes along only when the course shares prompts (ATELIER_PROGRESS_SHARE_PROMPTS,
set by the hub, or `[progress] share_prompts = true` in atelier.toml).

A post never breaks or slows a check: it waits at most POST_TIMEOUT_S, and any failure is one
line of output, never an exception.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["POST_TIMEOUT_S", "report", "service_url", "share_prompts"]

POST_TIMEOUT_S = 2.0


def service_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where to post, or None when this kernel is not on a course hub with the service on."""
    env = os.environ if environ is None else environ
    if env.get("NBGRADER_EXECUTION") or not env.get("JUPYTERHUB_API_TOKEN"):
        return None
    url = env.get("ATELIER_PROGRESS_URL", "").strip()
    if not url:
        return None
    return url.rstrip("/") + "/api/checks"


def share_prompts(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    raw = env.get("ATELIER_PROGRESS_SHARE_PROMPTS")
    if raw is not None:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    import tomllib

    from ..config import find_course_file

    try:
        course_file = find_course_file()
        table = tomllib.loads(course_file.read_text(encoding="utf-8")).get("progress", {}) if course_file else {}
    except Exception:  # a broken course file is reported by settings(), not here
        return False
    return isinstance(table, dict) and table.get("share_prompts") is True


def report(evaluation: Any, lang: str, submission: Any = None) -> bool:
    """Posts `evaluation` when on a course hub; True when the service recorded it."""
    url = service_url()
    if url is None:
        return False
    try:
        from .payload import from_evaluation

        post = from_evaluation(evaluation, lang, submission, share_prompt=share_prompts())
        _send(url, json.dumps(post.to_json()).encode("utf-8"), os.environ["JUPYTERHUB_API_TOKEN"])
    except Exception as exc:  # a progress post must never break a check
        text = {"en": "(Progress not sent to your instructor's view: {}. Your check is not affected.)",
                "fr": "(Progression non envoyée à la vue de l'enseignant : {}. Votre vérification n'est pas affectée.)"}
        print(text.get(lang, text["en"]).format(_short(exc)))
        return False
    return True


def _send(url: str, body: bytes, token: str) -> None:
    """One POST with the standard library: an httpx client costs tens of milliseconds to make
    (its TLS context), more than the post itself to a service on the same machine. No proxy from
    the environment: the service is the hub's own."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"token {token}", "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=POST_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace").strip()
        raise RuntimeError(f"HTTP {exc.code}: {text.splitlines()[0][:200] if text else exc.reason}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reach {url} ({exc.reason})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
