"""Integration on the real embedded model: calibration and grading of the test specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.cli import main

COURSE_GRADERS = Path(__file__).resolve().parents[2] / "graders"

pytestmark = [pytest.mark.local_model, pytest.mark.slow, pytest.mark.usefixtures("test_graders")]


def test_calibrate_passes_references_and_fails_baselines(capsys, monkeypatch, _course_cache):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_CACHE", str(_course_cache))
    config.reload_settings()
    # two course exercises (a row per course language where cases carry one); the course's calibration test has already
    # put their requests in the run's shared response cache
    code = main(["calibrate", "--graders", str(COURSE_GRADERS), "m01.review_label", "m01.ticket_route"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line.split()[0] for line in out.splitlines() if line.rstrip().endswith("  ok")]
    assert f"{len(rows)}/{len(rows)} exercises calibrated on local." in out, out
    assert set(rows) == {"m01.review_label", "m01.ticket_route"}, out


def test_calibrate_fails_loudly_on_a_reference_that_does_not_pass(capsys):
    # the embedded model answers this plain prompt in English: its reference misses the threshold
    code = main(["calibrate", "t01.capital"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL: reference below threshold" in out


def test_grade_on_local_model_is_deterministic_and_silent(monkeypatch, capfd):
    from promptatelier import config
    from promptatelier.grading import grade, load_spec
    from promptatelier.grading.spec import clear_spec_cache

    monkeypatch.setenv("ATELIER_GRADERS", str(COURSE_GRADERS))
    monkeypatch.setenv("ATELIER_GRADING_MODEL", "local")
    monkeypatch.setenv("ATELIER_CACHE_ENABLED", "false")
    config.reload_settings()
    clear_spec_cache()
    spec = load_spec("m01.review_label")
    strong = grade("m01.review_label", spec.reference)
    naive = grade("m01.review_label", spec.baseline)
    again = grade("m01.review_label", spec.reference)
    out, err = capfd.readouterr()
    assert err == ""
    assert strong > naive and strong == again
    for case in spec.hidden_cases():  # grading shows nothing of the hidden cases
        for value in case.vars.values():
            assert str(value) not in out
