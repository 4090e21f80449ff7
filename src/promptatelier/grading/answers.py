"""Reading a learner's answer from its cell without running it.

The trusted grade must not depend on anything learner code could do, so an answer cell is
parsed with `ast` and only a literal assignment is accepted: no name lookup, no call, no f-string.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "MAX_ANSWER_CHARS", "read_answer", "unencodable"]

# answers longer than this are not parsed (a prompt is text, not a data dump)
MAX_ANSWER_CHARS = 100_000


@dataclass(frozen=True)
class Answer:
    """A learner's answer as read from its cell: the literal, or why it cannot be graded."""

    value: Any = None
    problem: str | None = None
    # the problem is not the learner's mistake but something the kit cannot grade: a person does
    manual: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def _first_non_literal(node: ast.AST) -> ast.AST:
    """The innermost part of a container that is not a literal (what to name in the message)."""
    children: list[ast.AST] = []
    if isinstance(node, ast.Dict):
        children = [k for k in node.keys if k is not None] + list(node.values)
    elif isinstance(node, (ast.List, ast.Tuple)):
        children = list(node.elts)
    for child in children:
        try:
            ast.literal_eval(child)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return _first_non_literal(child)
    return node


def _describe(node: ast.AST) -> str:
    inner = _first_non_literal(node)
    if inner is not node:
        return f"{'a dict' if isinstance(node, ast.Dict) else 'a list'} containing {_describe(inner)}"
    if isinstance(node, ast.JoinedStr):
        return "an f-string (its {...} parts would run code)"
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.BinOp):
        return "an expression (e.g. strings joined with +)"
    if isinstance(node, ast.Attribute):
        return "an attribute lookup"
    return f"a Python {type(node).__name__} expression"


def _strings(value: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _data(value: Any) -> bool:
    """Plain data as JSON has it: texts, numbers, booleans, None, lists, dicts with text keys."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _data(v) for k, v in value.items())
    return False


def _shape_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, dict):
        return None if _strings(value) else "a dict whose keys and values are not all strings"
    if isinstance(value, list):
        if all(isinstance(m, dict) and _strings(m) for m in value):
            return None
        # an evaluation the learner writes (test cases, a rubric): dicts of plain data, with the
        # answer cell's scaffolding strings between them; its kind checks the rest
        if all(isinstance(m, (dict, str)) for m in value) and _data(value):
            return None
        return "a list whose items are not all dicts of strings"
    return f"a {type(value).__name__}"


def read_answer(source: str, variable: str) -> Answer:
    """The literal assigned to `variable` in an answer cell's source, without executing anything.

    The cell must be exactly one assignment `VARIABLE = <literal>` of a string, a dict of strings
    or a list of dicts of strings; anything else is an Answer with a `problem` (scores 0).
    """
    expected = f"`{variable} = \"\"\"...\"\"\"` (one assignment of text written between quotes)"
    if (reason := unencodable(source)) is not None:
        return Answer(problem=reason, manual=True)
    if len(source) > MAX_ANSWER_CHARS:
        return Answer(problem=f"The answer cell is longer than {MAX_ANSWER_CHARS:,} characters.")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Answer(problem=f"The answer cell is not valid Python (line {exc.lineno}: {exc.msg}); "
                              f"it should be {expected}.")
    except (ValueError, RecursionError, MemoryError):
        return Answer(problem=f"The answer cell cannot be read; it should be {expected}.")
    body = tree.body
    if not body:
        return Answer(problem=f"The answer cell is empty; it should be {expected}.")
    if len(body) != 1:
        return Answer(problem=f"The answer cell holds {len(body)} statements; only {expected} is "
                              "graded, so other code in it is not allowed.")
    node = body[0]
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value_node = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value_node = node.target, node.value
    else:
        return Answer(problem=f"The answer cell is not an assignment; it should be {expected}.")
    if not isinstance(target, ast.Name) or target.id != variable:
        name = target.id if isinstance(target, ast.Name) else ast.unparse(target)
        return Answer(problem=f"The answer cell assigns {name!r} instead of {variable!r}; "
                              f"it should be {expected}.")
    try:
        value = ast.literal_eval(value_node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return Answer(problem=f"{variable} is {_describe(value_node)}, not a literal: the grader never "
                              f"runs code, so write the text itself, as {expected}.")
    shape = _shape_problem(value)
    if shape is not None:
        return Answer(problem=f"{variable} is {shape}; it must be a string, a dict of strings "
                              "or a list of {'role': ..., 'content': ...} dicts.")
    if (reason := unencodable(value)) is not None:
        return Answer(value=value, problem=reason, manual=True)
    return Answer(value=value)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _texts(item)]
    return []


def unencodable(value: Any) -> str | None:
    """Why an answer's text cannot be sent to a model (a lone surrogate such as '\\ud800',
    which no UTF-8 request can carry), or None. Such an answer is graded by hand."""
    for text in _texts(value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            return (f"the answer holds a character that cannot be encoded as UTF-8 "
                    f"({bad.encode('unicode_escape').decode('ascii')} at position {exc.start}), "
                    "so it cannot be sent to the model")
    return None
