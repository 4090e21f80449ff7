"""The widgets a kernel made list their example prompts, as the requests a click would send, and
`run_examples` runs each once (CI checks the outputs of every notebook's widgets)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from promptatelier.errors import AtelierError
from promptatelier.models.mock import MockBackend
from promptatelier.widgets import Chat, Compare, ExerciseCheck, Playground, TokenExplorer
from promptatelier.widgets.examples import examples, run_examples

GRADERS = Path(__file__).resolve().parent / "graders"
GOOD = "Classify the review between <review>{review}</review> tags. Answer positive or negative only."


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widgets of earlier tests are closed and forgotten; the widget graders are in use."""
    from promptatelier.config import reload_settings
    from promptatelier.grading.spec import clear_spec_cache
    from promptatelier.widgets import _common

    for widget in _common.live_widgets():
        widget.close()
    gc.collect()
    _common._numbers.clear()  # names count from 1 again, as in a fresh kernel
    monkeypatch.setenv("ATELIER_GRADERS", str(GRADERS))
    reload_settings()
    clear_spec_cache()


def test_each_widget_lists_what_a_click_would_send(mock: MockBackend) -> None:
    pg = Playground("Write a haiku about tea.", system="Be brief.", model="mock", max_tokens=20, temperature=0.3)
    Playground(model="mock")  # nothing typed: nothing to run
    cmp = Compare(["A {x}", "B {x}"], models="mock", cases=[{"x": "1"}, {"x": "2"}])
    chat = Chat("Answer in French.", message="Hello!", model="mock")
    TokenExplorer("The sky is", model="mock")  # one token with its probabilities: not a text to check
    ex = ExerciseCheck("w01.label", GOOD, model="mock")
    listed = examples()
    assert [(e.widget, e.label) for e in listed] == [
        ("Playground 1", "prompt"),
        ("Compare 1", "Case 1 · Prompt 1"), ("Compare 1", "Case 2 · Prompt 1"),
        ("Compare 1", "Case 1 · Prompt 2"), ("Compare 1", "Case 2 · Prompt 2"),
        ("Chat 1", "message"),
        ("ExerciseCheck 1", "happy"), ("ExerciseCheck 1", "angry"),
    ]
    assert pg.name() == "Playground 1"
    first = listed[0].request
    assert first.system == "Be brief." and first.messages[-1].content == "Write a haiku about tea."
    assert (first.temperature, first.max_tokens) == (0.3, 20)
    assert [e.request.messages[-1].content for e in listed[1:5]] == ["A 1", "A 2", "B 1", "B 2"]
    assert listed[5].request.system == "Answer in French." and listed[5].request.messages[-1].content == "Hello!"
    assert "I love this kettle" in listed[6].request.messages[-1].content
    assert {e.model for e in listed} == {"mock"} and cmp.name() == "Compare 1" and chat.name() == "Chat 1"
    assert ex.name() == "ExerciseCheck 1"


def test_run_examples_runs_each_once_and_returns_its_output(mock: MockBackend) -> None:
    mock.script(lambda r: f"answer to {r.messages[-1].content}")
    Playground("Write a haiku about tea.", model="mock")
    Compare(["A {x}"], models="mock", cases=[{"x": "1"}])
    ran = run_examples()
    assert [(r.widget, r.label, r.text) for r in ran] == [("Playground 1", "prompt", "answer to Write a haiku about tea."),
                                                          ("Compare 1", "Case 1 · mock", "answer to A 1")]
    assert len(mock.calls) == 2


def test_an_example_that_cannot_be_sent_says_why_and_the_others_still_run(mock: MockBackend) -> None:
    Compare(["A {missing}"], models="mock", cases=[{"x": "1"}])
    Playground("Hello there", model="mock")
    ran = run_examples()
    assert [(r.widget, r.text) for r in ran] == [("Compare 1", None), ("Playground 1", "Hello there")]
    assert isinstance(ran[0].error, AtelierError) and "{missing}" in ran[0].error.problem


def test_a_closed_widget_is_forgotten(mock: MockBackend) -> None:
    pg = Playground("Hello there", model="mock")
    assert examples()
    pg.close()
    assert examples() == []
