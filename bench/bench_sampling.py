"""The local model's sampling defaults, chosen by measurement on the course's own prompts.

The prompts: every exercise's reference and baseline rendered on its visible cases, and every
live example of the course (both languages): the `complete(...)` calls, Playgrounds and Compares
of course/*/m*.md, collected by running each module's code cells with recorders in place of the
kit's functions and widgets (a chain's second step is built from the first step's reply under
the first setting). Each setting runs them all on the embedded model at temperature 0 and counts:

- degenerate replies: a loop (a line three times, or a stretch repeated four times in a row), a
  flood (one character is 40 % of the text), no letter at all;
- runaways: replies cut by max_tokens when it is at least 100 (asked for 100+ tokens and never
  stopping is how a loop ends when nothing stops it);
- replies that change against the first setting, and mean reply tokens;
- references that no longer pass their own rubric (`evaluate(..., cases="visible",
  temperature=0)`), and baselines that start passing: a repetition penalty also hits legitimate
  repetition (JSON keys, "Order: x | Request: y" lines).

Replies are cached in their own file (ATELIER_CACHE, default a file in the temporary folder) under
each setting's cache identity, so a second run only re-scores.

    .venv/bin/python bench/bench_sampling.py [--quick] [--extended] [--course-limit N] [--only NAME...]
                                             [--show NAME]
"""

from __future__ import annotations

import argparse
import builtins
import os
import re
import sys
import tempfile
import time
import types
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("ATELIER_CACHE", str(Path(tempfile.gettempdir()) / "atelier-bench-sampling.sqlite"))

RUNAWAY_MIN = 100


@dataclass(frozen=True)
class Setting:
    name: str
    repeat_penalty: float = 1.0
    window: int = 64
    frequency_penalty: float = 0.0


# the study (about 2 minutes a setting on an idle 2-core machine)
SETTINGS = [
    Setting("rp 1.0"),
    Setting("rp 1.05 / 64", 1.05, 64),
    Setting("rp 1.1 / 64", 1.1, 64),
    Setting("rp 1.15 / 64", 1.15, 64),
    Setting("rp 1.15 / 256", 1.15, 256),
    Setting("rp 1.3 / 64", 1.3, 64),
]
# --extended: shorter windows and llama.cpp's frequency penalty (counts repeats instead of
# scaling every repeated token)
EXTENDED = [
    Setting("rp 1.1 / 16", 1.1, 16),
    Setting("rp 1.15 / 16", 1.15, 16),
    Setting("rp 1.15 / 32", 1.15, 32),
    Setting("fp 0.2 / 64", frequency_penalty=0.2),
    Setting("fp 0.4 / 64", frequency_penalty=0.4),
]


@dataclass
class Prompt:
    label: str
    request: Any  # ChatRequest


@dataclass
class Outcome:
    setting: Setting
    texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    degenerate: list[tuple[int, str]] = field(default_factory=list)
    runaway: list[int] = field(default_factory=list)
    references_failing: list[str] = field(default_factory=list)
    baselines_passing: list[str] = field(default_factory=list)
    wall_s: float = 0.0


# --- the detector ------------------------------------------------------------------------------

_REPEATED_STRETCH = re.compile(r"(.{3,120}?)\1{3,}", re.DOTALL)


def degeneration(text: str) -> str | None:
    """Why a reply is degenerate (loop, flood, no words), or None."""
    visible = [c for c in text if not c.isspace()]
    if visible and not any(c.isalpha() for c in visible):
        return "no words"
    if len(visible) >= 12:
        char, count = Counter(visible).most_common(1)[0]
        if count / len(visible) >= 0.4:
            return f"flood of {char!r}"
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 3]
    if lines:
        line, count = Counter(lines).most_common(1)[0]
        if count >= 3:
            return f"loop: a line {count} times"
    match = _REPEATED_STRETCH.search(text)
    if match and len(match.group(0)) >= 30:
        return f"loop: {match.group(1)[:20]!r} repeated"
    return None


# --- the prompts -------------------------------------------------------------------------------

def exercise_prompts() -> tuple[list[Prompt], list[tuple[str, str]]]:
    """Each exercise's reference and baseline on its visible cases, as grading renders them."""
    from promptatelier.errors import SubmissionError
    from promptatelier.grading import list_exercises, load_spec
    from promptatelier.grading.submission import normalise, render_request

    prompts: list[Prompt] = []
    graded: list[tuple[str, str]] = []  # (exercise id, "reference" | "baseline")
    for exercise in list_exercises():
        spec = load_spec(exercise)
        for role in ("reference", "baseline"):
            value = getattr(spec, role)
            if value is None:
                continue
            try:
                submission = normalise(spec, value)
            except SubmissionError:
                continue
            graded.append((exercise, role))
            for case in spec.cases:
                prompts.append(Prompt(f"{exercise} {role} {case.name}", render_request(spec, submission, case, temperature=0)))
    return prompts, graded


class _Recorder:
    """Stands in for the kit in a course cell: records each request; `complete` answers with the
    model's real reply (so a chain's next step sees it)."""

    def __init__(self, where: str, answer: bool) -> None:
        self.where = where
        self.answer = answer
        self.prompts: list[Prompt] = []

    def add(self, request: Any) -> None:
        self.prompts.append(Prompt(f"{self.where} #{len(self.prompts) + 1}", request.with_(temperature=0.0, seed=None)))

    def module(self, real: Any) -> types.ModuleType:
        from promptatelier.models import Completion, make_request

        recorder = self

        def complete(prompt: Any, model: Any = None, **params: Any) -> Any:
            from promptatelier.models import complete as real_complete

            keep = {k: v for k, v in params.items() if k in {"system", "max_tokens", "stop", "json_schema"}}
            request = make_request(prompt, **keep)
            recorder.add(request)
            if not recorder.answer:
                return Completion("", "local")
            return real_complete(request.with_(temperature=0.0, seed=None), model="local")

        def playground(prompt: str = "", system: str = "", *, max_tokens: int = 256, **_: Any) -> None:
            recorder.add(make_request(prompt, system=system or None, max_tokens=max_tokens))

        def compare(prompts: Any, models: Any = None, *args: Any, **kwargs: Any) -> None:
            from promptatelier.errors import AtelierError
            from promptatelier.widgets import Compare

            # one prompt at a time: a prompt the exercise refuses (one showing what a template
            # without its placeholders does) fails the whole table, not the others
            for prompt in prompts if isinstance(prompts, (list, tuple)) else [prompts]:
                try:
                    plan = Compare([prompt], "local", *args, **kwargs)._plan()
                except AtelierError:
                    continue
                for _, request in plan:
                    recorder.add(request)

        def nothing(*_: Any, **__: Any) -> Any:
            return Completion("", "local")

        stub = types.ModuleType(real.__name__)
        stub.__getattr__ = lambda name: getattr(real, name)  # type: ignore[attr-defined]
        stub.__dict__.update(complete=complete, Playground=playground, Compare=compare, check=nothing,
                             grade=nothing, TokenExplorer=nothing, Chat=nothing, KeyEntry=nothing,
                             CostMeter=nothing, ExerciseCheck=nothing)
        return stub


def course_prompts(answer: bool = True) -> tuple[list[Prompt], int]:
    """The live examples of every module, in both languages; returns them and the number of
    cells that failed under the recorders (left out). `answer=False` gives every `complete` an
    empty reply instead of the model's (quick, but a chain's later steps see nothing)."""
    import importlib

    prompts: list[Prompt] = []
    failed = 0
    real_import = builtins.__import__
    for path in sorted((ROOT / "course").glob("*/m*.md")):
        recorder = _Recorder(f"{path.parent.name}/{path.stem}", answer)

        def fake_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            if name in ("promptatelier", "promptatelier.widgets") and fromlist:
                return recorder.module(importlib.import_module(name))
            return real_import(name, globals, locals, fromlist, level)

        namespace: dict[str, Any] = {"__builtins__": {**vars(builtins), "__import__": fake_import}}
        cells = re.findall(r"^```python[^\n]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
        saved = dict(os.environ)
        try:
            for cell in cells:
                try:
                    with redirect_stdout(StringIO()):
                        exec(compile(cell, str(path), "exec"), namespace)
                except Exception:
                    failed += 1
        finally:
            os.environ.clear()
            os.environ.update(saved)
        prompts.extend(recorder.prompts)
    return prompts, failed


def unique(prompts: list[Prompt]) -> list[Prompt]:
    seen: set[str] = set()
    out = []
    for p in prompts:
        key = p.request.fingerprint()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def spread(prompts: list[Prompt], limit: int | None) -> list[Prompt]:
    """At most `limit` prompts, taken evenly across the list (every module keeps some)."""
    if limit is None or len(prompts) <= limit:
        return prompts
    step = len(prompts) / limit
    return [prompts[int(i * step)] for i in range(limit)]


# --- the runs ----------------------------------------------------------------------------------

def apply(setting: Setting) -> None:
    from promptatelier.models import local

    sampling = {k: v for k, v in local.SAMPLING.items() if k != "frequency_penalty"}
    sampling["repeat_penalty"] = setting.repeat_penalty
    if setting.frequency_penalty:
        sampling["frequency_penalty"] = setting.frequency_penalty
    local.SAMPLING = sampling
    local.PENALTY_WINDOW = setting.window


def run(setting: Setting, prompts: list[Prompt], graded: list[tuple[str, str]]) -> Outcome:
    from promptatelier.grading import evaluate, load_spec
    from promptatelier.models import complete_many

    apply(setting)
    outcome = Outcome(setting)
    started = time.perf_counter()
    results = complete_many([p.request for p in prompts], model="local", progress=False).raise_first()
    outcome.wall_s = time.perf_counter() - started
    for i, (prompt, reply) in enumerate(zip(prompts, results)):
        outcome.texts.append(reply.text)
        outcome.tokens.append(reply.usage.output_tokens)
        why = degeneration(reply.text)
        if why:
            outcome.degenerate.append((i, why))
        if reply.finish_reason == "length" and prompt.request.max_tokens >= RUNAWAY_MIN:
            outcome.runaway.append(i)
    for exercise, role in graded:
        spec = load_spec(exercise)
        evaluation = evaluate(exercise, getattr(spec, role), model="local", cases="visible", temperature=0)
        if role == "reference" and not evaluation.passed:
            outcome.references_failing.append(exercise)
        if role == "baseline" and evaluation.passed:
            outcome.baselines_passing.append(exercise)
    return outcome


def table(outcomes: list[Outcome], n: int, references: int, baselines: int) -> str:
    first = outcomes[0]
    rows = [
        "| setting | degenerate | runaway (max_tokens ≥ 100) | changed vs first | mean tokens "
        f"| references failing (of {references}) | baselines passing (of {baselines}) | wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        changed = sum(a != b for a, b in zip(o.texts, first.texts))
        rows.append(
            f"| {o.setting.name} | {len(o.degenerate)} | {len(o.runaway)} | {changed} / {n} "
            f"| {sum(o.tokens) / n:.1f} | {len(o.references_failing)} {', '.join(o.references_failing)} "
            f"| {len(o.baselines_passing)} {', '.join(o.baselines_passing)} | {o.wall_s:.0f} s |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no penalty and the defaults, on 12 prompts (CI)")
    parser.add_argument("--course-limit", type=int, default=40,
                        help="at most this many of the course's live examples, spread evenly (default 40; "
                             "every exercise prompt always runs, its rubric needs them all)")
    parser.add_argument("--extended", action="store_true", help="also the shorter windows and frequency penalties")
    parser.add_argument("--show", default=None, help="print every degenerate reply of this setting")
    parser.add_argument("--only", nargs="*", default=None,
                        help="only the settings named exactly so (the first setting always runs: the others are compared to it)")
    args = parser.parse_args()

    from promptatelier.config import reload_settings
    from promptatelier.models import local

    reload_settings()
    defaults = Setting("defaults", local.SAMPLING["repeat_penalty"], local.PENALTY_WINDOW,
                       local.SAMPLING.get("frequency_penalty", 0.0))
    settings = [SETTINGS[0], defaults] if args.quick else SETTINGS + (EXTENDED if args.extended else [])
    if args.only:
        settings = [settings[0], *(s for s in settings[1:] if s.name in args.only)]
    apply(settings[0])  # a chain's later steps are built from the replies under the first setting
    started = time.perf_counter()
    exercise, graded = exercise_prompts()
    course, failed = course_prompts(answer=not args.quick)
    exercise = unique(exercise)
    course = spread([p for p in unique(course) if p.request.fingerprint() not in {e.request.fingerprint() for e in exercise}],
                    args.course_limit)
    prompts = exercise + course
    if args.quick:
        prompts = spread(prompts, 12)
        graded = []
    print(f"{len(prompts)} prompts ({len(exercise)} from exercises, {len(course)} of the course's live examples, "
          f"{failed} course cells skipped); cache {os.environ['ATELIER_CACHE']}; "
          f"collected in {time.perf_counter() - started:.0f} s", flush=True)

    outcomes = []
    for setting in settings:
        outcome = run(setting, prompts, graded)
        outcomes.append(outcome)
        print(f"{setting.name}: {len(outcome.degenerate)} degenerate, {len(outcome.runaway)} runaway, "
              f"{len(outcome.references_failing)} references failing, {outcome.wall_s:.0f} s", flush=True)
    references = sum(role == "reference" for _, role in graded)
    baselines = sum(role == "baseline" for _, role in graded)
    print()
    print(table(outcomes, len(prompts), references, baselines))
    for o in outcomes:
        if args.show and o.setting.name == args.show:
            print(f"\ndegenerate replies under {o.setting.name}:")
            for i, why in o.degenerate:
                print(f"- {prompts[i].label} [{why}]: {o.texts[i][:160]!r}")

    chosen = next((o for o in outcomes if (o.setting.repeat_penalty, o.setting.window, o.setting.frequency_penalty)
                   == (defaults.repeat_penalty, defaults.window, defaults.frequency_penalty)), None)
    print(f"\nlocal.py defaults: repeat_penalty {defaults.repeat_penalty}, window {defaults.window}, "
          f"frequency_penalty {defaults.frequency_penalty}; total {time.perf_counter() - started:.0f} s")
    if chosen is None:
        print("RESULT sampling_defaults_measured 0 target 1 MISSED")
        return 1
    fewest = min(len(o.degenerate) for o in outcomes)
    ok_degenerate = len(chosen.degenerate) <= fewest
    print(f"RESULT sampling_degenerate {len(chosen.degenerate)} target {fewest} {'ok' if ok_degenerate else 'MISSED'}")
    ok_refs = not chosen.references_failing
    print(f"RESULT sampling_references_failing {len(chosen.references_failing)} target 0 {'ok' if ok_refs else 'MISSED'}")
    return 0 if ok_degenerate and ok_refs else 1


if __name__ == "__main__":
    raise SystemExit(main())
