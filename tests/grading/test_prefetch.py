"""grading/prefetch.py: the embedded model's outputs computed in worker processes, then read back
from the response cache, give exactly what one process gives on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier import config
from promptatelier.grading import evaluate_many, load_spec
from promptatelier.grading.prefetch import default_jobs, prefetch
from promptatelier.models import get_cache

ROOT = Path(__file__).resolve().parents[2]


def test_workers_only_for_the_embedded_model_with_the_cache_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_JOBS", "3")
    config.reload_settings()
    assert default_jobs("local") == 3
    assert default_jobs("mock") == 1
    assert default_jobs("openai:gpt-4.1-mini") == 1
    monkeypatch.setenv("ATELIER_CACHE_ENABLED", "0")
    config.reload_settings()
    assert default_jobs("local") == 1  # the workers' outputs would have nowhere to go


def test_one_item_or_one_job_runs_nothing_here() -> None:
    spec = load_spec("m01.review_label", ROOT / "graders")
    item = (spec, spec.reference_for("en"), "en")
    assert prefetch([item], model="local", jobs=2) == 1
    assert prefetch([item, item], model="local", jobs=1) == 1
    assert get_cache().stats().entries == 0


@pytest.mark.local_model
@pytest.mark.slow
def test_outputs_from_two_workers_equal_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec("m01.review_label", ROOT / "graders")
    items = [(spec, spec.reference_for("en"), "en"), (spec, spec.baseline_for("en"), "en")]

    assert prefetch(items, model="local", jobs=2, temperature=0.0) == 2
    cache = get_cache()
    filled = cache.stats()
    assert filled.entries >= len(spec.cases)  # the workers made the requests
    in_parent = evaluate_many(items, model="local", cases="all", temperature=0.0)
    after = cache.stats()
    assert after.misses == filled.misses and after.entries == filled.entries  # every request a hit

    # the same evaluation in one process, from an empty cache of its own
    monkeypatch.setenv("ATELIER_CACHE", str(tmp_path / "alone" / "responses.sqlite"))
    config.reload_settings()
    alone = evaluate_many(items, model="local", cases="all", temperature=0.0)
    assert [e.fraction for e in in_parent] == [e.fraction for e in alone]
    assert [[o.text for o in e.outputs] for e in in_parent] == [[o.text for o in e.outputs] for e in alone]
    assert in_parent[0].passed and not in_parent[1].passed
