"""A kit error in a real kernel (nbclient, ipykernel) shows the kit's message and fix in the course
language and the learner's line, with no path into the kit; the cell still fails, so nbgrader
and "Run All" see an error; other errors keep IPython's own traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import promptatelier

KIT = str(Path(promptatelier.__file__).parent)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.slow


def run_cells(cells: list[str], tmp_path: Path, **env: str) -> list[list[dict]]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [cell.outputs for cell in nb.cells]


def shown(outputs: list[dict]) -> str:
    """What the learner reads: every output's text, colours removed."""
    parts = []
    for out in outputs:
        if out["output_type"] == "error":
            parts += out["traceback"]
        elif out["output_type"] == "stream":
            parts.append(out["text"])
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return ANSI.sub("", "\n".join(parts))


def test_a_kit_error_shows_its_message_and_the_learners_line_not_the_kit(tmp_path: Path) -> None:
    outputs = run_cells([
        "from promptatelier import complete",
        'reply = complete("Hello", model="openai-compatible:not-a-url#m")',
        'int("x")',
        "print('still running')",
    ], tmp_path, NBGRADER_EXECUTION="autograde")
    kit_error, other_error, after = outputs[1], outputs[2], outputs[3]
    assert [o["output_type"] for o in kit_error] == ["error"]  # the cell still fails, for nbgrader too
    assert kit_error[0]["ename"] == "UnknownModelError"
    text = shown(kit_error)
    assert "UnknownModelError: In 'openai-compatible:not-a-url#m', 'not-a-url' is not an http(s) URL." in text
    assert "How to fix it: Write openai-compatible:BASE_URL#MODEL" in text
    assert 'Cell In[2], line 1: reply = complete("Hello", model="openai-compatible:not-a-url#m")' in text
    assert KIT not in text and "site-packages" not in text and "Traceback" not in text
    assert len(text.splitlines()) == 3
    # an ordinary error keeps IPython's full traceback
    assert other_error[0]["ename"] == "ValueError" and "invalid literal" in shown(other_error)
    assert "still running" in shown(after)


def test_the_message_is_in_the_course_language(tmp_path: Path) -> None:
    outputs = run_cells([
        "import promptatelier\nfrom promptatelier.errors import SubmissionError",
        "def answer():\n    raise SubmissionError('Not answered.', 'Write it.', fr=('Pas de réponse.', 'Écrivez-la.'))",
        "answer()",
    ], tmp_path, ATELIER_LANG="fr")
    text = shown(outputs[2])
    assert "SubmissionError\u00a0: Pas de réponse." in text and "Comment corriger\u00a0: Écrivez-la." in text
    assert "dans Cell In[3], ligne 1\u00a0: answer()" in text and "dans Cell In[2], ligne 2" in text


def test_importing_the_kit_outside_ipython_loads_nothing_of_it() -> None:
    code = "import sys, promptatelier; print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
