"""Criterion arguments: type-checked from the criterion's annotations, taken from the case when
the spec says so, combined with any_of; and the registry refuses a name registered twice."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import load_spec, score_outputs
from promptatelier.grading.criteria import CaseRef, criterion, parse_case_refs, resolve_args
from promptatelier.grading.spec import Case

from .conftest import spec_file

HEAD = """
id = "t09.orders"
points = 3
kind = "template"
placeholders = ["message"]
title = "Order replies"
instructions = "Reply with the order id."
reference = "Reply to <m>{message}</m> quoting the order id."
baseline = "Answer: {message}"
"""
CASES = """
[[cases]]
name = "a"
vars = { message = "Where is order A-17?", order = "A-17" }
expected = { id = "A-17", facts = ["A-17", ["late", "retard"]] }

[[cases]]
name = "b"
vars = { message = "Order B-2 arrived broken.", order = "B-2" }
expected = { id = "B-2", facts = ["B-2", ["broken", "cassé"]] }
"""


def write_spec(tmp_path: Path, criteria: str, cases: str = CASES, head: str = HEAD) -> Path:
    return spec_file(tmp_path, "t09.orders", head + cases + criteria)


@pytest.mark.parametrize("bad, words", [
    ('ignore_case = "false"', "argument 'ignore_case' must be true or false, got the text 'false'"),
    ("ignore_case = 0", "argument 'ignore_case' must be true or false, got 0"),
    ('text = 3', "argument 'text' must be a text or a table or a list of texts or tables, got 3"),
])
def test_arguments_are_type_checked_when_the_spec_loads(tmp_path: Path, bad: str, words: str) -> None:
    text = 'text = "A-17"\n' if not bad.startswith("text") else ""
    path = write_spec(tmp_path, f'\n[[criteria]]\nuse = "contains"\n{text}{bad}\n')
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert words in str(err.value)
    assert "criteria[0]" in str(err.value)


def test_a_whole_number_is_not_a_bool_and_a_bool_is_not_a_number(tmp_path: Path) -> None:
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "length"\nmin = true\n')
    with pytest.raises(SpecError, match="argument 'min' must be a whole number, got true"):
        load_spec(path)


def test_an_argument_taken_from_the_case_grades_each_case_on_its_own_data(tmp_path: Path) -> None:
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "contains"\ntext = { case = "vars.order" }\n')
    spec = load_spec(path)
    assert spec.criteria[0].args == {"text": CaseRef("vars.order")}
    ev = score_outputs(spec, {"a": "Order A-17 is on its way.", "b": "Order A-17 is on its way."})
    verdicts = {o.name: o.verdicts["contains"] for o in ev.outputs}
    assert verdicts["a"].ok and not verdicts["b"].ok
    assert "B-2" in verdicts["b"].explanation


def test_a_nested_expected_value_and_a_format(tmp_path: Path) -> None:
    path = write_spec(tmp_path, textwrap.dedent('''
        [[criteria]]
        use = "regex"
        pattern = { case = "expected.id", format = "^Order {}$", escape = "regex" }
        '''))
    ev = score_outputs(load_spec(path), {"a": "Order A-17", "b": "Order B-2 (late)"})
    assert [o.verdicts["regex"].ok for o in ev.outputs] == [True, False]


def test_a_missing_case_value_fails_loudly_naming_the_case(tmp_path: Path) -> None:
    cases = CASES.replace('vars = { message = "Order B-2 arrived broken.", order = "B-2" }',
                          'vars = { message = "Order B-2 arrived broken." }')
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "contains"\ntext = { case = "vars.order" }\n', cases)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert "case 'b' has no vars.order" in str(err.value)


def test_a_hidden_case_without_the_value_fails_when_hidden_cases_load(tmp_path: Path) -> None:
    hidden = CASES + '\n[[hidden]]\nname = "h"\nvars = { message = "Order C-9?" }\n'
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "contains"\ntext = { case = "vars.order" }\n', hidden)
    spec = load_spec(path)
    with pytest.raises(SpecError, match="case 'h' has no vars.order"):
        spec.hidden_cases()


def test_a_case_value_of_the_wrong_type_fails_loudly(tmp_path: Path) -> None:
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "length"\nmax = { case = "expected.id" }\n')
    with pytest.raises(SpecError, match="argument 'max' must be a whole number"):
        load_spec(path)


def test_case_refs_parse_and_resolve() -> None:
    args = parse_case_refs({"text": {"case": "expected.facts.1"}, "plain": {"a": 1}})
    case = Case("c", {"x": "y"}, expected={"facts": ["one", ["two", "deux"]]})
    assert resolve_args(args, case) == {"text": ["two", "deux"], "plain": {"a": 1}}
    with pytest.raises(ValueError, match="does not name a part of the case"):
        parse_case_refs({"case": "output"})


def test_prompt_criteria_cannot_take_case_values(tmp_path: Path) -> None:
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "token_budget"\nmax_tokens = { case = "vars.order" }\n')
    with pytest.raises(SpecError, match="scored once for all cases"):
        load_spec(path)


def test_any_of_passes_on_either_alternative(tmp_path: Path) -> None:
    path = write_spec(tmp_path, textwrap.dedent('''
        [[criteria]]
        use = "any_of"
        criteria = [
          { use = "contains", text = "refund" },
          { use = "contains", text = "remboursement" },
        ]
        '''))
    spec = load_spec(path)
    label = spec.criteria[0].criterion.describe(spec.criteria[0].args, "en")
    assert "refund" in label and " or " in label and "remboursement" in label
    ev = score_outputs(spec, {"a": "Un remboursement pour A-17.", "b": "Nothing for B-2."})
    assert [o.verdicts["any_of"].ok for o in ev.outputs] == [True, False]


def test_any_of_checks_its_members(tmp_path: Path) -> None:
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "any_of"\ncriteria = [{ use = "contains" }, { use = "contains", text = "x" }]\n')
    with pytest.raises(SpecError, match=r"criteria\[0\] \(contains\): missing argument"):
        load_spec(path)
    path = write_spec(tmp_path, '\n[[criteria]]\nuse = "any_of"\ncriteria = [{ use = "placeholders" }, { use = "contains", text = "x" }]\n')
    with pytest.raises(SpecError, match="any_of combines output criteria only"):
        load_spec(path)


def test_criteria_are_keyed_by_name_and_repeats_get_a_number(tmp_path: Path) -> None:
    path = write_spec(tmp_path, textwrap.dedent('''
        [[criteria]]
        use = "contains"
        text = "order"
        [[criteria]]
        use = "contains"
        text = { case = "vars.order" }
        [[criteria]]
        use = "length"
        name = "short"
        max = 12
        '''))
    spec = load_spec(path)
    assert [c.key for c in spec.criteria] == ["contains", "contains#2", "short"]
    ev = score_outputs(spec, {"a": "Order A-17", "b": "no"})
    assert set(ev.outputs[0].verdicts) >= {"contains", "contains#2", "short"}


def test_the_registry_refuses_a_name_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        @criterion("contains")
        def another(output, case, spec):  # pragma: no cover - never registered
            raise AssertionError
