"""Live progress on the course's real hub: deploy/jupyterhub_config.py (PAM, local unix accounts,
LocalProcessSpawner) with ATELIER_PROGRESS=on, so the hub runs the progress service itself. A
learner's own server runs `check()` on the embedded model in a kernel, which posts with that
server's JUPYTERHUB_API_TOKEN; the instructor reads the cohort with their own hub token.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from .hubclient import Hub, add_user, free_port, hub_settings, new_token, remove_user, user_environment

ROOT = Path(__file__).resolve().parents[2]
GRADERS = ROOT / "tests" / "widgets" / "graders"

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.local_model]

PROMPT = "PROMPTCANARY What do you think of this review? {review}"
CANARY = "sk-canary-progress-" + secrets.token_hex(12)


def _learner_code(victim: str) -> str:
    """Run in the learner's kernel: a check, then a post that claims to be another learner."""
    return f"""
import json, os, httpx
from promptatelier import check
report = check("w01.label", {PROMPT!r}, model="local")
failing = [c.key or c.name for c in report.evaluation.criteria if c.score is not None and not c.ok]
forged = httpx.post(os.environ["ATELIER_PROGRESS_URL"].rstrip("/") + "/api/checks", trust_env=False,
    headers={{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}},
    json={{"learner": {victim!r}, "exercise": "w01.persona", "points": 4, "max_points": 4, "passed": True, "criteria": []}})
print(json.dumps({{"points": report.points, "failing": failing, "forged": forged.json(),
                   "url": os.environ.get("ATELIER_PROGRESS_URL"), "share": os.environ.get("ATELIER_PROGRESS_SHARE_PROMPTS")}}))
"""


@pytest.fixture(scope="module")
def progress_hub() -> Any:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("the hub test creates unix accounts (useradd) and runs JupyterHub as root: run it as root")
    proxy = subprocess.run([str(ROOT / "scripts" / "install-hub-proxy")], capture_output=True, text=True)
    assert proxy.returncode == 0, proxy.stderr
    proxy_cmd = proxy.stdout.strip().splitlines()[-1]
    user_bin = user_environment(ROOT)

    tag = secrets.token_hex(3)
    instructor, learners = f"atp{tag}t", [f"atp{tag}1", f"atp{tag}2"]
    base = Path(tempfile.mkdtemp(prefix="atelier-progress-hub-"))
    hub: Hub | None = None
    try:
        base.chmod(0o755)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)
        graders = base / "graders"
        shutil.copytree(GRADERS, graders)
        subprocess.run(["chmod", "-R", "a+rX", str(graders)], check=True)
        private = base / "hub"
        private.mkdir(mode=0o700)
        secrets_file = private / "secrets.env"
        secrets_file.write_text(f"OPENAI_API_KEY={CANARY}\n", encoding="utf-8")
        secrets_file.chmod(0o600)
        for name in [instructor, *learners]:
            add_user(name)

        service_port, token = free_port(), new_token()
        port, settings = hub_settings(private, proxy_cmd, token, ["admin:users", "admin:servers", "tokens", "read:groups"])
        config = private / "jupyterhub_config.py"
        config.write_text(f"""
c = get_config()
load_subconfig({str(ROOT / 'deploy' / 'jupyterhub_config.py')!r})
# added to what the course's configuration set (the progress service and its roles)
{settings}""", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "JUPYTER"))}
        env.update({
            "PATH": f"{user_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "ATELIER_HUB_INSTRUCTORS": instructor,
            "ATELIER_HUB_LEARNERS": ",".join(learners),
            "ATELIER_HUB_SECRETS": str(secrets_file),
            "ATELIER_EXCHANGE": str(exchange),
            "ATELIER_HUB_LEARNER_GRADERS": str(graders),
            "ATELIER_PROGRESS": "on",
            "ATELIER_PROGRESS_PORT": str(service_port),
            "ATELIER_PROGRESS_DIR": str(private / "progress"),
            "ATELIER_PROGRESS_PYTHON": str(user_bin / "python"),
        })
        log = private / "hub.log"
        hub = Hub(url=f"http://127.0.0.1:{port}", token=token, log=log)
        with log.open("wb") as sink:
            hub.process = subprocess.Popen([str(user_bin / "jupyterhub"), "-f", str(config)], cwd=private, env=env,
                                           stdout=sink, stderr=subprocess.STDOUT)
        hub.wait_up()
        learner, other = learners
        hub.api("POST", f"/users/{learner}/server")
        hub.wait_server(learner)
        printed = hub.server(learner).run(_learner_code(other))
        service = f"http://127.0.0.1:{service_port}/services/atelier-progress/"

        def get(path: str, user: str) -> httpx.Response:
            return httpx.get(service + path, headers={"Authorization": f"token {hub.user_token(user)}"}, timeout=30)

        yield {
            "hub": hub, "instructor": instructor, "learner": learner, "other": other, "get": get,
            "kernel": json.loads(printed.strip().splitlines()[-1]), "data_dir": private / "progress",
        }
    finally:
        if hub is not None:
            hub.stop()
        for name in [instructor, *learners]:
            remove_user(name)
        shutil.rmtree(base, ignore_errors=True)


def test_a_learners_check_reaches_the_instructors_view(progress_hub: dict[str, Any]) -> None:
    kernel, learner = progress_hub["kernel"], progress_hub["learner"]
    assert kernel["url"].endswith("/services/atelier-progress/") and kernel["share"] == "off"
    assert "delimiters" in kernel["failing"]  # the prompt has no delimiters around {review}
    data = progress_hub["get"]("api/cohort", progress_hub["instructor"]).json()
    cells = {(c["learner"], c["exercise"]): c for c in data["cells"]}
    cell = cells[(learner, "w01.label")]
    assert cell["latest_points"] == pytest.approx(kernel["points"]) and cell["checks"] == 1
    assert "delimiters" in cell["failing_keys"]
    criteria = {c["key"]: c for c in next(e for e in data["exercises"] if e["exercise"] == "w01.label")["criteria"]}
    assert criteria["delimiters"]["learners"] == [learner]
    page = progress_hub["get"]("", progress_hub["instructor"])
    assert page.status_code == 200 and learner in page.text


def test_a_post_claiming_another_learner_is_recorded_under_the_poster(progress_hub: dict[str, Any]) -> None:
    assert progress_hub["kernel"]["forged"]["learner"] == progress_hub["learner"]
    cells = {(c["learner"], c["exercise"]) for c in progress_hub["get"]("api/cohort", progress_hub["instructor"]).json()["cells"]}
    assert (progress_hub["learner"], "w01.persona") in cells
    assert not any(who == progress_hub["other"] for who, _ in cells)


def test_a_learner_gets_403_on_the_view(progress_hub: dict[str, Any]) -> None:
    for path in ("", "api/cohort"):
        refused = progress_hub["get"](path, progress_hub["other"])
        assert refused.status_code == 403 and "instructors only" in refused.text


def test_no_prompt_text_and_no_key_reach_the_service(progress_hub: dict[str, Any]) -> None:
    view = progress_hub["get"]("", progress_hub["instructor"]).text
    assert "PROMPTCANARY" not in view
    db = progress_hub["data_dir"] / "progress.sqlite"
    raw = db.read_bytes()
    assert b"PROMPTCANARY" not in raw and CANARY.encode() not in raw
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM checks WHERE prompt IS NOT NULL").fetchone() == (0,)
    assert progress_hub["data_dir"].stat().st_mode & 0o077 == 0


def _service_environ(data_dir: Path) -> bytes:
    """The environment of the service process the hub started for this test's hub."""
    for proc in Path("/proc").iterdir():
        try:
            if b"promptatelier.progress" in (proc / "cmdline").read_bytes():
                environ = (proc / "environ").read_bytes()
                if f"ATELIER_PROGRESS_DIR={data_dir}".encode() in environ.split(b"\0"):
                    return environ
        except (FileNotFoundError, PermissionError, NotADirectoryError, ProcessLookupError):
            continue
    raise AssertionError(f"no progress service runs with ATELIER_PROGRESS_DIR={data_dir}")


def test_the_service_gets_no_grading_key(progress_hub: dict[str, Any]) -> None:
    environ = _service_environ(progress_hub["data_dir"])
    assert CANARY.encode() not in environ and b"OPENAI_API_KEY" not in environ
    assert b"ATELIER_PROGRESS_INSTRUCTORS=" + progress_hub["instructor"].encode() in environ.split(b"\0")
