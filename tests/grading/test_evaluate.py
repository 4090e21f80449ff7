"""evaluate / evaluate_many and the rubric on the mock backend: math, statuses, feedback."""

from __future__ import annotations

import pytest

from promptatelier.errors import ModelUnavailableError, SpecError
from promptatelier.grading import evaluate, evaluate_many, load_spec
from promptatelier.grading.rubric import combine
from promptatelier.grading.result import CriterionResult
from promptatelier.models.mock import MockBackend

pytestmark = pytest.mark.usefixtures("test_graders")

GOOD = "Classify the review in <review>{review}</review>: positive, negative or neutral. Label only."
HIDDEN_TEXTS = ["SECRET-INPUT-ALPHA", "SECRET-INPUT-BRAVO", "Montreal", "h-pos", "h-neg", "h-bob"]


def labeller(label_only: bool = True):
    """A model that gets the sentiment right, bare or wrapped in a sentence."""
    def answer(request):
        text = request.messages[-1].content.lower()
        label = "negative" if any(w in text for w in ("broke", "terrible", "awful")) else "positive"
        return label if label_only else f"I think the review is {label}."
    return answer


def test_good_submission_gets_full_points(mock_backend):
    mock_backend.script(labeller())
    ev = evaluate("t01.sentiment", GOOD, model="mock")
    assert ev.status == "graded" and ev.points == 3.0 and ev.passed
    assert ev.cases_run == {"visible": 2, "hidden": 2}
    assert len(mock_backend.calls) == 4
    assert all(c.temperature == 0 for c in mock_backend.calls)


def test_rubric_weights(mock_backend):
    # right label inside a sentence: label_accuracy 1 (w2), label_only 0 (w1), delimiters 1 (w1) -> 3/4
    mock_backend.script(labeller(label_only=False))
    ev = evaluate("t01.sentiment", GOOD, model="mock")
    assert ev.points == pytest.approx(3 * 3 / 4)
    by_name = {r.name: r for r in ev.criteria}
    assert by_name["label_accuracy"].score == 1.0 and by_name["label_only"].score == 0.0
    assert by_name["label_only"].passed == 0 and by_name["label_only"].total == 4


def test_combine_math_and_gates():
    spec = load_spec("t01.sentiment")
    def r(score, weight=1.0, gate=False):
        return CriterionResult("x", "output", {}, weight, score, "", "", gate=gate)
    assert combine(spec, [r(1.0, 2), r(0.0, 1), r(0.5, 1)]) == pytest.approx(3 * 2.5 / 4)
    assert combine(spec, [r(1.0), r(None, 5)]) == 3.0          # unscored criteria leave the sums
    assert combine(spec, [r(1.0), r(0.0, 0, gate=True)]) == 0.0  # a failed gate zeroes the score
    assert combine(spec, [r(None)]) is None


def test_identical_outputs_identical_points(mock_backend):
    mock_backend.script(labeller(label_only=False))
    first = evaluate("t01.sentiment", GOOD, model="mock")
    second = evaluate("t01.sentiment", GOOD, model="mock", progress=False)
    assert first.points == second.points and first.to_dict()["criteria"] == second.to_dict()["criteria"]


def test_visible_only_for_check(mock_backend):
    mock_backend.script(labeller())
    ev = evaluate("t01.sentiment", GOOD, model="mock", cases="visible")
    assert ev.cases_run == {"visible": 2, "hidden": 0} and len(mock_backend.calls) == 2
    assert [o.name for o in ev.outputs] == ["happy", "angry"]


@pytest.mark.parametrize(
    "value, reason, reason_fr",
    [
        ("", "Not answered yet", "Pas encore de réponse"),
        ("# YOUR CODE HERE\nraise NotImplementedError()", "Not answered yet", "Pas encore de réponse"),
        ("\n   VOTRE PROMPT ICI\n", "Not answered yet", "Pas encore de réponse"),
        (42, "must be a text", "doit être un texte"),
        ({"system": "x"}, "must be a text", "doit être un texte"),
        ("Classify this review.", "never uses {review}", "n'utilise jamais {review}"),
        ("{review} " + "x" * 7000, "too long", "trop longue"),
    ],
)
def test_invalid_submissions_score_zero(mock_backend, value, reason, reason_fr):
    ev = evaluate("t01.sentiment", value, model="mock")
    assert ev.status == "invalid" and ev.points == 0.0
    assert reason in ev.message("en")
    assert reason_fr in ev.message("fr") and reason not in ev.message("fr")
    assert mock_backend.calls == []


def test_invalid_messages_are_explained_in_french(mock_backend):
    bad = evaluate("t01.fewshot", [{"role": "user", "content": "{word}"}, {"role": "assistant", "content": "ok"}], model="mock")
    assert "dernier message" in bad.message("fr") and "last message" not in bad.message("fr")


def test_stub_lines_are_removed_before_the_model_sees_the_prompt(mock_backend):
    mock_backend.script(labeller())
    evaluate("t01.sentiment", "# YOUR CODE HERE\n" + GOOD, model="mock")
    assert all("YOUR CODE HERE" not in c.messages[-1].content for c in mock_backend.calls)


def test_submission_kinds(mock_backend):
    mock_backend.script(lambda r: '{"name": "Anna", "city": "Lyon"}' if "Anna" in r.messages[-1].content else '{"name": "Bob", "city": "Montreal"}')
    ev = evaluate("t01.extract", {"system": "Extract as JSON.", "user": "<m>{message}</m>"}, model="mock")
    assert ev.points == 2.0
    call = mock_backend.calls[0]
    assert call.system == "Extract as JSON." and call.json_schema is not None
    messages = [{"role": "system", "content": "Extract as JSON."}, {"role": "user", "content": "<m>{message}</m>"}]
    assert evaluate("t01.extract", messages, model="mock").status == "invalid"  # not this exercise's kind

    mock_backend.script(lambda r: "down")
    turns = [{"role": "system", "content": "Antonym only."}, {"role": "user", "content": "hot"},
             {"role": "assistant", "content": "cold"}, {"role": "user", "content": "big"},
             {"role": "assistant", "content": "small"}, {"role": "user", "content": "{word}"}]
    ev = evaluate("t01.fewshot", turns, model="mock")
    assert ev.points == 2.0
    call = mock_backend.calls[-1]
    assert call.system == "Antonym only." and [m.role for m in call.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert call.messages[-1].content == "up"
    bad = evaluate("t01.fewshot", [{"role": "user", "content": "{word}"}, {"role": "assistant", "content": "ok"}], model="mock")
    assert bad.status == "invalid" and "last message" in bad.message()


def test_outage_is_not_graded_never_zero(mock_backend):
    mock_backend.script(lambda r: MockBackend.outage())
    ev = evaluate("t01.sentiment", GOOD, model="mock")
    assert ev.status == "not_graded" and ev.points is None and ev.flags
    assert "not a score of 0" in ev.feedback_text("en")


def test_backend_error_on_a_case_fails_that_case_only(mock_backend):
    from promptatelier.errors import BackendError

    def answer(request):
        if "Broke" in request.messages[-1].content:
            return BackendError("context too long")
        return labeller()(request)
    mock_backend.script(answer)
    ev = evaluate("t01.sentiment", GOOD, model="mock")
    assert ev.status == "graded" and 0 < ev.points < 3
    assert any("error" in en for en, _ in ev.notes)


def test_instructor_mistakes_raise(mock_backend):
    with pytest.raises(SpecError):
        evaluate("t01.missing", GOOD, model="mock")
    from promptatelier.errors import UnknownModelError
    with pytest.raises(UnknownModelError):
        evaluate("t01.sentiment", GOOD, model="nonsense-provider:x")


def test_feedback_names_criteria_with_hints_and_hides_hidden_cases(mock_backend):
    mock_backend.script(lambda r: "Hmm. " + r.messages[-1].content)  # echoes hidden inputs in outputs
    ev = evaluate("t01.sentiment", "Say something about {review}", model="mock")
    for lang, hint in (("en", "Ask for the label alone"), ("fr", "Demandez l'étiquette seule")):
        text, html = ev.feedback_text(lang), ev.feedback_html(lang)
        assert hint in text and hint.replace("'", "&#x27;") in html
        for r in ev.criteria:
            if r.weight:
                assert r.label[lang] in text
        assert ("hidden" if lang == "en" else "cachés") in text
    dumped = str(ev.to_dict()) + ev.feedback_text("en") + ev.feedback_text("fr") + ev.feedback_html("en") + ev.feedback_html("fr")
    for secret in HIDDEN_TEXTS:
        assert secret not in dumped
    assert "I love this kettle" in str(ev.to_dict())  # visible cases may be shown


def test_leaked_hidden_answers_zero_and_flag(mock_backend):
    mock_backend.script(lambda r: '{"name": "Bob", "city": "Montreal"}')
    cheat = {"system": "If asked, Bob here, writing from Montreal Quebec Canada today.", "user": "{message}"}
    ev = evaluate("t01.extract", cheat, model="mock")
    assert ev.points == 0.0 and any("hidden cases copied" in f for f in ev.flags)
    assert "Montreal" not in ev.feedback_text() + " ".join(ev.flags)
    # without hidden cases (check) there is nothing to leak, and no gate
    assert evaluate("t01.extract", cheat, model="mock", cases="visible").status == "graded"


def test_evaluate_many_batches_and_dedupes(mock_backend):
    mock_backend.script(labeller())
    items = [("t01.sentiment", GOOD), ("t01.sentiment", GOOD), ("t01.sentiment", 3), ("t01.capital", "Réponds en français")]
    evs = evaluate_many(items, model="mock", concurrency=4)
    assert [e.status for e in evs] == ["graded", "graded", "invalid", "graded"]
    assert evs[0].points == evs[1].points == 3.0
    assert len(mock_backend.calls) == 5  # 4 sentiment cases once (deduplicated) + 1 capital case


def test_regrade_is_served_by_the_cache(mock_backend):
    mock_backend.script(labeller())
    evaluate("t01.sentiment", GOOD, model="mock")
    before = len(mock_backend.calls)
    again = evaluate("t01.sentiment", GOOD, model="mock")
    assert again.points == 3.0 and len(mock_backend.calls) == before


def test_model_defaults(monkeypatch, mock_backend):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_GRADING_MODEL", "mock")
    monkeypatch.setenv("ATELIER_MODEL", "mock:upper")
    config.reload_settings()
    assert evaluate("t01.capital", "Paris, en français").model == "mock"
    assert evaluate("t01.capital", "Paris, en français", cases="visible").model == "mock:upper"
