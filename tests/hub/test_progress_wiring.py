"""deploy/atelier_hub.py's wiring of the progress service, without a hub: the managed service, the
roles that let the course's users reach it, what learners' servers get, and each misconfiguration
refused when the hub loads its configuration, with the fix."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("atelier_hub", ROOT / "deploy" / "atelier_hub.py")
ah = importlib.util.module_from_spec(_spec)
sys.modules["atelier_hub"] = ah  # dataclasses look their module up while the file loads
_spec.loader.exec_module(ah)  # type: ignore[union-attr]

KEY = "sk-test-0123456789abcdef"
ACCESS = "access:services!service=atelier-progress"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(ah.CourseHub, "home_of", staticmethod(lambda username: None))
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {"ATELIER_HUB_INSTRUCTORS": "ann", "ATELIER_HUB_LEARNERS": "bob,cy", "ATELIER_EXCHANGE": str(exchange),
            "OPENAI_API_KEY": KEY, "ATELIER_PROGRESS": "on", "ATELIER_PROGRESS_PORT": str(port),
            "ATELIER_PROGRESS_DIR": str(tmp_path / "progress"), "ATELIER_PROGRESS_PYTHON": sys.executable}


def _configured(env: dict[str, str], c: Config | None = None) -> Config:
    c = c or Config()
    ah.CourseHub.from_environ(env).configure(c)
    return c


def _spawner(name: str) -> Any:
    return SimpleNamespace(user=SimpleNamespace(name=name), environment={})


def test_the_hub_runs_the_service_with_the_courses_people_and_no_key(env: dict[str, str]) -> None:
    c = _configured(env)
    (service,) = c.JupyterHub.services
    assert service["name"] == "atelier-progress" and service["url"] == f"http://127.0.0.1:{env['ATELIER_PROGRESS_PORT']}"
    assert service["command"] == [sys.executable, "-m", "promptatelier.progress"]
    assert service["environment"] == {"ATELIER_PROGRESS_DIR": env["ATELIER_PROGRESS_DIR"],
                                      "ATELIER_PROGRESS_INSTRUCTORS": "ann", "ATELIER_PROGRESS_LEARNERS": "bob,cy",
                                      "ATELIER_PROGRESS_SHARE_PROMPTS": "off"}
    assert KEY not in repr(service)


def test_the_courses_users_and_their_servers_may_reach_the_service(env: dict[str, str]) -> None:
    c = Config()
    c.JupyterHub.load_roles = [{"name": "server", "scopes": ["users:activity!user", "read:users:name"]},
                               {"name": "other", "scopes": ["read:hub"], "users": ["ann"]}]
    c.JupyterHub.services = [{"name": "other-service", "api_token": "x" * 32}]
    roles = {r["name"]: r for r in _configured(env, c).JupyterHub.load_roles}
    assert roles["atelier-progress-users"]["scopes"] == [ACCESS]
    assert roles["atelier-progress-users"]["groups"] == ["instructors", "learners"]
    # a role the course had is kept, and the server role only gains the access
    assert roles["other"] == {"name": "other", "scopes": ["read:hub"], "users": ["ann"]}
    assert roles["server"]["scopes"] == sorted([ACCESS, "read:users:name", "users:activity!user"])
    assert [s["name"] for s in c.JupyterHub.services] == ["other-service", "atelier-progress"]


def test_without_a_server_role_the_default_ones_scopes_are_kept(env: dict[str, str]) -> None:
    roles = {r["name"]: r for r in _configured(env).JupyterHub.load_roles}
    assert roles["server"]["scopes"] == sorted(["users:activity!user", "access:servers!server", ACCESS])


def test_learners_servers_learn_where_to_post_instructors_servers_do_not(env: dict[str, str]) -> None:
    c = _configured({**env, "ATELIER_PROGRESS_SHARE_PROMPTS": "on"})
    ann, bob = _spawner("ann"), _spawner("bob")
    for spawner in (ann, bob):
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
    port = env["ATELIER_PROGRESS_PORT"]
    assert bob.environment["ATELIER_PROGRESS_URL"] == f"http://127.0.0.1:{port}/services/atelier-progress/"
    assert bob.environment["ATELIER_PROGRESS_SHARE_PROMPTS"] == "on"
    assert "ATELIER_PROGRESS_URL" not in ann.environment  # an instructor's checks are not the cohort's
    assert c.JupyterHub.services[0]["environment"]["ATELIER_PROGRESS_SHARE_PROMPTS"] == "on"


def test_the_service_follows_the_hubs_base_url(env: dict[str, str]) -> None:
    c = Config()
    c.JupyterHub.base_url = "/course/"
    _configured(env, c)
    bob = _spawner("bob")
    asyncio.run(c.Spawner.pre_spawn_hook(bob))
    assert bob.environment["ATELIER_PROGRESS_URL"].endswith(":" + env["ATELIER_PROGRESS_PORT"]
                                                            + "/course/services/atelier-progress/")


def test_off_by_default(env: dict[str, str]) -> None:
    del env["ATELIER_PROGRESS"]
    c = _configured(env)
    assert "services" not in c.JupyterHub and "load_roles" not in c.JupyterHub


@pytest.mark.parametrize(("changes", "message"), [
    ({"ATELIER_PROGRESS": "maybe"}, "ATELIER_PROGRESS is 'maybe'. Fix: set it to 'on' or 'off'."),
    ({"ATELIER_PROGRESS_PORT": "80"}, "ATELIER_PROGRESS_PORT is '80'. Fix: set it to a free port between 1025"),
    ({"ATELIER_PROGRESS_PYTHON": "/nonexistent/python"}, "cannot run /nonexistent/python"),
    ({"ATELIER_PROGRESS_DIR": "relative/progress"}, "not an absolute folder"),
    ({"ATELIER_PROGRESS_STUCK_MINUTES": "soon"}, "ATELIER_PROGRESS_STUCK_MINUTES is 'soon'"),
])
def test_a_bad_setting_stops_the_hub_with_the_fix(env: dict[str, str], changes: dict[str, str], message: str) -> None:
    with pytest.raises(ah.HubConfigError) as info:
        _configured({**env, **changes})
    assert message in str(info.value) and "Fix:" in str(info.value)


def test_a_python_without_the_kit_is_named(env: dict[str, str], tmp_path: Path) -> None:
    bare = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else None
    if bare is None or os.system(f"{bare} -c 'import promptatelier' 2>/dev/null") == 0:
        pytest.skip("no Python without the kit on this machine")
    with pytest.raises(ah.HubConfigError) as info:
        _configured({**env, "ATELIER_PROGRESS_PYTHON": bare})
    assert "has no promptatelier" in str(info.value) and "ATELIER_PROGRESS_PYTHON" in str(info.value)


def test_a_port_in_use_stops_the_hub_with_the_fix(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["ATELIER_PROGRESS_PORT"])))
        taken.listen()
        with pytest.raises(ah.HubConfigError) as info:
            _configured(env)
    assert "already in use" in str(info.value) and "Set ATELIER_PROGRESS_PORT" in str(info.value)


def test_a_results_folder_others_can_read_stops_the_hub_with_the_fix(env: dict[str, str]) -> None:
    folder = Path(env["ATELIER_PROGRESS_DIR"])
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    with pytest.raises(ah.HubConfigError) as info:
        _configured(env)
    assert "can be read by others (mode 750)" in str(info.value) and f"chmod 700 {folder}" in str(info.value)


def test_the_real_hub_refuses_to_start_when_the_port_is_taken(env: dict[str, str], tmp_path: Path) -> None:
    import subprocess

    hub_env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "JUPYTER"))}
    hub_env.update(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["ATELIER_PROGRESS_PORT"])))
        taken.listen()
        hub = subprocess.run([str(Path(sys.executable).parent / "jupyterhub"), "-f",
                              str(ROOT / "deploy" / "jupyterhub_config.py")],
                             cwd=tmp_path, env=hub_env, capture_output=True, text=True, timeout=120)
    out = hub.stderr + hub.stdout
    assert hub.returncode != 0 and f"Port {env['ATELIER_PROGRESS_PORT']} on 127.0.0.1 is already in use" in out
    assert KEY not in out


def test_the_service_gets_the_learners_specs_to_refuse_other_exercises(env: dict[str, str]) -> None:
    graders = str(ROOT / "tests" / "widgets" / "graders")
    c = _configured({**env, "ATELIER_HUB_LEARNER_GRADERS": graders})
    assert c.JupyterHub.services[0]["environment"]["ATELIER_PROGRESS_GRADERS"] == graders
