"""check() and grade() on the mock backend, under nbgrader's rules."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from promptatelier import check, grade
from promptatelier.errors import SpecError
from promptatelier.grading import NotGradedError
from promptatelier.models.mock import MockBackend

from .test_evaluate import GOOD, HIDDEN_TEXTS, labeller


@pytest.fixture
def grading_on_mock(test_graders, monkeypatch):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_GRADING_MODEL", "mock")
    monkeypatch.setenv("ATELIER_MODEL", "mock")
    config.reload_settings()


def test_grade_returns_a_float_and_prints_feedback(grading_on_mock, mock_backend, capfd):
    mock_backend.script(labeller(label_only=False))
    points = grade("t01.sentiment", GOOD)
    assert type(points) is float and points == pytest.approx(2.25)
    out, err = capfd.readouterr()
    assert err == ""
    assert "2.25 / 3" in out and "Answers with a label only" in out
    for secret in HIDDEN_TEXTS:
        assert secret not in out


def test_grade_writes_nothing_to_stderr_even_when_something_tries(grading_on_mock, mock_backend, capfd):
    right = labeller()

    def noisy(request):
        print("python noise", file=sys.stderr)
        os.write(2, b"C-level noise\n")
        warnings.warn("a library warning")
        return right(request)
    mock_backend.script(noisy)
    assert grade("t01.sentiment", GOOD) == pytest.approx(3.0)
    out, err = capfd.readouterr()
    assert err == ""
    os.write(2, b"after\n")  # stderr works again afterwards
    assert capfd.readouterr().err == "after\n"


def test_grade_on_bad_submission_is_zero_with_reason(grading_on_mock, mock_backend, capfd):
    assert grade("t01.sentiment", "# YOUR CODE HERE\nraise NotImplementedError()") == 0.0
    assert grade("t01.sentiment", ["not", "a", "prompt"]) == 0.0
    out, err = capfd.readouterr()
    assert "Not answered yet" in out and "must be a text" in out and err == ""


def test_grade_on_outage_raises_not_graded(grading_on_mock, mock_backend, capfd):
    mock_backend.script(lambda r: MockBackend.outage())
    with pytest.raises(NotGradedError, match="NOT GRADED YET"):
        grade("t01.sentiment", GOOD)
    assert capfd.readouterr().err == ""


def test_grade_is_a_preview_on_visible_cases_with_the_learners_model(grading_on_mock, mock_backend, capfd, monkeypatch):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_GRADING_MODEL", "openai:gpt-4.1-mini")  # the instructor's: never used here
    config.reload_settings()
    mock_backend.script(labeller())
    assert grade("t01.sentiment", GOOD) == pytest.approx(3.0)
    sent = " ".join(m.content for r in mock_backend.calls for m in r.messages)
    assert "SECRET-INPUT" not in sent and len(mock_backend.calls) == 2
    assert "preview on the visible cases" in capfd.readouterr().out


def test_grade_instructor_mistake_is_loud(grading_on_mock):
    with pytest.raises(SpecError):
        grade("t01.does_not_exist", GOOD)


def test_grade_uses_temperature_zero_whatever_the_spec(grading_on_mock, mock_backend):
    mock_backend.script(labeller())
    grade("t01.sentiment", GOOD)
    assert {c.temperature for c in mock_backend.calls} == {0.0} and {c.seed for c in mock_backend.calls} == {0}


def test_check_shows_visible_cases_in_both_languages(grading_on_mock, mock_backend):
    mock_backend.script(labeller(label_only=False))
    report = check("t01.sentiment", GOOD, lang="fr")
    assert report.evaluation.cases_run == {"visible": 2, "hidden": 0}
    assert report.outputs == {"happy": "I think the review is positive.", "angry": "I think the review is negative."}
    html, text = report._repr_html_(), repr(report)
    assert "Répond par une étiquette seule" in html and "I love this kettle" in html and "Indice" in html
    assert "Note" in text and "angry" in text
    assert "Answers with a label only" in repr(check("t01.sentiment", GOOD, lang="en"))
    for secret in HIDDEN_TEXTS:
        assert secret not in html + text


def test_check_follows_course_language(grading_on_mock, mock_backend, monkeypatch):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_LANG", "fr")
    config.reload_settings()
    mock_backend.script(labeller())
    assert check("t01.sentiment", GOOD).lang == "fr"
    assert "Note" in repr(check("t01.sentiment", GOOD))
