"""Exercise specs: one TOML file per exercise under graders/, validated on load.

Every mistake is a `SpecError` naming the file, the field and the fix. Hidden cases are read
only when grading asks for them (`spec.hidden_cases()`), from `[[hidden]]` in the spec or from
a sibling `<exercise>.hidden.toml`. graders/README.md documents the format for instructors.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import SpecError
from .criteria import get_criterion

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

KINDS = ("prompt", "template", "system_template", "messages")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*$")
PLACEHOLDER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = {
    "id", "title", "instructions", "points", "kind", "placeholders", "variable", "pass_threshold",
    "hints", "model", "cases", "hidden", "criteria", "reference", "baseline", "capable_model",
    "max_chars", "tags", "released",
}
_CRITERION_KEYS = {"use", "weight", "hint", "gate", "label"}
_MODEL_KEYS = {"temperature", "max_tokens", "json_schema", "json_schema_file", "stop", "seed"}
_CASE_KEYS = {"name", "vars", "expected"}


@dataclass(frozen=True)
class Case:
    """One input of an exercise: template variables and, where the task has one, the answer."""

    name: str
    vars: dict[str, str]
    expected: Any = None
    hidden: bool = False

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

    @property
    def criterion(self):  # noqa: ANN201 - a Criterion
        return get_criterion(self.use)


@dataclass(frozen=True)
class ModelSettings:
    temperature: float = 0.0
    max_tokens: int = 200
    json_schema: dict[str, Any] | None = None
    stop: tuple[str, ...] = ()
    seed: int = 0


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

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]

    def hidden_cases(self) -> tuple[Case, ...]:
        """The hidden cases, read from disk now (grading only; never shown to learners)."""
        if self.path is None or self.released:
            return ()
        sibling = self.path.with_name(f"{self.path.stem}.hidden.toml")
        stamps = tuple(p.stat().st_mtime_ns if p.is_file() else 0 for p in (self.path, sibling))
        return _load_hidden(str(self.path), stamps)

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
    )
    if not ok:
        shapes = {
            "prompt": f'{fieldname} = """the prompt"""',
            "template": f'{fieldname} = """a template using {{placeholders}}"""',
            "system_template": f'[{fieldname}] with system = "..." and user = "..."',
            "messages": f'{fieldname} = [{{ role = "system", content = "..." }}, {{ role = "user", content = "..." }}]',
        }
        missing = " is missing or" if value is None else ""
        raise chk.fail(
            fieldname, f"{missing} does not fit the submission kind {kind!r}.",
            f"Write it as {shapes[kind]}, above the first [table] or [[array]] of the file (in TOML a key "
            "written after a table header belongs to that table).",
        )
    return value


def _parse_cases(chk: _Checker, raw: Any, fieldname: str, hidden: bool, placeholders: tuple[str, ...]) -> tuple[Case, ...]:
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
        cases.append(Case(name=name, vars=dict(variables), expected=item.get("expected"), hidden=hidden))
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
            crit.check_args(args)
        except ValueError as exc:
            raise chk.fail(where, f"{exc}.", "Fix the criterion's arguments; graders/README.md lists each criterion's arguments.") from None
        hint = chk.text_pair(item, "hint", required=False)
        label = chk.text_pair(item, "label", required=False)
        gate = item.get("gate", crit.gate)
        if not isinstance(gate, bool):
            raise chk.fail(f"{where}.gate", "must be true or false.", "Write gate = true or remove it.")
        out.append(CriterionSpec(use=use, weight=weight, args=args, hint=hint, label=label, gate=gate))
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
    return ModelSettings(
        temperature=chk.number(raw, "temperature", 0.0, 0.0, 2.0),
        max_tokens=int(chk.number(raw, "max_tokens", 200, 1, 4096)),
        json_schema=schema,
        stop=tuple(stop),
        seed=int(chk.number(raw, "seed", 0, 0, None)),
    )


def _check_schema(chk: _Checker, schema: Any, fieldname: str) -> None:
    import jsonschema

    if not isinstance(schema, dict):
        raise chk.fail(fieldname, "must be a JSON Schema object.", 'Write for example { type = "object", properties = {...} }.')
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise chk.fail(fieldname, f"is not a valid JSON Schema: {exc.message}.", "Correct the schema (see json-schema.org).") from None


def _placeholders_in(text: str) -> list[str]:
    from .submission import find_placeholders

    return find_placeholders(text)


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
    if kind in ("template", "system_template") and not placeholders:
        raise chk.fail("placeholders", f"a {kind} exercise needs the names its template fills.", 'Write placeholders = ["review"].')
    placeholders = tuple(placeholders)
    variable = data.get("variable", "PROMPT")
    if not isinstance(variable, str) or not variable.isidentifier():
        raise chk.fail("variable", "must be a Python identifier.", 'Write variable = "PROMPT".')
    cases = _parse_cases(chk, data.get("cases"), "cases", False, placeholders)
    if not cases:
        raise chk.fail("cases", "there is no visible case.", "Add at least one [[cases]] table so learners can check their work.")
    released = data.get("released", False)
    if not isinstance(released, bool):
        raise chk.fail("released", "must be true or false.", "Leave it out: `atelier release` writes it in learners' copies.")
    if released and "hidden" in data:
        raise chk.fail("hidden", "a released spec must not hold hidden cases.", "Make learners' copies with `atelier release`.")
    if released:
        reference = baseline = None  # learners' copies keep neither: the reference is a solution
    else:
        reference = _check_submission_shape(chk, kind, data.get("reference"), "reference")
        baseline = _check_submission_shape(chk, kind, data.get("baseline"), "baseline")
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
        criteria=_parse_criteria(chk, data.get("criteria")),
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
    )
    if spec.points <= 0:
        raise chk.fail("points", "must be more than 0.", "Write points = 2 (the test cell's points).")
    return spec


@lru_cache(maxsize=256)
def _load_hidden(path_str: str, stamps: tuple[int, ...]) -> tuple[Case, ...]:
    path = Path(path_str)
    data = _read(path)
    chk = _Checker(path)
    placeholders = tuple(data.get("placeholders", []))
    cases = list(_parse_cases(chk, data.get("hidden"), "hidden", True, placeholders))
    sibling = path.with_name(f"{path.stem}.hidden.toml")
    if sibling.is_file():
        extra = _read(sibling)
        schk = _Checker(sibling)
        unknown = set(extra) - {"hidden"}
        if unknown:
            raise schk.fail(", ".join(sorted(unknown)), "is not allowed in a hidden-cases file.", "Keep only [[hidden]] tables there.")
        cases.extend(_parse_cases(schk, extra.get("hidden"), "hidden", True, placeholders))
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise chk.fail("hidden", "two hidden cases have the same name.", "Give each hidden case a distinct name.")
    return tuple(cases)
