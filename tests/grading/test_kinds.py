"""Submission kinds `system` and `prefill`, references checked by grading's own rules, and
answers that cannot be sent to a model (lone surrogates) sent to a person instead of crashing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import evaluate, evaluate_many, load_spec

from .conftest import spec_file

SYSTEM_SPEC = """
id = "t09.bot"
points = 2
kind = "system"
user_turn = "Customer: {message}"
title = "Support bot"
instructions = "Write the system prompt."
reference = "You are the shop's support assistant. Answer in one sentence."
baseline = "You are helpful."

[[cases]]
name = "late"
vars = { message = "My parcel is late." }

[[cases]]
name = "broken"
vars = { message = "The mug arrived broken." }

[[criteria]]
use = "length"
max = 40
"""

PREFILL_SPEC = """
id = "t09.json"
points = 2
kind = "prefill"
placeholders = ["text"]
title = "JSON by prefill"
instructions = "Start the reply with a brace."
reference = { user = "Give the name in {text} as JSON.", prefill = "{" }
baseline = { user = "Name in {text}?", prefill = "Sure" }

[[cases]]
name = "anna"
vars = { text = "I am Anna." }

[[criteria]]
use = "valid_json"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    return spec_file(tmp_path, "t09." + name, text)


def test_system_kind_sends_the_learners_system_prompt_and_the_cases_user_turns(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "bot", SYSTEM_SPEC))
    mock_backend.script(lambda r: f"We are sorry about this: {r.messages[-1].content[10:]}")
    ev = evaluate(spec, "You answer for the shop, kindly.", model="mock", cases="visible")
    assert ev.status == "graded" and ev.points == 2.0
    sent = {tuple(m.content for m in r.messages) for r in mock_backend.calls}
    assert sent == {("Customer: My parcel is late.",), ("Customer: The mug arrived broken.",)}
    assert {r.system for r in mock_backend.calls} == {"You answer for the shop, kindly."}


def test_system_kind_needs_every_case_to_fill_the_user_turn(tmp_path) -> None:
    text = SYSTEM_SPEC.replace('vars = { message = "My parcel is late." }', 'vars = { msg = "My parcel is late." }')
    with pytest.raises(SpecError, match=r"cases\[0\].vars.*placeholder\(s\) \['message'\]"):
        load_spec(write(tmp_path, "bot", text))


def test_prefill_ends_the_request_with_the_reply_start_and_grades_the_whole_reply(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "json", PREFILL_SPEC))
    mock_backend.script(lambda r: '"name": "Anna"}')
    ev = evaluate(spec, {"user": "Name in {text} as JSON.", "prefill": "{"}, model="mock", cases="visible")
    request = mock_backend.calls[0]
    assert [m.role for m in request.messages] == ["user", "assistant"]
    assert request.messages[-1].content == "{"
    assert ev.outputs[0].text == '{"name": "Anna"}'
    assert ev.points == 2.0


def test_a_prefill_answer_of_the_wrong_shape_is_explained(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "json", PREFILL_SPEC))
    ev = evaluate(spec, "just a string {text}", model="mock", cases="visible")
    assert ev.status == "invalid" and ev.points == 0
    assert "'prefill'" in ev.message("en") and "'prefill'" in ev.message("fr")


def test_an_untouched_prefill_answer_reads_not_answered_yet(tmp_path, mock_backend) -> None:
    """The notebook supplies the prefill ("{"): with the request still empty, nothing was written."""
    spec = load_spec(write(tmp_path, "json", PREFILL_SPEC))
    ev = evaluate(spec, {"user": "", "prefill": "{"}, model="mock", cases="visible")
    assert ev.status == "invalid" and ev.points == 0
    assert "Not answered yet" in ev.message("en") and "Pas encore de réponse" in ev.message("fr")


def test_a_reference_that_grading_would_reject_fails_when_the_spec_loads(tmp_path) -> None:
    text = textwrap.dedent("""
        id = "t09.turns"
        points = 1
        kind = "messages"
        placeholders = ["q"]
        title = "Turns"
        instructions = "x"
        reference = [{ role = "user", content = "{q}" }, { role = "assistant", content = "Sure:" }]
        baseline = [{ role = "user", content = "{q}" }]

        [[cases]]
        vars = { q = "Hi" }

        [[criteria]]
        use = "contains"
        text = "x"
        """)
    with pytest.raises(SpecError, match="'reference'.*would be rejected when graded: The last message must be the user's"):
        load_spec(write(tmp_path, "turns", text))


def test_a_template_reference_that_forgets_a_placeholder_fails_when_the_spec_loads(tmp_path) -> None:
    text = PREFILL_SPEC.replace('baseline = { user = "Name in {text}?", prefill = "Sure" }',
                                'baseline = { user = "Name?", prefill = "Sure" }')
    with pytest.raises(SpecError, match="'baseline'.*never uses \\{text\\}"):
        load_spec(write(tmp_path, "json", text))


def test_a_lone_surrogate_goes_to_a_person_and_the_rest_are_graded(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "bot", SYSTEM_SPEC))
    mock_backend.script(lambda r: f"We are sorry: {r.messages[-1].content[10:]}")
    bad, good = evaluate_many([(spec, "Be kind \ud800 always."), (spec, "Be kind.")], model="mock", cases="visible")
    assert bad.status == "not_graded" and bad.points is None
    assert any("needs grading by hand" in f and "\\ud800" in f for f in bad.flags)
    assert "'\\ud800'" in bad.message("en") and "caractère" in bad.message("fr")
    assert good.status == "graded" and good.points == 2.0


def test_a_prefill_in_a_solution_region_loses_the_markers_but_keeps_its_spaces(tmp_path, mock_backend) -> None:
    from promptatelier.grading import normalise

    spec = load_spec(write(tmp_path, "json", PREFILL_SPEC))
    sub = normalise(spec, {"user": "Name in {text}.", "prefill": "\n### BEGIN SOLUTION\n{ \"name\": \n### END SOLUTION\n"})
    assert sub.prefill == '{ "name": '
    untouched = evaluate(spec, {"user": "YOUR PROMPT HERE", "prefill": "YOUR PROMPT HERE"}, model="mock", cases="visible")
    assert untouched.status == "invalid" and "Not answered yet" in untouched.message("en")
