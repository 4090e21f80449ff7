"""Every generated notebook against the real tools: nbclient runs each one top to bottom,
offline, on the embedded model; `nbgrader validate` gives solutions full marks and untouched
learner notebooks nothing; module 1 goes through the whole nbgrader round trip.

The tests share one response cache (tests/course/conftest.py), and the notebooks run in parallel
(ATELIER_TEST_WORKERS, default: two, as many as this machine's cores allow): every run starts in
the background when the first of these tests asks for one, and each test waits for its own.
Cold-cache run times per notebook are bench/bench_notebooks.py's job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.local_model, pytest.mark.nbgrader, pytest.mark.slow]

NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for top in ("notebooks", "solutions") for p in (ROOT / top).glob("*/*.ipynb")
)
SOLUTIONS = [p for p in NOTEBOOKS if p.startswith("solutions/")]
LEARNER = [p for p in NOTEBOOKS if p.startswith("notebooks/")]
NOT_ANSWERED = {"en": "Not answered yet", "fr": "Pas encore de réponse"}


WORKERS = int(os.environ.get("ATELIER_TEST_WORKERS", "0")) or max(1, min(2, len(os.sched_getaffinity(0))))


def _grade_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


# Added to the test's copy of a notebook: the first cell records every model output the notebook
# produces (the kit's ledger sees each completion, whoever asked: complete(), check(), grade(),
# a widget), with the cell that asked; the last runs each widget's example prompt once on the
# embedded model, since no cell clicks them, and prints everything for the degenerate check.
OUTPUTS_MARK = "ATELIER-TEST-OUTPUTS "
RECORD_CELL = """\
import promptatelier as _kit
_kit_outputs, _kit_cell = [], [0]  # _kit_cell: how many code cells ran since this one
get_ipython().events.register("pre_run_cell", lambda *_: _kit_cell.__setitem__(0, _kit_cell[0] + 1))
_kit_record = _kit.ledger().record
def _kit_recording(completion, tag=None):
    _kit_outputs.append({"cell": _kit_cell[0], "tag": tag, "text": completion.text})
    _kit_record(completion, tag)
_kit.ledger().record = _kit_recording"""
EXAMPLES_CELL = f"""\
import json as _json
from promptatelier.widgets.examples import run_examples as _run_examples
_kit_examples = [{{"widget": r.widget, "label": r.label, "text": r.text, "error": r.error and str(r.error)}}
                 for r in _run_examples(model="local")]
print({OUTPUTS_MARK!r} + _json.dumps({{"outputs": _kit_outputs, "examples": _kit_examples}}))"""
# outputs that are not a text to read: one token with its probabilities
NOT_TEXT_TAGS = {"token-explorer", "examples"}


def _degenerate_outputs(nb, added_first, added_last) -> list[str]:
    """Every model output shown by the notebook, and every widget's example output, that
    `degenerate_reason` calls degenerate, named by cell (or widget) for the failure message.
    Tables of scores and feedback are not model outputs and are never checked."""
    import json

    from promptatelier.grading.criteria.meaning import degenerate_reason

    printed = "".join(o.get("text", "") for o in added_last.outputs if o.output_type == "stream")
    record = json.loads(printed.split(OUTPUTS_MARK, 1)[1])
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]  # code[0] is the recording cell
    found, seen = [], set()
    for item in record["outputs"]:
        if item["tag"] in NOT_TEXT_TAGS or (item["cell"], item["text"]) in seen:
            continue
        seen.add((item["cell"], item["text"]))
        reason = degenerate_reason(item["text"])
        if reason:
            index = code[item["cell"]]
            first = (nb.cells[index].source.strip().splitlines() or ["?"])[0]
            found.append(f"cell {index} of the notebook ({first[:70]}): {reason[0]}")  # counted from 1
    for item in record["examples"]:
        name = " ".join(x for x in (item["widget"], item["label"]) if x)
        if item["error"]:
            found.append(f"{name}: its example prompt cannot be run: {item['error']}")
        elif (reason := degenerate_reason(item["text"])) is not None:
            found.append(f"{name}: {reason[0]}")
    return found


def _environment(cache: Path) -> dict[str, str]:
    """What every kernel and nbgrader run gets: the session's shared cache, the course file, no
    model overrides or keys, the venv's bin folder on PATH (nbgrader runs `alembic`), and its
    share of the cores for llama.cpp."""
    from promptatelier.models.local import usable_cpus

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ATELIER_") and not k.endswith("_API_KEY")}
    env.update(ATELIER_CACHE=str(cache), ATELIER_CONFIG=str(ROOT / "atelier.toml"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               # WORKERS kernels side by side share the cores: one llama.cpp thread each on two
               ATELIER_LOCAL_THREADS=str(max(1, usable_cpus() // WORKERS)))
    return env


def _execute(relpath: str, env: dict[str, str]) -> tuple[Any, Any, Any]:
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / relpath
    nb = nbformat.read(path, as_version=4)
    added_first, added_last = nbformat.v4.new_code_cell(RECORD_CELL), nbformat.v4.new_code_cell(EXAMPLES_CELL)
    nb.cells = [added_first, *nb.cells, added_last]
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb, added_first, added_last


def _validate(path: Path, env: dict[str, str], *flags: str) -> str:
    run = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *flags, str(path)],
                         cwd=ROOT / "course", capture_output=True, text=True, env=env)
    return run.stdout + run.stderr


JOBS = {
    "test_notebook_runs_top_to_bottom_offline": ("run", lambda relpath, env: _execute(relpath, env)),
    "test_nbgrader_validate_gives_solutions_full_marks": ("validate", lambda relpath, env: _validate(ROOT / relpath, env)),
    "test_nbgrader_validate_gives_untouched_learner_notebooks_nothing_without_error":
        ("invert", lambda relpath, env: _validate(ROOT / relpath, env, "--invert")),
}


@pytest.fixture(scope="session")
def runs(request: pytest.FixtureRequest, _course_cache: Path) -> Any:
    """The notebook runs and nbgrader validations the selected tests of this file need, all
    started at once on WORKERS threads (each a kernel or an nbgrader process of its own), in the
    order the tests ask for them."""
    env = _environment(_course_cache)
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="notebook")
    jobs: dict[tuple[str, str], Future[Any]] = {}
    for item in request.session.items:
        name = getattr(item, "originalname", "")
        if name in JOBS and item.module.__name__ == __name__:
            kind, job = JOBS[name]
            relpath = item.callspec.params["relpath"]
            jobs[kind, relpath] = pool.submit(job, relpath, env)
    yield jobs
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("relpath", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_offline(relpath: str, runs: Any) -> None:
    from nbgrader.utils import determine_grade

    nb, added_first, added_last = runs["run", relpath].result()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{relpath}: {out.get('ename')}: {out.get('evalue')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"{relpath} wrote to stderr: {out.text}"
    degenerate = _degenerate_outputs(nb, added_first, added_last)
    assert degenerate == [], f"{relpath}: degenerate model outputs:\n" + "\n".join(degenerate)
    lang = nb.metadata["promptatelier"]["lang"]
    for cell in nb.cells:
        if cell.metadata.get("promptatelier", {}).get("role") == "check" and relpath.startswith("notebooks/"):
            shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            # the kit speaks the notebook's language, and an untouched answer is "not answered yet"
            assert NOT_ANSWERED[lang] in shown, f"{relpath}: {shown[:300]}"
    for cell in _grade_cells(nb):
        score, max_score = determine_grade(cell)
        if relpath.startswith("solutions/"):
            assert score == max_score, f"{relpath} {cell.metadata.nbgrader.grade_id}: {score}/{max_score}"
        else:
            assert score == 0, f"{relpath} {cell.metadata.nbgrader.grade_id}: an untouched answer scored {score}"


def _nbgrader_env() -> dict[str, str]:
    """The test's environment (isolated cache, course file) with the venv's bin folder on PATH:
    nbgrader runs `alembic` for its gradebook."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_nbgrader_validate_gives_solutions_full_marks(relpath: str, runs: Any) -> None:
    out = runs["validate", relpath].result()
    assert "Success! Your notebook passes all the tests." in out, out


@pytest.mark.parametrize("relpath", [p for p in LEARNER if "00_welcome" not in p])
def test_nbgrader_validate_gives_untouched_learner_notebooks_nothing_without_error(relpath: str, runs: Any) -> None:
    out = runs["invert", relpath].result()
    assert "Success! The notebook does not pass any tests." in out, out
    assert "Traceback" not in out and "Error" not in out, out


def test_module_1_through_the_nbgrader_round_trip(tmp_path: Path) -> None:
    """generate_assignment -> a submission -> autograde -> generate_feedback, with the real
    commands in a scratch course root; the learner answered two of the three exercises."""
    import nbformat
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(ROOT / "course" / "source" / "m01_en", course / "source" / "m01_en")
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course / "nbgrader_config.py")

    def nbgrader(*args: str) -> None:
        run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                             env=_nbgrader_env())
        assert run.returncode == 0, run.stdout + run.stderr

    nbgrader("db", "student", "add", "alice")
    nbgrader("generate_assignment", "m01_en", "--force")
    released = nbformat.read(course / "release" / "m01_en" / "01_anatomy.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / "en" / "01_anatomy.ipynb", as_version=4)
    answers = {c.metadata["promptatelier"]["exercise"]: c.source for c in solution.cells
               if c.metadata.get("promptatelier", {}).get("role") == "answer"}
    for cell in released.cells:
        kit = cell.metadata.get("promptatelier", {})
        if kit.get("role") == "answer" and kit["exercise"] in ("m01.order_line", "m01.ticket_route"):
            cell.source = "\n".join(line for line in answers[kit["exercise"]].splitlines() if "SOLUTION" not in line)
    submitted = course / "submitted" / "alice" / "m01_en"
    submitted.mkdir(parents=True)
    nbformat.write(released, submitted / "01_anatomy.ipynb")

    nbgrader("autograde", "m01_en", "--force")
    nbgrader("generate_feedback", "m01_en", "--force")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("m01_en", "alice")
        grades = {g.name: g.score for g in sub.notebooks[0].grades}
        assert grades["m01-order_line-test"] == 3.0
        assert grades["m01-ticket_route-test"] == 2.0
        assert grades["m01-review_label-test"] == 0.0
        assert sub.score == 5.0 and sub.max_score == 8.0
    feedback = (course / "feedback" / "alice" / "m01_en" / "01_anatomy.html").read_text(encoding="utf-8")
    assert "Score: 5.0 / 8.0" in feedback or "5.0 / 8.0" in feedback
    # hidden cases are never revealed by the returned feedback
    for hidden in ("h-teapot", "h-belgium", "h-towels", "handle of the teapot", "Please send 4 towels"):
        assert hidden not in feedback
