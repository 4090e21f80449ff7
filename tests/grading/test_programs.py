"""Kinds that make several model calls per case: a conversation (one per user turn, with its
history), a chain (one per step, each fed the earlier outputs), a tool step (the call as JSON),
criteria on one step, and exercises run over several seeds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import evaluate, load_spec

from .conftest import spec_file

CONVERSATION = """
id = "t11.memory"
points = 2
kind = "conversation"
title = "Remember the order"
instructions = "Write the system prompt."
reference = "You are the shop's assistant. Remember the customer's order number."
baseline = "You are helpful."

[[cases]]
name = "a17"
turns = ["Hi, my order is A-17.", "It has not arrived.", "What was my order number?"]
expected = "A-17"

[[cases]]
name = "b2"
turns = ["Hello, order B-2 here.", "The mug is broken.", "Remind me of my order number?"]
expected = "B-2"

[[criteria]]
use = "contains"
text = { case = "expected" }

[[criteria]]
use = "length"
step = "turn1"
max = 30
"""

CHAIN = """
id = "t11.chain"
points = 3
kind = "chain"
placeholders = ["message"]
title = "Facts, then reply"
instructions = "Two steps."
reference = { extract = "Facts of {message} as JSON.", reply = "Reply using only {extract}." }
baseline = { extract = "{message}", reply = "{extract}" }

[[steps]]
name = "extract"
placeholders = ["message"]
json_schema = { type = "object", properties = { order = { type = "string" } }, required = ["order"] }

[[steps]]
name = "reply"
placeholders = ["extract"]

[[cases]]
name = "late"
vars = { message = "Order A-17 is late." }
expected = { order = "A-17" }

[[cases]]
name = "broken"
vars = { message = "Order B-2 arrived broken." }
expected = { order = "B-2" }

[[criteria]]
use = "json_fields"
step = "extract"

[[criteria]]
use = "contains"
text = { case = "expected.order" }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    return spec_file(tmp_path, "t11." + name, text)


def test_a_conversation_sends_each_turn_with_its_history_and_grades_the_last_reply(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "memory", CONVERSATION))

    def remembers(request):
        order = re.search(r"[A-Z]-\d+", request.messages[0].content).group(0)
        return f"Your order is {order}." if len(request.messages) >= 5 else "Noted, sorry about that."
    mock_backend.script(remembers)
    ev = evaluate(spec, "Remember order numbers.", model="mock", cases="visible")
    assert ev.points == 2.0, ev.feedback_text("en")
    last = [r for r in mock_backend.calls if len(r.messages) == 5]
    assert len(mock_backend.calls) == 6 and len(last) == 2
    assert [m.role for m in last[0].messages] == ["user", "assistant", "user", "assistant", "user"]
    assert last[0].messages[1].content == "Noted, sorry about that."
    out = ev.outputs[0]
    assert out.text == "Your order is A-17." and list(out.steps) == ["turn1", "turn2", "turn3"]
    assert out.turns[0] == "Hi, my order is A-17."


def test_a_conversation_needs_turns_in_every_case(tmp_path) -> None:
    with pytest.raises(SpecError, match="needs its user turns"):
        load_spec(write(tmp_path, "memory", CONVERSATION.replace(
            'turns = ["Hello, order B-2 here.", "The mug is broken.", "Remind me of my order number?"]', "")))


def test_a_chain_feeds_each_step_the_outputs_before_it(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "chain", CHAIN))

    def steps(request):
        text = request.messages[-1].content
        if request.json_schema is not None:
            return json.dumps({"order": text.split("Order ")[1].split(" ")[0]})
        return "Sorry about order " + json.loads(text.split("using only ")[1].rstrip("."))["order"] + "."
    mock_backend.script(steps)
    ev = evaluate(spec, {"extract": "Facts of {message} as JSON.", "reply": "Reply using only {extract}."},
                  model="mock", cases="visible")
    assert ev.points == 3.0, ev.feedback_text("en")
    assert ev.outputs[0].steps == {"extract": '{"order": "A-17"}', "reply": "Sorry about order A-17."}
    assert ev.outputs[0].verdicts["json_fields"].ok


def test_a_chain_step_that_forgets_its_input_is_explained(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "chain", CHAIN))
    ev = evaluate(spec, {"extract": "Facts of {message}.", "reply": "Write a nice reply."}, model="mock", cases="visible")
    assert ev.status == "invalid" and "'reply' never uses {extract}" in ev.message("en")
    ev = evaluate(spec, "one string", model="mock", cases="visible")
    assert ev.status == "invalid" and "extract, reply" in ev.message("en")


def test_a_tool_step_asks_for_the_call_as_json(tmp_path, mock_backend) -> None:
    text = CHAIN.replace('json_schema = { type = "object", properties = { order = { type = "string" } }, required = ["order"] }',
                         'tool = { name = "lookup_order", description = "Finds an order.", parameters = '
                         '{ type = "object", properties = { order = { type = "string" } }, required = ["order"] } }')
    text = text.replace('use = "json_fields"\nstep = "extract"', 'use = "contains"\nstep = "extract"\ntext = "lookup_order"')
    spec = load_spec(write(tmp_path, "chain", text))
    mock_backend.script(lambda r: '{"tool": "lookup_order", "arguments": {"order": "A-17"}}' if r.json_schema else "A-17 found")
    evaluate(spec, {"extract": "Look up {message}.", "reply": "Tell the customer: {extract}."}, model="mock", cases="visible")
    call = mock_backend.calls[0]
    assert call.json_schema["properties"]["tool"]["enum"] == ["lookup_order"]
    assert "lookup_order" in call.system and "Finds an order." in call.system


TOOL_CHAIN = """
id = "t11.toolchain"
points = 2
kind = "chain"
placeholders = ["message", "status"]
title = "Call, then reply"
instructions = "Two steps."
reference = { lookup = "Look up the order in {message}.", reply = "Tell the customer: {lookup_result}." }
baseline = { lookup = "{message}", reply = "{lookup_result}" }

[[steps]]
name = "lookup"
placeholders = ["message"]
tool = { name = "lookup_order", description = "Finds an order.", parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }, result = 'Order {order_id}: {status}' }

[[steps]]
name = "reply"
placeholders = ["lookup_result"]

[[cases]]
name = "late"
vars = { message = "Where is order A-17?", status = "shipped on 2 May", order_id = "A-17" }
expected = { tool = "lookup_order", arguments = { order_id = "A-17" } }

[[cases]]
name = "broken"
vars = { message = "Order B-2 arrived broken.", status = "delivered on 1 May", order_id = "B-2" }
expected = { tool = "lookup_order", arguments = { order_id = "B-2" } }

[[criteria]]
use = "json_fields"
step = "lookup"
fields = ["tool", "arguments.order_id"]

[[criteria]]
use = "contains"
text = { case = "vars.order_id" }
"""


def _calls(order_for) -> object:
    """A mock model: the tool call names the order `order_for(message)`; the reply repeats what it got."""
    def reply(request):
        text = request.messages[-1].content
        if request.json_schema is not None:
            return json.dumps({"tool": "lookup_order", "arguments": {"order_id": order_for(text)}})
        return "Update: " + text.split("Tell the customer: ")[1]
    return reply


def test_a_scripted_tool_result_is_filled_with_the_calls_arguments_and_fed_to_the_next_step(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "toolchain", TOOL_CHAIN))
    mock_backend.script(_calls(lambda text: re.search(r"[A-Z]-\d+", text).group(0)))
    ev = evaluate(spec, spec.reference, model="mock", cases="visible")
    assert ev.points == 2.0, ev.feedback_text("en")
    steps = ev.outputs[0].steps
    assert steps["lookup_result"] == "Order A-17: shipped on 2 May"
    assert steps["reply"] == "Update: Order A-17: shipped on 2 May."
    assert mock_backend.calls[-1].messages[-1].content == "Tell the customer: Order B-2: delivered on 1 May."


def test_a_wrong_call_gets_the_result_for_what_it_asked(tmp_path, mock_backend) -> None:
    spec = load_spec(write(tmp_path, "toolchain", TOOL_CHAIN))
    mock_backend.script(_calls(lambda text: "Z-9"))
    ev = evaluate(spec, spec.reference, model="mock", cases="visible")
    assert ev.outputs[0].steps["lookup_result"] == "Order Z-9: shipped on 2 May"
    # the right function with the wrong order: half the call's fields, and a reply about the wrong order
    assert ev.outputs[0].verdicts["json_fields"].score == 0.5 and not ev.outputs[0].verdicts["contains"].ok
    assert ev.points == 0.5


def test_an_unreadable_call_gets_an_error_result() -> None:
    from promptatelier.grading.programs import tool_result

    tool = {"name": "lookup_order", "result": "Order {order_id}: {status}"}
    assert "could not be read" in tool_result(tool, "not JSON", {"status": "late"})
    assert "could not be read" in tool_result(tool, '{"tool": "lookup_order"}', {"status": "late"})
    assert tool_result(tool, '{"arguments": {"order_id": 17}}', {"status": "late"}) == "Order 17: late"


@pytest.mark.parametrize("old, new, message", [
    ("'Order {order_id}: {status}'", "'Order {order_id}: {weather}'", "neither an argument"),
    ("'Order {order_id}: {status}'", "''", "non-empty text"),
    ("result = 'Order", "results = 'Order", "unknown key"),
    ('placeholders = ["lookup_result"]', 'placeholders = ["lookup_answer"]', "may only name"),
])
def test_a_bad_tool_result_fails_when_the_spec_loads(tmp_path, old: str, new: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(write(tmp_path, "toolchain", TOOL_CHAIN.replace(old, new)))


def test_a_criterion_on_an_unknown_step_fails_when_the_spec_loads(tmp_path) -> None:
    with pytest.raises(SpecError, match="names no step"):
        load_spec(write(tmp_path, "chain", CHAIN.replace('step = "extract"', 'step = "extrakt"')))


def test_an_exercise_over_seeds_runs_each_case_once_per_seed_at_its_temperature(tmp_path, mock_backend) -> None:
    text = CHAIN.replace('title = "Facts, then reply"', 'title = "Facts"\n\n[model]\ntemperature = 0.8\nseeds = [1, 2, 3]', 1)
    # TOML: the [model] table must come after the top-level keys; rebuild it in order
    head, rest = text.split("\n[model]\n", 1)
    model_block, rest = rest.split("\n", 2)[:2], rest.split("\n", 2)[2]
    text = head + "\n" + rest + "\n[model]\n" + "\n".join(model_block) + "\n"
    spec = load_spec(write(tmp_path, "chain", text))
    mock_backend.script(lambda r: json.dumps({"order": "A-17"}) if r.json_schema else f"order A-17 (seed {r.seed})")
    ev = evaluate(spec, {"extract": "Facts of {message}.", "reply": "Reply using {extract}."}, model="mock", cases="visible")
    assert {r.seed for r in mock_backend.calls} == {1, 2, 3} and {r.temperature for r in mock_backend.calls} == {0.8}
    assert [o.name for o in ev.outputs] == ["late@1", "late@2", "late@3", "broken@1", "broken@2", "broken@3"]
    # right on "late" under every seed, wrong on "broken": a pass rate, not one lucky draw
    assert ev.criteria[0].passed == 3 and ev.criteria[0].scored == 6


def test_cheats_are_built_for_conversations_and_chains(tmp_path) -> None:
    from promptatelier.grading import normalise
    from promptatelier.grading.cheats import cheats_for

    for name, text in (("memory", CONVERSATION), ("chain", CHAIN)):
        spec = load_spec(write(tmp_path, name, text))
        found = cheats_for(spec, list(spec.cases), "A reply.")
        assert {c.name for c in found} >= {"constant", "echo", "empty"}
        for cheat in found:
            normalise(spec, cheat.submission)  # each is a submission grading accepts
