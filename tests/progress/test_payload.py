"""What a check sends and what the service accepts: no name from the body, no prompt unless the
service keeps prompts, and a 400 message naming the wrong field."""

from __future__ import annotations

import json

import pytest

from promptatelier.grading.result import CriterionResult, Evaluation
from promptatelier.progress.payload import PayloadError, from_evaluation, parse

KEY = "sk-test-progress-0123456789abcdef"


def _evaluation(points: float | None = 1.0, status: str = "graded") -> Evaluation:
    def crit(key: str, score: float | None, weight: float = 1.0) -> CriterionResult:
        return CriterionResult(name=key, family="text", label={"en": key.title(), "fr": key.upper()}, weight=weight,
                               score=score, explanation="output was 'Hello HIDDEN'", explanation_fr="", key=key)

    return Evaluation(exercise_id="w01.label", status=status, points=points, max_points=4.0,
                      criteria=[crit("accuracy", 1.0), crit("delimiters", 0.0), crit("not_degenerate", 1.0, weight=0)],
                      title={"en": "Sentiment label", "fr": "Étiquette"})


def _body(**changes: object) -> bytes:
    body = {"exercise": "w01.label", "title": "Sentiment", "status": "graded", "points": 1, "max_points": 4,
            "passed": False, "criteria": [{"key": "delimiters", "label": "Delimiters", "score": 0, "ok": False}]}
    body.update(changes)
    return json.dumps(body).encode()


def test_a_post_carries_scores_and_criteria_but_no_output_explanation_or_prompt() -> None:
    post = from_evaluation(_evaluation(), "fr", "my prompt {review}").to_json()
    assert post["exercise"] == "w01.label" and post["title"] == "Étiquette"
    assert (post["points"], post["max_points"], post["passed"]) == (1.0, 4.0, False)
    # the built-in gate that passed says nothing, as in the check view
    assert [(c["key"], c["label"], c["ok"]) for c in post["criteria"]] == [("accuracy", "ACCURACY", True),
                                                                         ("delimiters", "DELIMITERS", False)]
    text = json.dumps(post)
    assert "prompt" not in post and "my prompt" not in text and "HIDDEN" not in text


def test_a_shared_prompt_goes_through_the_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    post = from_evaluation(_evaluation(), "en", f"Use {KEY} to answer {{review}}", share_prompt=True).to_json()
    assert post["prompt"] == "Use [redacted] to answer {review}"


def test_the_service_ignores_any_name_in_the_body_and_drops_prompts_unless_kept() -> None:
    post = parse(_body(learner="someone-else", user="x", name="y", prompt="PROMPT TEXT"), accept_prompt=False)
    assert post.prompt is None and "someone-else" not in json.dumps(post.to_json())
    assert parse(_body(prompt="PROMPT TEXT"), accept_prompt=True).prompt == "PROMPT TEXT"


def test_a_check_that_was_not_graded_never_counts_as_passed() -> None:
    assert parse(_body(points=None, status="not_graded", passed=True), accept_prompt=False).passed is False


@pytest.mark.parametrize(("body", "names"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (_body(exercise="../../etc/passwd"), "'exercise'"),
    (_body(points=5), "more than 'max_points'"),
    (_body(points=-1), "'points'"),
    (_body(points=float("nan")), "'points'"),
    (_body(max_points="4"), "'max_points'"),
    (_body(passed="yes"), "'passed'"),
    (_body(status="great"), "'status'"),
    (_body(criteria=[{"key": "a", "label": "A", "score": 3, "ok": True}]), "between 0 and 1"),
    (_body(criteria=[{"key": "a", "label": "A", "score": 1}]), "'ok'"),
    (_body(criteria="all fine"), "'criteria'"),
    (_body(prompt=42), "'prompt'"),
])
def test_a_bad_post_is_refused_with_the_field_named(body: bytes, names: str) -> None:
    with pytest.raises(PayloadError, match=names.replace("(", r"\(")):
        parse(body, accept_prompt=True)
