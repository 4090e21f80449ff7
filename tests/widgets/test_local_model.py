"""The widgets on the real embedded model (SmolLM2-135M-Instruct through llama.cpp)."""

from __future__ import annotations

import pytest

from promptatelier.widgets import Chat, Compare, CostMeter, Playground, TokenExplorer

pytestmark = [pytest.mark.local_model, pytest.mark.slow]


def finish(widget) -> None:  # noqa: ANN001
    assert widget.wait(600), "the local model did not answer"


def test_playground_at_temperature_zero_repeats_itself_without_the_cache(no_cache: None) -> None:
    p = Playground("Name three colours.", model="local", max_tokens=12)
    meter = CostMeter()
    p.run_button.click()
    finish(p)
    first = p.answer_text
    assert first.strip() and p.last is not None and p.last.error is None
    assert "tokens in" in p.stats.value and "from the cache" not in p.stats.value
    p.run_button.click()
    finish(p)
    assert p.answer_text == first
    (row,) = meter.rows
    assert row.model == "local" and row.requests == 2 and row.cached == 0 and row.output_tokens > 0
    assert "free" in meter.table.value


def test_chat_remembers_across_turns() -> None:
    chat = Chat("You are a helpful assistant. Answer in one short sentence.", model="local", max_tokens=16)
    chat.send("My name is Ada.")
    finish(chat)
    first_context = chat.context_tokens
    chat.send("What is my name?")
    finish(chat)
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert chat.context_tokens > first_context
    assert chat.last_completion is not None
    # the second request carried the whole conversation (its prompt is longer than both user turns)
    assert chat.last_completion.usage.input_tokens > first_context


def test_token_explorer_shows_real_probabilities() -> None:
    t = TokenExplorer("The capital of France is", model="local", top_k=5)
    t.run_button.click()
    finish(t)
    assert t.error is None, repr(t)
    rows = t.probabilities(1.0)
    assert len(rows) == 5 and sum(r[2] for r in rows) == pytest.approx(1.0)
    assert rows[0][1] >= rows[-1][1]
    t.temperature.value = 0.0
    assert set(t.draws) == {rows[0][0]}
    assert "100.0%" in t.chart.value


def test_compare_two_prompts_on_the_local_model() -> None:
    c = Compare(
        ["Answer with one word, positive or negative. Review: {review}",
         "Review: {review}\nIs this review positive or negative? Answer with one word."],
        models="local", cases=[{"review": "I loved it, wonderful."}, {"review": "Terrible, it broke at once."}],
        criteria=[lambda out, case: any(w in out.lower() for w in ("positive", "negative"))], max_tokens=6,
    )
    c.run_button.click()
    finish(c)
    assert all(cell.completion is not None for cell in c.cells), repr(c)
    df = c.to_dataframe()
    assert len(df) == 4 and df["model"].eq("local").all() and df["score"].notna().all()
    assert len(c.winners()) == 2
