"""atelier grade with chunks evaluated side by side (concurrency above 1): the same results as one
chunk at a time, a stopped run starts no more chunks, and the gradebook rows nbgrader's own
add_submission would make."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

from promptatelier.grading.cohort import Course, Journal, grade_cohort

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cohort_course", HERE / "course" / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]

pytestmark = pytest.mark.nbgrader

LEARNERS = 11  # 33 answers: five chunks (8, 8, 8, 8, 1) at concurrency 2


def _answers(i: int) -> dict[str, str]:
    return {
        "tc.label": f'PROMPT = """Learner {i}: positive or negative? {{review}}"""',
        "tc.french": f'PROMPT = {{"system": "Learner {i}: en français.", "user": "{{question}}"}}',
        "tc.json": f'PROMPT = """Learner {i}: JSON with name and age. {{text}}"""',
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.build_course(tmp_path_factory.mktemp("generated") / "course")


@pytest.fixture
def course(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = cc.working_copy(generated, tmp_path / "course", monkeypatch)
    for i in range(LEARNERS):
        cc.submit(root, f"s{i}", _answers(i))
    return root


def _rows(root: Path) -> dict[str, object]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        out = {}
        for i in range(LEARNERS):
            nb = gb.find_submission_notebook("ps1", "ps1", f"s{i}")
            out[f"s{i}"] = (sorted((g.name, g.auto_score, g.needs_manual_grade) for g in nb.grades),
                            sorted((c.name, c.auto_comment) for c in nb.comments),
                            gb.find_submission("ps1", f"s{i}").timestamp is not None)
        return out


def test_overlapped_chunks_give_the_results_and_rows_of_one_chunk_at_a_time(course: Path, tmp_path: Path) -> None:
    threads: set[str] = set()
    from promptatelier.grading import evaluate_many

    def watching(items: list, **kwargs: object) -> list:
        threads.add(threading.current_thread().name)
        return evaluate_many(items, **kwargs)

    overlapped = grade_cohort("ps1", course=course, model="mock", concurrency=2, evaluator=watching)
    assert threads == {"atelier-grade-eval"}  # evaluated off the caller's thread
    rows = _rows(course)

    one_at_a_time = grade_cohort("ps1", course=course, model="mock", concurrency=1, force=True)
    assert [(r.student, r.test_id, r.points, r.status) for r in overlapped.results] == \
           [(r.student, r.test_id, r.points, r.status) for r in one_at_a_time.results]
    assert _rows(course) == rows
    assert all(scored for _, _, scored in rows.values())
    assert all(score is not None for grades, _, _ in rows.values() for _, score, _ in grades)


def test_a_stopped_overlapped_run_starts_no_more_chunks(course: Path) -> None:
    from promptatelier.grading import evaluate_many

    evaluated: list[int] = []

    def counting(items: list, **kwargs: object) -> list:
        evaluated.append(len(items))
        return evaluate_many(items, **kwargs)

    def interrupt(batch: list[object]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_cohort("ps1", course=course, model="mock", concurrency=2, evaluator=counting, on_batch=interrupt)
    # the two chunks started together, and the third started as the first was handed back; never the fourth
    assert evaluated == [8, 8, 8]
    journal = Journal.for_assignment(Course(course), "ps1")
    assert len(journal.all()) == 8  # what was handed back before the stop
    journal.close()

    run = grade_cohort("ps1", course=course, model="mock", concurrency=2)
    assert (run.reused, run.evaluated) == (8, 25)


def _give(root: Path, gradebook_text: str, release_text: str) -> None:
    """The answer cell of tc.label given as `gradebook_text` in the gradebook, `release_text` in release/."""
    import nbformat
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.find_source_cell("tc-label-answer", "ps1", "ps1").source = gradebook_text
        gb.db.commit()
    path = root / "release" / "ps1" / "ps1.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "tc-label-answer":
            cell.source = release_text
    nbformat.write(nb, path)


def test_a_stale_release_copy_is_corrected_by_the_gradebook(course: Path, tmp_path: Path) -> None:
    given = 'PROMPT = """Starter: classify {review}"""'
    stale = 'PROMPT = """Older starter: classify {review}"""'
    _give(course, given, stale)
    cc.submit(course, "kept", {"tc.label": given})  # the text given in the notebook (the gradebook's)
    cc.submit(course, "older", {"tc.label": stale})  # an answer that is only the stale copy's text
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(course, plain)
    shutil.rmtree(plain / "release")  # no copies: the gradebook is read before the submissions

    from promptatelier.grading import evaluate_many

    sent: list[object] = []

    def recording(items: list, **kwargs: object) -> list:
        sent.extend(value for _, value in items)
        return evaluate_many(items, **kwargs)

    early = grade_cohort("ps1", course=course, model="mock", concurrency=2, evaluator=recording)
    first = grade_cohort("ps1", course=plain, model="mock", concurrency=2)
    by = {(r.student, r.exercise_id): r for r in early.results}
    assert by["kept", "tc.label"].status == "invalid" and "Not answered yet" in by["kept", "tc.label"].feedback
    assert by["older", "tc.label"].status == "graded"
    assert "Older starter: classify {review}" in sent  # decided on the copy, then evaluated late
    assert [(r.student, r.test_id, r.status, r.points, r.submission_hash) for r in early.results] == \
           [(r.student, r.test_id, r.status, r.points, r.submission_hash) for r in first.results]
    assert _rows(course) == _rows(plain)


def _rows_of(root: Path, students: list[str]) -> dict[str, object]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s: sorted((g.name, g.auto_score, g.needs_manual_grade)
                          for g in gb.find_submission_notebook("ps1", "ps1", s).grades) for s in students}


def test_tampering_is_flagged_alike_with_or_without_release_copies(course: Path, tmp_path: Path) -> None:
    import shutil

    cc.submit_learner(course, "cheat")
    plain = tmp_path / "plain"
    shutil.copytree(course, plain)
    shutil.rmtree(plain / "release")
    early = grade_cohort("ps1", course=course, model="mock", concurrency=2)
    first = grade_cohort("ps1", course=plain, model="mock", concurrency=2)
    flags = {(r.student, r.exercise_id): r.flags for r in early.results}
    assert any("defines grade()" in f for f in flags["cheat", "tc.label"])
    assert flags == {(r.student, r.exercise_id): r.flags for r in first.results}
    assert _rows_of(course, ["cheat", "s0"]) == _rows_of(plain, ["cheat", "s0"])
