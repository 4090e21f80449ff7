"""What every course exercise must be (issue 9's bar and issue 12's French), checked on the data
with no model call: hidden cases enough, a criterion tied to each case's own data, prompt-text
criteria at most a quarter of the weight, French task data in the French course, solutions that
are the calibrated references, and the glossary's words in the French sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.cli.calibrate import MAX_PROMPT_SHARE, prompt_share
from promptatelier.grading import list_exercises, load_spec, normalise
from promptatelier.grading.criteria import has_case_refs
from promptatelier.grading.criteria.language import detect_language

ROOT = Path(__file__).resolve().parents[2]
GRADERS = ROOT / "graders"
EXERCISES = list_exercises(GRADERS)
# criteria that read the case's own data even without an argument taken from it
READS_CASE = {"no_invented_numbers", "verbatim_quote", "json_fields", "exact_match", "normalised_match",
              "label_accuracy"}
# French forms the glossary (course/GLOSSARY.md) replaces
NOT_FRENCH = ("ingénieur en prompt", "ingénieurs en prompts", "modèle de prompt", "modèles de prompts",
              "espace réservé", "préremplissage", "prompt engineer ", "la persona ")


def spec(exercise: str):  # noqa: ANN201
    return load_spec(exercise, GRADERS)


def _hidden(s, lang: str) -> list:  # noqa: ANN001
    """What grading adds to the visible material in `lang`: the hidden cases; for an evaluation the
    learner writes, the task's hidden cases (a rubric) or the hidden faulty prompts (a test set)."""
    if s.kind == "eval_cases":
        return list(s.hidden_mutants())
    if s.kind == "eval_rubric":
        return [c for c in s.task.cases if c.hidden and c.lang in (None, lang)]
    return [c for c in s.cases_for(lang, hidden=True) if c.hidden]


def _criteria(s) -> tuple:  # noqa: ANN001
    """The criteria the outputs are scored on: for an evaluation exercise, the task's rubric or the
    reference rubric the learner's stands for."""
    if s.kind == "eval_cases":
        return s.task.criteria
    if s.kind == "eval_rubric":
        from promptatelier.grading.mutation import learner_rubric

        return learner_rubric(s.task, s.reference)
    return s.criteria


@pytest.mark.parametrize("exercise", EXERCISES)
def test_each_language_grades_at_least_four_hidden_cases(exercise: str) -> None:
    s = spec(exercise)
    for lang in ("en", "fr"):
        hidden = _hidden(s, lang)
        assert len(hidden) >= 4, f"{exercise} ({lang}): {len(hidden)} hidden cases"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_a_criterion_is_tied_to_each_cases_own_data(exercise: str) -> None:
    s = spec(exercise)
    tied = [c.key for c in _criteria(s) if c.weight > 0 and (
        has_case_refs(c.args) or c.criterion.needs_expected or c.use in READS_CASE
        or (c.use == "language" and c.args.get("lang") == "case")
        or (c.use == "any_of" and any(i.get("use") in READS_CASE for i in c.args.get("criteria", []))))]
    assert tied, f"{exercise}: no weighted criterion reads the case's own data"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_prompt_text_criteria_weigh_at_most_a_quarter(exercise: str) -> None:
    assert prompt_share(spec(exercise)) <= MAX_PROMPT_SHARE + 1e-9


def _french_data(exercise: str) -> bool:
    """The French course gives this exercise French task data: cases of its own (`lang = "fr"`),
    a French reference, or French inputs in at least a third of the cases it runs."""
    s = spec(exercise)
    if s.reference_fr is not None or any(c.lang == "fr" for c in s.cases_for("fr", hidden=True)):
        return True
    cases = [c for c in s.cases_for("fr", hidden=True) if c.vars or c.turns]
    french = [c for c in cases if detect_language(" ".join([*c.vars.values(), *c.turns]))[0] == "fr"]
    return bool(cases) and len(french) * 3 >= len(cases)


def test_a_third_of_the_french_exercises_use_french_task_data() -> None:
    french = [e for e in EXERCISES if _french_data(e)]
    assert len(french) * 3 >= len(EXERCISES), f"{len(french)}/{len(EXERCISES)}: {french}"


def _solutions(lang: str) -> dict[str, tuple[str, str]]:
    import nbformat

    found = {}
    for path in sorted((ROOT / "solutions" / lang).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            kit = cell.metadata.get("promptatelier", {})
            if kit.get("role") == "answer":
                found[kit["exercise"]] = (cell.source, kit.get("variable", "PROMPT"))
    return found


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_solution_notebooks_hold_the_calibrated_references(lang: str) -> None:
    from promptatelier.grading.answers import read_answer

    solutions = _solutions(lang)
    for exercise in EXERCISES:
        s = spec(exercise)
        assert exercise in solutions, f"{exercise} has no answer cell in solutions/{lang}"
        answer = read_answer(*solutions[exercise])
        assert answer.problem is None, f"{exercise} ({lang}): {answer.problem}"
        got = normalise(s, answer.value).parts
        want = normalise(s, s.reference_for(lang)).parts
        assert got == want, f"{exercise} ({lang}): the solution differs from the spec's reference"


def test_the_french_sources_use_the_glossarys_words() -> None:
    problems = []
    for path in sorted((ROOT / "course" / "fr").glob("*.md")):
        text = path.read_text(encoding="utf-8").lower()
        problems += [f"{path.name}: « {word.strip()} »" for word in NOT_FRENCH if word in text]
    assert not problems, problems
