"""Outputs scored without a model for an exercise run over seeds: an output given for a case
stands for every seed's run of it (how calibration scores its ideal-output cheats)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import load_spec, score_outputs
from promptatelier.grading.spec import clear_spec_cache

SPEC = """
id = "t11.seeded"
points = 2
kind = "template"
placeholders = ["product"]
title = "A post"
instructions = "Write a post."
reference = "Post about {product}."
baseline = "{product}"

[model]
temperature = 0.8
seeds = [1, 2, 3]

[[cases]]
name = "mug"
vars = { product = "mug" }

[[cases]]
name = "lamp"
vars = { product = "lamp" }

[[criteria]]
use = "contains"
text = { case = "vars.product" }
"""


@pytest.fixture
def spec(tmp_path: Path):  # noqa: ANN201
    folder = tmp_path / "t11"
    folder.mkdir()
    path = folder / "seeded.toml"
    path.write_text(textwrap.dedent(SPEC), encoding="utf-8")
    clear_spec_cache()
    return load_spec(path)


def test_an_output_per_case_is_scored_on_each_seeds_run(spec) -> None:  # noqa: ANN001
    ev = score_outputs(spec, {"mug": "A mug.", "lamp": "Nothing here."}, cases="visible")
    assert sorted(o.name for o in ev.outputs) == ["lamp@1", "lamp@2", "lamp@3", "mug@1", "mug@2", "mug@3"]
    assert ev.fraction == pytest.approx(0.5)


def test_one_seeds_run_can_be_given_alone(spec) -> None:  # noqa: ANN001
    ev = score_outputs(spec, {"mug@2": "A mug.", "lamp": "A lamp."}, cases="visible")
    assert sorted(o.name for o in ev.outputs) == ["lamp@1", "lamp@2", "lamp@3", "mug@2"]


def test_an_unknown_case_is_still_refused(spec) -> None:  # noqa: ANN001
    with pytest.raises(SpecError, match="no case called 'vase'"):
        score_outputs(spec, {"vase": "A vase."}, cases="visible")
