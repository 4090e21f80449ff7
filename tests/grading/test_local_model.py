"""Integration on the real embedded model: calibration and grading of the test specs."""

from __future__ import annotations

import pytest

from promptatelier.cli import main

pytestmark = [pytest.mark.local_model, pytest.mark.slow, pytest.mark.usefixtures("test_graders")]


def test_calibrate_passes_references_and_fails_baselines(capsys):
    code = main(["calibrate", "t01.sentiment", "t01.fewshot", "t01.extract"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3/3 exercises calibrated on local." in out
    assert out.count(" ok") == 3


def test_calibrate_fails_loudly_on_a_reference_that_does_not_pass(capsys):
    # the embedded model answers this plain prompt in English: its reference misses the threshold
    code = main(["calibrate", "t01.capital"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL: reference below threshold" in out


def test_grade_on_local_model_is_deterministic_and_silent(monkeypatch, capfd):
    from promptatelier import config
    from promptatelier.grading import grade, load_spec

    monkeypatch.setenv("ATELIER_GRADING_MODEL", "local")
    monkeypatch.setenv("ATELIER_CACHE_ENABLED", "false")
    config.reload_settings()
    spec = load_spec("t01.sentiment")
    strong = grade("t01.sentiment", spec.reference)
    naive = grade("t01.sentiment", spec.baseline)
    again = grade("t01.sentiment", spec.reference)
    out, err = capfd.readouterr()
    assert err == ""
    assert strong > naive and strong == again
    assert "SECRET-INPUT" not in out
