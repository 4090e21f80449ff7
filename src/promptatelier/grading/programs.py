"""How a submission runs on one case: the model calls it makes, in order.

Most kinds make one request. A conversation makes one per user turn, each carrying the turns and
replies before it (the model's memory is the conversation); a chain makes one per step, each
step's template filled with the case's vars and the outputs of the steps before it (and, after a
tool step with a scripted `result`, what the function returned). A run is a
generator: it yields a ChatRequest, receives the Completion, and returns the graded output with
every step's output, so the runner can batch the requests of many runs round by round.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from ..models import ChatRequest, Completion, Message
from .spec import Case, ExerciseSpec, Step
from .submission import GRADING_SEED, Submission, render_request
from .template import fill

__all__ = ["Run", "RunResult", "run_case", "tool_result", "tool_schema"]


@dataclass
class RunResult:
    output: str
    # each step's output by name ("turn1"... for a conversation, the step names for a chain)
    steps: dict[str, str] = field(default_factory=dict)


Run = Generator[ChatRequest, Completion, RunResult]


def _sampling(spec: ExerciseSpec, case: Case, temperature: float | None) -> tuple[float, int | None]:
    """(temperature, seed): an exercise run over seeds keeps its own temperature (its point is
    what varies between seeds); otherwise grading passes temperature 0 and a fixed seed."""
    m = spec.model
    if case.seed is not None:
        return m.temperature, case.seed
    if temperature is None:
        return m.temperature, m.seed
    return temperature, GRADING_SEED


def tool_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """The reply a tool step must give: the function's name and arguments matching its parameters."""
    return {
        "type": "object",
        "properties": {"tool": {"type": "string", "enum": [tool["name"]]}, "arguments": tool["parameters"]},
        "required": ["tool", "arguments"],
        "additionalProperties": False,
    }


def _tool_system(tool: dict[str, Any]) -> str:
    return (
        f"You can call one function, {tool['name']}: {tool.get('description', '').strip()}\n"
        f"Its arguments follow this JSON schema: {json.dumps(tool['parameters'], ensure_ascii=False)}\n"
        f'Reply with the call only, as JSON: {{"tool": "{tool["name"]}", "arguments": {{...}}}}'
    )


def run_case(spec: ExerciseSpec, submission: Submission, case: Case, temperature: float | None = None) -> Run:
    """The run of `submission` on `case` (see the module's docstring)."""
    temp, seed = _sampling(spec, case, temperature)
    if spec.kind == "conversation":
        return (yield from _conversation(spec, submission, case, temp, seed))
    if spec.kind == "chain":
        return (yield from _chain(spec, submission, case, temp, seed))
    request = render_request(spec, submission, case, temperature=temperature).with_(temperature=temp, seed=seed)
    completion = yield request
    return RunResult(submission.prefill + completion.text)


def _conversation(spec: ExerciseSpec, submission: Submission, case: Case, temp: float, seed: int | None) -> Run:
    system = fill(submission.parts[0][1], case.vars)
    history: list[Message] = []
    steps: dict[str, str] = {}
    reply = ""
    for number, turn in enumerate(case.turns, start=1):
        history.append(Message("user", turn))
        m = spec.model
        completion = yield ChatRequest(messages=tuple(history), system=system, temperature=temp, seed=seed,
                                       max_tokens=m.max_tokens, stop=m.stop, json_schema=m.json_schema)
        reply = completion.text
        steps[f"turn{number}"] = reply
        history.append(Message("assistant", reply))
    return RunResult(reply, steps)


def _chain(spec: ExerciseSpec, submission: Submission, case: Case, temp: float, seed: int | None) -> Run:
    values = dict(case.vars)
    steps: dict[str, str] = {}
    output = ""
    for step, (_, template) in zip(spec.steps, submission.parts):
        completion = yield _step_request(spec, step, fill(template, values), temp, seed)
        output = completion.text
        steps[step.name] = values[step.name] = output
        if step.tool and "result" in step.tool:
            steps[f"{step.name}_result"] = values[f"{step.name}_result"] = tool_result(step.tool, output, case.vars)
    return RunResult(output, steps)


def tool_result(tool: dict[str, Any], call: str, variables: dict[str, str]) -> str:
    """What a scripted function returns for the model's call: the tool's `result` filled with the
    call's arguments (what the model asked for wins over the case's vars of the same name), or an
    error the next step can read when the call is not a JSON object with arguments."""
    try:
        parsed = json.loads(call)
    except ValueError:
        parsed = None
    arguments = parsed.get("arguments") if isinstance(parsed, dict) else None
    if not isinstance(arguments, dict):
        return json.dumps({"error": f"the call to {tool['name']} could not be read"})
    given = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in arguments.items()}
    return fill(tool["result"], {**variables, **given})


def _step_request(spec: ExerciseSpec, step: Step, content: str, temp: float, seed: int | None) -> ChatRequest:
    m = spec.model
    schema = tool_schema(step.tool) if step.tool else step.json_schema
    return ChatRequest(
        messages=(Message("user", content),),
        system=_tool_system(step.tool) if step.tool else None,
        temperature=temp,
        seed=seed,
        max_tokens=step.max_tokens or m.max_tokens,
        stop=step.stop or m.stop,
        json_schema=schema,
    )
