"""`atelier grade` and `atelier report` as a user runs them (in-process `main`), on a real
nbgrader course with the mock model."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from promptatelier.cli import main

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cohort_course", ROOT / "tests/grading/course/cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]

pytestmark = pytest.mark.nbgrader


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = cc.build_course(tmp_path_factory.mktemp("cli") / "course")
    for learner in ("strong", "naive", "cheat"):
        cc.submit_learner(root, learner)
    return root


@pytest.fixture
def course(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cc.working_copy(generated, tmp_path / "course", monkeypatch)


def test_grade_prints_scores_and_flags(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock", "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    assert "9 answers (8 evaluated, 0 reused" in out
    assert "FLAG cheat tc.label: cell 3 defines grade()" in out
    assert "FLAG strong" not in out
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock", "--student", "strong"]) == 0
    assert "3 answers (0 evaluated, 3 reused" in capsys.readouterr().out


def test_grade_lists_what_needs_manual_grading_and_goes_on(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (course / "submitted" / "garbled" / "ps1").mkdir(parents=True)
    (course / "submitted" / "garbled" / "ps1" / "ps1.ipynb").write_text("{not json", encoding="utf-8")
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock"]) == 0
    out = capsys.readouterr().out
    assert "3 answer(s) need manual grading" in out
    assert "MANUAL garbled tc.label: the notebook ps1.ipynb cannot be read" in out
    assert "garbled  0 / 7  (3 to grade or review by hand)" in out
    assert "strong   " in out and "generate_feedback ps1" in out


def test_grade_feedback_writes_nbgraders_feedback_for_the_graded_learners_only(
        course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["grade", "ps1", "--course", str(course), "--model", "mock", "--feedback"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Feedback written for 2 learner(s), in feedback/<student>/ps1/." in out
    assert "  cheat: answers to grade or review by hand" in out  # flagged: its grade may still change
    assert "`nbgrader generate_feedback ps1`" in out and "nbgrader release_feedback ps1" in out
    written = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in (course / "feedback").glob("*/ps1/ps1.html")}
    assert set(written) == {"strong", "naive"}
    # what the command itself writes, byte for byte
    plain = tmp_path / "plain"
    shutil.copytree(course, plain)
    shutil.rmtree(plain / "feedback")
    cc.run(["nbgrader", "generate_feedback", "ps1"], plain)
    for learner, html in written.items():
        assert html == (plain / "feedback" / learner / "ps1" / "ps1.html").read_text(encoding="utf-8")
        assert "Trusted grade" in html


def test_grade_errors_say_how_to_fix(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "nope", "--course", str(course), "--model", "mock"]) == 1
    err = capsys.readouterr().err
    assert "No source notebook for the assignment 'nope'" in err and "Fix:" in err
    assert main(["grade", "ps1", "--course", str(course), "--concurrency", "0"]) == 1
    assert "--concurrency" in capsys.readouterr().err


def test_grade_exits_non_zero_when_the_model_is_down(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from promptatelier.errors import ModelUnavailableError
    from promptatelier.models import get_backend

    get_backend("mock").script(lambda request: ModelUnavailableError("down", "start it"))
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock"]) == 3
    captured = capsys.readouterr()
    assert "8 answer(s) not graded" in captured.err and "(3 not graded)" in captured.out


def test_report_writes_tables_plots_and_html(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "ps1", "--course", str(course)]) == 1
    assert "atelier grade ps1" in capsys.readouterr().err
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock"]) == 0
    capsys.readouterr()
    assert main(["report", "ps1", "--course", str(course), "--watch", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "9/9 answers graded" in out
    assert "Learners" in out and "Criteria" in out and "label_only" in out
    page = (course / "reports" / "ps1.html").read_text(encoding="utf-8")
    assert (course / "reports" / ".gitignore").read_text().splitlines()[-1] == "*"  # learners' data
    assert page.count("data:image/png;base64,") == 3
    for name in ("strong", "naive", "cheat", "tc.json", "defines grade()"):
        assert name in page
    assert "cold and the waiter" not in page and "Bartholomew" not in page
