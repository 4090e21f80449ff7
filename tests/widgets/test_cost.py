from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier import complete
from promptatelier.config import reload_settings
from promptatelier.widgets import Chat, CostMeter, Playground


@pytest.fixture
def priced_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = tmp_path / "atelier.toml"
    course.write_text('[prices."mock"]\ninput = 2.0\noutput = 10.0\n[cache]\nenabled = false\n')
    monkeypatch.setenv("ATELIER_CONFIG", str(course))
    reload_settings()


def test_empty_session() -> None:
    meter = CostMeter()
    assert "No model has been called yet" in meter.table.value
    assert "No model has been called yet" in repr(meter)


def test_widgets_update_the_meter_per_model(priced_mock: None) -> None:
    meter = CostMeter()
    p = Playground("one two three", model="mock")
    p.run_button.click()
    assert p.wait(10)
    chat = Chat(model="mock:upper")
    chat.send("four five")
    assert chat.wait(10)
    rows = {r.model: r for r in meter.rows}
    assert set(rows) == {"mock", "mock:upper"}
    assert (rows["mock"].requests, rows["mock"].input_tokens, rows["mock"].output_tokens) == (1, 3, 3)
    # 3 tokens in at $2/M and 3 out at $10/M
    assert rows["mock"].cost_usd == pytest.approx(36e-6)
    assert "$0.000036" in meter.table.value and "mock:upper" in meter.table.value
    assert "Total" in meter.table.value
    assert "mock: 1 request (0 from cache), 3 tokens in, 3 tokens out, $0.000036" in repr(meter)


def test_refresh_catches_direct_calls() -> None:
    meter = CostMeter()
    complete("direct call", model="mock")
    assert "direct call" not in meter.table.value
    assert "No model" in meter.table.value
    meter.refresh_button.click()
    assert "<td>mock</td>" in meter.table.value.replace("<td style='padding:2px 8px'>", "<td>")


def test_cached_answers_count_requests_not_tokens() -> None:
    meter = CostMeter(lang="fr")
    for _ in range(2):
        p = Playground("same prompt", model="mock")
        p.run()
        assert p.wait(10)
    (row,) = meter.rows
    assert (row.requests, row.cached, row.input_tokens) == (2, 1, 2)
    assert "gratuit" in meter.table.value and "depuis le cache" in meter.table.value


def test_unpriced_model_says_so() -> None:
    from promptatelier.models import Completion, Usage, ledger

    ledger().record(Completion("x", "openai-compatible:http://127.0.0.1:1/v1#m", Usage(5, 5)))
    meter = CostMeter()
    assert "price unknown" in meter.table.value
