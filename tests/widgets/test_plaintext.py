"""Where no widget frontend exists (nbconvert, nbgrader autograde), a notebook using the widgets
still runs, writes nothing to stderr, and each widget's output has a readable text/plain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GRADERS = Path(__file__).resolve().parent / "graders"

CELLS = [
    "from promptatelier.widgets import Playground, Compare, ExerciseCheck, Chat, KeyEntry, CostMeter, TokenExplorer",
    "pg = Playground('Say hello to the whole class today', model='mock')\npg.run(); pg.wait(10)\npg",
    "cmp = Compare(['A {x}', 'B {x}'], models='mock', cases=[{'x': '1'}], criteria=[lambda o, c: o.startswith('B')])\n"
    "cmp.run(); cmp.wait(10)\ncmp",
    "ex = ExerciseCheck('w01.label', 'Label <review>{review}</review>: positive or negative.', model='mock')\n"
    "ex.run(); ex.wait(10)\nex",
    "chat = Chat('Be brief.', model='mock')\nchat.send('hello'); chat.wait(10)\nchat",
    "KeyEntry()",
    "t = TokenExplorer('The sky is', model='mock', top_k=2)\nt.run(); t.wait(10)\nt",
    "CostMeter()",
]


@pytest.mark.slow
def test_notebook_without_frontend(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    env_before = dict(os.environ)
    os.environ.update({"ATELIER_GRADERS": str(GRADERS), "NBGRADER_EXECUTION": "autograde"})
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    stderr = [o for c in nb.cells for o in c.outputs if o.get("name") == "stderr" or o.output_type == "error"]
    assert stderr == []
    plain = [next((o["data"]["text/plain"] for o in c.outputs if o.output_type == "execute_result"), "") for c in nb.cells]
    assert plain[1].startswith("Playground (mock, temperature 0)") and "Answer: Say hello to the whole class today" in plain[1]
    assert "Winner Case 1: Prompt 2" in plain[2]
    assert "Exercise w01.label: Sentiment label" in plain[3] and "Score on the visible cases:" in plain[3]
    assert "You: hello" in plain[4] and "Assistant: hello" in plain[4]
    assert "OpenAI: no key" in plain[5]
    assert "Token explorer (mock" in plain[6] and "%" in plain[6]
    assert plain[7].startswith("Tokens and cost in this session") and "mock:" in plain[7]
