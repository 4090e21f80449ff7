"""Trusted cohort grading on a real nbgrader course (generate_assignment, gradebook) with the
mock backend: reading answers without running them, tampering, failure isolation, resume,
outages, the gradebook rows and the autograded notebooks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from promptatelier.errors import ModelUnavailableError
from promptatelier.grading.answers import read_answer, unencodable
from promptatelier.grading.cohort import Course, Journal, grade_cohort
from promptatelier.grading.tamper import scan_tampering
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


def test_text_no_request_can_carry_goes_to_a_person() -> None:
    escaped = read_answer('PROMPT = "Classify \\ud800 {review}"', "PROMPT")  # a Python escape in the cell
    raw = read_answer('PROMPT = "Classify \ud800 {review}"', "PROMPT")  # the character itself
    for answer in (escaped, raw):
        assert not answer.ok and answer.manual and "\\ud800" in answer.problem
    assert "at position 9" in escaped.problem
    assert unencodable({"system": "ok", "user": "fine é"}) is None
    assert not read_answer('PROMPT = f"x"', "PROMPT").manual


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


def _autograded(root: Path, student: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "autograded" / student / "ps1" / "ps1.ipynb", as_version=4)


def _by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "grade_id" in c.metadata.get("nbgrader", {})}


def _tamper(**edits: object):  # noqa: ANN202 - a notebook editor for cc.submit(change=...)
    def change(nb: nbformat.NotebookNode) -> None:
        cells = _by_id(nb)
        if "delete" in edits:
            nb.cells.remove(cells[edits["delete"]])
        if "strip" in edits:
            del cells[edits["strip"]].metadata["nbgrader"]
        if "ungrade" in edits:
            cells[edits["ungrade"]].metadata["nbgrader"]["grade"] = False
        if "move" in edits:
            cell = cells[edits["move"]]
            nb.cells.remove(cell)
            nb.cells.append(cell)
    return change


@pytest.mark.nbgrader
def test_layout_comes_from_the_source_notebook_and_the_reference_from_the_gradebook(course: Path) -> None:
    from promptatelier.grading.gradebook import GradebookWriter

    slots = Course(course).layout("ps1")
    assert [(s.exercise_id, s.answer_id, s.test_id, s.points, s.lang) for s in slots] == [
        ("tc.label", "tc-label-answer", "tc-label-test", 2.0, "en"),
        ("tc.french", "tc-french-answer", "tc-french-test", 2.0, "en"),
        ("tc.json", "tc-json-answer", "tc-json-test", 3.0, "en"),
    ]
    writer = GradebookWriter(Course(course), "ps1", slots)
    reference = writer.references["ps1"].cells
    writer.close()
    released = _by_id(nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4))
    assert "YOUR PROMPT HERE" in reference["tc-label-answer"].source  # the stub, as released
    for grade_id, cell in released.items():  # nbgrader's own checksums, as generate_assignment wrote them
        assert reference[grade_id].checksum == cell.metadata["nbgrader"]["checksum"]


@pytest.mark.nbgrader
def test_a_never_autograded_cohort_gets_gradebook_rows_autograded_notebooks_and_feedback(course: Path) -> None:
    from nbgrader.utils import determine_grade

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
    assert "defines grade()" in _comments(course, "cheat")["tc-label-answer"]

    # the autograded notebooks: trusted outputs in the test cells, nothing else, locked cells restored
    for student in ("strong", "cheat", "blank"):
        nb = _autograded(course, student)
        assert nb.metadata["promptatelier"]["autograded_by"] == "atelier grade"
        cells = _by_id(nb)
        for r in (r for r in run.results if r.student == student):
            test = cells[r.test_id]
            assert test.source == f'grade("{r.exercise_id}", PROMPT)'
            assert determine_grade(test)[0] == pytest.approx(r.points)  # what nbgrader reads back
            assert test.outputs[0].output_type == "display_data"
        assert all(not c.get("outputs") for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                   not in {r.test_id for r in run.results})
    assert "cold and the waiter" not in comment  # no hidden input in the feedback
    # the journal keeps each visible case's output and failed criteria for the report, no hidden case
    for r in (r for r in run.results if r.status == "graded"):
        assert [c["case"] for c in r.cases] == ["happy", "angry"] if r.exercise_id == "tc.label" else r.cases
        assert all(isinstance(c["output"], str) and isinstance(c["failed"], list) for c in r.cases)
    assert "cold and the waiter" not in str([r.cases for r in run.results])
    assert (course / ".atelier" / ".gitignore").read_text().strip().endswith("*")


@pytest.mark.nbgrader
def test_tampered_cells_are_flagged_and_restored(course: Path) -> None:
    answers = {k: v for k, v in cc.learners()["strong"].items()}
    cc.submit(course, "deleter", answers, change=_tamper(delete="tc-label-test"))
    cc.submit(course, "stripper", answers, change=_tamper(strip="tc-french-test"))
    cc.submit(course, "ungrader", answers, change=_tamper(ungrade="tc-json-test"))
    cc.submit(course, "mover", answers, change=_tamper(move="tc-label-answer"))
    cc.submit(course, "patcher", answers, extra_cell="import promptatelier\npromptatelier.grade = lambda *a: 2",
              change=lambda nb: nb.metadata.update(widgets={"state": {"w": {"value": "printed by learner code"}}}))
    run = grade_cohort("ps1", course=course, model="mock")
    flags = {(r.student, r.exercise_id): " ".join(r.flags) for r in run.results}
    assert "tc-label-test was deleted" in flags["deleter", "tc.label"]
    assert "tc-french-test was stripped of its nbgrader metadata" in flags["stripper", "tc.french"]
    assert "tc-json-test was set to grade: false" in flags["ungrader", "tc.json"]
    assert "tc-label-answer was moved out of its exercise" in flags["mover", "tc.label"]
    assert "assigns promptatelier.grade" in flags["patcher", "tc.json"]
    assert not flags["deleter", "tc.json"] and not flags["mover", "tc.json"]
    for student, test_id in (("deleter", "tc-label-test"), ("stripper", "tc-french-test"), ("ungrader", "tc-json-test")):
        score, review = _grades(course, student)[test_id]
        assert score is not None and review is True  # scored, and marked for a person to look at
        test = _by_id(_autograded(course, student))[test_id]  # back in the autograded notebook, as released
        assert test.metadata["nbgrader"]["grade"] is True and test.source.startswith("grade(")
    assert "printed by learner code" not in (course / "autograded" / "patcher" / "ps1" / "ps1.ipynb").read_text()
    # the moved answer is still read and graded
    assert {r.status for r in run.results if r.student == "mover"} == {"graded"}


@pytest.mark.nbgrader
def test_one_broken_submission_never_stops_the_cohort(course: Path) -> None:
    from promptatelier.grading import evaluate_many

    cc.submit_learner(course, "strong")
    cc.submit(course, "surrogate", {"tc.label": 'PROMPT = "Classify \\ud800 {review}"'})
    raw = cc.submit(course, "raw", {"tc.label": 'PROMPT = "Classify {review}"'}) / "ps1.ipynb"
    data = json.loads(raw.read_text(encoding="utf-8"))
    data["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "notes \ud800"})
    raw.write_text(json.dumps(data), encoding="utf-8")  # a lone surrogate in the file itself, as JSON allows
    (course / "submitted" / "garbled" / "ps1").mkdir(parents=True)
    (course / "submitted" / "garbled" / "ps1" / "ps1.ipynb").write_text("{not json", encoding="utf-8")
    (course / "submitted" / "absent" / "ps1").mkdir(parents=True)
    (course / "submitted" / "absent" / "ps1" / "notes.txt").write_text("I forgot the notebook")
    crashing = 'PROMPT = """Learner boom: {review}"""'
    cc.submit(course, "crasher", {"tc.label": crashing})

    def fragile(items: list, **kwargs: object) -> list:
        if any("boom" in str(value) for _, value in items):
            raise ZeroDivisionError("a grader bug")
        return evaluate_many(items, **kwargs)

    run = grade_cohort("ps1", course=course, model="mock", evaluator=fragile)
    by = {(r.student, r.exercise_id): r for r in run.results}
    assert {r.status for r in run.results if r.student == "strong"} == {"graded"}
    assert by["surrogate", "tc.label"].status == "manual"
    assert "cannot be encoded as UTF-8" in by["surrogate", "tc.label"].flags[0]
    assert by["garbled", "tc.json"].status == "manual" and "cannot be read" in by["garbled", "tc.json"].flags[0]
    assert by["absent", "tc.json"].status == "invalid" and by["absent", "tc.json"].points == 0.0
    assert not by["absent", "tc.json"].flags  # not submitted: 0, as nbgrader scores a missing notebook
    assert by["crasher", "tc.label"].status == "manual" and "ZeroDivisionError" in by["crasher", "tc.label"].flags[0]
    assert by["crasher", "tc.json"].status == "invalid"  # its other answers are still graded
    assert _grades(course, "surrogate")["tc-label-test"] == (None, True)
    assert _grades(course, "garbled")["tc-json-test"] == (None, True)
    assert _grades(course, "absent")["tc-json-test"] == (0.0, False)
    assert "grader failed" in _comments(course, "crasher")["tc-label-answer"]
    assert "cannot be read" in _comments(course, "garbled")["tc-label-answer"]
    assert not (course / "autograded" / "garbled" / "ps1" / "ps1.ipynb").exists()
    # a notebook holding a lone surrogate is written with it escaped, so generate_feedback can run
    assert {r.status for r in run.results if r.student == "raw"} == {"graded", "invalid"}
    written = (course / "autograded" / "raw" / "ps1" / "ps1.ipynb").read_text(encoding="utf-8")
    assert "notes \\\\ud800" in written
    assert json.dumps(json.loads(written), ensure_ascii=False).encode("utf-8")
    # a manual item is retried on the next run; a graded one is reused
    again = grade_cohort("ps1", course=course, model="mock")
    assert by["strong", "tc.label"].submission_hash in {r.submission_hash for r in again.results}
    assert again.evaluated == 1  # the crasher's answer, with the real evaluator this time
    assert {r.status for r in again.results if r.student == "crasher" and r.exercise_id == "tc.label"} == {"graded"}


@pytest.mark.nbgrader
def test_keys_and_hidden_cases_are_redacted_from_everything_written(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptatelier.grading import evaluate_many

    canary = "sk-canary-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    hidden = "The soup arrived cold and the waiter ignored us all evening."
    cc.submit_learner(course, "strong")

    def leaky(items: list, **kwargs: object) -> list:
        out = evaluate_many(items, **kwargs)
        for evaluation in out:
            evaluation.notes.append((f"key {canary}, case {hidden}", f"clé {canary}, cas {hidden}"))
            evaluation.flags.append(f"echoed {canary}")
        return out

    grade_cohort("ps1", course=course, model="mock", evaluator=leaky)
    journal = Journal.for_assignment(Course(course), "ps1")
    rows = journal.all()
    journal.close()
    assert rows and all("[redacted]" in " ".join(r.flags) for r in rows)
    for path in course.rglob("*"):
        if path.is_file() and path.suffix in {".ipynb", ".db", ".sqlite", ".html", ".txt"}:
            data = path.read_bytes()
            assert canary.encode() not in data, path
            if "autograded" in path.parts:
                assert hidden.encode() not in data, path


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
    assert all(not c.outputs[-1].output_type == "execute_result"
               for c in _by_id(_autograded(course, "strong")).values() if c.metadata["nbgrader"]["grade"])

    backend.script(lambda request: "positive")
    run = grade_cohort("ps1", course=course, model="mock", concurrency=2)
    assert run.reused == 0 and {r.status for r in run.results} == {"graded"}
    assert all(score is not None for score, _ in _grades(course, "strong").values())


@pytest.mark.nbgrader
def test_the_notebooks_language_picks_the_cases_and_the_feedback(course: Path) -> None:
    from promptatelier.grading import evaluate_many

    source = course / "source" / "ps1" / "ps1.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.metadata["promptatelier"]["lang"] = "fr"  # the instructor's notebook says French (never the submission)
    nbformat.write(nb, source)
    cc.submit_learner(course, "strong")
    seen: list[object] = []

    def recording(items: list, **kwargs: object) -> list:
        seen.append(kwargs.get("lang"))
        return evaluate_many(items, **kwargs)

    run = grade_cohort("ps1", course=course, model="mock", evaluator=recording)
    assert seen == ["fr"]
    assert "Note vérifiée" in _comments(course, "strong")["tc-label-answer"]
    assert all(r.status == "graded" for r in run.results)


@pytest.mark.nbgrader
def test_a_changed_answer_is_regraded(course: Path) -> None:
    cc.submit_learner(course, "alex", "naive")
    first = grade_cohort("ps1", course=course, model="mock")
    cc.submit_learner(course, "alex", "strong")
    second = grade_cohort("ps1", course=course, model="mock")
    assert first.evaluated == 3 and (second.reused, second.evaluated) == (0, 3)


@pytest.mark.nbgrader
def test_a_late_submission_gets_nbgraders_own_penalty(course: Path) -> None:
    with (course / "nbgrader_config.py").open("a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    cc.run(["nbgrader", "db", "assignment", "add", "ps1", "--duedate=2020-01-01 00:00:00 UTC"], course)
    cc.submit_learner(course, "strong")
    grade_cohort("ps1", course=course, model="mock")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook("ps1", "ps1", "strong")
        assert notebook.score > 0 and notebook.late_submission_penalty == notebook.score


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
