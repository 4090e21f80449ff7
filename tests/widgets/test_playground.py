from __future__ import annotations

import pytest

from promptatelier.errors import BackendError
from promptatelier.models.mock import MockBackend
from promptatelier.widgets import Playground


def run(p: Playground) -> Playground:
    p.run_button.click()
    assert p.wait(20), "the run did not finish"
    return p


def test_run_shows_answer_stats_and_history(mock: MockBackend) -> None:
    p = Playground(model="mock")
    p.prompt.value = "Name three colours."
    p.system.value = "Answer briefly."
    run(p)
    assert "Name three colours." in p.answer.value
    assert p.answer_text == "Name three colours."
    assert "3 tokens in" not in p.stats.value  # the system prompt counts too
    assert "5 tokens in, 3 tokens out" in p.stats.value
    assert "free" in p.stats.value
    request = mock.calls[-1]
    assert request.system == "Answer briefly." and request.temperature == 0.0 and request.seed == 0
    assert len(p.history) == 1 and p.history_picker.value == 0
    assert not p.run_button.disabled and p.stop_button.disabled


def test_settings_reach_the_model(mock: MockBackend) -> None:
    p = Playground("hi", model="mock", temperature=0.7, max_tokens=12, seed=5)
    run(p)
    request = mock.calls[-1]
    assert (request.temperature, request.max_tokens, request.seed, request.system) == (0.7, 12, 5, None)


def test_same_settings_at_temperature_zero_show_the_same_answer(mock: MockBackend) -> None:
    counter = iter(range(100))
    mock.script(lambda r: f"answer {next(counter)}")
    p = run(Playground("hello", model="mock"))
    first = p.answer.value
    run(p)
    assert p.answer.value == first
    assert "from the cache" in p.stats.value


def test_history_reloads_an_earlier_run(mock: MockBackend) -> None:
    p = run(Playground("first prompt", model="mock"))
    p.prompt.value, p.temperature.value = "second prompt", 1.2
    run(p)
    assert len(p.history_picker.options) == 2
    p.history_picker.value = 0
    p.load_button.click()
    assert p.prompt.value == "first prompt" and p.temperature.value == 0.0
    assert "first prompt" in p.answer.value


def test_empty_prompt_is_explained_in_the_widget(mock: MockBackend) -> None:
    p = Playground(model="mock")
    p.run_button.click()
    assert "The prompt is empty" in p.answer.value and "Type a prompt" in p.answer.value
    assert mock.calls == []


def test_outage_is_shown_in_words_not_a_traceback(mock: MockBackend) -> None:
    mock.script(replies=[MockBackend.outage("The course server does not answer.")])
    p = run(Playground("hi", model="mock"))
    assert "The model could not be reached." in p.answer.value
    assert "The course server does not answer." in p.answer.value
    assert "Traceback" not in p.answer.value and "Traceback" not in repr(p)
    assert not p.run_button.disabled


def test_unexpected_backend_failure_is_shown(mock: MockBackend) -> None:
    mock.script(replies=[BackendError("The reply was cut.", "Try again.")])
    p = run(Playground("hi", model="mock"))
    assert "The model returned an error." in p.answer.value and "Try again." in p.answer.value


def test_missing_key_says_how_to_give_one() -> None:
    p = run(Playground("hi", model="openai:gpt-4.1-mini"))
    assert "This model needs an API key." in p.answer.value
    assert "OPENAI_API_KEY" in p.answer.value


def test_stop_frees_the_widget_and_ignores_the_late_answer(gate) -> None:  # noqa: ANN001
    p = Playground("hi", model="mock")
    p.run_button.click()
    assert gate.started.wait(5)
    assert p.running and p.run_button.disabled and not p.stop_button.disabled
    p.stop_button.click()
    assert not p.running and not p.run_button.disabled and p.stop_button.disabled
    assert "Stopped" in p.status.value
    gate.set()
    assert p.wait(5)
    assert "late answer" not in p.answer.value and p.history == []


def test_french_labels(mock: MockBackend) -> None:
    p = Playground("bonjour", model="mock", lang="fr")
    assert p.run_button.description == "Lancer" and p.temperature.description == "Température"
    run(p)
    assert "Réponse" in p.answer.value and "1 jeton en entrée" in p.stats.value  # the glossary's word, singular
    assert "\u00a0: bonjour" in repr(p)


def test_course_language_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.config import reload_settings

    monkeypatch.setenv("ATELIER_LANG", "fr")
    reload_settings()
    assert Playground(model="mock").run_button.description == "Lancer"


def test_plain_text_for_places_without_a_frontend(mock: MockBackend) -> None:
    p = run(Playground("Say hi to the class, please, in a long friendly sentence.", model="mock"))
    plain = p._repr_mimebundle_()["text/plain"]
    assert plain.startswith("Playground (mock, temperature 0)")
    assert "Answer: Say hi to the class, please, in a long friendly sentence." in plain  # not cut at 110 chars


def test_model_picker_offers_the_course_models(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from promptatelier.config import reload_settings

    course = tmp_path / "atelier.toml"
    course.write_text('[models]\nlearner = "mock"\navailable = ["mock", "mock:upper", "openai:gpt-4.1-mini"]\n')
    monkeypatch.setenv("ATELIER_CONFIG", str(course))
    reload_settings()
    p = Playground("shout")
    assert list(p.model.options) == ["mock", "mock:upper", "openai:gpt-4.1-mini"] and p.model.value == "mock"
    p.model.value = "mock:upper"
    run(p)
    assert p.answer_text == "SHOUT"
