"""Scoring an evaluation the learner wrote, by mutation testing.

In module 10 the learner builds the test instead of the prompt: test cases for a task whose
rubric is given (`eval_cases`), or a rubric for a task whose cases are given (`eval_rubric`).
An evaluation is good when it passes the task's correct prompt and fails its faulty versions
(the mutants: visible ones in a check, hidden ones too when grading). So the kit runs the correct
prompt and every mutant under the learner's evaluation, through the same grading engine, and
scores: the correct prompt must pass (a gate: an evaluation that fails good work is worthless),
the share of mutants caught, and for test cases, enough different ones.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import SpecError, SubmissionError
from .criteria import get_criterion, has_case_refs, parse_case_refs
from .criteria._util import plural
from .result import CaseOutput, CaseVerdict, CriterionResult, Evaluation
from .rubric import combine
from .spec import Case, CriterionSpec, ExerciseSpec, Mutant
from .submission import UnreadableSubmission, normalise

__all__ = ["evaluate_evaluations", "learner_cases", "learner_rubric", "CORRECT"]

CORRECT = "correct prompt"
_RUBRIC_KEYS = {"use", "weight", "name", "label"}


def _bad(problem: str, fix: str, problem_fr: str, fix_fr: str) -> SubmissionError:
    return SubmissionError(problem, fix, fr=(problem_fr, fix_fr))


def learner_cases(task: ExerciseSpec, data: list[dict[str, Any]]) -> tuple[Case, ...]:
    """The learner's test cases as Cases of the task, or SubmissionError saying which is wrong."""
    allowed = {*task.placeholders, "expected", "name"}
    needs_expected = any(c.criterion.needs_expected for c in task.criteria)
    cases = []
    for number, item in enumerate(data, start=1):
        unknown = sorted(set(item) - allowed)
        missing = [p for p in task.placeholders if not isinstance(item.get(p), str) or not item[p].strip()]
        if unknown or missing:
            what = f"unknown key(s) {unknown}" if unknown else f"no text for {missing}"
            raise _bad(f"Case {number} has {what}.", f"Give each case the keys {sorted(allowed)}, each input a text.",
                       f"Le cas {number} a {'des clés inconnues ' + str(unknown) if unknown else 'un champ vide ' + str(missing)}.",
                       f"Donnez à chaque cas les clés {sorted(allowed)}, chaque entrée étant un texte.")
        if needs_expected and item.get("expected") is None:
            raise _bad(f"Case {number} has no 'expected' answer, which the task's rubric compares with.",
                       "Add \"expected\": the answer a correct prompt gives on that input.",
                       f"Le cas {number} n'a pas de réponse 'expected', que la grille d'évaluation de la tâche compare.",
                       "Ajoutez \"expected\"\u00a0: la réponse qu'un prompt correct donne pour cette entrée.")
        name = str(item.get("name") or f"case {number}")
        cases.append(Case(name, {p: item[p] for p in task.placeholders}, item.get("expected")))
    if len({c.name for c in cases}) != len(cases):
        raise _bad("Two of your cases have the same name.", "Give each case its own name, or none.",
                   "Deux de vos cas portent le même nom.", "Donnez à chaque cas son propre nom, ou aucun.")
    return tuple(cases)


def learner_rubric(task: ExerciseSpec, data: list[dict[str, Any]]) -> tuple[CriterionSpec, ...]:
    """The learner's rubric as criteria of the task, checked like an instructor's (types, known
    criteria, values from the cases), or SubmissionError naming the criterion and the fix."""
    out: list[CriterionSpec] = []
    for number, item in enumerate(data, start=1):
        use = item.get("use")
        try:
            crit = get_criterion(use) if isinstance(use, str) else None
        except SpecError:
            crit = None
        if crit is None or crit.family not in ("output", "judge"):
            raise _bad(f"Criterion {number}: {use!r} is not a criterion that checks outputs.",
                       "Use one of the output criteria listed in the module (contains, regex, length, json_schema...).",
                       f"Critère {number}\u00a0: {use!r} n'est pas un critère qui vérifie les sorties.",
                       "Employez l'un des critères de sortie présentés dans le module (contains, regex, length, json_schema...).")
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise _bad(f"Criterion {number} ({use}): weight must be a number ≥ 0, got {weight!r}.", "Write \"weight\": 1.",
                       f"Critère {number} ({use})\u00a0: le poids doit être un nombre ≥ 0, pas {weight!r}.", "Écrivez \"weight\": 1.")
        args = parse_case_refs({k: v for k, v in item.items() if k not in _RUBRIC_KEYS})
        try:
            crit.check_args(args)
            if has_case_refs(args):
                spec = CriterionSpec(use=use, args=args)
                for case in task.cases:
                    crit.check_resolved(spec.args_for(case))
        except (ValueError, SpecError) as exc:
            problem = getattr(exc, "problem", str(exc))
            raise _bad(f"Criterion {number} ({use}): {problem}.", "Fix its arguments as the module's table of criteria shows.",
                       f"Critère {number} ({use})\u00a0: {problem}.", "Corrigez ses arguments comme le montre le tableau des critères du module.") from None
        key = str(item.get("name") or (use if not any(c.use == use for c in out) else f"{use}#{1 + sum(c.use == use for c in out)}"))
        out.append(CriterionSpec(use=use, weight=float(weight), args=args, key=key))
    if sum(c.weight for c in out) <= 0:
        raise _bad("Every criterion of your rubric weighs 0.", "Give at least one a weight above 0.",
                   "Tous les critères de votre grille pèsent 0.", "Donnez à au moins l'un d'eux un poids supérieur à 0.")
    return tuple(out)


def _task_for(spec: ExerciseSpec, data: list[dict[str, Any]], cases: str) -> ExerciseSpec:
    task = spec.task
    assert task is not None
    if spec.kind == "eval_cases":
        return replace(task, cases=learner_cases(task, data))
    chosen = task.cases if cases == "all" else tuple(c for c in task.cases if not c.hidden)
    return replace(task, cases=chosen, criteria=learner_rubric(replace(task, cases=chosen), data))


def _programs(spec: ExerciseSpec, cases: str) -> list[Mutant]:
    hidden = spec.hidden_mutants() if cases == "all" else ()
    return [Mutant(CORRECT, spec.task.reference), *spec.mutants, *hidden]  # type: ignore[union-attr]


def evaluate_evaluations(items: list[tuple[ExerciseSpec, Any, str | None]], *, cases: str, run: Any) -> list[Evaluation]:
    """Score learners' evaluations; `run(items)` is the grading engine's evaluate_many on the
    tasks' (spec, prompt, lang) items, so every program of every learner goes in one batch."""
    prepared: list[tuple[ExerciseSpec, ExerciseSpec | None, list[Mutant], Evaluation | None, str | None]] = []
    nested: list[tuple[ExerciseSpec, Any, str | None]] = []
    for spec, value, lang in items:
        early = None
        task = None
        try:
            submission = normalise(spec, value)
            task = _task_for(spec, submission.data, cases)
        except UnreadableSubmission as exc:
            early = _early(spec, "not_graded", exc, flag=f"needs grading by hand: {exc.problem}")
        except SubmissionError as exc:
            early = _early(spec, "invalid", exc)
        programs = _programs(spec, cases) if task is not None else []
        nested += [(task, program.prompt, lang) for program in programs]
        prepared.append((spec, task, programs, early, lang))
    results = iter(run(nested) if nested else [])
    out = []
    for spec, task, programs, early, lang in prepared:
        evaluations = [next(results) for _ in programs]
        out.append(early if early is not None else _score(spec, task, programs, evaluations, cases, lang))  # type: ignore[arg-type]
    return out


def _base(spec: ExerciseSpec) -> dict[str, Any]:
    return dict(exercise_id=spec.id, max_points=spec.points, pass_threshold=spec.pass_threshold, title=spec.title,
                hints=spec.hints)


def _early(spec: ExerciseSpec, status: str, exc: SubmissionError, flag: str | None = None) -> Evaluation:
    notes = [(" ".join(exc.localised("en")), " ".join(exc.localised("fr")))]
    return Evaluation(status=status, points=0.0 if status == "invalid" else None, notes=notes,
                      flags=[flag] if flag else [], **_base(spec))


def _criterion(key: str, label: tuple[str, str], weight: float, score: float, en: str, fr: str, *,
               gate: bool = False, passed: int = 0, total: int = 1) -> CriterionResult:
    return CriterionResult(name=key, family="evaluation", label={"en": label[0], "fr": label[1]}, weight=weight,
                           score=score, explanation=en, explanation_fr=fr, gate=gate, passed=passed, scored=total,
                           total=total, key=key)


def _fr(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def _score(spec: ExerciseSpec, task: ExerciseSpec, programs: list[Mutant], evaluations: list[Evaluation],
           cases: str, lang: str | None = None) -> Evaluation:
    base = dict(_base(spec), model=evaluations[0].model, judge_model=evaluations[0].judge_model,
                cases_run={"visible": sum(not c.hidden for c in task.cases), "hidden": sum(c.hidden for c in task.cases)})
    pending = [e for e in evaluations if e.status == "not_graded"]
    if pending:
        return Evaluation(status="not_graded", points=None, flags=sorted({f for e in pending for f in e.flags}),
                          notes=pending[0].notes, **base)
    mark = task.pass_threshold

    def passes(ev: Evaluation) -> bool:
        return ev.fraction is not None and ev.fraction >= mark - 1e-9

    correct, mutants = evaluations[0], list(zip(programs[1:], evaluations[1:]))
    ok = passes(correct)
    results = [_criterion(
        "correct_passes", ("The correct prompt passes your evaluation", "Le prompt correct réussit votre évaluation"),
        0.0, 1.0 if ok else 0.0,
        f"it scores {correct.fraction:.2f} on it (pass mark {mark:.2f})" + ("" if ok else ": your evaluation rejects good work"),
        f"il y obtient {_fr(correct.fraction or 0.0)} (seuil {_fr(mark)})" + ("" if ok else "\u00a0: votre évaluation rejette un bon travail"),
        gate=True, passed=int(ok))]
    caught = [(m, not passes(e)) for m, e in mutants]
    visible = [(m, c) for m, c in caught if not m.hidden]
    hidden = [(m, c) for m, c in caught if m.hidden]
    n = sum(c for _, c in caught)
    en = f"{n} of {len(caught)} faulty prompts caught"
    fr = f"{plural(n, 'prompt fautif repéré', 'prompts fautifs repérés', 'fr')} sur {len(caught)}"
    if hidden:
        en += f" (visible {sum(c for _, c in visible)}/{len(visible)}, hidden {sum(c for _, c in hidden)}/{len(hidden)})"
        fr += f" (visibles {sum(c for _, c in visible)}/{len(visible)}, cachés {sum(c for _, c in hidden)}/{len(hidden)})"
    missed = next((m.name for m, c in visible if not c), None)
    if missed:
        en += f"; e.g. '{missed}' passes your evaluation"
        fr += f"\u00a0; par ex. « {missed} » réussit votre évaluation"
    results.append(_criterion("mutants_caught", ("Your evaluation catches the faulty prompts",
                                                 "Votre évaluation repère les prompts fautifs"),
                              3.0, n / len(caught), en, fr, passed=n, total=len(caught)))
    if spec.kind == "eval_cases" and spec.min_cases:
        distinct = len({tuple(sorted(c.vars.items())) for c in task.cases})
        share = min(1.0, distinct / spec.min_cases)
        results.append(_criterion(
            "enough_cases", (f"At least {spec.min_cases} different cases", f"Au moins {spec.min_cases} cas différents"),
            1.0, share, plural(distinct, "different case", "different cases"), plural(distinct, "cas différent", "cas différents", "fr"),
            passed=int(share >= 1), total=1))
    outputs = [_program_output(m, e, passes(e), m.name == CORRECT, lang) for m, e in zip(programs, evaluations) if not m.hidden]
    points = combine(spec, results)
    notes = []
    if not ok:
        notes.append(("The correct prompt fails your evaluation, so the score is 0: an evaluation must pass good work.",
                      "Le prompt correct échoue à votre évaluation\u00a0: la note est 0. Une évaluation doit accepter un bon travail."))
    return Evaluation(status="graded", points=points, criteria=results, notes=notes, outputs=outputs, **base)


def _program_output(program: Mutant, ev: Evaluation, passed: bool, correct: bool, lang: str | None = None) -> CaseOutput:
    """How one program fared under the learner's evaluation, with its outputs on their cases."""
    lines = [f"{o.name}: {(o.text or o.error or '').strip()[:160]}" for o in ev.outputs]
    want = passed if correct else not passed
    en = ("passes, as it should" if correct else "fails: caught") if want else ("fails: your evaluation rejects it"
                                                                                  if correct else "passes: not caught")
    fr = ("réussit, comme il se doit" if correct else "échoue\u00a0: repéré") if want else (
        "échoue\u00a0: votre évaluation le rejette" if correct else "réussit\u00a0: non repéré")
    verdict = CaseVerdict({"en": "Expected verdict", "fr": "Verdict attendu"}, 1.0 if want else 0.0,
                          f"scores {ev.fraction:.2f}: {en}", f"obtient {_fr(ev.fraction or 0.0)}\u00a0: {fr}")
    name = "prompt correct" if correct and lang == "fr" else program.name
    return CaseOutput(name, {}, None, "\n".join(lines), None, {"verdict": verdict})

