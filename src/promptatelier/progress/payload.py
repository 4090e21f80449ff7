"""What one check sends to the progress service, and the service's validation of it.

The payload is built from an Evaluation's public parts only: the exercise, the score, whether it
passed, and each criterion's key, label and score. It never holds a case's input or output, an
explanation, a key or a name: the service takes the learner's name from the hub token that posts
it. The prompt text travels only when the course shares prompts, and the service drops it again
unless it was started with sharing on, so one side's mistake cannot collect prompts.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckPost", "CriterionPost", "PayloadError", "from_evaluation", "parse", "MAX_PROMPT_CHARS"]

MAX_PROMPT_CHARS = 20_000
MAX_CRITERIA = 64
_EXERCISE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_KEY = re.compile(r"^[^\x00-\x1f]{1,100}$")
STATUSES = ("graded", "invalid", "not_graded")


class PayloadError(ValueError):
    """A post the service refuses (400); the message says which field is wrong."""


@dataclass(frozen=True)
class CriterionPost:
    key: str
    label: str
    score: float | None
    ok: bool


@dataclass(frozen=True)
class CheckPost:
    exercise: str
    title: str
    status: str
    points: float | None
    max_points: float
    passed: bool
    criteria: tuple[CriterionPost, ...]
    prompt: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "exercise": self.exercise, "title": self.title, "status": self.status, "points": self.points,
            "max_points": self.max_points, "passed": self.passed,
            "criteria": [{"key": c.key, "label": c.label, "score": c.score, "ok": c.ok} for c in self.criteria],
        }
        if self.prompt is not None:
            data["prompt"] = self.prompt
        return data


def _prompt_text(submission: Any) -> str:
    text = submission if isinstance(submission, str) else json.dumps(submission, ensure_ascii=False, default=str)
    return text[:MAX_PROMPT_CHARS]


def from_evaluation(evaluation: Any, lang: str, submission: Any = None, *, share_prompt: bool = False) -> CheckPost:
    """The post for one `check()`; `submission` is read only when `share_prompt` is on, and then
    goes through the kit's redactor so a key pasted into a prompt is not sent either."""
    from ..grading.base import pick
    from ..grading.redact import Redactor

    criteria = tuple(
        CriterionPost(key=r.key or r.name, label=pick(r.label, lang) or r.name, score=r.score, ok=r.ok)
        for r in evaluation.criteria
        # built-in gates that passed or did not apply say nothing, as in the check view
        if not (r.weight == 0 and (r.ok or r.score is None))
    )
    prompt = Redactor()(_prompt_text(submission)) if share_prompt and submission is not None else None
    return CheckPost(
        exercise=evaluation.exercise_id, title=evaluation.title_in(lang), status=evaluation.status,
        points=evaluation.points, max_points=float(evaluation.max_points), passed=evaluation.passed,
        criteria=criteria[:MAX_CRITERIA], prompt=prompt,
    )


def _number(data: dict[str, Any], name: str, *, optional: bool = False) -> float | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PayloadError(f"'{name}' must be a number ≥ 0{' or null' if optional else ''}, not {value!r}")
    return float(value)


def _text(data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None, limit: int = 200) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (pattern is not None and not pattern.match(value)):
        raise PayloadError(f"'{name}' must be a string of at most {limit} characters"
                           + (" (letters, digits, '.', '_', '-')" if pattern is _EXERCISE else "") + f", not {value!r:.80}")
    return value


def parse(body: bytes, *, accept_prompt: bool) -> CheckPost:
    """A post's body as a CheckPost, or PayloadError. Any `learner`, `user` or `name` field is
    ignored: who posts is the hub's answer, never the body's."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON; send {\"exercise\": ..., \"points\": ..., ...}") from None
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    exercise = _text(data, "exercise", _EXERCISE, 100)
    status = data.get("status", "graded")
    if status not in STATUSES:
        raise PayloadError(f"'status' must be one of {', '.join(STATUSES)}, not {status!r:.40}")
    points = _number(data, "points", optional=True)
    max_points = _number(data, "max_points")
    assert max_points is not None
    if points is not None and points > max_points + 1e-9:
        raise PayloadError(f"'points' ({points}) is more than 'max_points' ({max_points})")
    if not isinstance(data.get("passed"), bool):
        raise PayloadError("'passed' must be true or false")
    raw = data.get("criteria", [])
    if not isinstance(raw, list) or len(raw) > MAX_CRITERIA:
        raise PayloadError(f"'criteria' must be a list of at most {MAX_CRITERIA} objects")
    criteria = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("ok"), bool):
            raise PayloadError("each criterion must be an object with 'key', 'label', 'score' and 'ok' (true/false)")
        score = _number(item, "score", optional=True)
        if score is not None and score > 1 + 1e-9:
            raise PayloadError(f"a criterion's 'score' is between 0 and 1, not {score}")
        criteria.append(CriterionPost(_text(item, "key", _KEY, 100), _text(item, "label", None, 200), score, item["ok"]))
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise PayloadError("'prompt' must be a string")
    return CheckPost(
        exercise=exercise, title=_text(data, "title", None, 200) or exercise, status=status, points=points,
        max_points=max_points,
        # the service recomputes nothing it cannot: a not-graded check never counts as passed
        passed=bool(data["passed"]) and points is not None,
        criteria=tuple(criteria), prompt=prompt[:MAX_PROMPT_CHARS] if accept_prompt and prompt is not None else None,
    )
