"""`generate_feedback` on one gradebook connection (feedback_export.py): the same feedback as
nbgrader's own GetGrades, late penalty included, through the real `nbgrader generate_feedback`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptatelier.grading.cohort import grade_cohort
from promptatelier.errors import AtelierError
from promptatelier.grading.feedback_export import SharedGetGrades, fast_feedback, write_feedback

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cohort_course", HERE / "course" / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]


def test_only_getgrades_is_swapped_and_a_course_list_is_kept() -> None:
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    c = Config()
    fast_feedback(c)
    default = GenerateFeedback.class_traits()["preprocessors"].default()
    assert GetGrades in default
    assert c.GenerateFeedback.preprocessors == [SharedGetGrades if s is GetGrades else s for s in default]

    own = Config()
    own.GenerateFeedback.preprocessors = [GetGrades]  # a course's own list is kept, GetGrades swapped
    fast_feedback(own)
    assert own.GenerateFeedback.preprocessors == [SharedGetGrades]


def test_reading_the_course_config_in_atelier_grade_imports_no_exporter() -> None:
    code = (
        "import sys\n"
        "from traitlets.config import Config\n"
        "from promptatelier.grading.feedback_export import fast_feedback\n"
        "c = Config()\n"
        "fast_feedback(c)\n"
        "print(len(c), 'nbconvert' in sys.modules, 'nbgrader.preprocessors' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False", "False"]


@pytest.mark.nbgrader
def test_the_feedback_is_the_same_as_with_nbgraders_getgrades(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = cc.working_copy(cc.build_course(tmp_path / "generated"), tmp_path / "shared", monkeypatch)
    with (root / "nbgrader_config.py").open("a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    cc.run(["nbgrader", "db", "assignment", "add", "ps1", "--duedate=2020-01-01 00:00:00 UTC"], root)
    for learner in ("strong", "naive", "cheat"):
        cc.submit_learner(root, learner)
    grade_cohort("ps1", course=root, model="mock")
    plain = tmp_path / "plain"
    shutil.copytree(root, plain)
    config = (plain / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "\nfast_feedback(c)\n" in config
    (plain / "nbgrader_config.py").write_text(config.replace("\nfast_feedback(c)\n", "\n"), encoding="utf-8")

    for course in (root, plain):
        cc.run(["nbgrader", "generate_feedback", "ps1"], course)
    feedback = {}
    for learner in ("strong", "naive", "cheat"):
        feedback[learner] = (root / "feedback" / learner / "ps1" / "ps1.html").read_text(encoding="utf-8")
        assert feedback[learner] == (plain / "feedback" / learner / "ps1" / "ps1.html").read_text(encoding="utf-8")
        assert "Trusted grade" in feedback[learner] or "graded by your instructor" in feedback[learner]
    assert "Late submission penalty" in feedback["strong"]  # late, with points to lose


@pytest.mark.nbgrader
@pytest.mark.parametrize("workers", [1, 2])
def test_write_feedback_writes_what_the_command_writes_for_the_learners_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    root = cc.working_copy(cc.build_course(tmp_path / "generated"), tmp_path / "course", monkeypatch)
    learners = ("strong", "naive", "cheat")
    for learner in learners:
        cc.submit_learner(root, learner)
    grade_cohort("ps1", course=root, model="mock")
    plain = tmp_path / "plain"
    shutil.copytree(root, plain)
    cc.run(["nbgrader", "generate_feedback", "ps1"], plain)
    (root / "feedback" / "naive" / "ps1").mkdir(parents=True)
    (root / "feedback" / "naive" / "ps1" / "old.html").write_text("stale", encoding="utf-8")

    write_feedback(root, "ps1", ["strong", "naive"], workers=workers)
    for learner in ("strong", "naive"):
        html = (root / "feedback" / learner / "ps1" / "ps1.html").read_text(encoding="utf-8")
        assert html == (plain / "feedback" / learner / "ps1" / "ps1.html").read_text(encoding="utf-8")
    assert not (root / "feedback" / "naive" / "ps1" / "old.html").exists()  # rewritten, as with --force
    assert not (root / "feedback" / "cheat").exists()  # not named: left alone


@pytest.mark.nbgrader
def test_write_feedback_names_the_learner_nbgrader_could_not_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = cc.working_copy(cc.build_course(tmp_path / "generated"), tmp_path / "course", monkeypatch)
    for learner in ("strong", "naive"):
        cc.submit_learner(root, learner)
    grade_cohort("ps1", course=root, model="mock")
    (root / "autograded" / "naive" / "ps1" / "ps1.ipynb").write_text("{broken", encoding="utf-8")
    with pytest.raises(AtelierError) as err:
        write_feedback(root, "ps1", ["strong", "naive"], workers=2)
    assert "'ps1' for student 'naive'" in str(err.value) and "strong" not in str(err.value)
    assert "nbgrader generate_feedback ps1 --force" in err.value.fix
    assert (root / "feedback" / "strong" / "ps1" / "ps1.html").is_file()
