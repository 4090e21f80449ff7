"""evaluate / evaluate_many: run a submission on an exercise's cases and score it.

Every model call of a whole batch (learner outputs, then judge verdicts) goes through one
`complete_many`, so a cohort is graded in parallel and a regrade is served by the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import settings
from ..errors import AtelierError, ConfigError, ModelUnavailableError, SubmissionError, UnsupportedFeatureError
from ..models import ChatRequest, Completion, complete_many, get_backend
from .base import Score
from .criteria import judge as judge_mod
from .result import CaseOutput, CriterionResult, Evaluation
from .rubric import aggregate, combine
from .spec import Case, CriterionSpec, ExerciseSpec, load_spec
from .submission import Submission, normalise, render_request

__all__ = ["evaluate", "evaluate_many"]

Item = tuple[Any, Any]


@dataclass
class _Plan:
    spec: ExerciseSpec
    submission: Submission | None
    cases: list[Case]
    all_cases: bool = True  # grading (visible and hidden), not a learner's check (visible only)
    outputs: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    outage: str | None = None
    invalid: SubmissionError | None = None
    judged: dict[tuple[str, int], Score] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def evaluate(
    spec_or_id: ExerciseSpec | str,
    submission: Any,
    *,
    model: str | None = None,
    cases: str = "all",
    judge_model: str | None = None,
    progress: bool = False,
    temperature: float | None = None,
) -> Evaluation:
    """Score one submission. `model` defaults to the grading model for cases="all" and to the
    learners' model for cases="visible"; `temperature` overrides the spec's (grading uses 0)."""
    return evaluate_many([(spec_or_id, submission)], model=model, cases=cases, judge_model=judge_model,
                         progress=progress, temperature=temperature)[0]


def _dedupe(requests: list[ChatRequest]) -> tuple[list[ChatRequest], list[int]]:
    unique: dict[str, int] = {}
    order: list[ChatRequest] = []
    index = []
    for r in requests:
        key = r.fingerprint()
        if key not in unique:
            unique[key] = len(order)
            order.append(r)
        index.append(unique[key])
    return order, index


def _run(requests: list[ChatRequest], model: str, concurrency: int | None, progress: bool) -> list[Completion | Exception]:
    if not requests:
        return []
    unique, index = _dedupe(requests)
    results = complete_many(unique, model=model, concurrency=concurrency, progress=progress, tag="grading")
    for r in results:
        if isinstance(r, (UnsupportedFeatureError, ConfigError)):
            raise r
    return [results[i] for i in index]


def evaluate_many(
    items: list[Item],
    *,
    model: str | None = None,
    cases: str = "all",
    judge_model: str | None = None,
    concurrency: int | None = None,
    progress: bool = False,
    temperature: float | None = None,
) -> list[Evaluation]:
    """Score many (exercise, submission) pairs; results in input order.

    Instructor mistakes (unknown exercise, broken spec, a misconfigured model) raise; a bad
    submission gives status "invalid"; an outage gives status "not_graded" with points None.
    """
    if cases not in ("all", "visible"):
        raise ValueError('cases must be "all" or "visible"')
    cfg = settings()
    model = model or (cfg.grading_model if cases == "all" else cfg.model)
    judge = cfg.judge_model if judge_model is None else judge_model
    get_backend(model)  # an unknown or misconfigured model fails loudly, before any work
    plans = [_plan(spec_or_id, submission, cases) for spec_or_id, submission in items]

    # 1. the learners' outputs
    slots: list[tuple[_Plan, Case]] = []
    requests: list[ChatRequest] = []
    for plan in plans:
        if plan.submission is None:
            continue
        for case in plan.cases:
            slots.append((plan, case))
            requests.append(render_request(plan.spec, plan.submission, case, temperature=temperature))
    for (plan, case), result in zip(slots, _run(requests, model, concurrency, progress)):
        _record(plan, case, result)

    # 2. the judge's verdicts
    _judge_all(plans, judge, concurrency, progress)

    return [_finish(plan, model, judge) for plan in plans]


def _plan(spec_or_id: Any, value: Any, cases: str) -> _Plan:
    spec = load_spec(spec_or_id)
    chosen = list(spec.cases) + (list(spec.hidden_cases()) if cases == "all" else [])
    try:
        submission = normalise(spec, value)
    except SubmissionError as exc:
        return _Plan(spec, None, chosen, cases == "all", invalid=exc)
    return _Plan(spec, submission, chosen, cases == "all")


def _record(plan: _Plan, case: Case, result: Completion | Exception) -> None:
    if isinstance(result, ModelUnavailableError):
        plan.outage = plan.outage or result.problem
    elif isinstance(result, AtelierError):
        plan.errors[case.name] = result.problem
    elif isinstance(result, Exception):
        plan.errors[case.name] = f"{type(result).__name__}: {result}"
    else:
        plan.outputs[case.name] = result.text


def _judge_specs(spec: ExerciseSpec) -> list[tuple[int, CriterionSpec]]:
    return [(i, c) for i, c in enumerate(spec.criteria) if c.criterion.family == "judge"]


def _judge_all(plans: list[_Plan], judge: str, concurrency: int | None, progress: bool) -> None:
    unavailable = judge_mod.judge_unavailable_reason(judge)
    slots: list[tuple[_Plan, Case, int, dict[str, Any]]] = []
    for plan in plans:
        judged = _judge_specs(plan.spec)
        if plan.submission is None or plan.outage or not judged:
            continue
        for case in plan.cases:
            output = plan.outputs.get(case.name)
            if output is None:
                continue
            reason = judge_mod.injection_reason(output)
            if reason:
                flag = f"an output addresses the judge ({reason}): review by hand"
                if flag not in plan.flags:
                    plan.flags.append(flag)
                for i, _ in judged:
                    plan.judged[(case.name, i)] = Score(
                        None, f"not sent to the judge: the output {reason}", "non soumis au juge : la sortie s'adresse au correcteur")
                continue
            for i, cspec in judged:
                if unavailable:
                    plan.judged[(case.name, i)] = Score(None, *unavailable)
                else:
                    slots.append((plan, case, i, cspec.args))
    if not slots:
        return
    requests = [judge_mod.build_request(plan.outputs[case.name], case, args) for plan, case, _, args in slots]
    try:
        results = _run(requests, judge, concurrency, progress)
    except UnsupportedFeatureError:
        requests = [judge_mod.build_request(plan.outputs[case.name], case, args, with_schema=False) for plan, case, _, args in slots]
        results = _run(requests, judge, concurrency, progress)
    for (plan, case, i, args), result in zip(slots, results):
        if isinstance(result, ModelUnavailableError):
            plan.outage = plan.outage or f"the judge model is unavailable: {result.problem}"
        elif isinstance(result, Exception):
            plan.judged[(case.name, i)] = Score(None, "the judge failed, so this criterion is unscored", "le juge a échoué : critère non noté")
        else:
            plan.judged[(case.name, i)] = judge_mod.parse_verdict(result.text, args)


def _case_score(plan: _Plan, case: Case, index: int, cspec: CriterionSpec) -> Score:
    crit = cspec.criterion
    if case.name in plan.errors:
        return Score(0.0, "the model returned an error on this case", "le modèle a renvoyé une erreur sur ce cas")
    output = plan.outputs.get(case.name, "")
    if crit.family == "judge":
        return plan.judged.get((case.name, index), Score(None, "not judged", "non évalué"))
    if crit.needs_expected and not case.has_expected:
        return Score(None, "this case has no expected answer", "ce cas n'a pas de réponse attendue")
    try:
        return crit.fn(output, case, plan.spec, **cspec.args)
    except Exception as exc:  # a criterion bug must not pass a case: unscored, and said so
        return Score(None, f"the criterion failed ({type(exc).__name__}), so this case is unscored",
                     "le critère a échoué : cas non noté")


def _finish(plan: _Plan, model: str, judge: str) -> Evaluation:
    spec = plan.spec
    base = dict(exercise_id=spec.id, max_points=spec.points, pass_threshold=spec.pass_threshold, model=model,
                judge_model=judge, title=spec.title, hints=spec.hints,
                cases_run={"visible": sum(not c.hidden for c in plan.cases), "hidden": sum(c.hidden for c in plan.cases)})
    if plan.invalid is not None:
        return Evaluation(status="invalid", points=0.0, notes=[(" ".join(plan.invalid.localised("en")), " ".join(plan.invalid.localised("fr")))], **base)
    if plan.outage:
        return Evaluation(
            status="not_graded", points=None, flags=[f"not graded: model outage ({plan.outage})"],
            notes=[("Not graded yet: the model could not be reached. This is not a score of 0; it will be graded again.",
                    "Pas encore noté : le modèle était injoignable. Ce n'est pas une note de 0 ; ce sera noté à nouveau.")],
            **base,
        )
    assert plan.submission is not None
    results: list[CriterionResult] = []
    flags = list(plan.flags)
    per_case: dict[str, list[tuple[str, float | None, str, str]]] = {c.name: [] for c in plan.cases if not c.hidden}
    criteria = list(enumerate(spec.criteria))
    if plan.cases and any(c.hidden for c in plan.cases) and not any(c.use == "no_answer_leak" for c in spec.criteria):
        # the leak check always runs when hidden cases are graded, as a weightless gate
        criteria.append((len(criteria), CriterionSpec(use="no_answer_leak", weight=0.0, gate=True)))
    for index, cspec in criteria:
        crit = cspec.criterion
        if crit.family == "prompt":
            try:
                score = crit.fn(plan.submission, spec, **cspec.args)
            except Exception as exc:
                score = Score(None, f"the criterion failed ({type(exc).__name__})", "le critère a échoué")
            if score.flag and score.flag not in flags:
                flags.append(score.flag)
            results.append(aggregate(spec, cspec, score))
            continue
        scores = [(case, _case_score(plan, case, index, cspec)) for case in plan.cases]
        for case, s in scores:
            if s.flag and s.flag not in flags:
                flags.append(s.flag)
            if not case.hidden:
                per_case[case.name].append((crit.describe(cspec.args, "en"), s.value, s.explanation, s.text("fr")))
        results.append(aggregate(spec, cspec, scores))
    notes: list[tuple[str, str]] = []
    if spec.released and plan.all_cases:
        notes.append(("This copy of the course has no hidden cases, so this score counts the visible cases only; "
                      "your instructor's grading adds hidden ones.",
                      "Cette copie du cours n'a pas les cas cachés : cette note ne compte que les cas visibles ; "
                      "la correction de votre formateur en ajoute d'autres."))
    if any(r.family == "judge" and r.score is None for r in results):
        reason = judge_mod.judge_unavailable_reason(judge)
        notes.append(reason or ("Some judge criteria could not be scored; the score uses the other criteria.",
                                "Certains critères du juge n'ont pas pu être notés ; la note repose sur les autres critères."))
    if plan.errors:
        notes.append((f"The model returned an error on {len(plan.errors)} case(s); they count as failed.",
                      f"Le modèle a renvoyé une erreur sur {len(plan.errors)} cas ; ils comptent comme échoués."))
    points = combine(spec, results)
    outputs = [
        CaseOutput(c.name, dict(c.vars), c.expected, plan.outputs.get(c.name), plan.errors.get(c.name), tuple(per_case[c.name]))
        for c in plan.cases if not c.hidden
    ]
    if points is None:
        return Evaluation(status="not_graded", points=None, criteria=results, flags=flags + ["no criterion could be scored"],
                          notes=notes + [("No criterion could be scored, so this needs grading by hand.",
                                          "Aucun critère n'a pu être noté : une correction manuelle est nécessaire.")],
                          outputs=outputs, **base)
    if any(r.gate and r.score is not None and r.score < 0.999 for r in results):
        notes.append(("A required criterion failed, so the score is 0.", "Un critère obligatoire a échoué : la note est 0."))
    return Evaluation(status="graded", points=points, criteria=results, flags=flags, notes=notes, outputs=outputs, **base)
