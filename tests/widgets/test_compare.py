from __future__ import annotations

import threading

import pytest

from promptatelier.models.mock import MockBackend
from promptatelier.widgets import Compare

CASES = [{"word": "hi"}, {"word": "yo"}]


def go(c: Compare) -> Compare:
    c.run_button.click()
    assert c.wait(30)
    return c


def test_prompts_by_models_by_cases_with_scores_and_winners(mock: MockBackend) -> None:
    c = go(Compare(["Say {word}", "SHOUT {word}"], models=["mock"], cases=CASES,
                   criteria=[lambda out, case: out.startswith("SHOUT")]))
    assert [row.messages[0].content for row in mock.calls] == ["Say hi", "Say yo", "SHOUT hi", "SHOUT yo"]
    assert c.winners() == [[1], [1]]
    assert "Winner" in c.table.value and "SHOUT hi" in c.table.value and "score: 1.00" in c.table.value
    df = c.to_dataframe()
    assert len(df) == 4
    assert df.loc[df.winner, "output"].tolist() == ["SHOUT hi", "SHOUT yo"]
    assert df["score"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert set(df.columns) >= {"case", "var:word", "model", "output", "score", "winner", "input_tokens", "cost_usd"}


def test_one_prompt_on_several_models_and_ties(mock: MockBackend) -> None:
    c = go(Compare("tell {word}", models=["mock", "mock:upper"], cases=CASES,
                   criteria=[lambda out, case: case["word"] in out.lower()]))
    assert [c.column_label(i) for i in range(2)] == ["mock", "mock:upper"]
    assert c.winners() == [[0, 1], [0, 1]]
    assert "tie: mock, mock:upper" in c.table.value
    assert "Case 1 · mock:upper [score 1.00]: TELL HI" in repr(c)


def test_without_criteria_there_is_no_score_or_winner(mock: MockBackend) -> None:
    c = go(Compare(["A {word}", "B {word}"], models="mock", cases=CASES))
    assert c.winners() == [[], []] and "Winner" not in c.table.value
    assert c.to_dataframe()["score"].isna().all()


def test_weighted_criteria_and_registered_names(mock: MockBackend) -> None:
    c = Compare("x", models="mock", criteria=[lambda o, c: 1.0, lambda o, c: None])
    assert c.score("anything", {}) == (1.0, ())


def test_missing_variable_is_explained_before_running(mock: MockBackend) -> None:
    c = Compare("Say {wrod}", models="mock", cases=CASES)
    c.run_button.click()
    assert "The prompt uses {wrod}, but case 1 has no value for it." in c.table.value
    assert mock.calls == []


def test_a_failing_cell_does_not_sink_the_table(mock: MockBackend) -> None:
    mock.script(replies=["fine", MockBackend.outage("Server down.")])
    c = go(Compare("Say {word}", models="mock", cases=CASES, criteria=[lambda o, c: 1.0]))
    assert "fine" in c.table.value and "Server down." in c.table.value
    assert c.winners() == [[0], []]
    assert "Server down." in c.to_dataframe().loc[1, "error"]


def test_progress_and_stop_between_batches(mock: MockBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.config import reload_settings

    monkeypatch.setenv("ATELIER_CONCURRENCY", "1")
    reload_settings()
    release, started = threading.Event(), threading.Event()

    def slow(request):  # noqa: ANN001, ANN202
        started.set()
        release.wait(10)
        return "ok"

    mock.script(slow)
    c = Compare("Say {word}", models="mock", cases=[{"word": str(i)} for i in range(5)])
    c.run_button.click()
    assert started.wait(5)
    assert c.progress.max == 5 and c.progress.layout.visibility == "visible"
    c.stop_button.click()
    release.set()
    assert c.wait(10)
    assert len(mock.calls) == 1  # the batches after the stop never ran
    assert "Stopped" in c.status.value and not c.run_button.disabled


def test_french_labels(mock: MockBackend) -> None:
    c = go(Compare("dis {word}", models="mock", cases=CASES, lang="fr", criteria=[lambda o, c: 1]))
    assert "Cas 1" in c.table.value and "Gagnant" in c.table.value and c.run_button.description == "Lancer"


def test_system_prompts_and_few_shot_turns_without_an_exercise(mock: MockBackend) -> None:
    zero_shot = {"system": "Antonyms.", "user": "{word}"}
    few_shot = [{"role": "system", "content": "Antonyms."},
                {"role": "user", "content": "hot"}, {"role": "assistant", "content": "cold"},
                {"role": "user", "content": "{word}"}]
    c = go(Compare([zero_shot, few_shot], models="mock", cases=CASES))
    assert not c.error, c.table.value
    first, _, third, _ = mock.calls
    assert first.system == "Antonyms." and [m.content for m in first.messages] == ["hi"]
    assert third.system == "Antonyms." and [(m.role, m.content) for m in third.messages] == [
        ("user", "hot"), ("assistant", "cold"), ("user", "hi")]
    assert c.prompts == [zero_shot, few_shot]  # the fields show JSON and read back as the same prompts
    missing = Compare([[{"role": "user", "content": "{wrod}"}]], models="mock", cases=CASES)
    missing.run_button.click()
    assert "{wrod}" in missing.table.value and len(mock.calls) == 4


def test_one_model_at_two_sampling_settings(mock: MockBackend) -> None:
    c = go(Compare("tell {word}", models=["mock", ("mock", {"temperature": 1.0, "seed": 3})], cases=CASES,
                   criteria=[lambda out, case: case["word"] in out]))
    assert [c.column_label(i) for i in range(2)] == ["mock", "mock · temperature 1.0 · seed 3"]
    assert [(r.temperature, r.seed) for r in mock.calls] == [(0.0, 0), (0.0, 0), (1.0, 3), (1.0, 3)]
    df = c.to_dataframe()
    assert df["model"].tolist() == ["mock"] * 4 and df["temperature"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert df["seed"].tolist() == [0, 0, 3, 3]
    fr = Compare("dis {word}", models=[("mock", {"temperature": 0.7, "seed": 2, "max_tokens": 5})], lang="fr")
    assert fr.column_label(0) == "mock · température 0,7 · graine 2 · jetons max 5"


@pytest.mark.parametrize("choice, message", [
    (("mock", {"temprature": 1.0}), "Compare cannot set 'temprature'"),
    (("mock", {"seed": -1}), "seed must be a whole number ≥ 0, not -1"),
    (("mock", {"temperature": "hot"}), "temperature must be a number from 0 to 2"),
    (["mock"], "is not a model for Compare"),
])
def test_a_malformed_model_setting_says_how_to_write_it(mock: MockBackend, choice: object, message: str) -> None:
    from promptatelier.errors import AtelierError

    with pytest.raises(AtelierError, match=message):
        Compare("tell {word}", models=[choice], cases=CASES)
    with pytest.raises(AtelierError) as info:
        Compare("dis {word}", models=[("mock", {"seed": 1.5})], lang="fr")
    assert "seed doit être un nombre entier ≥ 0, pas 1.5" in info.value.localised("fr")[0]


def test_an_exercises_cases_are_those_of_the_widgets_language(mock: MockBackend, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "w02"
    folder.mkdir()
    spec = folder / "post.toml"
    spec.write_text('''
id = "w02.post"
points = 1
kind = "template"
placeholders = ["product"]
title = "A post"
instructions = "Write a post."
reference = "Post about {product}."
baseline = "{product}"

[[cases]]
name = "mug"
lang = "en"
vars = { product = "mug" }

[[cases]]
name = "tasse"
lang = "fr"
vars = { product = "tasse" }

[[criteria]]
use = "contains"
text = "post"
''', encoding="utf-8")
    assert Compare("{product}", models="mock", exercise=spec, lang="en").cases == [{"product": "mug"}]
    assert Compare("{product}", models="mock", exercise=spec, lang="fr").cases == [{"product": "tasse"}]


def test_criteria_take_their_arguments_from_each_case_and_know_what_was_sent(mock: MockBackend) -> None:
    cases = [{"word": "hi", "expected": "HI"}, {"word": "yo", "expected": "YO"}]
    mock.script(lambda r: r.messages[-1].content.split()[-1].upper() + " 42")
    c = go(Compare(["Say {word}"], models=["mock"], cases=cases,
                   criteria=[{"use": "contains", "text": {"case": "expected"}}, {"use": "no_invented_numbers"}]))
    scored = [cell.score for cell in c.cells]
    # the case's own word is found; "42" was never sent, so it is invented: half marks each
    assert scored == [0.5, 0.5]
    assert any("42" in why for why in c.cells[0].explanations)
