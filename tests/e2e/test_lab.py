"""The widgets in real JupyterLab 4 and real Chromium: run a notebook, use the playground and the
exercise check on the local model, and make sure a key typed into the key widget is written
nowhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ARTEFACTS, Lab, run_all, save, write_notebook

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.local_model]

PROMPT = "Name three colours."
GOOD = "Classify the review between <review>{review}</review> tags. Answer positive or negative only."
CANARY = "sk-canary-e2e-5d1c0b9a7e3f42d1"


def open_notebook(page, lab: Lab, name: str) -> None:  # noqa: ANN001
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    # the kernel is up when its status says idle
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


def test_playground_and_exercise_check_in_jupyterlab(lab: Lab, page) -> None:  # noqa: ANN001
    write_notebook(lab.root / "learner.ipynb", [
        "from promptatelier.widgets import Playground, ExerciseCheck, CostMeter",
        "pg = Playground(model='local', max_tokens=12)\npg",
        f"ex = ExerciseCheck('w01.label', {GOOD!r}, model='local')\nex",
        "CostMeter()",
    ])
    open_notebook(page, lab, "learner.ipynb")
    run_all(page)
    prompt = page.locator(".atelier-prompt textarea")
    prompt.wait_for(timeout=180_000)
    # the three widgets render one after another as their cells finish
    expect(page.locator(".atelier-widget")).to_have_count(3, timeout=180_000)
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    prompt.fill(PROMPT)
    page.locator(".atelier-run").click()
    answer = page.locator(".atelier-answer-text")
    answer.wait_for(timeout=300_000)
    text = answer.inner_text()
    assert text.strip(), "the playground showed an empty answer"
    assert "tokens in" in page.locator(".atelier-widget").first.inner_text()
    page.screenshot(path=str(ARTEFACTS / "e2e-playground.png"), full_page=True)
    # the kernel saw the same answer the browser shows
    page.locator(".atelier-check").scroll_into_view_if_needed()
    page.locator(".atelier-check").click()
    rows = page.locator(".atelier-criterion")
    rows.first.wait_for(timeout=300_000)
    expect(rows).to_have_count(3, timeout=60_000)
    names = rows.all_inner_texts()
    assert any("Fences the data with delimiters" in r for r in names)
    assert all(any(v in r for v in ("pass", "fail", "unscored")) for r in names)
    result = page.locator(".atelier-check-result").inner_text()
    assert "Score on the visible cases:" in result and "HIDDENCANARY" not in result
    page.locator(".atelier-check-result").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / "e2e-exercise-check.png"), full_page=True)
    # the cost meter caught up with both runs
    page.locator(".atelier-cost").scroll_into_view_if_needed()
    assert "local" in page.locator(".atelier-cost").inner_text()


def test_a_typed_key_is_written_nowhere(lab: Lab, page) -> None:  # noqa: ANN001
    write_notebook(lab.root / "keys.ipynb", [
        "from promptatelier.widgets import KeyEntry\nkeys = KeyEntry()\nkeys",
        "from promptatelier.config import get_key, key_source\nimport os",
    ])
    open_notebook(page, lab, "keys.ipynb")
    run_all(page)
    field = page.locator(".atelier-key-openai input")
    field.wait_for(timeout=60_000)
    field.fill(CANARY)
    field.press("Enter")
    page.get_by_text("from this field (this session only)").first.wait_for(timeout=30_000)
    assert field.input_value() == ""
    # prove the kernel holds the key: a cell compares it without printing it
    cell = page.locator(".jp-Cell").nth(1).locator(".cm-content")
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(f"print(get_key('openai') == {CANARY[:12]!r} + {CANARY[12:]!r}, key_source('openai'),"
                       f" any('{CANARY[:12]}' in v for v in os.environ.values()))")
    page.keyboard.press("Shift+Enter")
    page.get_by_text("True session False").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTEFACTS / "e2e-key-entry.png"), full_page=True)
    save(page)
    page.wait_for_timeout(2000)
    # checkpoints too: File → Save and create a checkpoint is what Ctrl+S does in JupyterLab 4
    saved = json.loads((lab.root / "keys.ipynb").read_text())
    state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    passwords = [m for m in state.values() if m.get("model_name") == "PasswordModel"]
    assert passwords, "the widget state was not saved, so the test would prove nothing"
    assert all(m["state"].get("value", "") == "" for m in passwords)
    hits = scan(lab.base, CANARY)
    assert hits == [], f"the key was written to {hits}"
    assert list((lab.root / ".ipynb_checkpoints").glob("keys-checkpoint.ipynb")), "no checkpoint was written"


# every label, button and caption of the kit's widgets whose text does not fit its box
CUT_LABELS = """() => [...document.querySelectorAll(
    '.atelier-widget .widget-label, .atelier-widget .jupyter-button, .atelier-widget .atelier-label')]
  .filter(e => e.offsetParent !== null && e.innerText.trim() && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText.trim())"""

VIEW_STYLES = """(selector) => {
  const view = document.querySelector(selector);
  const cells = [...view.querySelectorAll('td, th')];
  return {
    cells: cells.length,
    alignments: [...new Set(cells.map(c => getComputedStyle(c).textAlign))],
    overflowing: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText.slice(0, 60)),
    text: view.innerText,
  };
}"""


def test_labels_whole_messages_whole_and_readable_checks_in_jupyterlab(lab: Lab, page) -> None:  # noqa: ANN001
    """Every widget in both languages with no label cut; an unreachable hosted model named with
    its cause and fix in the exercise check; check() left-aligned; a kit error without traceback."""
    unreachable = "openai-compatible:http://127.0.0.1:9/v1#tiny"  # port 9 (discard): nothing listens
    widgets = ("Playground(model='local', lang=LANG)", "TokenExplorer('The sky is', lang=LANG)",
               "Chat(model='local', lang=LANG)", "Compare(['A {x}'], models='local', cases=[{'x': '1'}], lang=LANG)",
               "KeyEntry(lang=LANG)", f"ExerciseCheck('w01.label', {GOOD!r}, model={unreachable!r}, lang=LANG)")
    write_notebook(lab.root / "views.ipynb", [
        "import os\nos.environ['ATELIER_MAX_RETRIES'] = '0'\nfrom promptatelier.config import reload_settings\n"
        "reload_settings()\nfrom promptatelier import check, complete\n"
        "from promptatelier.widgets import Playground, TokenExplorer, Chat, Compare, KeyEntry, ExerciseCheck",
        *[w.replace("LANG", repr(lang)) for lang in ("en", "fr") for w in widgets],
        f"check('w01.label', {GOOD!r}, model='mock', lang='fr')",
        "complete('Hello', model='openai-compatible:not-a-url#m')",
    ])
    open_notebook(page, lab, "views.ipynb")
    run_all(page)
    expect(page.locator(".atelier-widget")).to_have_count(12, timeout=180_000)
    page.locator(".atelier-check-view").wait_for(timeout=120_000)
    assert page.evaluate(CUT_LABELS) == []
    for button in page.locator(".atelier-check").all():
        button.scroll_into_view_if_needed()
        button.click()
    alerts = page.locator(".atelier-check-result .atelier-alert")
    expect(alerts).to_have_count(2, timeout=120_000)
    for alert, fix in zip(alerts.all(), ("How to fix it", "Comment corriger"), strict=True):
        text = alert.inner_text()
        assert "127.0.0.1:9" in text and "tiny" in text and "could not reach" in text and fix in text, text
        assert alert.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    alerts.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / "e2e-unreachable-check.png"), full_page=True)
    view = page.evaluate(VIEW_STYLES, ".jp-OutputArea-output[data-mime-type='text/html'] .atelier-check-view")
    assert view["cells"] > 4 and view["alignments"] == ["left"] and view["overflowing"] == [], view
    assert "Note sur les cas visibles" not in view["text"] and "Cas visibles" in view["text"]
    page.locator(".jp-OutputArea-output[data-mime-type='text/html'] .atelier-check-view").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / "e2e-check-view.png"), full_page=False)
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").last
    error.wait_for(timeout=60_000)
    shown = error.inner_text()
    assert "UnknownModelError" in shown and "How to fix it" in shown and "site-packages" not in shown, shown
    assert "promptatelier/" not in shown and "Traceback" not in shown, shown
    error.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / "e2e-kit-error.png"), full_page=False)


def scan(base: Path, secret: str) -> list[str]:
    """Every file under `base` whose bytes contain `secret` (plain or as JSON escapes)."""
    needles = [secret.encode(), json.dumps(secret).encode()[1:-1]]
    found = []
    for path in base.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(base)))
    return found
