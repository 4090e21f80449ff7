"""Evaluations the learner writes (test cases, a rubric), scored by mutation testing: the correct
prompt must pass them, the faulty prompts must fail them."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import evaluate, load_spec

from .conftest import spec_file

TASK = """
[task]
kind = "template"
placeholders = ["review"]
prompt = "Label the review <r>{review}</r>: positive or negative. Label only."

[[mutants]]
name = "always-positive"
prompt = "Say positive. <r>{review}</r>"

[[mutants]]
name = "shouts"
prompt = "SHOUT the label of <r>{review}</r>."
"""

CASES = """
id = "t10.cases"
points = 4
kind = "eval_cases"
min_cases = 2
title = "A test set"
instructions = "Write cases that catch the faulty prompts."
reference = [{ review = "I love it.", expected = "positive" }, { review = "It broke.", expected = "negative" }]
baseline = [{ review = "I love it.", expected = "positive" }]

[[hidden_mutants]]
name = "always-negative"
prompt = "Say negative. <r>{review}</r>"
""" + TASK + """
[[task.criteria]]
use = "label_accuracy"
labels = ["positive", "negative"]

[[task.criteria]]
use = "regex"
pattern = "^[a-z]+$"
raw = true
"""

RUBRIC = """
id = "t10.rubric"
points = 4
kind = "eval_rubric"
title = "A rubric"
instructions = "Write criteria that catch the faulty prompts."
reference = [{ use = "label_accuracy", labels = ["positive", "negative"] }, { use = "regex", pattern = "^[a-z]+$", raw = true }]
baseline = [{ use = "length", max = 20 }]
""" + TASK + """
[[task.cases]]
name = "love"
vars = { review = "I love it." }
expected = "positive"

[[task.cases]]
name = "broke"
vars = { review = "It broke." }
expected = "negative"

[[task.hidden]]
name = "h-meh"
vars = { review = "Terrible smell, returned it." }
expected = "negative"
"""


def labeller(request) -> str:
    """A model that obeys: the right label in lower case, or what the faulty prompt asks."""
    text = request.messages[-1].content
    review = text.split("<r>")[1].split("</r>")[0]
    right = "negative" if any(w in review for w in ("broke", "Terrible")) else "positive"
    if text.startswith("Say "):
        return text.split()[1].rstrip(".")
    return right.upper() if text.startswith("SHOUT") else right


def write(tmp_path: Path, name: str, text: str) -> Path:
    return spec_file(tmp_path, "t10." + name, text)


def test_good_test_cases_pass_the_correct_prompt_and_catch_every_mutant(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "cases", CASES))
    mock_backend.script(labeller)
    ev = evaluate(spec, spec.reference, model="mock")
    assert ev.status == "graded" and ev.points == 4.0, ev.feedback_text("en")
    assert ev.cases_run == {"visible": 2, "hidden": 0}  # the learner's two cases
    assert [o.name for o in ev.outputs] == ["correct prompt", "always-positive", "shouts"]  # no hidden mutant shown


def test_a_test_set_that_misses_a_mutant_loses_points_and_names_it(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "cases", CASES))
    mock_backend.script(labeller)
    # positive cases only: "always-positive" sails through
    ev = evaluate(spec, [{"review": "I love it.", "expected": "positive"}, {"review": "Great.", "expected": "positive"}],
                  model="mock")
    caught = next(r for r in ev.criteria if r.key == "mutants_caught")
    assert caught.passed == 2 and caught.total == 3 and "'always-positive' passes your evaluation" in caught.explanation
    assert 0 < ev.points < 4


def test_a_test_set_that_fails_the_correct_prompt_scores_0(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "cases", CASES))
    mock_backend.script(labeller)
    # wrong expected answers fail everything, mutants included: caught all, worth nothing
    ev = evaluate(spec, [{"review": "I love it.", "expected": "negative"}, {"review": "It broke.", "expected": "positive"}],
                  model="mock")
    assert ev.points == 0.0 and "rejects good work" in ev.feedback_text("en")


def test_a_malformed_test_set_is_explained(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "cases", CASES))
    ev = evaluate(spec, [{"text": "I love it.", "expected": "positive"}], model="mock")
    assert ev.status == "invalid" and "Case 1 has unknown key(s) ['text']" in ev.message("en")
    ev = evaluate(spec, [{"review": "I love it."}], model="mock")
    assert ev.status == "invalid" and "no 'expected' answer" in ev.message("en")
    assert evaluate(spec, "a string", model="mock").status == "invalid"


def test_a_good_rubric_catches_the_mutants_on_visible_and_hidden_cases(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "rubric", RUBRIC))
    mock_backend.script(labeller)
    ev = evaluate(spec, spec.reference, model="mock")
    assert ev.points == 4.0, ev.feedback_text("en")
    # the baseline's rubric passes everything: it catches nothing
    weak = evaluate(spec, spec.baseline, model="mock")
    assert next(r for r in weak.criteria if r.key == "mutants_caught").passed == 0
    sent = {m.content for r in mock_backend.calls for m in r.messages}
    assert any("Terrible smell" in text for text in sent)  # the task's hidden case ran while grading


def test_a_rubric_with_a_bad_criterion_is_explained_in_both_languages(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "rubric", RUBRIC))
    ev = evaluate(spec, [{"use": "length", "max": "twenty"}], model="mock")
    assert ev.status == "invalid" and "Criterion 1 (length)" in ev.message("en") and "Critère 1" in ev.message("fr")
    ev = evaluate(spec, [{"use": "token_budget", "max_tokens": 5}], model="mock")
    assert ev.status == "invalid" and "not a criterion that checks outputs" in ev.message("en")


def test_an_evaluation_spec_keeps_its_cases_and_rubric_in_the_task(tmp_path) -> None:
    with pytest.raises(SpecError, match="has its cases and rubric in \\[task\\]"):
        load_spec(write(tmp_path, "cases", CASES + '\n[[cases]]\nvars = { review = "x" }\n'))
    no_mutants = CASES.split("[[mutants]]")[0] + "\n[[task.criteria]]\nuse = \"regex\"\npattern = \"x\"\n"
    with pytest.raises(SpecError, match="no faulty prompt"):
        load_spec(write(tmp_path, "cases", no_mutants))


def test_the_french_feedback_of_an_evaluation_reads_as_french(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "cases", CASES))
    mock_backend.script(labeller)
    ev = evaluate(spec, [{"review": "I love it.", "expected": "positive"}], model="mock", lang="fr")
    text = ev.feedback_text("fr")
    assert "(s)" not in text and "1 cas différent" in text and "prompt correct" in [o.name for o in ev.outputs]
