"""evaluate / evaluate_many / score_outputs: run a submission on an exercise's cases and score it.

Every model call of a whole batch (learner outputs, then judge verdicts) goes through one
`complete_many`, so a cohort is graded in parallel and a regrade is served by the cache.
`score_outputs` scores given outputs with no model call, so a rubric can be tried on samples.

Gates apply to every exercise whatever its spec lists: a degenerate output (a loop, a flood, no
words) scores 0 on every criterion of its case; outputs that do not change when the input does
(a prompt that ignores its input), or that copy their input, score 0 for the whole exercise; and,
when hidden cases are graded, a prompt that copies them scores 0 and is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import settings
from ..errors import AtelierError, ConfigError, ModelUnavailableError, SpecError, SubmissionError, UnsupportedFeatureError
from ..models import ChatRequest, Completion, complete_many, get_backend
from .base import Score
from .criteria import CaseRef, registry
from .criteria import judge as judge_mod
from .result import CaseOutput, CaseVerdict, CriterionResult, Evaluation
from .rubric import aggregate, combine
from .spec import EVAL_KINDS, Case, CriterionSpec, ExerciseSpec, load_spec
from .programs import Run, run_case
from .submission import Submission, UnreadableSubmission, normalise

__all__ = ["evaluate", "evaluate_many", "score_outputs", "DEFAULT_GATES"]

# (exercise, submission), or (exercise, submission, lang) to pick one item's course language
Item = tuple[Any, ...]
# criteria every exercise gets as weightless gates when its spec does not list them, with the
# score below which each zeroes the exercise: most outputs degenerate, most outputs a copy of
# their input, or outputs that barely change when the input does (not_constant's score is the
# share of cases with different answers that got different outputs, so a wrong label lowers it
# too: 0.25 catches a constant answer without failing a weak classifier); a degenerate case also
# scores 0 on every criterion of its own; and any line of the prompt that talks to the grader
# instead of the model zeroes it (and flags it for review)
DEFAULT_GATES = {"not_degenerate": 0.5, "not_constant": 0.25, "not_echo": 0.5, "not_addressed_to_grader": 0.999}


@dataclass
class _Plan:
    spec: ExerciseSpec
    submission: Submission | None
    cases: list[Case]
    all_cases: bool = True  # grading (visible and hidden), not a learner's check (visible only)
    outputs: dict[str, str] = field(default_factory=dict)
    # each case's step outputs (a conversation's turns, a chain's steps)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    outage: str | None = None
    outage_fix: str = ""
    outage_fr: tuple[str, str] | None = None  # the outage's own French (a gateway's budget or rate refusal)
    invalid: SubmissionError | None = None
    judged: dict[tuple[str, str], Score] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    # why it needs grading by hand and cannot get a score now (a crash, unreadable text)
    manual: list[tuple[str, str]] = field(default_factory=list)

    def flag(self, reason: str) -> None:
        if reason not in self.flags:
            self.flags.append(reason)


def evaluate(
    spec_or_id: ExerciseSpec | str,
    submission: Any,
    *,
    model: str | None = None,
    cases: str = "all",
    judge_model: str | None = None,
    progress: bool = False,
    temperature: float | None = None,
    lang: str | None = None,
) -> Evaluation:
    """Score one submission. `model` defaults to the grading model for cases="all" and to the
    learners' model for cases="visible"; `temperature` overrides the spec's (grading uses 0);
    `lang` picks the cases of that course language (default: every case)."""
    return evaluate_many([(spec_or_id, submission)], model=model, cases=cases, judge_model=judge_model,
                         progress=progress, temperature=temperature, lang=lang)[0]


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
    lang: str | None = None,
) -> list[Evaluation]:
    """Score many (exercise, submission) pairs; results in input order. An item may carry its own
    course language as a third element (which cases run); `lang` is the default.

    Instructor mistakes (unknown exercise, broken spec, a misconfigured model) raise; a bad
    submission gives status "invalid" (0 points, with why); an outage, or anything that needs a
    person (unreadable text, a criterion that crashed), gives status "not_graded" with points
    None and the reason in `flags`.
    """
    if cases not in ("all", "visible"):
        raise ValueError('cases must be "all" or "visible"')
    cfg = settings()
    model = model or (cfg.grading_model if cases == "all" else cfg.model)
    judge = cfg.judge_model if judge_model is None else judge_model
    get_backend(model)  # an unknown or misconfigured model fails loudly, before any work
    items = [(load_spec(item[0]), item[1], item[2] if len(item) > 2 else lang) for item in items]
    evaluations = [i for i, (spec, _, _) in enumerate(items) if spec.kind in EVAL_KINDS]
    if evaluations:  # learners' test sets and rubrics: their programs run through this same engine
        from .mutation import evaluate_evaluations

        def run(nested: list[Item]) -> list[Evaluation]:
            return evaluate_many(nested, model=model, cases="all", judge_model=judge, concurrency=concurrency,
                                 progress=progress, temperature=temperature)

        scored = dict(zip(evaluations, evaluate_evaluations([items[i] for i in evaluations], cases=cases, run=run)))
        rest = evaluate_many([it for i, it in enumerate(items) if i not in scored], model=model, cases=cases,
                             judge_model=judge, concurrency=concurrency, progress=progress, temperature=temperature)
        others = iter(rest)
        return [scored[i] if i in scored else next(others) for i in range(len(items))]
    plans = [_plan(spec, value, cases, item_lang) for spec, value, item_lang in items]

    # 1. the learners' outputs, round by round: a conversation or a chain makes one request per
    # turn or step, each round of every case in one batch
    runs: list[tuple[_Plan, Case, Run, ChatRequest]] = []
    for plan in plans:
        if plan.submission is None:
            continue
        for case in plan.cases:
            run = run_case(plan.spec, plan.submission, case, temperature)
            runs.append((plan, case, run, next(run)))
    while runs:
        results = _run([request for *_, request in runs], model, concurrency, progress)
        ongoing = []
        for (plan, case, run, _), result in zip(runs, results):
            if isinstance(result, Exception):
                _record(plan, case, result)
                continue
            try:
                ongoing.append((plan, case, run, run.send(result)))
            except StopIteration as done:
                plan.outputs[case.name] = done.value.output
                plan.steps[case.name] = done.value.steps
        runs = ongoing

    # 2. the judge's verdicts
    _judge_all(plans, judge, concurrency, progress)

    return [_finish(plan, model, judge) for plan in plans]


def score_outputs(
    spec_or_id: ExerciseSpec | str,
    outputs: Mapping[str, str],
    *,
    submission: Any = None,
    cases: str = "all",
    lang: str | None = None,
) -> Evaluation:
    """The Evaluation grading would give these outputs (case name -> text), with no model call.

    For testing a rubric on sample outputs before any model runs: prompt criteria are scored on
    `submission` when one is given (else on the spec's reference), judge criteria stay unscored.
    Cases missing from `outputs` are left out; a name that is no case of the exercise raises.
    """
    spec = load_spec(spec_or_id)
    if spec.kind in EVAL_KINDS:
        raise SpecError(f"{spec.id} scores the learner's evaluation by running prompts: score_outputs does not apply.",
                        f"Try it with `atelier calibrate {spec.id}` or evaluate() on a model.")
    value = spec.reference if submission is None else submission
    plan = _plan(spec, value, cases, lang)
    if plan.submission is None and plan.invalid is not None and submission is None:
        raise SpecError(f"{spec.id}: the reference cannot be used ({plan.invalid.problem}).", plan.invalid.fix)
    known = {c.name for c in plan.cases}
    if spec.model.seeds:  # an exercise run over seeds: an output given for a case stands for each seed's run
        runs = {name: [f"{name}@{seed}" for seed in spec.model.seeds] for name in outputs}
        outputs = {run: text for name, text in outputs.items()
                   for run in (runs[name] if name not in known and set(runs[name]) <= known else [name])}
    unknown = sorted(set(outputs) - known)
    if unknown:
        raise SpecError(
            f"{spec.id} has no case called {', '.join(map(repr, unknown))} (with cases={cases!r}, lang={lang!r}).",
            f"Name outputs after its cases: {', '.join(sorted(known))}.",
        )
    for name, text in outputs.items():
        if not isinstance(text, str):
            raise SpecError(f"The output for case {name!r} is {type(text).__name__}, not a text.", "Give each case's output as a string.")
    left_out = [c.name for c in plan.cases if c.name not in outputs]
    plan.cases = [c for c in plan.cases if c.name in outputs]
    plan.outputs = dict(outputs)
    if left_out:
        plan.notes.append((f"{len(left_out)} case(s) without an output were left out: {', '.join(left_out)}.",
                           f"{len(left_out)} cas sans sortie ont été laissés de côté : {', '.join(left_out)}."))
    _judge_all([plan], "", None, False)
    return _finish(plan, "(given outputs)", "")


def _with_prompt(spec: ExerciseSpec, submission: Submission, case: Case) -> Case:
    """The case carrying the text the model receives, for criteria that compare with it."""
    system, messages = submission.render(case)
    prompt = "\n\n".join([*([system] if system else []), *(m.content for m in messages)])
    return replace(case, prompt=prompt)


def _plan(spec_or_id: Any, value: Any, cases: str, lang: str | None) -> _Plan:
    spec = load_spec(spec_or_id)
    chosen = list(spec.cases_for(lang, hidden=cases == "all"))
    if spec.model.seeds:  # one run per seed: each is scored, and the mean is the pass rate
        chosen = [replace(c, name=f"{c.name}@{seed}", seed=seed) for c in chosen for seed in spec.model.seeds]
    try:
        submission = normalise(spec, value)
    except UnreadableSubmission as exc:
        plan = _Plan(spec, None, chosen, cases == "all")
        plan.manual.append((" ".join(exc.localised("en")), " ".join(exc.localised("fr"))))
        plan.flag(f"needs grading by hand: {exc.problem}")
        return plan
    except SubmissionError as exc:
        return _Plan(spec, None, chosen, cases == "all", invalid=exc)
    return _Plan(spec, submission, [_with_prompt(spec, submission, c) for c in chosen], cases == "all")


def _record(plan: _Plan, case: Case, result: Exception) -> None:
    if isinstance(result, ModelUnavailableError):
        if plan.outage is None:
            plan.outage, plan.outage_fix, plan.outage_fr = result.problem, result.fix, result.fr
    elif isinstance(result, AtelierError):
        plan.errors[case.name] = result.problem
    elif isinstance(result, Exception):
        plan.errors[case.name] = f"{type(result).__name__}: {result}"


def _judge_specs(spec: ExerciseSpec) -> list[CriterionSpec]:
    return [c for c in spec.criteria if c.criterion.family == "judge"]


def _injection(output: str, case: Case) -> tuple[str, str] | None:
    """(en, fr) reason when the output addresses the judge; quoting the case's own input is not."""
    found = judge_mod.injection_reason(output, sources=tuple(case.vars.values()))
    return None if found is None else (found.en, found.fr)


def _judge_all(plans: list[_Plan], judge: str, concurrency: int | None, progress: bool) -> None:
    unavailable = judge_mod.judge_unavailable_reason(judge)
    slots: list[tuple[_Plan, Case, CriterionSpec]] = []
    for plan in plans:
        judged = _judge_specs(plan.spec)
        if plan.outage:
            continue
        for case in plan.cases:
            output = plan.outputs.get(case.name)
            if output is None:
                continue
            reason = _injection(output, case)
            if reason and not judged:
                # no judge to fool here, but text written at the grader is worth a person's look
                plan.flag(f"an output addresses the grader ({reason[0]}): review by hand")
                break
            if reason:
                # never renormalised upward: this criterion scores 0 here, and a person looks
                plan.flag(f"an output addresses the judge ({reason[0]}): review by hand")
                for cspec in judged:
                    plan.judged[(case.name, cspec.key)] = Score(
                        0.0, f"scored 0 and sent for review: the output {reason[0]}",
                        f"noté 0 et transmis pour relecture : la sortie {reason[1]}")
                continue
            for cspec in judged:
                if unavailable:
                    plan.judged[(case.name, cspec.key)] = Score(None, *unavailable)
                else:
                    slots.append((plan, case, cspec))
    if not slots:
        return

    def requests(with_schema: bool) -> list[ChatRequest]:
        return [judge_mod.build_request(plan.outputs[case.name], case, cspec.args_for(case), with_schema=with_schema)
                for plan, case, cspec in slots]
    try:
        results = _run(requests(True), judge, concurrency, progress)
    except UnsupportedFeatureError:
        results = _run(requests(False), judge, concurrency, progress)
    for (plan, case, cspec), result in zip(slots, results):
        if isinstance(result, ModelUnavailableError):
            if plan.outage is None:
                plan.outage, plan.outage_fix = f"the judge model is unavailable: {result.problem}", result.fix
        elif isinstance(result, Exception):
            plan.judged[(case.name, cspec.key)] = Score(None, "the judge failed, so this criterion is unscored",
                                                        "le juge a échoué : critère non noté")
        else:
            plan.judged[(case.name, cspec.key)] = judge_mod.parse_verdict(result.text, cspec.args_for(case))


def _reads_expected(cspec: CriterionSpec) -> bool:
    def refs_expected(value: Any) -> bool:
        if isinstance(value, CaseRef):
            return value.path.startswith("expected")
        if isinstance(value, dict):
            return any(refs_expected(v) for v in value.values())
        if isinstance(value, list):
            return any(refs_expected(v) for v in value)
        return False

    crit = cspec.criterion
    return crit.needs_expected or refs_expected(cspec.args) or (crit.family == "judge" and cspec.args.get("use_expected", True))


def _crashed(plan: _Plan, cspec: CriterionSpec, exc: Exception) -> Score:
    """A criterion that raises is a bug, not a verdict: the item goes to a person, with why."""
    what = f"the criterion '{cspec.key}' failed ({type(exc).__name__}: {str(exc)[:120]})"
    if (what, what) not in plan.manual:
        plan.manual.append((what, f"le critère « {cspec.key} » a échoué ({type(exc).__name__})"))
        plan.flag(f"needs grading by hand: {what}")
    return Score(None, f"{what}, so this case is unscored", "le critère a échoué : cas non noté")


def _case_score(plan: _Plan, case: Case, cspec: CriterionSpec, degenerate: Score | None) -> Score:
    crit = cspec.criterion
    if case.name in plan.errors:
        return Score(0.0, "the model returned an error on this case", "le modèle a renvoyé une erreur sur ce cas")
    if degenerate is not None:
        return Score(0.0, f"degenerate output: {degenerate.explanation}", f"sortie dégénérée : {degenerate.text('fr')}")
    output = plan.outputs.get(case.name, "")
    if cspec.step is not None:
        output = plan.steps.get(case.name, {}).get(cspec.step)
        if output is None:
            return Score(0.0, f"there is no step {cspec.step!r} on this case", f"ce cas n'a pas d'étape « {cspec.step} »")
    if crit.family == "judge":
        return plan.judged.get((case.name, cspec.key), Score(None, "not judged", "non évalué"))
    if crit.needs_expected and not case.has_expected:
        return Score(None, "this case has no expected answer", "ce cas n'a pas de réponse attendue")
    args = cspec.args_for(case)  # SpecError: an instructor's mistake, loud
    try:
        return crit.fn(output, case, plan.spec, **args)
    except Exception as exc:
        return _crashed(plan, cspec, exc)


def _criteria_to_run(plan: _Plan) -> list[CriterionSpec]:
    spec = plan.spec
    listed = {c.use for c in spec.criteria}
    criteria = list(spec.criteria)
    known = registry() if spec.builtin_gates else {}
    for name, below in DEFAULT_GATES.items():
        if name not in listed and name in known:
            criteria.append(CriterionSpec(use=name, weight=0.0, gate=True, key=name, gate_below=below))
    if plan.cases and any(c.hidden for c in plan.cases) and "no_answer_leak" not in listed:
        # the leak check always runs when hidden cases are graded, as a weightless gate
        criteria.append(CriterionSpec(use="no_answer_leak", weight=0.0, gate=True, key="no_answer_leak"))
    return criteria


def _degenerate(plan: _Plan, criteria: list[CriterionSpec]) -> dict[str, Score]:
    """The cases whose output is degenerate, with the reason (they score 0 on every criterion)."""
    gate = next((c for c in criteria if c.use == "not_degenerate"), None)
    if gate is None:
        return {}
    found = {}
    for case in plan.cases:
        if case.name in plan.errors or case.name not in plan.outputs:
            continue
        try:
            score = gate.criterion.fn(plan.outputs[case.name], case, plan.spec, **gate.args_for(case))
        except Exception as exc:
            score = _crashed(plan, gate, exc)
        if score.value is not None and score.value < 0.999:
            found[case.name] = score
    return found


def _finish(plan: _Plan, model: str, judge: str) -> Evaluation:
    spec = plan.spec
    base = dict(exercise_id=spec.id, max_points=spec.points, pass_threshold=spec.pass_threshold, model=model,
                judge_model=judge, title=spec.title, hints=spec.hints,
                cases_run={"visible": sum(not c.hidden for c in plan.cases), "hidden": sum(c.hidden for c in plan.cases)})
    if plan.invalid is not None:
        return Evaluation(status="invalid", points=0.0, notes=[(" ".join(plan.invalid.localised("en")), " ".join(plan.invalid.localised("fr")))], **base)
    if plan.submission is None and plan.manual:
        return Evaluation(status="not_graded", points=None, flags=list(plan.flags), notes=list(plan.manual), **base)
    if plan.outage:
        cause = plan.outage.rstrip(". ")
        cause_fr, outage_fix_fr = plan.outage_fr or (cause, plan.outage_fix)
        cause_fr = cause_fr.rstrip(". ")
        fix_en = f" Fix: {plan.outage_fix}" if plan.outage_fix else ""
        fix_fr = f" Solution\u00a0: {outage_fix_fr}" if outage_fix_fr else ""
        if plan.all_cases:  # grading: a person must know it is pending, never a 0
            notes = [(f"Not graded yet: the model could not be reached ({cause}). This is not a score of 0.{fix_en}",
                      f"Pas encore noté\u00a0: le modèle était injoignable ({cause_fr}). Ce n'est pas une note de 0.{fix_fr}")]
        else:  # a practice check: what failed and what to do, no grading words
            notes = [(f"The model could not answer: {cause}.{fix_en}",
                      f"Le modèle n'a pas pu répondre\u00a0: {cause_fr}.{fix_fr}")]
        return Evaluation(status="not_graded", points=None, flags=[f"not graded: model outage ({plan.outage})"],
                          notes=notes, **base)
    assert plan.submission is not None
    results: list[CriterionResult] = []
    verdicts: dict[str, dict[str, CaseVerdict]] = {c.name: {} for c in plan.cases if not c.hidden}
    criteria = _criteria_to_run(plan)
    degenerate = _degenerate(plan, criteria)
    for cspec in criteria:
        crit = cspec.criterion
        if crit.family in ("prompt", "cases"):
            try:
                if crit.family == "prompt":
                    score = crit.fn(plan.submission, spec, **cspec.args)
                else:
                    pairs = [(c, plan.outputs[c.name]) for c in plan.cases
                             if c.name in plan.outputs and c.name not in plan.errors]
                    score = crit.fn(pairs, spec, **cspec.args)
            except Exception as exc:
                score = _crashed(plan, cspec, exc)
            if score.flag:
                plan.flag(score.flag)
            results.append(aggregate(spec, cspec, score))
            continue
        if cspec.use == "not_degenerate":
            scores = [(case, degenerate.get(case.name) or _case_score(plan, case, cspec, None))
                      for case in plan.cases if case.name not in plan.errors]
        else:
            scores = [(case, _case_score(plan, case, cspec, degenerate.get(case.name))) for case in plan.cases]
        reads = _reads_expected(cspec)
        label = {lang: cspec.label.get(lang) or crit.describe(cspec.args, lang) for lang in ("en", "fr")}
        for case, s in scores:
            if s.flag:
                plan.flag(s.flag)
            if not case.hidden:
                verdicts[case.name][cspec.key] = CaseVerdict(label, s.value, s.explanation, s.text("fr"), reads)
        results.append(aggregate(spec, cspec, scores))
    notes: list[tuple[str, str]] = list(plan.notes)
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
    if degenerate:
        notes.append((f"{len(degenerate)} output(s) were degenerate (a loop, a flood or no words) and score 0 on every criterion.",
                      f"{len(degenerate)} sortie(s) dégénérée(s) (boucle, répétition ou aucun mot) : 0 sur chaque critère."))
    outputs = [
        CaseOutput(c.name, dict(c.vars), c.expected, plan.outputs.get(c.name), plan.errors.get(c.name), verdicts[c.name],
                   dict(plan.steps.get(c.name, {})), c.turns)
        for c in plan.cases if not c.hidden
    ]
    flags = list(plan.flags)
    if plan.manual:
        return Evaluation(status="not_graded", points=None, criteria=results, flags=flags,
                          notes=notes + plan.manual, outputs=outputs, **base)
    points = combine(spec, results)
    if points is None:
        return Evaluation(status="not_graded", points=None, criteria=results, flags=flags + ["no criterion could be scored"],
                          notes=notes + [("No criterion could be scored, so this needs grading by hand.",
                                          "Aucun critère n'a pu être noté : une correction manuelle est nécessaire.")],
                          outputs=outputs, **base)
    failed_gates = [r for r in results if r.gate_failed]
    if failed_gates:
        names = ", ".join(r.label.get("en", r.name) for r in failed_gates)
        names_fr = ", ".join(r.label.get("fr", r.name) for r in failed_gates)
        notes.append((f"A required criterion failed ({names}), so the score is 0.",
                      f"Un critère obligatoire a échoué ({names_fr}) : la note est 0."))
    return Evaluation(status="graded", points=points, criteria=results, flags=flags, notes=notes, outputs=outputs, **base)

