from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.models.mock import MockBackend
from promptatelier.widgets import Compare, ExerciseCheck

GRADERS = Path(__file__).resolve().parent / "graders"
GOOD = "Classify the review between <review>{review}</review> tags. Answer positive or negative only."


@pytest.fixture(autouse=True)
def widget_graders(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.config import reload_settings
    from promptatelier.grading.spec import clear_spec_cache

    monkeypatch.setenv("ATELIER_GRADERS", str(GRADERS))
    reload_settings()
    clear_spec_cache()


@pytest.fixture
def labeller(mock: MockBackend) -> MockBackend:
    return mock.script(lambda r: "positive" if "love" in r.messages[-1].content else "negative")


def check(c: ExerciseCheck) -> ExerciseCheck:
    c.check_button.click()
    assert c.wait(30)
    return c


def test_shows_outputs_criteria_and_visible_score(labeller: MockBackend) -> None:
    c = check(ExerciseCheck("w01.label", GOOD, model="mock"))
    assert "Sentiment label" in c.children[0].value and "positive or negative" in c.children[0].value
    assert [(r.name, r.verdict) for r in c.criteria] == [
        ("Picks the right label", "pass"), ("Answers with a label only", "pass"), ("Fences the data with delimiters", "pass")]
    assert [(x.name, x.output, x.expected) for x in c.cases] == [("happy", "positive", "positive"), ("angry", "negative", "negative")]
    assert "Score on the visible cases: 4 / 4" in c.result.value
    assert c.result.value.count("atelier-pass") == 3
    assert "Score on the visible cases: 4 / 4" in repr(c)


def test_never_runs_or_shows_hidden_cases(labeller: MockBackend) -> None:
    c = check(ExerciseCheck("w01.label", GOOD, model="mock"))
    assert all("HIDDENCANARY" not in m.content for call in labeller.calls for m in call.messages)
    assert "HIDDENCANARY" not in c.result.value and "HIDDENCANARY" not in repr(c) and "h-pos" not in c.result.value
    assert "hidden cases" in c.result.value  # and says the grade uses more


def test_failing_criteria_show_explanation_and_hint(mock: MockBackend) -> None:
    mock.script(lambda r: "I think this review is rather positive.")
    c = check(ExerciseCheck("w01.label", "What about {review}?", model="mock"))
    verdicts = {r.name: r for r in c.criteria}
    assert verdicts["Answers with a label only"].verdict == "fail"
    assert verdicts["Fences the data with delimiters"].verdict == "fail"
    assert "Ask for the label alone" in c.result.value and "Put the review between tags" in c.result.value
    assert "atelier-fail" in c.result.value
    assert "[fail] Answers with a label only" in repr(c)


def test_the_learner_edits_the_answer_in_the_widget(labeller: MockBackend) -> None:
    c = ExerciseCheck("w01.label", model="mock")
    assert c.editors["prompt"].value == ""
    c.editors["prompt"].value = GOOD
    assert c.submission == GOOD
    check(c)
    assert labeller.calls[-1].messages[-1].content.startswith("Classify the review between <review>")


def test_unanswered_is_explained(labeller: MockBackend) -> None:
    c = check(ExerciseCheck("w01.label", "", model="mock"))
    assert "atelier-alert" in c.result.value and "Not answered yet" in c.result.value
    assert "Replace the placeholder" in c.result.value
    assert labeller.calls == []


def test_outage_says_what_failed_and_how_to_fix_it(mock: MockBackend) -> None:
    mock.script(lambda r: MockBackend.outage("The course server is down."))
    c = check(ExerciseCheck("w01.label", GOOD, model="mock"))
    assert "atelier-alert" in c.result.value and "The course server is down." in c.result.value
    assert "<b>How to fix it: </b>Start the server again, or switch to the local model." in c.result.value
    assert "Score on the visible cases" not in c.result.value
    assert "not graded" not in c.result.value.lower()  # a practice check, not a grade


def test_an_unreachable_hosted_model_is_named_with_the_cause_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real OpenAI-compatible model on a port where nothing listens, through the real SDK."""
    from promptatelier.config import reload_settings
    from tests.support import free_port

    monkeypatch.setenv("ATELIER_MAX_RETRIES", "0")
    reload_settings()
    model = f"openai-compatible:http://127.0.0.1:{free_port()}/v1#tiny"
    c = check(ExerciseCheck("w01.label", GOOD, model=model, lang="fr"))
    shown = c.result.value
    assert "atelier-alert" in shown and f"127.0.0.1" in shown and "tiny" in shown  # the provider and its server
    assert "could not reach" in shown  # the cause
    assert "Comment corriger\u00a0: </b>" in shown and "local" in shown  # the fix, in full
    assert "…" not in shown


def test_unknown_exercise_is_said_in_the_widget() -> None:
    c = ExerciseCheck("w01.nope")
    assert "This exercise is misconfigured" in c.result.value and "w01.nope" in c.result.value
    assert c.check_button.disabled
    assert "does not exist" in repr(c)


def test_system_template_has_two_fields(mock: MockBackend) -> None:
    c = ExerciseCheck("w01.persona", {"system": "You are Max.", "user": "Q: {question}"}, model="mock", lang="fr")
    assert set(c.editors) == {"system", "user"}
    captions = [box.children[0].value for box in c.children[1:3]]
    assert captions == ["<b>Prompt système</b>", "<b>Gabarit du message utilisateur</b>"]
    mock.script(lambda r: f"{r.system} Nous ouvrons à 9 h.")
    check(c)
    assert mock.calls[-1].system == "You are Max." and mock.calls[-1].messages[-1].content == "Q: When do you open?"
    assert [r.verdict for r in c.criteria] == ["pass"]
    assert "Note sur les cas visibles\u00a0: 2 / 2" in c.result.value and "réussi" in c.result.value


def test_compare_scores_cells_with_the_exercise_rubric(labeller: MockBackend, no_cache: None) -> None:
    cmp = Compare([GOOD, "What about {review}?"], models="mock", exercise="w01.label")
    assert len(cmp.cases) == 2 and "HIDDENCANARY" not in repr(cmp.cases)
    cmp.run_button.click()
    assert cmp.wait(30)
    scores = {(cell.column, cell.case): cell.score for cell in cmp.cells}
    assert scores == {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0, (1, 1): 1.0}  # both pick the right labels
    assert cmp.winners() == [[0, 1], [0, 1]]
    labeller.script(lambda r: "It is positive, I would say.")
    cmp.run()
    assert cmp.wait(30)
    assert sorted(round(cell.score, 3) for cell in cmp.cells) == [0.0, 0.0, 0.667, 0.667]


@pytest.mark.local_model
@pytest.mark.slow
def test_check_on_the_local_model() -> None:
    c = ExerciseCheck("w01.label", GOOD, model="local")
    c.check_button.click()
    assert c.wait(600)
    assert c.error is None, repr(c)
    assert len(c.cases) == 2 and all(x.output.strip() for x in c.cases)
    assert [r.verdict for r in c.criteria][2] == "pass"  # the delimiters are in the prompt itself
    assert "Score on the visible cases:" in c.result.value


def test_progress_is_shown_and_stop_frees_the_widget(gate) -> None:  # noqa: ANN001
    c = ExerciseCheck("w01.label", GOOD, model="mock")
    c.check_button.click()
    assert gate.started.wait(5)
    assert "Running the visible cases on mock" in c.status.value and c.check_button.disabled
    c.stop_button.click()
    assert not c.check_button.disabled and "Stopped" in c.status.value
    gate.set()
    assert c.wait(10)
    assert c.report is None and "Score" not in c.result.value


def test_instructions_and_hints_are_markdown_rendered_safely(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                             mock: MockBackend) -> None:
    import shutil

    from promptatelier.config import reload_settings
    from promptatelier.grading.spec import clear_spec_cache

    shutil.copytree(GRADERS, tmp_path / "graders")
    spec = tmp_path / "graders" / "w01" / "label.toml"
    text = spec.read_text(encoding="utf-8").replace(
        'en = "Write a template that makes the model answer positive or negative for {review}, and nothing else."',
        'en = "Answer **positive** or `negative` for {review}.\\n\\n- one word\\n- no <script>alert(1)</script>"')
    text = text.replace('"Ask for the label alone, with no sentence around it."', '"Ask for the label **alone**."')
    spec.write_text(text, encoding="utf-8")
    monkeypatch.setenv("ATELIER_GRADERS", str(tmp_path / "graders"))
    reload_settings()
    clear_spec_cache()
    mock.script(lambda r: "It is positive, I would say.")
    c = ExerciseCheck("w01.label", "Say {review}", model="mock")
    header = c.children[0].value
    assert "<strong>positive</strong>" in header and "negative</code>" in header and "<li>one word</li>" in header
    assert "**" not in header and "<script>" not in header and "&lt;script&gt;" in header
    check(c)
    assert "Ask for the label <strong>alone</strong>." in c.result.value and "**alone**" not in c.result.value
