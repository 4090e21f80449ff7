"""scripts/start, the README's start command: a learner's JupyterLab (the welcome notebook, none of
nbgrader's tools, no news pop-up, one workspace per language), the instructor's view one flag
away, and the virtual environment scripts/setup made (ATELIER_VENV)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TOKEN = "start-test-token"
NBGRADER_LAB = "@jupyter/nbgrader"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
CREATE = "nbgrader-create_assignemnt"  # nbgrader's own spelling of its sidebar's id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    proc: subprocess.Popen[bytes]
    url: str

    def request(self, path: str, data: bytes | None = None, method: str = "GET") -> tuple[int, bytes]:
        req = urllib.request.Request(f"{self.url}/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path: str) -> dict:
        status, body = self.request(path)
        assert status == 200, f"GET /{path} answered {status}"
        return json.loads(body)

    def page_config(self) -> dict:
        """The page config JupyterLab hands the browser: which extensions run, which workspace."""
        status, body = self.request("lab")
        assert status == 200
        found = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
        assert found, "no page config in /lab"
        return json.loads(found.group(1))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Private Jupyter config, runtime and state folders; HOME stays (it holds the wheel cache)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATELIER_VIEW", "ATELIER_LANG", "JUPYTER_CONFIG_PATH")}
    return {**env, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "XDG_STATE_HOME": str(tmp_path / "state"), **extra}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@contextmanager
def started(root: Path, args: list[str], env: dict[str, str], log: Path) -> Iterator[Lab]:
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(root / "scripts" / "start"), *args, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    lab = Lab(proc, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{lab.url}/api/status?token={TOKEN}", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"scripts/start {' '.join(args)} did not serve (exit {proc.poll()}):\n"
                                         + log.read_text(errors="replace")[-3000:]) from None
                time.sleep(0.5)
        yield lab
    finally:
        _stop(proc)


def test_learner_view_serves_each_language_without_instructor_tools_or_news(root: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    with ExitStack() as stack:
        labs = {lang: stack.enter_context(started(root, [lang], env, tmp_path / f"{lang}.log"))
                for lang in ("en", "fr")}
        for lang, lab in labs.items():
            notebook = lab.json("api/contents/00_welcome.ipynb")
            assert notebook["content"]["metadata"]["promptatelier"]["lang"] == lang
            assert "complete(" in "\n".join(c["source"] for c in notebook["content"]["cells"])

            config = lab.page_config()
            assert NBGRADER_LAB in config["disabledExtensions"]
            # nbgrader's server side is off too: formgrader, course list, assignment list, validate
            for path in ("formgraders", "nbgrader_version?version=0.9.6", "assignments", "formgrader"):
                assert lab.request(path)[0] == 404, path
            # no "Would you like to get notified about official Jupyter news?" and no update check
            defaults = lab.json(f"lab/api/settings/{NOTIFICATION}")["schema"]["properties"]
            assert defaults["fetchNews"]["default"] == "false"
            assert defaults["checkForUpdates"]["default"] is False

        dirs = {lang: Path(lab.page_config()["workspacesDir"]) for lang, lab in labs.items()}
        assert dirs["en"] != dirs["fr"]
        assert all(d.is_relative_to(tmp_path / "state") for d in dirs.values())
        # tabs opened in the English server are not restored in the French one
        layout = {"data": {"layout-restorer:data": {"main": {"current": "notebook:00_welcome.ipynb"}}},
                  "metadata": {"id": "default"}}
        status, _ = labs["en"].request("lab/api/workspaces/default", json.dumps(layout).encode(), "PUT")
        assert status == 204
        assert labs["en"].json("lab/api/workspaces/default")["data"] == layout["data"]
        assert labs["fr"].json("lab/api/workspaces/default")["data"] == {}
    assert not (tmp_path / "config" / "lab" / "workspaces").exists()


def test_instructor_view_has_nbgrader_in_the_course_root(root: Path, tmp_path: Path) -> None:
    with started(root, ["--instructor", "fr"], _env(tmp_path), tmp_path / "instructor.log") as lab:
        assert lab.json("api/contents/source/m00_fr/00_welcome.ipynb")["type"] == "notebook"
        config = lab.page_config()
        assert NBGRADER_LAB not in config["disabledExtensions"]
        assert any(e["name"] == NBGRADER_LAB for e in config["federated_extensions"])
        assert Path(config["workspacesDir"]).name == "instructor-fr"
        assert lab.request("formgraders")[0] == 200
        assert lab.request("nbgrader_version?version=0.9.6")[0] == 200
        defaults = lab.json(f"lab/api/settings/{NOTIFICATION}")["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false"


def test_atelier_venv_view_and_lang_come_from_the_environment(root: Path, tmp_path: Path) -> None:
    """The venv at another path (a link to the project's): its jupyter is the one that runs."""
    venv = tmp_path / "elsewhere-venv"
    venv.symlink_to(root / ".venv", target_is_directory=True)
    env = _env(tmp_path, ATELIER_VENV=str(venv), ATELIER_VIEW="instructor", ATELIER_LANG="fr")
    proc = subprocess.Popen(
        [str(root / "scripts" / "start"), "--no-browser", "--ip=127.0.0.1", f"--port={_free_port()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    try:
        # scripts/start ends by exec-ing `jupyter lab` (which execs jupyter-lab): it becomes the server
        deadline, launcher = time.monotonic() + 180, None
        while launcher is None and time.monotonic() < deadline and proc.poll() is None:
            argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
            launcher = next((a for a in argv if Path(a).name in ("jupyter", "jupyter-lab")), None)
            time.sleep(0.2)
        assert launcher is not None, f"scripts/start never ran jupyter lab (exit {proc.poll()})"
        assert Path(launcher).parent == venv / "bin"
        assert Path(f"/proc/{proc.pid}/cwd").resolve() == root / "course"
        variables = Path(f"/proc/{proc.pid}/environ").read_bytes().decode().split("\0")
        environ = dict(v.split("=", 1) for v in variables if "=" in v)
        assert environ["ATELIER_LANG"] == "fr"
        assert "scripts/jupyter/learner" not in environ["JUPYTER_CONFIG_PATH"]
    finally:
        _stop(proc)


@pytest.mark.parametrize(("args", "env", "says"), [
    (["de"], {}, "'en' or 'fr', not 'de'"),
    ([], {"ATELIER_LANG": "es"}, "'en' or 'fr', not 'es'"),
    (["--instructor", "de"], {}, "'en' or 'fr', not 'de'"),
    ([], {"ATELIER_VIEW": "teacher"}, "'learner' or 'instructor', not 'teacher'"),
])
def test_a_wrong_language_or_view_is_refused_with_the_fix(root: Path, tmp_path: Path, args: list[str],
                                                          env: dict[str, str], says: str) -> None:
    done = subprocess.run([str(root / "scripts" / "start"), *args], env=_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert says in done.stderr and "Fix:" in done.stderr


def test_a_learners_copy_without_the_folder_a_view_needs_says_so(root: Path, tmp_path: Path) -> None:
    """A copy released with --lang fr has no notebooks/en, and no copy has course/."""
    copy = tmp_path / "learners"
    (copy / "notebooks" / "fr").mkdir(parents=True)
    shutil.copytree(root / "scripts", copy / "scripts")
    for args, missing in ((["en"], "notebooks/en"), (["--instructor"], "course")):
        done = subprocess.run([str(copy / "scripts" / "start"), *args], env=_env(tmp_path),
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2
        assert f"{copy / missing} is missing" in done.stderr and "Fix:" in done.stderr


@pytest.mark.e2e
def test_the_learner_menu_bar_has_no_nbgrader_and_the_instructors_has(root: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-chromium to install Debian's Chromium")
    env = _env(tmp_path)
    with ExitStack() as stack:
        learner = stack.enter_context(started(root, ["en"], env, tmp_path / "learner.log"))
        instructor = stack.enter_context(started(root, ["--instructor", "en"], env, tmp_path / "instructor.log"))
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)

        def look(lab: Lab, notebook: str) -> dict[str, object]:
            page.goto(f"{lab.url}/lab/tree/{notebook}?token={TOKEN}")
            page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Toolbar-item")
            page.wait_for_selector(".lm-MenuBar-itemLabel >> text=Help")
            return {"menus": page.locator(".lm-MenuBar-itemLabel").all_inner_texts(),
                    "validate": page.locator(".jp-NotebookPanel-toolbar .validate-button").count(),
                    "create_assignment": page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{CREATE}"]').count()}

        seen = look(instructor, "source/m00_en/00_welcome.ipynb")
        assert "Nbgrader" in seen["menus"] and seen["validate"] == 1 and seen["create_assignment"] == 1, seen
        seen = look(learner, "00_welcome.ipynb")
        assert "Nbgrader" not in seen["menus"] and seen["validate"] == 0 and seen["create_assignment"] == 0, seen
