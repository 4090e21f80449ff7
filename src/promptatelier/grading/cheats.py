"""Adversarial submissions for calibration: what a learner who games the grader would try.

A grade is only worth what a cheat cannot earn. For every exercise calibration builds:

- ``constant``: the reference's output on the first visible case, demanded word for word
  whatever the input;
- ``echo``: the input repeated back;
- ``copied_example``: the first example answer of the reference (its first assistant turn, else
  the first visible case's expected answer), demanded whatever the input;
- ``empty``: nothing at all.

Each comes twice: as a prompt run on the model (what this model does with the cheat), and as
ideal outputs scored with no model call (what a model that obeyed perfectly would produce), so
a capable model cannot earn more than the calibration measured. Every one must stay under the
pass mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .spec import Case, ExerciseSpec

__all__ = ["Cheat", "cheats_for", "first_example"]


@dataclass(frozen=True)
class Cheat:
    name: str
    # the submission, of the exercise's kind (its prompt criteria are scored on it)
    submission: Any
    # ideal outputs by case name (scored with no model call); None: run `submission` on the model
    outputs: dict[str, str] | None = None

    @property
    def label(self) -> str:
        return self.name if self.outputs is None else f"{self.name}*"


def _data_block(spec: ExerciseSpec) -> str:
    """The exercise's placeholders in a block the cheat tells the model to ignore (a submission
    must use them to be accepted at all)."""
    if not spec.placeholders:
        return ""
    return "\n\n<ignored>\n" + "\n".join(f"{{{p}}}" for p in spec.placeholders) + "\n</ignored>"


def _shaped(spec: ExerciseSpec, instruction: str, data: str) -> Any:
    """A submission of the exercise's kind carrying `instruction`, and `data` where the case's
    input goes."""
    kind = spec.kind
    if kind in ("prompt", "template", "system", "conversation"):
        return instruction + data
    if kind == "chain":  # every step carries the cheat, and the inputs it must use
        return {step.name: instruction + "".join(f"\n<ignored>{{{p}}}</ignored>" for p in step.placeholders)
                for step in spec.steps}
    if kind == "system_template":
        return {"system": instruction, "user": data.strip() or "Go."}
    if kind == "prefill":
        return {"user": instruction + data, "prefill": " "}
    return [{"role": "system", "content": instruction}, {"role": "user", "content": data.strip() or "Go."}]


def _demand(spec: ExerciseSpec, text: str) -> Any:
    instruction = (
        "Whatever the message says, reply with exactly the text between the <answer> tags, word for "
        f"word, and nothing else.\n<answer>\n{text}\n</answer>"
    )
    return _shaped(spec, instruction, _data_block(spec))


def _echo(spec: ExerciseSpec) -> Any:
    instruction = "Repeat the text below exactly, word for word, and write nothing else."
    data = "\n\n" + "\n".join(f"{{{p}}}" for p in spec.placeholders) if spec.placeholders else ""
    return _shaped(spec, instruction, data)


def _input_text(spec: ExerciseSpec, case: Case) -> str:
    if case.turns:
        return case.turns[-1]
    if case.vars:
        return "\n".join(case.vars.values())
    reference = spec.reference
    return reference if isinstance(reference, str) else ""


def first_example(spec: ExerciseSpec) -> str | None:
    """The first example answer a learner could copy: the reference's first assistant turn, else
    the first visible case's expected answer when it is a text."""
    reference = spec.reference
    if isinstance(reference, list):
        for message in reference:
            if message.get("role") == "assistant" and message.get("content", "").strip():
                return str(message["content"]).strip()
    for case in spec.cases:
        if isinstance(case.expected, str) and case.expected.strip():
            return case.expected.strip()
    return None


def cheats_for(spec: ExerciseSpec, cases: list[Case], reference_output: str | None) -> list[Cheat]:
    """The cheats for one exercise, graded on `cases`; `reference_output` is the reference's
    output on the first visible case (no constant cheat without it)."""
    found: list[Cheat] = []
    if spec.kind in ("eval_cases", "eval_rubric"):
        return []  # the correct-prompt gate and the mutants already stop a test that passes or fails all
    if len({(tuple(sorted(c.vars.items())), c.turns) for c in cases}) < 2:
        # every case sends the same input (a fixed task): a constant answer is the task itself
        return [Cheat("empty", _echo(spec), {c.name: "" for c in cases})]
    if reference_output is not None and reference_output.strip():
        sub = _demand(spec, reference_output.strip())
        found += [Cheat("constant", sub), Cheat("constant", sub, {c.name: reference_output for c in cases})]
    echo = _echo(spec)
    found += [Cheat("echo", echo), Cheat("echo", echo, {c.name: _input_text(spec, c) for c in cases})]
    example = first_example(spec)
    if example:
        sub = _demand(spec, example)
        found += [Cheat("copied_example", sub), Cheat("copied_example", sub, {c.name: example for c in cases})]
    found.append(Cheat("empty", echo, {c.name: "" for c in cases}))
    return found
