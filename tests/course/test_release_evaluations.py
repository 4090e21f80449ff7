"""The learners' copy and an evaluation exercise: a hidden faulty prompt shares most of its
messages with the correct prompt learners see, so only what it adds is a secret; a hidden answer
that is also a visible one is no secret either."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptatelier.course.release import ReleaseError, release

EVAL_SPEC = '''
id = "m09.checks"
points = 2
kind = "eval_rubric"
variable = "RUBRIC"
title = "Checks"
instructions = "Write the checks."
reference = [{ use = "contains", text = { case = "vars.order" } }]
baseline = [{ use = "length", max = 99 }]

[task]
kind = "messages"
placeholders = ["order"]
prompt = [
  { role = "system", content = "You write the shop's shipping SMS with the order number." },
  { role = "user", content = "{order}" },
]

[[task.cases]]
name = "one"
vars = { order = "A-1" }

[[task.hidden]]
name = "h-two"
vars = { order = "B-2" }

[[mutants]]
name = "no-order"
prompt = [
  { role = "system", content = "You write the shop's shipping SMS without any number." },
  { role = "user", content = "{order}" },
]

[[hidden_mutants]]
name = "hidden-fault"
prompt = [
  { role = "system", content = "You write the shop's shipping SMS with the order number." },
  { role = "user", content = "{order} THE HIDDEN FAULTY INSTRUCTION" },
]
'''


def _notebooks(course: Path, text: str) -> None:
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}], "metadata": {}, "nbformat": 4,
                "nbformat_minor": 5}
    for lang in ("en", "fr"):
        (course / "notebooks" / lang).mkdir(parents=True, exist_ok=True)
        (course / "notebooks" / lang / "09_tiny.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


def test_the_correct_prompt_shown_is_no_leak_of_a_faulty_prompt_sharing_it(tiny_course: Path, tmp_path: Path) -> None:
    (tiny_course / "graders" / "m09" / "checks.toml").write_text(EVAL_SPEC, encoding="utf-8")
    _notebooks(tiny_course, "The shop's prompt: You write the shop's shipping SMS with the order number.")
    release(tiny_course, tmp_path / "out")
    released = (tmp_path / "out" / "graders" / "m09" / "checks.toml").read_text(encoding="utf-8")
    assert "hidden-fault" not in released and "THE HIDDEN FAULTY INSTRUCTION" not in released


def test_what_a_hidden_faulty_prompt_adds_is_still_a_leak(tiny_course: Path, tmp_path: Path) -> None:
    (tiny_course / "graders" / "m09" / "checks.toml").write_text(EVAL_SPEC, encoding="utf-8")
    _notebooks(tiny_course, "Try: {order} THE HIDDEN FAULTY INSTRUCTION")
    with pytest.raises(ReleaseError) as caught:
        release(tiny_course, tmp_path / "out")
    assert "notebooks/en/09_tiny.ipynb: holds a hidden faulty prompt of m09.checks" in caught.value.problem
