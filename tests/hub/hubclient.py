"""A real JupyterHub for the hub tests: unix accounts, the hub process, and the REST and kernel
APIs of the hub and of each user's server, as a browser's JupyterLab would call them."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


HUB_ENV = Path(os.environ.get("ATELIER_HUB_TEST_ENV") or "/var/tmp/prompt-atelier-hub/env")
WHEELS = Path(os.environ.get("ATELIER_WHEEL_CACHE") or Path.home() / ".cache" / "prompt-atelier" / "wheels")


def others_can_run(path: Path) -> bool:
    """Whether an unprivileged account can run `path`: every folder up to it, symlinks followed,
    can be entered by others (a pyenv interpreter in root's home cannot)."""
    real = path.resolve()
    folders = [*reversed(real.parents)]
    return all(p.stat().st_mode & 0o001 for p in folders) and bool(real.stat().st_mode & 0o001)


def user_environment(root: Path) -> Path:
    """The `bin` folder of a Python environment with the kit and JupyterHub that every user's server
    can run: the project's own .venv when its interpreter is reachable by others, else an
    environment kept in HUB_ENV (made once, refreshed when pyproject.toml changes; about 2 minutes)."""
    here = Path(sys.executable).parent
    if others_can_run(Path(sys.executable)):
        return here
    python = next((Path(p) for p in ("/usr/bin/python3.11", "/usr/local/bin/python3.11")
                   if Path(p).exists() and others_can_run(Path(p))), None)
    if python is None:
        raise AssertionError(f"{sys.executable} cannot be run by other accounts and there is no /usr/bin/python3.11: "
                             f"install Debian's python3.11 and python3.11-venv, or set ATELIER_HUB_TEST_ENV to a "
                             f"virtual environment of the project (.[hub]) whose interpreter everyone can run")
    HUB_ENV.parent.mkdir(parents=True, exist_ok=True)
    for folder in (HUB_ENV.parent, HUB_ENV):
        if folder.exists():
            st = folder.stat()
            # root runs this environment's programs: nobody else may have been able to change it
            assert st.st_uid == 0 and not st.st_mode & 0o022, f"{folder} must belong to root with mode 755: remove it"
    with (HUB_ENV.parent / ".lock").open("w") as lock:  # another clone's test may be making it too
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make_user_environment(root, python)
    return HUB_ENV / "bin"


def _make_user_environment(root: Path, python: Path) -> None:
    want = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    deps, kit = HUB_ENV / ".atelier-deps", HUB_ENV / ".atelier-kit"
    pip = [str(HUB_ENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--find-links", str(WHEELS)]
    if not deps.exists() or deps.read_text() != want:
        _quiet([str(python), "-m", "venv", str(HUB_ENV)])
        _quiet([*pip, "-e", f"{root}[hub]"])
        deps.write_text(want)
        kit.write_text(str(root))
    elif not kit.exists() or kit.read_text() != str(root):  # another clone's kit: point it at this one
        _quiet([*pip, "--no-deps", "-e", str(root)])
        kit.write_text(str(root))
    HUB_ENV.chmod(0o755)


def _quiet(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_user(name: str) -> pwd.struct_passwd:
    """A unix account with a private home (mode 700), as a course hub's users have."""
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--key", "UMASK=077", name],
                   check=True, capture_output=True, text=True)
    entry = pwd.getpwnam(name)
    os.chmod(entry.pw_dir, 0o700)
    return entry


def remove_user(name: str) -> None:
    """Deletes the account and its home, after ending the processes this test left under it."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for pid in _pids_of(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["userdel", "--force", "--remove", name], capture_output=True, text=True)


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                continue
    return pids


@dataclass
class Hub:
    """A running hub: its URL, the admin service's token and the log file."""

    url: str
    token: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, f"{self.url}/hub/api{path}", headers={"Authorization": f"token {self.token}"},
                          timeout=60, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}\n{self.tail()}"
        return r.json() if r.content else None

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def wait_up(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the hub exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the hub did not answer on {self.url} within {timeout} s:\n{self.tail()}")

    def wait_server(self, user: str, timeout: float = 300) -> dict[str, Any]:
        """Waits until `user`'s server, asked for through the hub, is up behind the proxy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}")
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(1)
        raise AssertionError(f"{user}'s server did not start within {timeout} s:\n{self.tail()}")

    def user_token(self, user: str) -> str:
        """A token of `user`'s own (what their browser session amounts to)."""
        if user not in self.tokens:
            made = self.api("POST", f"/users/{user}/tokens", json={"note": "hub test", "expires_in": 3600})
            self.tokens[user] = made["token"]
        return self.tokens[user]

    def server(self, user: str, as_user: str | None = None) -> Server:
        who = as_user or user
        return Server(f"{self.url}/user/{user}", self.user_token(who))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops the servers it started
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Server:
    """One user's server, called with a token (REST: contents, kernels, nbgrader's assignments)."""

    base: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base}{path}", headers=self.headers, timeout=300, **kw)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {self.base}{path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.content else None

    def run(self, code: str, timeout: float = 600) -> str:
        """Runs `code` in a new kernel of this server; returns what it printed (raises on an error)."""
        kernel = self.json("POST", "/api/kernels", json={"name": "python3"})
        try:
            return asyncio.run(self._execute(kernel["id"], code, timeout))
        finally:
            self.request("DELETE", f"/api/kernels/{kernel['id']}")

    async def _execute(self, kernel_id: str, code: str, timeout: float) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        ws_url = self.base.replace("http://", "ws://", 1) + f"/api/kernels/{kernel_id}/channels"
        conn = await websocket_connect(HTTPRequest(ws_url, headers=self.headers, request_timeout=60))
        msg_id = uuid.uuid4().hex
        session = uuid.uuid4().hex
        conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": session,
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out: list[str] = []
        replied = idle = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not (replied and idle):
                raw = await asyncio.wait_for(conn.read_message(), max(1.0, deadline - loop.time()))
                if raw is None:
                    raise AssertionError(f"the kernel's websocket closed; printed so far: {''.join(out)}")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(content["traceback"]) + "\n" + "".join(out))
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
        finally:
            conn.close()
        return "".join(out)


def new_token() -> str:
    return secrets.token_hex(32)


def hub_settings(private: Path, proxy: str, token: str, scopes: list[str]) -> tuple[int, str]:
    """The lines every test hub's jupyterhub_config.py holds: the hub, its proxy and the proxy's
    API on free ports of 127.0.0.1, its database and cookie secret in `private`, and a service
    `hub-test` whose `token` has `scopes` (the test's own REST client). Returns the hub's public
    port and the lines; a test adds its course's configuration around them."""
    port, hub_port, api_port = free_port(), free_port(), free_port()
    return port, f"""
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{private / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(private / 'cookie_secret')!r}
c.JupyterHub.services.append({{"name": "hub-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "hub-test", "services": ["hub-test"], "scopes": {scopes!r}}})
"""
