"""The whole pipeline through the real commands on the real local model: nbgrader
generate_assignment, three learners (strong, naive, cheat), nbgrader autograde, atelier grade,
nbgrader generate_feedback."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cohort_course", HERE / "course" / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]

pytestmark = [pytest.mark.nbgrader, pytest.mark.local_model, pytest.mark.slow]


def _hidden_inputs() -> list[str]:
    texts = []
    for path in sorted((cc.HERE / "graders").rglob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for case in data.get("hidden", []):
            texts.extend(case.get("vars", {}).values())
            expected = case.get("expected")
            if isinstance(expected, dict):
                texts.extend(str(v) for v in expected.values() if len(str(v)) > 8)
    assert len(texts) >= 5
    return texts


def _gradebook(root: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s: {g.name: g.score for g in gb.find_submission_notebook("ps1", "ps1", s).grades}
                for s in ("strong", "naive", "cheat")}


def test_real_pipeline(tmp_path: Path) -> None:
    root = cc.build_course(tmp_path / "course")
    for learner in ("strong", "naive", "cheat"):
        cc.submit_learner(root, learner)

    cc.run(["nbgrader", "autograde", "ps1"], root)
    in_notebook = _gradebook(root)
    # the cheat's redefined grade() fooled the in-notebook grading
    assert sum(in_notebook["cheat"].values()) == 7.0

    graded = cc.run(["atelier", "grade", "ps1", "--no-progress"], root)
    trusted = _gradebook(root)
    total = {s: sum(v.values()) for s, v in trusted.items()}
    assert total["strong"] > total["naive"], (total, graded.stdout)
    assert total["cheat"] <= total["naive"], (total, graded.stdout)
    # the cheat is flagged: in-notebook grade disagrees, grade() redefined, test cell edited, leaks
    flags = [line for line in graded.stdout.splitlines() if line.strip().startswith("FLAG")]
    cheat_flags = " ".join(f for f in flags if " cheat " in f)
    assert "differs from the trusted grade" in cheat_flags
    assert "defines grade()" in cheat_flags
    assert "tc-json-test was edited" in cheat_flags
    assert "hidden cases copied into the prompt" in cheat_flags
    assert not [f for f in flags if " strong " in f or " naive " in f], graded.stdout

    # a second run reuses everything: no model call
    again = cc.run(["atelier", "grade", "ps1", "--no-progress"], root)
    assert "0 model calls" in again.stdout and _gradebook(root) == trusted

    cc.run(["nbgrader", "generate_feedback", "ps1"], root)
    feedback = {s: (root / "feedback" / s / "ps1" / "ps1.html").read_text(encoding="utf-8")
                for s in ("strong", "naive", "cheat")}
    assert "Trusted grade" in feedback["strong"]
    assert "not a literal" in feedback["cheat"]  # the f-string answer, explained

    # no hidden input anywhere a learner can see it, except what a learner typed in themselves:
    # the cheat's feedback shows the cheat's own answer cell, copied hidden inputs included
    visible = {"release": (root / "release" / "ps1" / "ps1.ipynb").read_text(encoding="utf-8"), **feedback}
    for secret in _hidden_inputs():
        for who, text in visible.items():
            if who in ("strong", "naive", "cheat"):
                own = (root / "submitted" / who / "ps1" / "ps1.ipynb").read_text(encoding="utf-8")
                if secret in own or json.dumps(secret)[1:-1] in own:
                    continue
            assert secret not in text and json.dumps(secret)[1:-1] not in text, (who, secret)

    # nothing on stderr (and no error) from the kit in any cell autograde ran
    for learner in ("strong", "naive"):
        nb = nbformat.read(root / "autograded" / learner / "ps1" / "ps1.ipynb", as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.output_type != "error", (learner, cell.source)
                assert not (output.output_type == "stream" and output.name == "stderr"), (learner, output.text)
