"""A real JupyterHub with the course's progress service, for the service's tests and the browser
test: deploy/atelier_hub.py's CourseHub wiring (the hub-managed service, its roles, learners'
server environment), JupyterHub's real proxy, and hub users signed in by JupyterHub's
DummyAuthenticator (one shared password) instead of PAM, so neither root nor unix accounts are
needed and no user server is started. tests/hub/test_progress_hub.py covers the same service on
the PAM hub of deploy/jupyterhub_config.py, with a learner's real server and kernel.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.hub.hubclient import Hub, free_port, hub_settings, new_token

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PREFIX = "/services/atelier-progress/"


@dataclass
class ProgressHub:
    hub: Hub
    service: str  # the service's own address, as learners' servers reach it
    public: str  # the view's address through the hub's proxy, as an instructor's browser opens it
    password: str
    data_dir: Path
    instructor: str
    learners: list[str]
    # one client for every request: making an httpx client costs more than a request here
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30, trust_env=False))

    def wait_service(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.service}api/cohort", timeout=5).status_code == 403:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the progress service did not answer on {self.service}:\n{self.hub.tail()}")

    def get(self, path: str, user: str) -> httpx.Response:
        return self.http.get(f"{self.service}{path}", headers={"Authorization": f"token {self.hub.user_token(user)}"})

    def post(self, body: object, user: str) -> httpx.Response:
        return self.http.post(f"{self.service}api/checks", json=body,
                              headers={"Authorization": f"token {self.hub.user_token(user)}"})


def proxy_command() -> str:
    done = subprocess.run([str(ROOT / "scripts" / "install-hub-proxy")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"JupyterHub's proxy is missing and could not be installed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def progress_hub(*, share_prompts: bool = False, graders: Path | None = None) -> Iterator[ProgressHub]:
    proxy = proxy_command()
    base = Path(tempfile.mkdtemp(prefix="atelier-progress-"))
    hub: Hub | None = None
    tag = secrets.token_hex(2)
    instructor, learners = f"ann{tag}", [f"bob{tag}", f"cy{tag}"]
    try:
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)
        private = base / "hub"
        private.mkdir(mode=0o700)
        service_port, token, password = free_port(), new_token(), secrets.token_hex(8)
        port, settings = hub_settings(private, proxy, token, ["admin:users", "tokens", "read:groups", "read:roles"])
        config = private / "jupyterhub_config.py"
        config.write_text(f"""
import sys
sys.path.insert(0, {str(ROOT / 'deploy')!r})
from atelier_hub import CourseHub
c = get_config()
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
CourseHub.from_environ().configure(c)
{settings}""", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "JUPYTER"))}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ATELIER_HUB_INSTRUCTORS": instructor,
            "ATELIER_HUB_LEARNERS": ",".join(learners),
            "ATELIER_EXCHANGE": str(exchange),
            "ATELIER_PROGRESS": "on",
            "ATELIER_PROGRESS_PORT": str(service_port),
            "ATELIER_PROGRESS_DIR": str(private / "progress"),
            "ATELIER_PROGRESS_PYTHON": sys.executable,
            "ATELIER_PROGRESS_SHARE_PROMPTS": "on" if share_prompts else "off",
        })
        if graders is not None:
            env["ATELIER_HUB_LEARNER_GRADERS"] = str(graders)
        log = private / "hub.log"
        hub = Hub(url=f"http://127.0.0.1:{port}", token=token, log=log)
        with log.open("wb") as sink:
            hub.process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(config)], cwd=private, env=env,
                                           stdout=sink, stderr=subprocess.STDOUT)
        hub.wait_up()
        made = ProgressHub(hub, f"http://127.0.0.1:{service_port}{PREFIX}", f"{hub.url}{PREFIX}", password,
                           private / "progress", instructor, learners)
        made.wait_service()
        with made.http:
            yield made
    finally:
        if hub is not None:
            hub.stop()
        shutil.rmtree(base, ignore_errors=True)
