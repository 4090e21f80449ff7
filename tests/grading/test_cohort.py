"""Trusted cohort grading on a real nbgrader course (generate_assignment, gradebook) with the
mock backend: reading answers without running them, flags, resume, outages, gradebook rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from promptatelier.errors import ModelUnavailableError
from promptatelier.grading.cohort import Course, Journal, grade_cohort, read_answer, scan_tampering
from promptatelier.models import get_backend

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cohort_course", HERE / "course" / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]


# ---------------------------------------------------------------- answers, read and never run


@pytest.mark.parametrize("source, value", [
    ('PROMPT = """Classify {review}"""', "Classify {review}"),
    ("PROMPT = 'a' 'b'", "ab"),
    ('PROMPT: str = "typed"', "typed"),
    ('PROMPT = {"system": "s", "user": "{q}"}', {"system": "s", "user": "{q}"}),
    ('PROMPT = [{"role": "user", "content": "hi"}]', [{"role": "user", "content": "hi"}]),
])
def test_literal_answers_are_read(source: str, value: object) -> None:
    answer = read_answer(source, "PROMPT")
    assert answer.ok and answer.value == value


@pytest.mark.parametrize("source, words", [
    ('PROMPT = f"Classify {review}"', "f-string"),
    ('PROMPT = open("answers.txt").read()', "function call"),
    ("PROMPT = OTHER", "the name 'OTHER'"),
    ('PROMPT = "a" + "b"', "expression"),
    ('PROMPT = {"system": f"x", "user": "y"}', "dict containing an f-string"),
    ('def grade(*a):\n    return 9\nPROMPT = "x"', "2 statements"),
    ('ANSWER = "x"', "assigns 'ANSWER' instead of 'PROMPT'"),
    ('PROMPT = """unclosed', "not valid Python"),
    ("", "empty"),
    ("PROMPT = 42", "a int"),
    ('PROMPT = {"system": 1}', "not all strings"),
    ('import os\nPROMPT = os.environ["X"]', "2 statements"),
])
def test_anything_but_a_literal_scores_zero_with_a_reason(source: str, words: str) -> None:
    answer = read_answer(source, "PROMPT")
    assert not answer.ok
    assert words in answer.problem


def test_reading_never_runs_the_cell(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    answer = read_answer(f'PROMPT = open({str(marker)!r}, "w").write("x")', "PROMPT")
    assert not answer.ok and not marker.exists()


def test_tampering_is_found_without_running_code() -> None:
    cells = [
        nbformat.v4.new_code_cell("from promptatelier import check, grade"),
        nbformat.v4.new_code_cell("%matplotlib inline\ndef grade(*a, **k):\n    return 10"),
        nbformat.v4.new_code_cell("import promptatelier\npromptatelier.grade = lambda *a: 10"),
        nbformat.v4.new_code_cell("from builtins import print as check"),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    found = scan_tampering(cells)
    assert found == ["cell 2 defines grade()", "cell 3 assigns promptatelier.grade", "cell 4 rebinds check by an import"]
    assert scan_tampering(cells[:1] + cells[4:]) == []


# ---------------------------------------------------------------- a real nbgrader course


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.build_course(tmp_path_factory.mktemp("generated") / "course")


@pytest.fixture
def course(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cc.working_copy(generated, tmp_path / "course", monkeypatch)


def _grades(root: Path, student: str) -> dict[str, tuple[float | None, bool]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook("ps1", "ps1", student)
        return {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades}


def _comments(root: Path, student: str) -> dict[str, str | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook("ps1", "ps1", student)
        return {c.name: c.comment for c in nb.comments}


@pytest.mark.nbgrader
def test_layout_comes_from_the_source_notebook(course: Path) -> None:
    slots = Course(course).layout("ps1")
    assert [(s.exercise_id, s.answer_id, s.test_id, s.points) for s in slots] == [
        ("tc.label", "tc-label-answer", "tc-label-test", 2.0),
        ("tc.french", "tc-french-answer", "tc-french-test", 2.0),
        ("tc.json", "tc-json-answer", "tc-json-test", 3.0),
    ]
    assert "YOUR PROMPT HERE" in slots[0].released_answer.value


@pytest.mark.nbgrader
def test_a_never_autograded_cohort_gets_gradebook_rows_scores_and_feedback(course: Path) -> None:
    cc.submit_learner(course, "strong")
    cc.submit_learner(course, "cheat")
    cc.submit(course, "blank", {})  # the released notebook, untouched
    run = grade_cohort("ps1", course=course, model="mock", concurrency=4)
    by = {(r.student, r.exercise_id): r for r in run.results}
    assert len(run.results) == 9 and run.evaluated == 5
    assert by["blank", "tc.label"].status == "invalid" and "Not answered yet" in by["blank", "tc.label"].feedback
    assert by["cheat", "tc.french"].status == "invalid" and "f-string" in by["cheat", "tc.french"].feedback
    assert by["strong", "tc.json"].status == "graded"
    assert any("defines grade()" in f for f in by["cheat", "tc.label"].flags)
    assert any("tc-json-test was edited" in f for f in by["cheat", "tc.json"].flags)
    assert not by["strong", "tc.label"].flags
    grades = _grades(course, "strong")
    assert grades["tc-json-test"] == (by["strong", "tc.json"].points, False)
    assert _grades(course, "blank")["tc-label-test"] == (0.0, False)
    assert _grades(course, "cheat")["tc-label-test"][1] is True  # flagged: left for review
    comment = _comments(course, "strong")["tc-label-answer"]
    assert comment and "Trusted grade" in comment
    assert "cold and the waiter" not in comment  # no hidden input in the feedback


@pytest.mark.nbgrader
def test_a_run_interrupted_resumes_without_repeating_finished_work(course: Path) -> None:
    for i in range(4):  # distinct answers, so no request repeats another through the cache
        cc.submit(course, f"s{i}", {
            "tc.label": f'PROMPT = """Learner {i}: positive or negative? {{review}}"""',
            "tc.french": f'PROMPT = {{"system": "Learner {i}: en français.", "user": "{{question}}"}}',
            "tc.json": f'PROMPT = """Learner {i}: JSON with name and age. {{text}}"""',
        })
    backend = get_backend("mock")
    batches: list[int] = []

    def interrupt(batch: list[object]) -> None:
        batches.append(len(batch))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_cohort("ps1", course=course, model="mock", concurrency=1, on_batch=interrupt)
    assert batches == [8]
    calls_first = len(backend.calls)
    journal = Journal.for_assignment(Course(course), "ps1")
    assert len(journal.all()) == 8
    journal.close()

    run = grade_cohort("ps1", course=course, model="mock", concurrency=1)
    assert (run.reused, run.evaluated) == (8, 4)
    assert len(run.results) == 12
    assert 0 < len(backend.calls) - calls_first < calls_first  # only the unfinished answers

    again = grade_cohort("ps1", course=course, model="mock", concurrency=4, force=True)
    assert again.evaluated == 12 and again.model_calls == 0 and again.cache_hits > 0
    assert [r.points for r in again.results] == [r.points for r in run.results]


@pytest.mark.nbgrader
def test_an_outage_is_not_graded_never_a_zero_and_is_retried(course: Path) -> None:
    cc.submit_learner(course, "strong")
    backend = get_backend("mock")
    backend.script(lambda request: ModelUnavailableError("down", "start it"))
    run = grade_cohort("ps1", course=course, model="mock", concurrency=2)
    assert {r.status for r in run.results} == {"not_graded"}
    assert all(g == (None, True) for g in _grades(course, "strong").values())
    assert "Not graded yet" in _comments(course, "strong")["tc-label-answer"]

    backend.script(lambda request: "positive")
    run = grade_cohort("ps1", course=course, model="mock", concurrency=2)
    assert run.reused == 0 and {r.status for r in run.results} == {"graded"}
    assert all(score is not None for score, _ in _grades(course, "strong").values())


@pytest.mark.nbgrader
def test_a_changed_answer_is_regraded(course: Path) -> None:
    cc.submit_learner(course, "alex", "naive")
    first = grade_cohort("ps1", course=course, model="mock")
    cc.submit_learner(course, "alex", "strong")
    second = grade_cohort("ps1", course=course, model="mock")
    assert first.evaluated == 3 and (second.reused, second.evaluated) == (0, 3)


@pytest.mark.nbgrader
def test_instructor_mistakes_fail_with_a_fix(course: Path, tmp_path: Path) -> None:
    from promptatelier.grading.cohort import CohortError

    with pytest.raises(CohortError, match="No source notebook") as err:
        grade_cohort("ps9", course=course, model="mock")
    assert "nbgrader list" in err.value.fix
    with pytest.raises(CohortError, match="no submission"):
        grade_cohort("ps1", course=course, model="mock")
    cc.submit_learner(course, "strong")
    with pytest.raises(CohortError, match="bob"):
        grade_cohort("ps1", course=course, model="mock", students=["bob"])
    (course / "gradebook.db").unlink()
    with pytest.raises(CohortError, match="generate_assignment"):
        grade_cohort("ps1", course=course, model="mock")
