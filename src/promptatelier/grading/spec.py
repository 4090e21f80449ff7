"""Exercise specs: one TOML file per exercise under graders/, validated on load.

Every mistake is a `SpecError` naming the file, the field and the fix. Hidden cases are read
only when grading asks for them (`spec.hidden_cases()`), from `[[hidden]]` in the spec or from
a sibling `<exercise>.hidden.toml`. graders/README.md documents the format for instructors.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import SpecError, SubmissionError
from .criteria import get_criterion, has_case_refs, parse_case_refs, resolve_args
from .template import find_placeholders

__all__ = [
    "Case",
    "CriterionSpec",
    "ModelSettings",
    "ExerciseSpec",
    "KINDS",
    "load_spec",
    "spec_path",
    "graders_root",
    "list_exercises",
    "clear_spec_cache",
]

KINDS = ("prompt", "template", "system_template", "messages", "system", "prefill", "conversation", "chain",
         "eval_cases", "eval_rubric")
# kinds where the learner writes an evaluation (test cases, a rubric), scored by mutation testing
EVAL_KINDS = ("eval_cases", "eval_rubric")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*$")
PLACEHOLDER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = {
    "id", "title", "instructions", "points", "kind", "placeholders", "variable", "pass_threshold",
    "hints", "model", "cases", "hidden", "criteria", "reference", "baseline", "capable_model",
    "max_chars", "tags", "released", "user_turn", "reference_fr", "baseline_fr", "steps",
    "task", "mutants", "hidden_mutants", "min_cases",
}
_CRITERION_KEYS = {"use", "weight", "hint", "gate", "label", "name", "step"}
_MODEL_KEYS = {"temperature", "max_tokens", "json_schema", "json_schema_file", "stop", "seed", "seeds"}
_STEP_KEYS = {"name", "placeholders", "max_tokens", "json_schema", "stop", "tool"}
_CASE_KEYS = {"name", "vars", "expected", "lang", "turns"}
LANGS = ("en", "fr")


@dataclass(frozen=True)
class Case:
    """One input of an exercise: template variables and, where the task has one, the answer."""

    name: str
    vars: dict[str, str]
    expected: Any = None
    hidden: bool = False
    # a case for one course language only ("en" or "fr"); None: both
    lang: str | None = None
    # a conversation's user turns, in order (kind "conversation")
    turns: tuple[str, ...] = ()
    # the seed of this run when the exercise runs each case under several seeds ([model] seeds)
    seed: int | None = None
    # set by the runner for the criteria: the text the model received for this case (system
    # prompt and messages), so a criterion can tell what the model was given from what it made up
    prompt: str = ""

    @property
    def has_expected(self) -> bool:
        return self.expected is not None

    def __repr__(self) -> str:  # a hidden case never shows its content, even in a traceback
        if self.hidden:
            return f"Case({self.name!r}, hidden)"
        return f"Case({self.name!r}, vars={self.vars!r}, expected={self.expected!r})"


@dataclass(frozen=True)
class CriterionSpec:
    use: str
    weight: float = 1.0
    args: dict[str, Any] = field(default_factory=dict)
    hint: dict[str, str] = field(default_factory=dict)
    label: dict[str, str] = field(default_factory=dict)
    gate: bool = False
    # unique within the spec: the `name` given, else `use` (then use#2, use#3... for repeats);
    # per-case verdicts and reports are keyed by it
    key: str = ""
    # a gate fails below this score (the built-in gates tolerate a few bad cases)
    gate_below: float = 0.999
    # score this step's output (a chain step's name, or "turn1"... of a conversation), not the last
    step: str | None = None

    @property
    def criterion(self):  # noqa: ANN201 - a Criterion
        return get_criterion(self.use)

    def args_for(self, case: Case) -> dict[str, Any]:
        """The arguments with those taken from the case filled in (raises SpecError)."""
        return resolve_args(self.args, case)


@dataclass(frozen=True)
class ModelSettings:
    temperature: float = 0.0
    max_tokens: int = 200
    json_schema: dict[str, Any] | None = None
    stop: tuple[str, ...] = ()
    seed: int = 0
    # run every case once per seed, at `temperature`: a pass rate over seeds, not one lucky draw
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Mutant:
    """A faulty version of the task's prompt that a learner's evaluation must catch."""

    name: str
    prompt: Any
    hidden: bool = False


@dataclass(frozen=True)
class Step:
    """One step of a chain: the learner writes its template; `placeholders` are the names it
    must use (the case's vars and earlier steps' outputs, by step name); a `tool` step makes the
    model call a function: its reply is a JSON object {"tool": name, "arguments": {...}}. A tool
    with a `result` text stands for a scripted function: its reply to the call (the text filled
    with the call's arguments, then the case's vars) reaches later steps as {<name>_result}."""

    name: str
    placeholders: tuple[str, ...] = ()
    max_tokens: int | None = None
    json_schema: dict[str, Any] | None = None
    stop: tuple[str, ...] = ()
    tool: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExerciseSpec:
    id: str
    title: dict[str, str]
    instructions: dict[str, str]
    points: float
    kind: str
    cases: tuple[Case, ...]
    criteria: tuple[CriterionSpec, ...]
    pass_threshold: float
    hints: dict[str, str]
    reference: Any
    baseline: Any
    placeholders: tuple[str, ...] = ()
    variable: str = "PROMPT"
    model: ModelSettings = field(default_factory=ModelSettings)
    capable_model: bool = False
    max_chars: int = 6000
    tags: tuple[str, ...] = ()
    path: Path | None = None
    # a learner's copy made by `atelier release`: no hidden cases, no reference, no baseline
    released: bool = False
    # kind "system": the user turn each case sends, filled with the case's vars
    user_turn: str = "{user}"
    # the French course's own reference and baseline, when the task is bound to the language
    reference_fr: Any = None
    baseline_fr: Any = None
    # kind "chain": the steps, in order; the last one's output is graded unless a criterion says
    steps: tuple[Step, ...] = ()
    # eval kinds: the task whose prompt the learner's evaluation tests (an exercise of its own:
    # kind, placeholders, model, the correct prompt as its reference, and for eval_cases its
    # rubric, for eval_rubric its cases), the faulty prompts to catch, and how many cases a
    # learner's test set needs
    task: ExerciseSpec | None = None
    mutants: tuple[Mutant, ...] = ()
    min_cases: int = 0
    # the built-in gates (not_degenerate, not_constant, not_echo); off for a task whose own rubric
    # is what a learner's evaluation is measured on
    builtin_gates: bool = True

    def hidden_mutants(self) -> tuple[Mutant, ...]:
        """The faulty prompts kept for grading (read now; never shown to learners)."""
        if self.path is None or self.released or self.kind not in EVAL_KINDS:
            return ()
        return _load_hidden_mutants(str(self.path), self.path.stat().st_mtime_ns)

    @property
    def languages(self) -> tuple[str | None, ...]:
        """The course languages calibration runs apart: ("en", "fr") when some case or the
        reference belongs to one language, else (None,) (every case in one run)."""
        split = self.reference_fr is not None or any(c.lang for c in self.cases)
        return ("en", "fr") if split else (None,)

    def reference_for(self, lang: str | None) -> Any:
        return self.reference_fr if lang == "fr" and self.reference_fr is not None else self.reference

    def baseline_for(self, lang: str | None) -> Any:
        return self.baseline_fr if lang == "fr" and self.baseline_fr is not None else self.baseline

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]

    def hidden_cases(self) -> tuple[Case, ...]:
        """The hidden cases, read from disk now (grading only; never shown to learners)."""
        if self.path is None or self.released:
            return ()
        sibling = self.path.with_name(f"{self.path.stem}.hidden.toml")
        stamps = tuple(p.stat().st_mtime_ns if p.is_file() else 0 for p in (self.path, sibling))
        cases = _load_hidden(str(self.path), stamps)
        where = self.path if not sibling.is_file() else sibling
        if self.kind == "conversation" and not all(c.turns for c in cases):
            raise SpecError(f"{where}: field 'hidden': every case of a conversation needs its user turns.",
                            'Give each hidden case turns = ["...", "..."].')
        _check_case_args(self, cases, where)
        return cases

    def cases_for(self, lang: str | None, hidden: bool = False) -> tuple[Case, ...]:
        """The cases a course in `lang` runs: those for every language and those for `lang`."""
        pool = (*self.cases, *self.hidden_cases()) if hidden else self.cases
        return tuple(c for c in pool if c.lang is None or lang is None or c.lang == lang)

    def expected_answers(self) -> list[Any]:
        return [c.expected for c in (*self.cases, *self.hidden_cases()) if c.has_expected]

    def __repr__(self) -> str:
        return f"ExerciseSpec({self.id!r}, kind={self.kind!r}, points={self.points})"


def graders_root(graders_dir: str | Path | None = None) -> Path:
    """The folder holding the specs: the argument, else `settings().graders_dir`."""
    root = graders_dir or settings().graders_dir
    if not root:
        raise SpecError(
            "No graders folder is configured.",
            "Set [course] graders in atelier.toml or the ATELIER_GRADERS environment variable.",
        )
    path = Path(root)
    if not path.is_dir():
        raise SpecError(
            f"The graders folder {path} does not exist.",
            "Point [course] graders in atelier.toml (or ATELIER_GRADERS) to the folder of exercise specs.",
        )
    return path


def spec_path(exercise_id: str, graders_dir: str | Path | None = None) -> Path:
    if not isinstance(exercise_id, str) or not ID_RE.match(exercise_id):
        raise SpecError(
            f"{exercise_id!r} is not an exercise id.",
            "Exercise ids look like 'm06.sentiment': the module folder, a dot, the file name without .toml.",
        )
    module, name = exercise_id.split(".", 1)
    path = graders_root(graders_dir) / module / f"{name}.toml"
    if not path.is_file():
        raise SpecError(
            f"There is no exercise {exercise_id!r}: {path} does not exist.",
            "Check the id in the notebook cell, or write the spec file (see graders/README.md).",
        )
    return path


def list_exercises(graders_dir: str | Path | None = None) -> list[str]:
    """The ids of every spec under the graders folder, sorted."""
    root = graders_root(graders_dir)
    ids = []
    for path in sorted(root.glob("*/*.toml")):
        if not path.name.endswith(".hidden.toml"):
            ids.append(f"{path.parent.name}.{path.stem}")
    return ids


def load_spec(exercise: str | Path | ExerciseSpec, graders_dir: str | Path | None = None) -> ExerciseSpec:
    """The validated spec for an exercise id (or a path to a spec file). Raises SpecError."""
    if isinstance(exercise, ExerciseSpec):
        return exercise
    if isinstance(exercise, Path) or (isinstance(exercise, str) and exercise.endswith(".toml")):
        path = Path(exercise).resolve()
        if not path.is_file():
            raise SpecError(f"The spec file {path} does not exist.", "Give the path of an existing .toml spec.")
    else:
        path = spec_path(exercise, graders_dir).resolve()
    stamp = path.stat().st_mtime_ns
    return _load_cached(str(path), stamp)


def clear_spec_cache() -> None:
    _load_cached.cache_clear()
    _load_hidden.cache_clear()


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}.", "Correct the line it names.") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path} is not UTF-8 text.", "Save the file as UTF-8.") from exc


class _Checker:
    """Field checks that name the file and the field in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, fieldname: str, problem: str, fix: str) -> SpecError:
        return SpecError(f"{self.path}: field '{fieldname}': {problem}", fix)

    def text_pair(self, data: dict[str, Any], key: str, required: bool = True) -> dict[str, str]:
        value = data.get(key)
        if value is None and not required:
            return {}
        if isinstance(value, str) and value.strip():
            return {"en": value, "fr": value}
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k].strip() for k in ("en", "fr")):
            raise self.fail(
                key,
                f"needs an English and a French text, got {value!r:.80}.",
                f'Write [{key}] with en = "..." and fr = "..." (both non-empty).',
            )
        return {"en": value["en"], "fr": value["fr"]}

    def number(self, data: dict[str, Any], key: str, default: float | None, low: float, high: float | None) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be a number {bounds}, got {value!r}.", f"Set {key} to a number {bounds}.")
        return float(value)


def _strings(value: Any) -> bool:
    return isinstance(value, str)


def _check_submission_shape(chk: _Checker, kind: str, value: Any, fieldname: str) -> Any:
    ok = (
        (kind in ("prompt", "template") and isinstance(value, str) and value.strip())
        or (kind == "system_template" and isinstance(value, dict) and set(value) == {"system", "user"}
            and all(_strings(v) for v in value.values()))
        or (kind == "messages" and isinstance(value, list) and value
            and all(isinstance(m, dict) and set(m) == {"role", "content"} and m["role"] in ("system", "user", "assistant")
                    and _strings(m["content"]) for m in value))
        or (kind in ("system", "conversation") and isinstance(value, str) and value.strip())
        or (kind == "chain" and isinstance(value, dict) and value and all(_strings(v) for v in value.values()))
        or (kind in EVAL_KINDS and isinstance(value, list) and value and all(isinstance(v, dict) for v in value))
        or (kind == "prefill" and isinstance(value, dict) and {"user", "prefill"} <= set(value) <= {"system", "user", "prefill"}
            and all(_strings(v) for v in value.values()))
    )
    if not ok:
        shapes = {
            "prompt": f'{fieldname} = """the prompt"""',
            "template": f'{fieldname} = """a template using {{placeholders}}"""',
            "system_template": f'[{fieldname}] with system = "..." and user = "..."',
            "messages": f'{fieldname} = [{{ role = "system", content = "..." }}, {{ role = "user", content = "..." }}]',
            "system": f'{fieldname} = """the system prompt"""',
            "conversation": f'{fieldname} = """the system prompt of the conversation"""',
            "chain": f'[{fieldname}] with one template per step: <step name> = """..."""',
            "eval_cases": f'{fieldname} = [{{ <placeholder> = "...", expected = ... }}, ...] (test cases)',
            "eval_rubric": f'{fieldname} = [{{ use = "<criterion>", <its arguments> }}, ...] (a rubric)',
            "prefill": f'[{fieldname}] with user = "..." and prefill = "..." (and optionally system = "...")',
        }
        missing = " is missing or" if value is None else ""
        raise chk.fail(
            fieldname, f"{missing} does not fit the submission kind {kind!r}.",
            f"Write it as {shapes[kind]}, above the first [table] or [[array]] of the file (in TOML a key "
            "written after a table header belongs to that table).",
        )
    return value


def _parse_cases(chk: _Checker, raw: Any, fieldname: str, hidden: bool, placeholders: tuple[str, ...] | list[str]) -> tuple[Case, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise chk.fail(fieldname, "must be an array of tables.", f"Write each case as [[{fieldname}]] with vars = {{...}}.")
    cases = []
    for i, item in enumerate(raw):
        where = f"{fieldname}[{i}]"
        extra = set(item) - _CASE_KEYS
        if extra:
            raise chk.fail(where, f"unknown key(s) {sorted(extra)}.", f"A case has only {sorted(_CASE_KEYS)}.")
        variables = item.get("vars", {})
        if not isinstance(variables, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
            raise chk.fail(f"{where}.vars", "must map placeholder names to strings.", 'Write vars = { review = "..." }.')
        missing = [p for p in placeholders if p not in variables]
        if missing:
            raise chk.fail(
                f"{where}.vars",
                f"has no value for the placeholder(s) {missing}.",
                f"Give every case a value for each of {list(placeholders)}.",
            )
        name = item.get("name", f"{'hidden' if hidden else 'case'}-{i + 1}")
        if not isinstance(name, str) or not name:
            raise chk.fail(f"{where}.name", "must be a non-empty string.", 'Write name = "short-positive".')
        turns = item.get("turns", [])
        if not isinstance(turns, list) or not all(isinstance(t, str) and t.strip() for t in turns):
            raise chk.fail(f"{where}.turns", "must be a list of non-empty texts (the user's turns, in order).",
                           'Write turns = ["Hello, my order is A-17.", "It has not arrived.", "What was my order number?"].')
        lang = item.get("lang")
        if lang is not None and lang not in LANGS:
            raise chk.fail(f"{where}.lang", f"is {lang!r}.", f'Write lang = "en" or "fr" for a case of one course language, or leave it out.')
        cases.append(Case(name=name, vars=dict(variables), expected=item.get("expected"), hidden=hidden, lang=lang,
                          turns=tuple(turns)))
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise chk.fail(fieldname, "two cases have the same name.", "Give each case a distinct name.")
    return tuple(cases)


def _parse_criteria(chk: _Checker, raw: Any) -> tuple[CriterionSpec, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        raise chk.fail(
            "criteria", "needs at least one [[criteria]] table.",
            'Add [[criteria]] with use = "<criterion name>", weight = 1 and the criterion\'s arguments.',
        )
    out = []
    for i, item in enumerate(raw):
        where = f"criteria[{i}]"
        use = item.get("use")
        if not isinstance(use, str):
            raise chk.fail(f"{where}.use", "is missing.", 'Name a registered criterion: use = "contains".')
        try:
            crit = get_criterion(use)
        except SpecError as exc:
            raise chk.fail(f"{where}.use", exc.problem, exc.fix) from None
        weight = chk.number(item, "weight", 1.0, 0.0, None) if "weight" in item else 1.0
        args = {k: v for k, v in item.items() if k not in _CRITERION_KEYS}
        if isinstance(item.get("args"), dict):
            args = {**{k: v for k, v in args.items() if k != "args"}, **item["args"]}
        try:
            args = parse_case_refs(args)
            crit.check_args(args)
        except ValueError as exc:
            raise chk.fail(where, f"{exc}.", "Fix the criterion's arguments; graders/README.md lists each criterion's arguments.") from None
        if has_case_refs(args) and crit.family in ("prompt", "cases"):
            raise chk.fail(where, f"'{use}' is scored once for all cases, so its arguments cannot come from a case.",
                           "Give it plain values.")
        key = item.get("name", "")
        if key and (not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", key)):
            raise chk.fail(f"{where}.name", f"must be a short identifier, got {key!r}.", 'Write name = "order-id".')
        if not key:
            key = use if not any(c.use == use for c in out) else f"{use}#{1 + sum(c.use == use for c in out)}"
        if any(c.key == key for c in out):
            raise chk.fail(f"{where}.name", f"two criteria are named {key!r}.", "Give each criterion a distinct name.")
        hint = chk.text_pair(item, "hint", required=False)
        label = chk.text_pair(item, "label", required=False)
        gate = item.get("gate", crit.gate)
        if not isinstance(gate, bool):
            raise chk.fail(f"{where}.gate", "must be true or false.", "Write gate = true or remove it.")
        step = item.get("step")
        if step is not None and (not isinstance(step, str) or not step.isidentifier()):
            raise chk.fail(f"{where}.step", f"must name a step, got {step!r}.", 'Write step = "extract" (a chain step) or "turn1".')
        if step is not None and crit.family != "output":
            raise chk.fail(f"{where}.step", f"'{use}' is not scored on an output, so it takes no step.", "Remove step.")
        out.append(CriterionSpec(use=use, weight=weight, args=args, hint=hint, label=label, gate=gate, key=key, step=step))
    if sum(c.weight for c in out) <= 0:
        raise chk.fail("criteria", "all weights are 0.", "Give at least one criterion a positive weight.")
    return tuple(out)


def _parse_model(chk: _Checker, raw: Any, folder: Path) -> ModelSettings:
    if raw is None:
        return ModelSettings()
    if not isinstance(raw, dict):
        raise chk.fail("model", "must be a table.", "Write [model] with temperature, max_tokens...")
    extra = set(raw) - _MODEL_KEYS
    if extra:
        raise chk.fail("model", f"unknown key(s) {sorted(extra)}.", f"[model] accepts {sorted(_MODEL_KEYS)}.")
    schema = raw.get("json_schema")
    if "json_schema_file" in raw:
        file = folder / str(raw["json_schema_file"])
        try:
            schema = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise chk.fail("model.json_schema_file", f"cannot be read as JSON ({exc}).", "Give the path, relative to the spec, of a JSON Schema file.") from None
    if schema is not None:
        _check_schema(chk, schema, "model.json_schema")
    stop = raw.get("stop", ())
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
        raise chk.fail("model.stop", "must be a string or a list of strings.", 'Write stop = ["\\n\\n"].')
    seeds = raw.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in seeds) \
            or len(set(seeds)) != len(seeds):
        raise chk.fail("model.seeds", f"must be a list of distinct whole numbers, got {seeds!r}.", "Write seeds = [1, 2, 3, 4, 5].")
    return ModelSettings(
        temperature=chk.number(raw, "temperature", 0.0, 0.0, 2.0),
        max_tokens=int(chk.number(raw, "max_tokens", 200, 1, 4096)),
        json_schema=schema,
        stop=tuple(stop),
        seed=int(chk.number(raw, "seed", 0, 0, None)),
        seeds=tuple(seeds),
    )


def _parse_steps(chk: _Checker, raw: Any, kind: str, placeholders: tuple[str, ...]) -> tuple[Step, ...]:
    if kind != "chain":
        if raw is not None:
            raise chk.fail("steps", f"only a 'chain' exercise has steps; this one is {kind!r}.", 'Remove steps, or write kind = "chain".')
        return ()
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(s, dict) for s in raw):
        raise chk.fail("steps", "a chain needs at least two [[steps]] tables.",
                       'Write [[steps]] name = "extract" ..., then [[steps]] name = "reply" placeholders = ["extract"].')
    steps: list[Step] = []
    for i, item in enumerate(raw):
        where = f"steps[{i}]"
        extra = set(item) - _STEP_KEYS
        if extra:
            raise chk.fail(where, f"unknown key(s) {sorted(extra)}.", f"A step has only {sorted(_STEP_KEYS)}.")
        name = item.get("name")
        if not isinstance(name, str) or not PLACEHOLDER_RE.match(name) or name in placeholders or any(s.name == name for s in steps):
            raise chk.fail(f"{where}.name", f"must be a new identifier (not a case placeholder), got {name!r}.", 'Write name = "extract".')
        known = (*placeholders, *(n for s in steps for n in (s.name, *([f"{s.name}_result"] if s.tool and "result" in s.tool else []))))
        needs = item.get("placeholders", [])
        if not isinstance(needs, list) or not all(isinstance(p, str) and p in known for p in needs):
            raise chk.fail(f"{where}.placeholders", f"may only name the case's placeholders and earlier steps {list(known)}.",
                           f'Write placeholders = ["{known[-1]}"].')
        schema = item.get("json_schema")
        if schema is not None:
            _check_schema(chk, schema, f"{where}.json_schema")
        tool = item.get("tool")
        if tool is not None:
            if not (isinstance(tool, dict) and isinstance(tool.get("name"), str) and PLACEHOLDER_RE.match(tool["name"])
                    and isinstance(tool.get("description", ""), str) and isinstance(tool.get("parameters"), dict)):
                raise chk.fail(f"{where}.tool", "must be a table with name, description and parameters (a JSON schema).",
                               'Write tool = { name = "lookup_order", description = "...", parameters = { type = "object", ... } }.')
            _check_schema(chk, tool["parameters"], f"{where}.tool.parameters")
            _check_tool_result(chk, where, name, tool, placeholders)
            if schema is not None:
                raise chk.fail(where, "a tool step's reply is the call itself: it takes no json_schema.", "Remove json_schema.")
        stop = item.get("stop", [])
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(x, str) for x in stop):
            raise chk.fail(f"{where}.stop", "must be a string or a list of strings.", 'Write stop = ["\\n\\n"].')
        max_tokens = item.get("max_tokens")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096):
            raise chk.fail(f"{where}.max_tokens", f"must be a whole number from 1 to 4096, got {max_tokens!r}.", "Write max_tokens = 120.")
        steps.append(Step(name, tuple(needs), max_tokens, schema, tuple(stop), tool))
    return tuple(steps)


def _check_tool_result(chk: _Checker, where: str, name: str, tool: dict[str, Any], placeholders: tuple[str, ...]) -> None:
    """A tool's scripted `result` is a text filled with the call's arguments and the case's vars;
    later steps read it as {<step>_result}."""
    extra = set(tool) - {"name", "description", "parameters", "result"}
    if extra:
        raise chk.fail(f"{where}.tool", f"unknown key(s) {sorted(extra)}.", "A tool has name, description, parameters and result.")
    if "result" not in tool:
        return
    result = tool["result"]
    arguments = tuple(tool["parameters"].get("properties", {}))
    if not isinstance(result, str) or not result.strip():
        raise chk.fail(f"{where}.tool.result", "must be a non-empty text (what the function returns).",
                       'Write result = "Order {order_id}: {status}" ({names} from the call\'s arguments or the case\'s vars).')
    unknown = [p for p in find_placeholders(result) if p not in (*arguments, *placeholders)]
    if unknown:
        raise chk.fail(f"{where}.tool.result", f"uses {unknown}, which is neither an argument of the tool {list(arguments)} "
                       f"nor a placeholder of the cases {list(placeholders)}.",
                       "Use only the tool's parameters and the declared placeholders in result.")
    if f"{name}_result" in placeholders:
        raise chk.fail(f"{where}.name", f"the result is read as {{{name}_result}}, which is already a case placeholder.",
                       "Rename the step or the placeholder.")


def _check_schema(chk: _Checker, schema: Any, fieldname: str) -> None:
    import jsonschema

    if not isinstance(schema, dict):
        raise chk.fail(fieldname, "must be a JSON Schema object.", 'Write for example { type = "object", properties = {...} }.')
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise chk.fail(fieldname, f"is not a valid JSON Schema: {exc.message}.", "Correct the schema (see json-schema.org).") from None


def _case_vars_needed(kind: str, placeholders: tuple[str, ...], user_turn: str) -> tuple[str, ...]:
    """The vars every case must carry: the template's placeholders, and for a `system` exercise
    those of the user turn."""
    if kind != "system":
        return placeholders
    return tuple(dict.fromkeys((*placeholders, *find_placeholders(user_turn))))


def _check_case_args(spec: ExerciseSpec, cases: tuple[Case, ...], path: Path | None) -> None:
    """Arguments taken from the case must exist in every case and have the criterion's types."""
    for cspec in spec.criteria:
        if not has_case_refs(cspec.args):
            continue
        for case in cases:
            try:
                cspec.criterion.check_resolved(cspec.args_for(case))
            except SpecError as exc:
                raise SpecError(f"{path}: criterion '{cspec.key}': {exc.problem}", exc.fix) from None
            except ValueError as exc:
                raise SpecError(
                    f"{path}: criterion '{cspec.key}', case {case.name!r}: {exc}.",
                    "Fix the case's value, or the criterion's argument; graders/README.md lists each criterion's arguments.",
                ) from None


def _check_submission(spec: ExerciseSpec, chk: _Checker, fieldname: str) -> None:
    """The reference and baseline must be submissions grading accepts, by grading's own rules."""
    from .submission import normalise

    try:
        normalise(spec, getattr(spec, fieldname))
    except SubmissionError as exc:
        raise chk.fail(fieldname, f"would be rejected when graded: {exc.problem}", exc.fix) from None


@lru_cache(maxsize=256)
def _load_cached(path_str: str, stamp: int) -> ExerciseSpec:
    path = Path(path_str)
    data = _read(path)
    chk = _Checker(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise chk.fail(", ".join(sorted(unknown)), "is not a spec field.", f"Remove it; spec fields are {sorted(_TOP_KEYS)}.")
    exercise_id = data.get("id")
    expected_id = f"{path.parent.name}.{path.stem}"
    if not isinstance(exercise_id, str) or not ID_RE.match(exercise_id):
        raise chk.fail("id", f"must look like 'm06.sentiment', got {exercise_id!r}.", f'Write id = "{expected_id}".')
    if exercise_id != expected_id:
        raise chk.fail("id", f"is {exercise_id!r} but the file's place says {expected_id!r}.", f'Write id = "{expected_id}" or move the file to graders/{exercise_id.replace(".", "/")}.toml.')
    kind = data.get("kind", "prompt")
    if kind not in KINDS:
        raise chk.fail("kind", f"is {kind!r}.", f"Use one of {KINDS}.")
    placeholders = data.get("placeholders", [])
    if not isinstance(placeholders, list) or not all(isinstance(p, str) and PLACEHOLDER_RE.match(p) for p in placeholders):
        raise chk.fail("placeholders", "must be a list of identifiers.", 'Write placeholders = ["review"].')
    if kind == "prompt" and placeholders:
        raise chk.fail("placeholders", "a plain prompt has no placeholders.", 'Use kind = "template", or remove placeholders.')
    if kind in ("template", "system_template", "prefill") and not placeholders:
        raise chk.fail("placeholders", f"a {kind} exercise needs the names its template fills.", 'Write placeholders = ["review"].')
    placeholders = tuple(placeholders)
    user_turn = data.get("user_turn", "{user}")
    if "user_turn" in data and kind != "system":
        raise chk.fail("user_turn", f"only a 'system' exercise has a user turn; this one is {kind!r}.", "Remove user_turn.")
    if not isinstance(user_turn, str) or not find_placeholders(user_turn):
        raise chk.fail("user_turn", f"must be a text with at least one {{placeholder}}, got {user_turn!r}.",
                       'Write user_turn = "{message}" and give each case vars = { message = "..." }.')
    needed = _case_vars_needed(kind, placeholders, user_turn)
    steps = _parse_steps(chk, data.get("steps"), kind, placeholders)
    variable = data.get("variable", "PROMPT")
    if not isinstance(variable, str) or not variable.isidentifier():
        raise chk.fail("variable", "must be a Python identifier.", 'Write variable = "PROMPT".')
    cases = _parse_cases(chk, data.get("cases"), "cases", False, needed)
    if not cases and kind not in EVAL_KINDS:
        raise chk.fail("cases", "there is no visible case.", "Add at least one [[cases]] table so learners can check their work.")
    if kind in EVAL_KINDS and (cases or data.get("criteria") or data.get("hidden")):
        raise chk.fail("cases, criteria, hidden", "an evaluation exercise has its cases and rubric in [task].",
                       "Move them under [task] ([[task.cases]], [[task.criteria]]); the kit scores the evaluation itself.")
    released = data.get("released", False)
    if not isinstance(released, bool):
        raise chk.fail("released", "must be true or false.", "Leave it out: `atelier release` writes it in learners' copies.")
    if released and "hidden" in data:
        raise chk.fail("hidden", "a released spec must not hold hidden cases.", "Make learners' copies with `atelier release`.")
    reference_fr = baseline_fr = None
    if released:
        reference = baseline = None  # learners' copies keep neither: the reference is a solution
    else:
        reference = _check_submission_shape(chk, kind, data.get("reference"), "reference")
        baseline = _check_submission_shape(chk, kind, data.get("baseline"), "baseline")
        if "reference_fr" in data:
            reference_fr = _check_submission_shape(chk, kind, data["reference_fr"], "reference_fr")
        if "baseline_fr" in data:
            baseline_fr = _check_submission_shape(chk, kind, data["baseline_fr"], "baseline_fr")
    max_chars = int(chk.number(data, "max_chars", 6000, 50, None))
    capable = data.get("capable_model", False)
    if not isinstance(capable, bool):
        raise chk.fail("capable_model", "must be true or false.", "Write capable_model = true for exercises the embedded model cannot pass.")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise chk.fail("tags", "must be a list of strings.", 'Write tags = ["classification"].')
    spec = ExerciseSpec(
        id=exercise_id,
        title=chk.text_pair(data, "title"),
        instructions=chk.text_pair(data, "instructions"),
        points=chk.number(data, "points", None, 0.0, None),
        kind=kind,
        cases=cases,
        criteria=() if kind in EVAL_KINDS else _parse_criteria(chk, data.get("criteria")),
        pass_threshold=chk.number(data, "pass_threshold", 0.7, 0.0, 1.0),
        hints=chk.text_pair(data, "hints", required=False),
        reference=reference,
        baseline=baseline,
        placeholders=placeholders,
        variable=variable,
        model=_parse_model(chk, data.get("model"), path.parent),
        capable_model=capable,
        max_chars=max_chars,
        tags=tuple(tags),
        path=path,
        released=released,
        user_turn=user_turn,
        reference_fr=reference_fr,
        baseline_fr=baseline_fr,
        steps=steps,
    )
    if kind in EVAL_KINDS:
        spec = replace(spec, **_parse_eval(chk, data, spec, path))
    elif any(k in data for k in ("task", "mutants", "hidden_mutants", "min_cases")):
        raise chk.fail("task, mutants", f"only an evaluation exercise ({', '.join(EVAL_KINDS)}) has them.", "Remove them.")
    if spec.points <= 0:
        raise chk.fail("points", "must be more than 0.", "Write points = 2 (the test cell's points).")
    if kind == "conversation" and not all(c.turns for c in cases):
        raise chk.fail("cases", "every case of a conversation needs its user turns.", 'Give each case turns = ["...", "..."].')
    known_steps = {s.name for s in steps} | ({f"turn{i + 1}" for c in cases for i in range(len(c.turns))} if kind == "conversation" else set())
    for i, cspec in enumerate(spec.criteria):
        if cspec.step is not None and cspec.step not in known_steps:
            raise chk.fail(f"criteria[{i}].step", f"names no step of this exercise ({cspec.step!r}).",
                           f"Use one of {sorted(known_steps)}, or remove step to score the final output.")
    if not released:
        for fieldname in ("reference", "baseline", "reference_fr", "baseline_fr"):
            if getattr(spec, fieldname) is not None:
                _check_submission(spec, chk, fieldname)
    _check_case_args(spec, spec.cases, path)
    return spec


def _parse_mutants(chk: _Checker, raw: Any, fieldname: str, task: ExerciseSpec, hidden: bool) -> tuple[Mutant, ...]:
    from .submission import normalise

    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise chk.fail(fieldname, "must be an array of tables.", f'Write [[{fieldname}]] with name = "..." and prompt = "...".')
    out = []
    for i, item in enumerate(raw):
        name = item.get("name")
        if not isinstance(name, str) or not name or set(item) - {"name", "prompt"}:
            raise chk.fail(f"{fieldname}[{i}]", "needs exactly a name and a prompt.", 'Write name = "ignores-input" and prompt = "...".')
        prompt = _check_submission_shape(chk, task.kind, item.get("prompt"), f"{fieldname}[{i}].prompt")
        try:
            normalise(task, prompt)
        except SubmissionError as exc:
            raise chk.fail(f"{fieldname}[{i}].prompt", exc.problem, exc.fix) from None
        out.append(Mutant(name, prompt, hidden))
    return tuple(out)


def _parse_eval(chk: _Checker, data: dict[str, Any], spec: ExerciseSpec, path: Path) -> dict[str, Any]:
    """The task, mutants and case count of an evaluation exercise."""
    raw = data.get("task")
    if not isinstance(raw, dict):
        raise chk.fail("task", "is missing: an evaluation exercise tests a task's prompt.",
                       '[task] with kind, placeholders, prompt, model and (eval_cases) [[task.criteria]] or (eval_rubric) [[task.cases]].')
    extra = set(raw) - {"kind", "placeholders", "prompt", "model", "criteria", "cases", "hidden", "pass_threshold"}
    if extra:
        raise chk.fail("task", f"unknown key(s) {sorted(extra)}.", "[task] holds kind, placeholders, prompt, model, criteria, cases, hidden, pass_threshold.")
    kind = raw.get("kind", "template")
    if kind in EVAL_KINDS or kind not in KINDS or kind in ("conversation", "chain"):
        raise chk.fail("task.kind", f"is {kind!r}.", 'Use a one-request kind: "template", "system_template", "messages" or "prompt".')
    placeholders = raw.get("placeholders", [])
    if not isinstance(placeholders, list) or not all(isinstance(p, str) and PLACEHOLDER_RE.match(p) for p in placeholders):
        raise chk.fail("task.placeholders", "must be a list of identifiers.", 'Write placeholders = ["review"].')
    placeholders = tuple(placeholders)
    learner_writes_cases = spec.kind == "eval_cases"
    if learner_writes_cases and raw.get("cases"):
        raise chk.fail("task.cases", "the learner writes the cases of an eval_cases exercise.", "Remove [[task.cases]].")
    if not learner_writes_cases and raw.get("criteria"):
        raise chk.fail("task.criteria", "the learner writes the rubric of an eval_rubric exercise.", "Remove [[task.criteria]].")
    cases = () if learner_writes_cases else _parse_cases(chk, raw.get("cases"), "task.cases", False, placeholders)
    if not learner_writes_cases and not cases:
        raise chk.fail("task.cases", "the learner's rubric needs cases to run on.", "Add [[task.cases]] tables.")
    hidden = () if learner_writes_cases else _parse_cases(chk, raw.get("hidden"), "task.hidden", True, placeholders)
    criteria = _parse_criteria(chk, raw.get("criteria")) if learner_writes_cases else ()
    task = ExerciseSpec(
        id=f"{spec.id}/task", title=spec.title, instructions=spec.instructions, points=1.0, kind=kind,
        cases=(*cases, *hidden), criteria=criteria, pass_threshold=chk.number(raw, "pass_threshold", 1.0, 0.0, 1.0),
        hints={}, reference=None, baseline=None, placeholders=placeholders,
        model=_parse_model(chk, raw.get("model"), path.parent), builtin_gates=False,
    )
    prompt = _check_submission_shape(chk, kind, raw.get("prompt"), "task.prompt")
    task = replace(task, reference=prompt)
    _check_submission(task, chk, "reference")
    mutants = _parse_mutants(chk, data.get("mutants"), "mutants", task, False)
    if not mutants:
        raise chk.fail("mutants", "there is no faulty prompt to catch.", 'Add [[mutants]] with name and prompt (a subtly wrong version of the task\'s prompt).')
    if not spec.released:
        _parse_mutants(chk, data.get("hidden_mutants"), "hidden_mutants", task, True)
    min_cases = int(chk.number(data, "min_cases", 3 if learner_writes_cases else 0, 0, 50))
    return {"task": task, "mutants": mutants, "min_cases": min_cases}


@lru_cache(maxsize=64)
def _load_hidden_mutants(path_str: str, stamp: int) -> tuple[Mutant, ...]:
    path = Path(path_str)
    spec = load_spec(path)
    assert spec.task is not None
    return _parse_mutants(_Checker(path), _read(path).get("hidden_mutants"), "hidden_mutants", spec.task, True)


@lru_cache(maxsize=256)
def _load_hidden(path_str: str, stamps: tuple[int, ...]) -> tuple[Case, ...]:
    path = Path(path_str)
    data = _read(path)
    chk = _Checker(path)
    kind = data.get("kind", "prompt")
    needed = _case_vars_needed(kind, tuple(data.get("placeholders", [])), data.get("user_turn", "{user}"))
    cases = list(_parse_cases(chk, data.get("hidden"), "hidden", True, needed))
    sibling = path.with_name(f"{path.stem}.hidden.toml")
    if sibling.is_file():
        extra = _read(sibling)
        schk = _Checker(sibling)
        unknown = set(extra) - {"hidden"}
        if unknown:
            raise schk.fail(", ".join(sorted(unknown)), "is not allowed in a hidden-cases file.", "Keep only [[hidden]] tables there.")
        cases.extend(_parse_cases(schk, extra.get("hidden"), "hidden", True, needed))
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise chk.fail("hidden", "two hidden cases have the same name.", "Give each hidden case a distinct name.")
    return tuple(cases)
