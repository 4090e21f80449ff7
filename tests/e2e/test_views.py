"""The check view and the feedback as learners see them: rendered in the pages they land in
(a notebook exported with JupyterLab's styles; nbgrader's feedback page), screenshotted in real
Chromium, and measured: left-aligned, top-aligned cells, no overflow, no word cut in two.

The screenshots stay in tests/artefacts/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.grading.notebook import CheckReport
from promptatelier.grading.result import CaseOutput, CaseVerdict, CriterionResult, Evaluation

from .conftest import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e]

LONG_JSON = ('{\n  "name": "Stoneware mug",\n  "price": 14.9,\n  "notes": "glossy sage green, dishwasher safe, '
             'hand-thrown in a small workshop near Lyon"\n}')
LONG_TEXT = ("I think there may be a misunderstanding about the delivery date: the parcel left our warehouse on "
             "Monday and the carrier's tracking page https://tracking.example.org/parcel/AB1234567890CDEFGHIJKLMNOP "
             "shows it in transit. Thank you for your patience!")


def evaluation(lang: str) -> Evaluation:
    """A check with what makes views hard: long outputs, JSON, a URL, an expected answer nobody
    graded, a failed criterion with a Markdown hint, French labels."""
    label_len = {"en": "Length in sentences within limits", "fr": "Longueur en phrases dans les limites"}
    label_json = {"en": "Valid JSON with the required keys", "fr": "JSON valide avec les clés demandées"}
    label_not = {"en": "Does not mention the competitor", "fr": "Ne mentionne pas le concurrent"}
    verdicts_a = {
        "json": CaseVerdict(label_json, 1.0, "valid JSON with name, price", "JSON valide avec name, price"),
        "length": CaseVerdict(label_len, 1.0, "1 sentence (at most 2)", "1\u00a0phrase (2 au plus)"),
        "not": CaseVerdict(label_not, 1.0, "does not mention 'Potterly'", "ne mentionne pas «\u00a0Potterly\u00a0»"),
    }
    verdicts_b = {
        "json": CaseVerdict(label_json, 0.0, "not JSON: Expecting value at line 1", "pas du JSON\u00a0: valeur attendue ligne 1"),
        "length": CaseVerdict(label_len, 0.0, "3 sentences (at most 2)", "3\u00a0phrases (2 au plus)"),
        "not": CaseVerdict(label_not, None, "unscored: no output", "non noté\u00a0: aucune sortie"),
    }
    criteria = [
        CriterionResult("json", "output", label_json, 2.0, 0.5, "passed on 1 of 2 cases", "réussi sur 1 cas sur 2",
                        hint={"en": "Ask for **only** the JSON object, e.g. `{\"name\": string}`.",
                              "fr": "Demandez **seulement** l'objet JSON, par exemple `{\"name\": string}`."},
                        passed=1, scored=2, total=2, key="json"),
        CriterionResult("length", "output", label_len, 1.0, 0.5, "passed on 1 of 2 cases", "réussi sur 1 cas sur 2",
                        hint={"en": "Say how many sentences.", "fr": "Dites combien de phrases."},
                        passed=1, scored=2, total=2, key="length"),
        CriterionResult("not", "output", label_not, 1.0, 1.0, "passed on 1 of 1 case", "réussi sur 1 cas sur 1",
                        passed=1, scored=1, total=2, key="not"),
    ]
    outputs = [
        CaseOutput("mug", {"listing": "Stoneware mug, 350 ml, glossy sage green. Price: 14.90 EUR."},
                   {"name": "Stoneware mug", "price": 14.9}, LONG_JSON, verdicts=verdicts_a),
        CaseOutput("delivery-question", {"message": "Where is my parcel? I ordered it ten days ago."}, None,
                   LONG_TEXT, verdicts=verdicts_b),
    ]
    return Evaluation("m05.product_json", "graded", 2.0, 4.0, criteria=criteria, outputs=outputs,
                      cases_run={"visible": 2, "hidden": 0},
                      title={"en": "Product listing as JSON", "fr": "Fiche produit en JSON"},
                      hints={"en": "Show the model **one** example.", "fr": "Montrez **un** exemple au modèle."})


def notebook_page(path: Path, html: str, text: str) -> None:
    """A notebook holding `html` as a cell's output, exported with JupyterLab's own styles."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('check("m05.product_json", PROMPT)')
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": html, "text/plain": text},
                                           execution_count=1)]
    nb.cells = [cell]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


def feedback_page(path: Path, html: str, text: str) -> None:
    """The page nbgrader's generate_feedback writes, with its own template and stylesheet."""
    import nbformat
    import nbgrader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('grade("m05.product_json", PROMPT)')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "m05-test", "points": 4, "solution": False,
                                 "locked": True, "schema_version": 3, "score": 2.0}
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": text}),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    nb.cells = [cell]
    root = Path(nbgrader.__file__).parent
    c = Config()
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [str(root / "server_extensions" / "formgrader" / "templates")]
    c.HTMLExporter.extra_template_paths = [str(root / "server_extensions" / "formgrader" / "static" / "node_modules"
                                               / "bootstrap" / "dist" / "css")]
    resources = {"nbgrader": {"notebook": "01_anatomy", "score": 2.0, "max_score": 4.0, "late_penalty": 0,
                              "student": "alice", "timestamp": "2026-11-30 10:00:00"}}
    body, _ = HTMLExporter(config=c).from_notebook_node(nb, resources=resources)
    path.write_text(body, encoding="utf-8")


# every cell of the kit's tables: how it aligns, and whether anything spills out of it
MEASURE = """() => {
  const cells = [...document.querySelectorAll('.atelier-view td, .atelier-view th')];
  const pres = [...document.querySelectorAll('.atelier-view pre')];
  const views = [...document.querySelectorAll('.atelier-view')];
  return {
    cells: cells.length,
    alignments: [...new Set(cells.map(c => getComputedStyle(c).textAlign))],
    vertical: [...new Set(cells.filter(c => c.tagName === 'TD').map(c => getComputedStyle(c).verticalAlign))],
    overflowing: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText.slice(0, 60)),
    pre_fonts: [...new Set(pres.map(p => getComputedStyle(p).fontFamily.toLowerCase().includes('mono')))],
    pre_wrap: [...new Set(pres.map(p => getComputedStyle(p).whiteSpace))],
    wider_than_page: views.filter(v => v.scrollWidth > document.documentElement.clientWidth).length,
  };
}"""

# ordinary words cut across two lines (a run of 24 characters or more, such as a URL, may be
# broken where it would overflow: that is the last resort the views allow)
CUT_WORDS = r"""() => {
  const cut = [];
  const walker = document.createTreeWalker(document.querySelector('.atelier-view'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    for (const token of text.matchAll(/\S+/g)) {
      if (token[0].length > 23) continue;
      for (const word of token[0].matchAll(/[^-\/]{2,}/g)) {  // a hyphen or a slash may end a line
        const range = document.createRange();
        range.setStart(node, token.index + word.index);
        range.setEnd(node, token.index + word.index + word[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) cut.push(word[0]);
      }
    }
  }
  return cut;
}"""


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-chromium to install Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("where", ["check-in-lab", "feedback-in-nbgrader"])
@pytest.mark.parametrize("width", [1200, 760])
def test_views_read_left_aligned_without_overflow_or_cut_words(browser, tmp_path: Path, where: str, lang: str,
                                                               width: int) -> None:  # noqa: ANN001
    report = CheckReport(evaluation(lang), lang)
    page_file = tmp_path / f"{where}.html"
    if where == "check-in-lab":
        notebook_page(page_file, report._repr_html_(), repr(report))
    else:
        feedback_page(page_file, report.evaluation.feedback_html(lang), report.evaluation.feedback_text(lang))
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(page_file.as_uri())
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"view-{where}-{lang}-{width}.png"), full_page=True)
        found = page.evaluate(MEASURE)
        cut = page.evaluate(CUT_WORDS)
    finally:
        page.close()
    assert found["cells"] > 8
    assert found["alignments"] == ["left"], found
    assert found["vertical"] == ["top"], found
    assert found["overflowing"] == [], found
    assert found["wider_than_page"] == 0, found
    assert cut == [], f"words cut across lines: {cut}"
    if where == "check-in-lab":
        assert found["pre_fonts"] == [True] and found["pre_wrap"] == ["pre-wrap"], found
