"""Real JupyterLab on 127.0.0.1 driven by Debian's Chromium through Playwright.

Every place the session may write (root dir, Jupyter config/data/runtime dirs, IPython dir, the
response cache, HOME) is a fresh temp folder, so a test can grep all of it afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = ROOT / "tests" / "artefacts"
GRADERS = ROOT / "tests" / "widgets" / "graders"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    base: Path
    root: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-chromium to install Debian's Chromium")
    base = tmp_path / "session"
    dirs = {name: base / name for name in ("root", "config", "data", "runtime", "ipython", "home", "cache")}
    for d in dirs.values():
        d.mkdir(parents=True)
    # the worst case for the key canary: widget state saved into the notebook on every save
    settings = dirs["config"] / "lab" / "user-settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "XDG_CACHE_HOME": str(dirs["cache"]),
        "ATELIER_CACHE": str(dirs["cache"] / "responses.sqlite"),
        "ATELIER_CONFIG": str(ROOT / "atelier.toml"),
        "ATELIER_GRADERS": str(GRADERS),
        "ATELIER_LANG": "en",
    }
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.allow_root=True", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={dirs['root']}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=dirs["root"], env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {base / 'lab.log'}:\n"
                                       + (base / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield Lab(url, token, base, dirs["root"])
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def page(lab: Lab, request: pytest.FixtureRequest) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        try:
            yield pg
            if getattr(request.node, "failed_call", False):
                pg.screenshot(path=str(ARTEFACTS / f"e2e-failure-{request.node.name}.png"), full_page=True)
                (ARTEFACTS / f"e2e-failure-{request.node.name}.log").write_text(
                    (lab.base / "lab.log").read_text(errors="replace"))
        finally:
            context.close()
            browser.close()


def run_all(page) -> None:  # noqa: ANN001
    """Run → Run All Cells, through the menu as a learner would; again if a freshly opened
    notebook was not ready to take the command (the first cell's prompt shows it started)."""
    first = page.locator(".jp-Cell .jp-InputPrompt").first
    for _ in range(4):
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(ch in first.inner_text() for ch in "*0123456789"):
                return
            page.wait_for_timeout(500)
    raise AssertionError("JupyterLab never started running the cells")


def save(page) -> None:  # noqa: ANN001
    page.keyboard.press("Control+s")
