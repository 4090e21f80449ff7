"""The instructor's live cohort view in real Chromium: the instructor signs in through the hub's
own login page, the view is open, a learner's check() arrives, and the page shows the new score
and the failing criterion without being reloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptatelier import config
from promptatelier.grading import check
from tests.progress.minihub import ProgressHub, progress_hub

from .conftest import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow, pytest.mark.local_model]

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "What do you think of this review? {review}"


@pytest.fixture(scope="module")
def ph() -> Iterator[ProgressHub]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-chromium to install Debian's Chromium")
    with progress_hub(share_prompts=True) as made:
        yield made


def test_the_open_view_shows_a_new_check_without_a_reload(ph: ProgressHub, monkeypatch: pytest.MonkeyPatch,
                                                          request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect, sync_playwright

    learner = ph.learners[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
        page.set_default_timeout(60_000)
        try:
            page.goto(ph.public)
            # the hub's own sign-in page, then back to the view through the hub's OAuth
            page.fill("#username_input", ph.instructor)
            page.fill("#password_input", ph.password)
            page.click("#login_submit")
            expect(page.locator("h1")).to_have_text("Cohort progress")
            expect(page.locator("#grid")).to_contain_text("No check yet")
            page.evaluate("window.__notReloaded = true")

            # the learner's kernel on the hub: its server's token and the service's address
            monkeypatch.setenv("ATELIER_GRADERS", str(ROOT / "tests" / "widgets" / "graders"))
            monkeypatch.setenv("ATELIER_PROGRESS_URL", ph.service)
            monkeypatch.setenv("ATELIER_PROGRESS_SHARE_PROMPTS", "on")
            monkeypatch.setenv("JUPYTERHUB_API_TOKEN", ph.hub.user_token(learner))
            config.reload_settings()
            report = check("w01.label", PROMPT, model="local")
            failing = [c for c in report.evaluation.criteria if c.score is not None and not c.ok]
            assert any(c.key == "delimiters" for c in failing), failing
            label = next(c for c in failing if c.key == "delimiters").label["en"]

            cell = page.locator(f'td[data-learner="{learner}"][data-exercise="w01.label"]')
            expect(cell).to_contain_text(f"{report.evaluation.fraction:.0%}")
            expect(cell).to_contain_text(label)
            criterion = page.locator('table.criteria[data-exercise="w01.label"] tr[data-criterion="delimiters"]')
            expect(criterion).to_contain_text(label)
            expect(criterion).to_contain_text(learner)
            # the course shares prompts here: the instructor can open the learner's latest prompt
            cell.locator("summary").click()
            expect(cell.locator("pre")).to_have_text(PROMPT)
            assert page.evaluate("window.__notReloaded") is True
            expect(page.locator("#refreshed")).to_contain_text("updated")
        finally:
            if getattr(request.node, "failed_call", False) or request.session.testsfailed:
                ARTEFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTEFACTS / "e2e-failure-progress-view.png"), full_page=True)
                (ARTEFACTS / "e2e-failure-progress-view.log").write_text(ph.hub.tail(20000))
            browser.close()
