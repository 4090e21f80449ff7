from __future__ import annotations

import math
import random

import pytest

from promptatelier.models import Completion, TokenLogprob, TopLogprob, Usage
from promptatelier.models.mock import MockBackend
from promptatelier.widgets import TokenExplorer
from promptatelier.widgets.tokens import reshape, show_token

TOP = (TopLogprob(" Paris", math.log(0.6)), TopLogprob(" Lyon", math.log(0.3)), TopLogprob(" Nice", math.log(0.1)))


def scripted(mock: MockBackend) -> None:
    mock.script(lambda r: Completion(" Paris", "mock", Usage(5, 1), logprobs=(TokenLogprob(" Paris", TOP[0].logprob, TOP[: r.top_logprobs]),)))


def explore(t: TokenExplorer) -> TokenExplorer:
    t.run_button.click()
    assert t.wait(20)
    return t


def test_reshape() -> None:
    lps = [math.log(0.6), math.log(0.3), math.log(0.1)]
    assert reshape(lps, 1.0) == pytest.approx([0.6, 0.3, 0.1])
    assert reshape(lps, 0.0) == [1.0, 0.0, 0.0]
    cold, hot = reshape(lps, 0.5), reshape(lps, 2.0)
    assert cold[0] > 0.6 > hot[0] and hot[2] > 0.1 > cold[2]
    assert sum(hot) == pytest.approx(1.0)
    assert reshape([], 1.0) == []


def test_bars_follow_the_temperature_slider(mock: MockBackend) -> None:
    scripted(mock)
    t = explore(TokenExplorer("The capital of France is", model="mock", top_k=3, temperature=1.0))
    request = mock.calls[-1]
    assert (request.logprobs, request.top_logprobs, request.max_tokens, request.temperature) == (True, 3, 1, 0.0)
    assert [row[0] for row in t.probabilities()] == [" Paris", " Lyon", " Nice"]
    assert "␣Paris" in t.chart.value and "60.0%" in t.chart.value
    t.temperature.value = 0.0
    assert "100.0%" in t.chart.value and "deterministic" in t.chart.value
    assert set(t.draws) == {" Paris"}
    t.temperature.value = 2.0
    assert "draws vary" in t.chart.value
    draws = t.sample(300, rng=random.Random(1))
    assert {" Paris", " Lyon", " Nice"} <= set(draws)
    assert len(mock.calls) == 1  # moving the slider never calls the model again
    assert "␣Paris" in repr(t) and "█" in repr(t)


def test_a_model_without_logprobs_is_explained(mock: MockBackend) -> None:
    mock.script(replies=[Completion("x", "mock", Usage(1, 1))])
    t = explore(TokenExplorer("hi", model="mock"))
    assert "This model cannot do that." in t.chart.value and "local model" in t.chart.value


def test_empty_prompt(mock: MockBackend) -> None:
    t = TokenExplorer(model="mock", lang="fr")
    t.run_button.click()
    assert "Le prompt est vide." in t.chart.value and mock.calls == []


def test_show_token() -> None:
    assert show_token(" a\n") == "␣a⏎" and show_token("") == "∅"
