"""`atelier report`: the cohort report an instructor reads. Unit tests build journal rows
(ItemResult) directly; the others grade the test course with the real `atelier grade` (mock model,
scripted so that one learner passes), run `atelier report`, read its CSV tables and open its HTML
in real Chromium (screenshots in tests/artefacts/)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from promptatelier.cli import main
from promptatelier.grading.journal import ItemResult
from promptatelier.report import CriterionInfo, ExerciseInfo, cohort_tables, item_state, write_report
from promptatelier.report.exercises import match_criteria
from promptatelier.report.words import _strings

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cohort_course", ROOT / "tests/grading/course/cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]
GRADERS = cc.HERE / "graders"
ORDER = ["tc.label", "tc.french", "tc.json"]


def _hidden_texts() -> list[str]:
    """Every hidden input and hidden expected answer of the test course (must appear nowhere)."""
    texts = []
    for path in GRADERS.rglob("*.toml"):
        for case in tomllib.loads(path.read_text(encoding="utf-8")).get("hidden", []):
            texts += [str(v) for v in case.get("vars", {}).values()]
            expected = case.get("expected")
            texts += [str(v) for v in (expected.values() if isinstance(expected, dict) else [expected])
                      if v is not None and len(str(v)) > 8]
    assert len(texts) >= 5
    return texts


@pytest.fixture
def graders(monkeypatch: pytest.MonkeyPatch) -> Path:
    from promptatelier.config import reload_settings

    monkeypatch.setenv("ATELIER_GRADERS", str(GRADERS))
    reload_settings()
    return GRADERS


def item(student: str, exercise: str, status: str, points: float | None, max_points: float = 2.0, *,
         feedback: str = "", criteria: list[dict[str, Any]] | None = None, flags: list[str] | None = None) -> ItemResult:
    return ItemResult(student=student, notebook="ps1", exercise_id=exercise, test_id=f"{exercise}-test",
                      answer_id=f"{exercise}-answer", submission_hash="x", status=status, points=points,
                      max_points=max_points, feedback=feedback, criteria=criteria or [], flags=flags or [])


LABEL_ROWS_PASS = [{"name": "label_only", "score": 1.0}, {"name": "label_accuracy", "score": 1.0},
                   {"name": "no_answer_leak", "score": 1.0}, {"name": "not_degenerate", "score": 1.0},
                   {"name": "not_constant", "score": 1.0}, {"name": "not_echo", "score": 1.0}]
LABEL_ROWS_FAIL = [{"name": "label_only", "score": 0.0}, {"name": "label_accuracy", "score": 0.5},
                   {"name": "no_answer_leak", "score": 1.0}, {"name": "not_degenerate", "score": 1.0},
                   {"name": "not_constant", "score": 1.0}, {"name": "not_echo", "score": 0.0}]


def cohort() -> list[ItemResult]:
    """Five learners on tc.label (pass mark 50%) as the grader words their results."""
    return [
        item("ada", "tc.label", "graded", 2.0, criteria=LABEL_ROWS_PASS),
        item("bob", "tc.label", "graded", 0.25, criteria=LABEL_ROWS_FAIL),
        item("cy", "tc.label", "invalid", 0.0, feedback="PROMPT is an f-string (its {...} parts would run code), "
                                                        "not a literal"),
        item("dee", "tc.label", "invalid", 0.0, feedback="Not answered yet: PROMPT is still the text given in the "
                                                         "notebook."),
        item("eve", "tc.label", "invalid", 0.0, feedback="The notebook ps1.ipynb was not submitted."),
        item("fay", "tc.label", "invalid", 0.0, feedback="Sentiment label [tc.label]\nNote : 0 / 2\n! Pas encore "
                                                         "de réponse : la réponse est vide"),
        item("gus", "tc.label", "manual", None, flags=["the notebook ps1.ipynb cannot be read"]),
        item("hal", "tc.label", "graded", 1.5, criteria=LABEL_ROWS_PASS, flags=["cell 3 defines grade()"]),
        item("ivy", "tc.label", "not_graded", None),
    ]


def test_not_answered_and_not_submitted_are_not_invalid(graders: Path) -> None:
    t = cohort_tables(cohort(), "en")
    states = dict(zip(t.items["learner"], t.items["state"], strict=True))
    assert states == {"ada": "passed", "bob": "very_low", "cy": "invalid", "dee": "not_answered",
                      "eve": "not_submitted", "fay": "not_answered", "gus": "manual", "hal": "passed",
                      "ivy": "not_graded"}
    ex = t.exercises.set_index("exercise").loc["tc.label"]
    assert (ex["attempted"], ex["passed"], ex["invalid"], ex["not_answered"], ex["not_submitted"], ex["pending"]) == \
        (4, 2, 1, 2, 1, 2)
    assert ex["pass_rate"] == 50.0 and ex["flagged"] == 1
    # a journal row that says why it is invalid is believed over the wording
    tagged = item("joe", "tc.label", "invalid", 0.0, feedback="anything")
    tagged.invalid_reason = "not_answered"  # type: ignore[attr-defined]
    assert item_state(tagged, 0.5) == "not_answered"


def test_score_bands_follow_the_pass_mark() -> None:
    # out of 2 points with a 50% pass mark: 1 passes, 0.5 (a quarter) is below, under it far below
    assert [item_state(item("a", "x", "graded", p), 0.5) for p in (2.0, 1.0, 0.99, 0.5, 0.49)] == \
        ["passed", "passed", "below", "below", "very_low"]


def test_flags_come_first_with_their_reasons(graders: Path) -> None:
    attention = cohort_tables(cohort(), "en").attention
    assert list(attention["learner"]) == ["gus", "hal", "ivy"]  # by hand, flagged, waiting for the model
    assert list(attention["state"]) == ["manual", "passed", "not_graded"]
    assert "cannot be read" in attention["reasons"][0] and attention["reasons"][1] == "cell 3 defines grade()"
    assert "atelier grade" in attention["reasons"][2]
    # a manual answer's reason is not counted again as a flag
    assert not attention["flagged"][0] and attention["flagged"][1]


def test_criteria_have_human_labels_gates_and_pass_rates(graders: Path) -> None:
    criteria = cohort_tables(cohort(), "fr").criteria.set_index("key")
    # not_degenerate and not_constant passed everywhere: left out; not_echo failed once: listed
    assert list(criteria.index) == ["label_only", "label_accuracy", "no_answer_leak", "not_echo"]
    assert criteria.at["label_only", "criterion"] == "Répond par une étiquette seule"
    assert criteria.at["not_echo", "required"] and not criteria.at["label_only", "required"]
    # 3 graded answers: label_only passed 2 of 3 (67% ≥ 50%), label_accuracy averages 1, 0.5, 1
    assert (criteria.at["label_only", "case_rate"], criteria.at["label_only", "band"]) == (66.7, "passed")
    assert (criteria.at["label_accuracy", "failed"], criteria.at["label_accuracy", "case_rate"]) == (1, 83.3)
    failures = cohort_tables(cohort(), "en").failures
    assert list(failures["key"])[:1] == ["label_only"] and failures["hint"][0] == "Say: answer with one word only."


def test_repeated_criteria_are_matched_in_the_runners_order() -> None:
    info = ExerciseInfo("m.x", {"en": "X"}, 2.0, 0.7, (
        CriterionInfo("greets", "contains", {"en": "Says hello"}),
        CriterionInfo("signs", "contains", {"en": "Signs off"}),
        CriterionInfo("not_echo", "not_echo", {"en": "Does the task"}, 0.0, True, True),
    ))
    rows = [{"name": "contains", "score": 1.0}, {"name": "contains", "score": 0.0}, {"name": "not_echo", "score": 1.0},
            {"name": "retired_criterion", "score": None},
            {"name": "contains", "key": "signs2", "label": {"en": "Signs twice"}, "gate": True, "score": 0.5}]
    matched = [(c.key, c.label_in("en"), c.gate, s) for c, s in match_criteria(rows, info)]
    assert matched == [("greets", "Says hello", False, 1.0), ("signs", "Signs off", False, 0.0),
                       ("not_echo", "Does the task", True, 1.0), ("retired_criterion", "retired_criterion", False, None),
                       ("signs2", "Signs twice", True, 0.5)]



def test_failing_visible_cases_show_an_example_output(graders: Path, tmp_path: Path) -> None:
    def with_cases(base: ItemResult, cases: list[dict[str, Any]]) -> ItemResult:
        return dataclasses.replace(base, cases=cases)

    results = [
        with_cases(item("bob", "tc.label", "graded", 0.25, criteria=LABEL_ROWS_FAIL),
                   [{"case": "happy", "output": "I think it is positive.", "failed": ["label_only"]},
                    {"case": "angry", "output": "negative", "failed": []}]),
        with_cases(item("cy", "tc.label", "graded", 0.25, criteria=LABEL_ROWS_FAIL),
                   [{"case": "happy", "output": "Positive!", "failed": ["label_only", "label_accuracy"]},
                    {"case": "angry", "output": "Negative, clearly.", "failed": ["label_only"]}]),
    ]
    cases = cohort_tables(results, "en").cases
    assert list(cases["case"]) == ["happy", "angry"] and list(cases["failed"]) == [2, 1]
    assert cases["criteria"][0] == "Answers with a label only; Picks the right label"
    assert (cases["example_learner"][0], cases["example_output"][0]) == ("bob", "I think it is positive.")
    page = write_report("ps1", results, tmp_path / "r.html").html.read_text(encoding="utf-8")
    assert 'data-case="happy"' in page and "I think it is positive." in page
    plain = write_report("ps1", cohort(), tmp_path / "plain.html").html.read_text(encoding="utf-8")
    assert "data-case=" not in plain and "Visible cases most often failed" not in plain


def test_french_words_follow_the_glossary_and_typography() -> None:
    from tests.widgets.test_strings import FORBIDDEN, typography_faults

    strings = _strings()

    def flat(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in table.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                for i, text in enumerate(value if isinstance(value, list) else [value]):
                    out[f"{prefix}{key}:{i}"] = text
        return out

    en, fr = flat(strings["en"]), flat(strings["fr"])
    assert set(en) == set(fr)
    assert {k: f for k, v in fr.items() if (f := typography_faults(v))} == {}
    prose = {k: re.sub(r"\{[^{}]*\}", "", v) for k, v in fr.items()}
    assert {k: w for k, v in prose.items() for w in FORBIDDEN
            if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", v, re.IGNORECASE)} == {}


# -- the real pipeline: atelier grade (mock model), then atelier report -------------------------

def _answer(request: Any) -> str:
    """The mock model: a good answer to the strong learner's prompts, an echo otherwise."""
    system = (request.system or "") + " ".join(m.content for m in request.messages if m.role == "system")
    user = " ".join(m.content for m in request.messages if m.role == "user")
    if "exactly one word" in user:
        return "positive" if re.search(r"loved|brand new", user) else "negative"
    if "JSON only" in user:
        match = re.search(r"<text>(.*)</text>", user, re.S)
        text = match.group(1) if match else ""
        name = re.search(r"[A-Z][a-z]+ [A-Z][a-z]+", text)
        age = re.search(r"\d+", text)
        return f'{{"name": "{name.group(0) if name else ""}", "age": {age.group(0) if age else 0}}}'
    if "français" in system:
        return f"Bonne question : la réponse tient en {len(user.split())} mots, et je vous l'explique en français."
    return user


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = cc.build_course(tmp_path_factory.mktemp("report") / "course")
    for learner in ("strong", "naive", "cheat"):
        cc.submit_learner(root, learner)
    cc.submit(root, "blank", {})  # the released notebook handed in untouched
    cc.submit(root, "partial", {"tc.label": cc.learners()["naive"]["tc.label"]})
    (root / "submitted" / "garbled" / "ps1").mkdir(parents=True)
    (root / "submitted" / "garbled" / "ps1" / "ps1.ipynb").write_text("{not json", encoding="utf-8")
    (root / "submitted" / "absent" / "ps1").mkdir(parents=True)  # a folder without the notebook
    (root / "submitted" / "absent" / "ps1" / "timestamp.txt").write_text("2025-01-06 09:00:00.000000 UTC")
    return root


@pytest.fixture
def graded(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    from promptatelier.models import get_backend

    course = cc.working_copy(generated, tmp_path / "course", monkeypatch)
    get_backend("mock").script(_answer)
    assert main(["grade", "ps1", "--course", str(course), "--model", "mock"]) == 0
    capsys.readouterr()
    return course


@pytest.mark.nbgrader
def test_report_writes_html_and_csv_tables_in_plain_words(graded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    assert main(["report", "ps1", "--course", str(graded)]) == 0
    out = capsys.readouterr().out
    reports = graded / "reports"
    assert f"Report written to {reports / 'ps1.html'}" in out
    assert out.index("Needs your attention") > out.index("Criteria")  # stdout: tables, then the list
    tables = {name: pd.read_csv(reports / f"ps1-{name}.csv") for name in ("learners", "exercises", "criteria", "items")}
    for name, frame in tables.items():
        assert not [c for c in frame.columns if "_" in c], name  # plain words, no snake_case
    items = tables["items"].set_index(["Learner", "Exercise"])
    assert items.loc[("strong", "tc.label"), "State"] == "passed"
    assert items.loc[("strong", "tc.json"), "State"] == "passed" and items.loc[("strong", "tc.json"), "Score (%)"] > 90
    assert items.loc[("blank", "tc.json"), "State"] == "not answered"
    assert items.loc[("partial", "tc.json"), "State"] == "not answered"
    assert items.loc[("absent", "tc.label"), "State"] == "not submitted"
    assert items.loc[("cheat", "tc.french"), "State"] == "invalid"  # an f-string: code, not a prompt
    assert items.loc[("garbled", "tc.label"), "State"] == "to grade by hand"
    exercises = tables["exercises"].set_index("Exercise")
    assert list(exercises.index) == ORDER  # the notebook's order
    assert exercises.loc["tc.json", ["Not answered", "Not submitted", "Invalid", "Pending"]].tolist() == [2, 1, 0, 1]
    criteria = tables["criteria"]
    assert "Answers with a label only" in set(criteria["Criterion"]) and "label_only" in set(criteria["Key in the spec"])
    learners = tables["learners"].set_index("Learner")
    assert learners.index[0] == "strong" and learners.loc["blank", "Not answered"] == 3
    everything = "".join(p.read_text(encoding="utf-8") for p in reports.glob("ps1*"))
    assert [t for t in _hidden_texts() if t in everything] == []

    assert main(["report", "ps1", "--course", str(graded), "--lang", "fr", "--output", str(reports / "fr.html")]) == 0
    capsys.readouterr()
    french = pd.read_csv(reports / "fr-items.csv").set_index(["Apprenant", "Exercice"])
    assert french.loc[("blank", "tc.json"), "État"] == "sans réponse"
    assert "Bilan de la promotion\u00a0: ps1" in (reports / "fr.html").read_text(encoding="utf-8")


@pytest.mark.nbgrader
@pytest.mark.e2e
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_report_in_a_browser(graded: Path, lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-chromium to install Debian's Chromium")
    assert main(["report", "ps1", "--course", str(graded), "--lang", lang]) == 0
    capsys.readouterr()
    page_file = graded / "reports" / "ps1.html"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(ARTEFACTS / f"report-cohort-{lang}.png"), full_page=True)
            assert page.locator("html").get_attribute("lang") == lang
            # what needs the instructor comes first, with its reasons
            assert page.locator("section").first.get_attribute("id") == "attention"
            attention = page.locator("#attention tbody tr")
            states = [attention.nth(i).get_attribute("data-state") for i in range(attention.count())]
            assert states[:3] == ["manual"] * 3 and len(states) == 6
            assert "defines grade()" in page.locator("#attention").inner_text()
            # the heatmap: one cell per learner and exercise, each with a symbol and a number or a word
            cells = page.locator("table.heatmap tbody td.cell")
            assert cells.count() == 7 * 3
            texts = cells.all_inner_texts()
            assert all(re.search(r"\d|\w{3}", t) for t in texts)
            row = page.locator('table.heatmap tr[data-learner="strong"] td.cell')
            assert [row.nth(i).get_attribute("data-state") for i in range(3)] == ["passed"] * 3
            assert row.first.inner_text().startswith("✓ 2")  # 2 points of 2
            blank = page.locator('table.heatmap tr[data-learner="blank"] td.cell')
            assert {blank.nth(i).get_attribute("data-state") for i in range(3)} == {"not_answered"}
            word = {"en": "not answered", "fr": "sans réponse"}[lang]
            assert word in blank.first.inner_text()
            assert page.locator('table.heatmap td[data-state="not_submitted"]').count() == 3
            assert page.locator('table.heatmap td[data-state="invalid"]').count() == 1
            assert page.locator('table.heatmap td[data-flagged="true"]').count() == 3  # cheat's three answers
            colours = {page.locator(f'table.heatmap td[data-state="{s}"]').first.evaluate(
                "e => getComputedStyle(e).backgroundColor") for s in ("passed", "not_answered", "invalid")}
            assert len(colours) == 3
            # criteria by human label, in the page's language
            labels = page.locator("#criteria tr.criterion td:first-child").all_inner_texts()
            assert labels and not [t for t in labels if re.fullmatch(r"[a-z]+(_[a-z]+)+", t.strip())]
            label = {"en": "Answers with a label only", "fr": "Répond par une étiquette seule"}[lang]
            assert label in labels
            # the plots load
            images = page.locator("img.plot")
            assert images.count() == 3
            assert all(images.nth(i).evaluate("e => e.complete && e.naturalWidth > 100") for i in range(3))
            footer = page.locator("footer").inner_text()
            assert "ps1-items.csv" in footer
        finally:
            browser.close()
