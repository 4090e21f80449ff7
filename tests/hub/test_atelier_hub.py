"""deploy/atelier_hub.py without a hub: every misconfiguration it refuses, with the fix, and the
environment each kind of user's server gets."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
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
HOME_OF = ah.CourseHub.home_of  # before the fixture below replaces it


@pytest.fixture
def exchange(tmp_path: Path) -> Path:
    folder = tmp_path / "exchange"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def _hub(exchange: Path, **kw: Any) -> Any:
    values = {"instructors": ("ann",), "learners": ("bob", "cy"), "exchange": str(exchange),
              "secrets": {"OPENAI_API_KEY": KEY}}
    values.update(kw)
    return ah.CourseHub(**values)


@pytest.fixture(autouse=True)
def _no_unix_homes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub user names here are no accounts of this machine (ann, bob): no home to check."""
    monkeypatch.setattr(ah.CourseHub, "home_of", staticmethod(lambda username: None))


def _spawner(name: str, environment: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(user=SimpleNamespace(name=name), environment=dict(environment or {}))


def test_the_key_goes_to_instructors_servers_only(exchange: Path) -> None:
    hub = _hub(exchange, learner_graders="/srv/atelier/learners/graders")
    ann, bob = _spawner("ann"), _spawner("bob", {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": "x" * 20, "LANG": "fr"})
    hub.pre_spawn_hook(ann)
    hub.pre_spawn_hook(bob)
    assert ann.environment["OPENAI_API_KEY"] == KEY
    assert KEY not in bob.environment.values() and "ANTHROPIC_API_KEY" not in bob.environment
    assert bob.environment["LANG"] == "fr" and bob.environment["ATELIER_GRADERS"] == "/srv/atelier/learners/graders"
    for env in (ann.environment, bob.environment):
        assert env["ATELIER_EXCHANGE"] == str(exchange) and env["ATELIER_COURSE_ID"] == "prompt-atelier"


def test_configure_sets_users_groups_and_a_hook_that_runs_last(exchange: Path) -> None:
    c = Config()
    c.Spawner.pre_spawn_hook = lambda spawner: spawner.environment.update(OPENAI_API_KEY=KEY)
    _hub(exchange).configure(c)
    assert c.Authenticator.allowed_users == {"ann", "bob", "cy"}
    assert c.JupyterHub.load_groups["instructors"] == {"users": ["ann"]}
    assert c.JupyterHub.load_groups["learners"] == {"users": ["bob", "cy"]}
    bob = _spawner("bob")
    asyncio.run(c.Spawner.pre_spawn_hook(bob))
    assert "OPENAI_API_KEY" not in bob.environment  # an earlier hook's key is taken back from a learner


def test_settings_come_from_the_hubs_environment_and_a_private_secrets_file(tmp_path: Path, exchange: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"# keys\nexport OPENAI_API_KEY='{KEY}'\n\nANTHROPIC_API_KEY=sk-ant-x\n", encoding="utf-8")
    secrets.chmod(0o600)
    hub = ah.CourseHub.from_environ({
        "ATELIER_HUB_INSTRUCTORS": "ann", "ATELIER_HUB_LEARNERS": "bob, cy", "ATELIER_EXCHANGE": str(exchange),
        "ATELIER_COURSE_ID": "pe-2026", "ATELIER_HUB_SECRETS": str(secrets), "ATELIER_COMPATIBLE_API_KEY": "from-env",
    })
    assert hub.learners == ("bob", "cy") and hub.course_id == "pe-2026"
    assert dict(hub.secrets) == {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": "sk-ant-x", "ATELIER_COMPATIBLE_API_KEY": "from-env"}
    assert KEY not in repr(hub)


@pytest.mark.parametrize("mode, expected", [(0o644, "readable by others"), (0o640, "readable by others")])
def test_a_secrets_file_others_can_read_is_refused(tmp_path: Path, mode: int, expected: str) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"OPENAI_API_KEY={KEY}\n", encoding="utf-8")
    secrets.chmod(mode)
    with pytest.raises(ah.HubConfigError, match=expected) as err:
        ah.read_secrets(secrets)
    assert f"chmod 600 {secrets}" in str(err.value) and KEY not in str(err.value)


def test_a_malformed_or_missing_secrets_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"{KEY}\n", encoding="utf-8")
    secrets.chmod(0o600)
    with pytest.raises(ah.HubConfigError, match="line 1 .* is not NAME=VALUE") as err:
        ah.read_secrets(secrets)
    assert KEY not in str(err.value)
    with pytest.raises(ah.HubConfigError, match="install -m 600 /dev/null"):
        ah.read_secrets(tmp_path / "absent.env")


@pytest.mark.parametrize("mode, fix", [(0o755, "chmod 1777"), (0o777, "chmod 1777")])
def test_an_exchange_not_shared_or_without_sticky_bit_is_refused(tmp_path: Path, mode: int, fix: str) -> None:
    folder = tmp_path / "exchange"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(ah.HubConfigError, match=fix):
        _hub(folder)


def test_a_missing_exchange_or_bad_course_id_is_refused(tmp_path: Path, exchange: Path) -> None:
    with pytest.raises(ah.HubConfigError, match=f"install -d -m 1777 {tmp_path / 'none'}"):
        _hub(tmp_path / "none")
    with pytest.raises(ah.HubConfigError, match="absolute path"):
        _hub(Path("relative/exchange"))
    with pytest.raises(ah.HubConfigError, match="not a valid nbgrader course id"):
        _hub(exchange, course_id="my course")


def test_a_course_folder_learners_could_write_or_list_is_refused(exchange: Path) -> None:
    course = exchange / "prompt-atelier"
    (course / "inbound").mkdir(parents=True)
    course.chmod(0o777)
    with pytest.raises(ah.HubConfigError, match=f"chmod 755 {course}"):
        _hub(exchange)
    course.chmod(0o755)
    (course / "inbound").chmod(0o755)
    with pytest.raises(ah.HubConfigError, match="chmod 2733"):
        _hub(exchange)
    (course / "inbound").chmod(0o2733)
    _hub(exchange)


def test_people_and_spawner_settings_that_would_leak_the_key_are_refused(exchange: Path) -> None:
    with pytest.raises(ah.HubConfigError, match="both an instructor and a learner"):
        _hub(exchange, learners=("bob", "ann"))
    with pytest.raises(ah.HubConfigError, match="ATELIER_HUB_INSTRUCTORS is empty"):
        _hub(exchange, instructors=())
    with pytest.raises(ah.HubConfigError, match="not a hub user name"):
        ah.CourseHub.from_environ({"ATELIER_HUB_INSTRUCTORS": "ann;rm", "ATELIER_EXCHANGE": str(exchange)})
    for setting, value in (("env_keep", ["PATH", "OPENAI_API_KEY"]), ("environment", {"OPENAI_API_KEY": KEY})):
        c = Config()
        c.Spawner[setting] = value
        with pytest.raises(ah.HubConfigError, match=f"c.Spawner.{setting} holds OPENAI_API_KEY") as err:
            _hub(exchange).configure(c)
        assert KEY not in str(err.value)


def test_the_nbgrader_settings_folder_must_hold_the_file(tmp_path: Path, exchange: Path) -> None:
    with pytest.raises(ah.HubConfigError, match="copy deploy/nbgrader_config.py"):
        _hub(exchange, nbgrader_config_dir=str(tmp_path))
    (tmp_path / "nbgrader_config.py").write_text("", encoding="utf-8")
    assert _hub(exchange, nbgrader_config_dir=str(tmp_path)).common_environment()["JUPYTER_CONFIG_PATH"] == str(tmp_path)


def test_the_deploy_nbgrader_config_follows_the_hubs_settings(exchange: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.exchange.default import ExchangeList
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("ATELIER_EXCHANGE", str(exchange))
    monkeypatch.setenv("ATELIER_COURSE_ID", "pe-2026")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "deploy")).load_config()
    assert ExchangeList(config=config).root == str(exchange)
    assert config.CourseDirectory.course_id == "pe-2026"


def test_the_real_hub_refuses_to_start_with_a_readable_secrets_file(tmp_path: Path, exchange: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"OPENAI_API_KEY={KEY}\n", encoding="utf-8")
    secrets.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update({"ATELIER_HUB_INSTRUCTORS": "ann", "ATELIER_HUB_LEARNERS": "bob", "ATELIER_EXCHANGE": str(exchange),
                "ATELIER_HUB_SECRETS": str(secrets)})
    hub = subprocess.run([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(ROOT / "deploy" / "jupyterhub_config.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert hub.returncode != 0
    assert f"chmod 600 {secrets}" in hub.stderr + hub.stdout
    assert KEY not in hub.stderr + hub.stdout


def test_the_z2jh_values_keep_the_key_in_a_secret_and_configure_the_course(exchange: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    values = yaml.safe_load((ROOT / "deploy" / "z2jh-values.yaml").read_text(encoding="utf-8"))
    hub_env, user_env = values["hub"]["extraEnv"], values["singleuser"].get("extraEnv", {})
    assert hub_env["OPENAI_API_KEY"] == {"valueFrom": {"secretKeyRef": {"name": "atelier-grading-key", "key": "OPENAI_API_KEY"}}}
    assert not [k for k in user_env if ah.is_secret_name(k)]
    assert values["hub"]["initContainers"][0]["command"][-1] == "chmod 1777 /srv/nbgrader/exchange"
    # the extraConfig, run as the hub would, with this machine's exchange
    for name, value in hub_env.items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ATELIER_EXCHANGE", str(exchange))
    monkeypatch.setenv("ATELIER_HUB_INSTRUCTORS", "ann")
    monkeypatch.setenv("ATELIER_HUB_LEARNERS", "bob")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    c = Config()
    exec(compile(values["hub"]["extraConfig"]["atelier"], "extraConfig", "exec"), {"c": c})
    ann, bob = _spawner("ann"), _spawner("bob")
    ann.user.id, bob.user.id = 1, 2
    for spawner in (ann, bob):
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
    assert ann.environment["OPENAI_API_KEY"] == KEY and "OPENAI_API_KEY" not in bob.environment
    assert (ann.environment["NB_UID"], bob.environment["NB_UID"]) == ("20001", "20002")
    assert bob.environment["ATELIER_GRADERS"] == "/srv/atelier/learners/graders"


@pytest.mark.parametrize("name", ["jupyterhub_config.py", "tljh_atelier.py"])
def test_the_hub_config_files_load_the_course(name: str, exchange: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    for var, value in {"ATELIER_HUB_INSTRUCTORS": "ann", "ATELIER_HUB_LEARNERS": "bob,cy",
                       "ATELIER_EXCHANGE": str(exchange), "OPENAI_API_KEY": KEY}.items():
        monkeypatch.setenv(var, value)
    c = PyFileConfigLoader(name, path=str(ROOT / "deploy")).load_config()
    assert c.Authenticator.allowed_users == {"ann", "bob", "cy"}
    bob = _spawner("bob", {"OPENAI_API_KEY": KEY})
    asyncio.run(c.Spawner.pre_spawn_hook(bob))
    assert "OPENAI_API_KEY" not in bob.environment
    assert ("spawner_class" in c.JupyterHub) == (name == "jupyterhub_config.py")  # TLJH keeps its own spawner


def test_a_server_whose_home_others_can_read_is_refused(tmp_path: Path, exchange: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "bob"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    monkeypatch.setattr(ah.CourseHub, "home_of", staticmethod(lambda username: home))
    with pytest.raises(ah.HubConfigError, match=f"chmod 700 {home}"):
        _hub(exchange).pre_spawn_hook(_spawner("bob"))
    home.chmod(0o700)
    _hub(exchange).pre_spawn_hook(_spawner("bob"))


def test_home_of_finds_the_unix_account() -> None:
    import pwd

    assert HOME_OF("root") == Path(pwd.getpwnam("root").pw_dir)
    assert HOME_OF("no-such-account-here") is None


@pytest.mark.parametrize("command", ["ReleaseAssignment", "Collect", "ReleaseFeedback"])
def test_instructor_commands_refuse_a_course_id_other_than_the_hubs(command: str, tmp_path: Path, exchange: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError, ExchangeFactory
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("ATELIER_EXCHANGE", str(exchange))
    monkeypatch.setenv("ATELIER_COURSE_ID", "prompt-atelier")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "deploy")).load_config()
    config.CourseDirectory.course_id = "atelier-2025"  # what the course root's own file says
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.assignment_id = "m01_en"
    exchange_command = getattr(ExchangeFactory(config=config), command)(
        coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config)
    with pytest.raises(ExchangeError, match="c.CourseDirectory.course_id = 'prompt-atelier'"):
        exchange_command.start()
    assert not (exchange / "atelier-2025").exists()


# --- each learner's own gateway key (deploy/gateway/learner_keys.py) ---------------------------

from tests.gateway import learner_keys  # noqa: E402


def _keys_file(tmp_path: Path, *users: str) -> Path:
    path = tmp_path / "learner-keys.json"
    learner_keys.issue(path, users, {"rpm": 12, "budget_tokens": 5000})
    return path


def test_each_server_gets_its_users_own_gateway_key_and_no_one_elses(tmp_path: Path, exchange: Path) -> None:
    keys_file = _keys_file(tmp_path, "bob", "cy", "ann")
    keys = learner_keys.load(keys_file).keys_by_user()
    hub = _hub(exchange, learner_keys=str(keys_file), learner_model="openai-compatible:http://gw:4000/v1#smollm2",
               secrets={"OPENAI_API_KEY": KEY, "ATELIER_COMPATIBLE_API_KEY": "sk-grading-key-0123456789"})
    # a key in the spawner's own environment (an env_keep, an earlier hook) never survives
    bob, cy, ann = _spawner("bob", {"ATELIER_COMPATIBLE_API_KEY": keys["cy"]}), _spawner("cy"), _spawner("ann")
    for spawner in (bob, cy, ann):
        hub.pre_spawn_hook(spawner)
    assert bob.environment["ATELIER_COMPATIBLE_API_KEY"] == keys["bob"]
    assert cy.environment["ATELIER_COMPATIBLE_API_KEY"] == keys["cy"]
    assert keys["cy"] not in bob.environment.values() and KEY not in bob.environment.values()
    assert bob.environment["ATELIER_RPM"] == "12"  # the kit paces itself under the gateway's rate
    assert bob.environment["ATELIER_MODEL"] == "openai-compatible:http://gw:4000/v1#smollm2"
    # an instructor grades with the grading key, not with a learner-sized one
    assert ann.environment["ATELIER_COMPATIBLE_API_KEY"] == "sk-grading-key-0123456789"
    assert ann.environment["OPENAI_API_KEY"] == KEY


def test_a_key_issued_or_rotated_reaches_the_next_start_without_a_hub_restart(tmp_path: Path, exchange: Path) -> None:
    keys_file = _keys_file(tmp_path, "bob", "cy")
    hub = _hub(exchange, learner_keys=str(keys_file))
    old = learner_keys.load(keys_file).keys_by_user()["bob"]
    assert learner_keys.issue(keys_file, ["bob"], rotate=True) == ["bob"]
    bob = _spawner("bob")
    hub.pre_spawn_hook(bob)
    assert bob.environment["ATELIER_COMPATIBLE_API_KEY"] not in (old, None)
    learner_keys.revoke(keys_file, ["cy"])
    with pytest.raises(ah.HubConfigError, match=f"cy has no key in {keys_file}.*issue --file {keys_file} cy"):
        hub.pre_spawn_hook(_spawner("cy"))


def test_learner_keys_files_that_would_leak_or_leave_someone_out_are_refused(tmp_path: Path, exchange: Path) -> None:
    keys_file = _keys_file(tmp_path, "bob")
    secret = learner_keys.load(keys_file).keys_by_user()["bob"]
    with pytest.raises(ah.HubConfigError, match="cy have no key|cy has no key") as err:
        _hub(exchange, learner_keys=str(keys_file))
    assert f"learner_keys.py issue --file {keys_file} cy" in str(err.value)
    keys_file.chmod(0o644)
    with pytest.raises(ah.HubConfigError, match=f"readable by others .* chmod 600 {keys_file}") as err:
        ah.read_learner_keys(keys_file)
    assert secret not in str(err.value)
    keys_file.write_text('{"users": {"bob": "' + secret + '"}}', encoding="utf-8")
    keys_file.chmod(0o600)
    with pytest.raises(ah.HubConfigError, match="is not a learner keys file") as err:
        ah.read_learner_keys(keys_file)
    assert secret not in str(err.value)
    with pytest.raises(ah.HubConfigError, match="does not exist.*learner_keys.py issue"):
        ah.read_learner_keys(tmp_path / "absent.json")
    env = {"ATELIER_HUB_INSTRUCTORS": "ann", "ATELIER_EXCHANGE": str(exchange),
           "ATELIER_HUB_LEARNER_KEYS": str(_keys_file(tmp_path / "ok"))}
    assert ah.CourseHub.from_environ(env).learner_keys == env["ATELIER_HUB_LEARNER_KEYS"]
