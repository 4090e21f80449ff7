"""Each misconfiguration of the progress service stops it with the fix: no hub, no instructor,
a results folder others can read or this user cannot write, a port in use. Run as the hub runs
the check (`python -m promptatelier.progress --check`) where the message matters."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from promptatelier.progress.service import ProgressConfigError, ServiceSettings, bind, check_data_dir


def _env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {"JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101", "JUPYTERHUB_SERVICE_PREFIX": "/services/atelier-progress/",
           "JUPYTERHUB_API_TOKEN": "t" * 32, "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
           "ATELIER_PROGRESS_DIR": str(tmp_path / "progress"), "ATELIER_PROGRESS_INSTRUCTORS": "ann",
           "ATELIER_PROGRESS_LEARNERS": "bob,cy"}
    env.update(changes)
    return {k: v for k, v in env.items() if v != ""}


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "promptatelier.progress", "--check"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], **env}, timeout=120)


def test_settings_come_from_the_hubs_environment(tmp_path: Path) -> None:
    s = ServiceSettings.from_environ(_env(tmp_path, ATELIER_PROGRESS_SHARE_PROMPTS="on",
                                          ATELIER_PROGRESS_STUCK_CHECKS="4", ATELIER_PROGRESS_STUCK_MINUTES="7.5"))
    assert (s.host, s.port, s.prefix, s.instructors, s.learners) == ("127.0.0.1", 10101, "/services/atelier-progress/",
                                                                     ("ann",), ("bob", "cy"))
    assert s.share_prompts and (s.rules.stuck_checks, s.rules.stuck_minutes) == (4, 7.5)
    assert not ServiceSettings.from_environ(_env(tmp_path)).share_prompts


@pytest.mark.parametrize(("changes", "problem", "fix"), [
    ({"JUPYTERHUB_API_TOKEN": ""}, "without JUPYTERHUB_API_TOKEN", "ATELIER_PROGRESS=on"),
    ({"ATELIER_PROGRESS_INSTRUCTORS": ""}, "no instructor", "ATELIER_HUB_INSTRUCTORS"),
    ({"ATELIER_PROGRESS_INSTRUCTORS": "ann;rm -rf"}, "not a hub user name", "ATELIER_PROGRESS_INSTRUCTORS"),
    ({"ATELIER_PROGRESS_DIR": "progress"}, "not an absolute folder", "/srv/atelier/progress"),
    ({"ATELIER_PROGRESS_SHARE_PROMPTS": "maybe"}, "neither on nor off", "'on' or 'off'"),
    ({"ATELIER_PROGRESS_STUCK_CHECKS": "0"}, "ATELIER_PROGRESS_STUCK_CHECKS is '0'", "above 0"),
])
def test_a_bad_setting_says_which_and_how_to_fix_it(tmp_path: Path, changes: dict[str, str], problem: str,
                                                    fix: str) -> None:
    with pytest.raises(ProgressConfigError) as info:
        ServiceSettings.from_environ(_env(tmp_path, **changes))
    assert problem in info.value.problem and fix in info.value.fix


def test_the_results_folder_is_made_private(tmp_path: Path) -> None:
    folder = check_data_dir(tmp_path / "a" / "progress")
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700


def test_a_results_folder_others_can_read_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "progress"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    done = _check(_env(tmp_path))
    assert done.returncode == 2
    assert f"{folder} can be read by others (mode 755)" in done.stderr and f"Fix: chmod 700 {folder}" in done.stderr


def test_a_results_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    folder = tmp_path / "progress"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ProgressConfigError) as info:
        check_data_dir(folder)
    assert "not to root" in info.value.problem and f"chown root {folder}" in info.value.fix


def test_a_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ProgressConfigError) as info:
        check_data_dir(blocker / "progress")
    assert "cannot create" in info.value.problem and "install -d -m 700" in info.value.fix
    with pytest.raises(ProgressConfigError, match="is not a folder"):
        check_data_dir(blocker)


def test_a_port_in_use_names_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ProgressConfigError) as info:
            bind("127.0.0.1", port)
        assert f"Port {port} on 127.0.0.1 is already in use" in info.value.problem
        assert "ATELIER_PROGRESS_PORT" in info.value.fix
        done = _check(_env(tmp_path, JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}"))
    assert done.returncode == 2 and "already in use" in done.stderr


def test_the_check_passes_on_a_good_setup_and_binds_nothing_after(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _check(_env(tmp_path, JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}", JUPYTERHUB_API_TOKEN=""))
    assert done.returncode == 0, done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the check let the port go again


def test_with_the_learners_specs_the_service_knows_the_courses_exercises(tmp_path: Path) -> None:
    graders = Path(__file__).resolve().parents[1] / "widgets" / "graders"
    s = ServiceSettings.from_environ(_env(tmp_path, ATELIER_PROGRESS_GRADERS=str(graders)))
    assert s.exercises == frozenset({"w01.label", "w01.persona"})
    assert ServiceSettings.from_environ(_env(tmp_path)).exercises is None
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, problem in ((tmp_path / "missing", "is not a folder"), (empty, "holds no exercise spec")):
        with pytest.raises(ProgressConfigError) as info:
            ServiceSettings.from_environ(_env(tmp_path, ATELIER_PROGRESS_GRADERS=str(folder)))
        assert problem in info.value.problem and "ATELIER_HUB_LEARNER_GRADERS" in info.value.fix
