"""The course on a real JupyterHub: the hub of deploy/jupyterhub_config.py with its real proxy
(configurable-http-proxy, scripts/install-hub-proxy), real unix accounts for one instructor and
three learners, each server started by the hub, and nbgrader's exchange in between.

The instructor releases the test course's assignment (tests/grading/course), the learners fetch
it, answer it and submit it through their own server's nbgrader API (what the Assignments tab
calls), the instructor collects, grades with `atelier grade` on the embedded model, generates and
releases feedback from a kernel of their own server (so with the environment the hub gave it),
and the learners fetch their feedback. A canary grading key lives in the hub's secrets file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .hubclient import Hub, add_user, hub_settings, new_token, remove_user, user_environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COURSE_FIXTURE = ROOT / "tests" / "grading" / "course"
_spec = importlib.util.spec_from_file_location("hub_cohort_course", COURSE_FIXTURE / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.nbgrader, pytest.mark.local_model]

CANARY = "sk-canary-hub-" + secrets.token_hex(12)
COURSE_ID = "atelier-test"
ASSIGNMENT = "ps1"
PROFILES = ("strong", "naive", "cheat")  # learners.toml: one per learner
BIN = Path(sys.executable).parent


def _instructor_steps(course: Path, graders: Path) -> str:
    """Python run in a kernel of the instructor's server: each command, its exit code and output."""
    return f"""
import json, os, subprocess
env = dict(os.environ, ATELIER_GRADERS={str(graders)!r})
def step(*args):
    r = subprocess.run(list(args), cwd={str(course)!r}, env=env, capture_output=True, text=True)
    print(json.dumps({{"cmd": " ".join(args), "rc": r.returncode, "out": r.stdout[-6000:], "err": r.stderr[-6000:]}}))
    return r.returncode == 0
"""


def _steps(printed: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in printed.splitlines() if line.startswith("{")]


def _probe(paths: dict[str, str], dirs: dict[str, str]) -> str:
    """Python run in a learner's kernel: which of these files it can read, which folders it can list."""
    return f"""
import json, os
seen = {{}}
for label, path in {paths!r}.items():
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        seen[label] = "read"
    except PermissionError:
        seen[label] = "denied"
    except FileNotFoundError:
        seen[label] = "missing"
for label, path in {dirs!r}.items():
    try:
        os.listdir(path)
        seen[label] = "listed"
    except PermissionError:
        seen[label] = "denied"
    except FileNotFoundError:
        seen[label] = "missing"
seen["secret variables"] = sorted(k for k in os.environ if k.endswith(("_API_KEY", "_TOKEN")) 
                          # the server's own hub token (JPY_API_TOKEN is its old name): the learner's, not a key
                          and k not in ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"))
seen["canary in environment"] = any({CANARY!r} in v for v in os.environ.values())
print(json.dumps(seen))
"""


def _answered(released: dict[str, Any], profile: str, scratch: Path) -> dict[str, Any]:
    """The fetched notebook with `profile`'s answers (tests/grading/course/learners.toml)."""
    release = scratch / "release" / ASSIGNMENT
    release.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(released), release / f"{ASSIGNMENT}.ipynb")
    folder = cc.submit_learner(scratch, profile, profile)
    return json.loads((folder / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))


def _gradebook_scores(course: Path, students: list[str]) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission(ASSIGNMENT, s).score for s in students}


def _hidden_inputs() -> list[str]:
    texts = []
    for path in sorted((COURSE_FIXTURE / "graders").rglob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8")).get("hidden", []):
            texts.extend(str(v) for v in case.get("vars", {}).values())
    assert len(texts) >= 3
    return texts


@pytest.fixture(scope="module")
def course_hub() -> Any:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("the hub test creates unix accounts (useradd) and runs JupyterHub as root: run it as root")
    proxy = subprocess.run([str(ROOT / "scripts" / "install-hub-proxy")], capture_output=True, text=True)
    assert proxy.returncode == 0, proxy.stderr
    proxy_cmd = proxy.stdout.strip().splitlines()[-1]
    user_bin = user_environment(ROOT)

    tag = secrets.token_hex(3)
    instructor = f"atl{tag}t"
    learners = [f"atl{tag}{i}" for i in (1, 2, 3)]
    base = Path(tempfile.mkdtemp(prefix="atelier-hub-"))
    hub: Hub | None = None
    try:
        base.chmod(0o755)  # the exchange and the nbgrader settings below are for every user
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)
        jupyter = base / "jupyter"
        jupyter.mkdir(mode=0o755)
        shutil.copy(ROOT / "deploy" / "nbgrader_config.py", jupyter / "nbgrader_config.py")
        (jupyter / "nbgrader_config.py").chmod(0o644)
        private = base / "hub"
        private.mkdir(mode=0o700)
        secrets_file = private / "secrets.env"
        secrets_file.write_text(f"# the course's grading key\nOPENAI_API_KEY={CANARY}\n", encoding="utf-8")
        secrets_file.chmod(0o600)

        users = {name: add_user(name) for name in [instructor, *learners]}
        ins = users[instructor]
        course = Path(ins.pw_dir) / "course"
        shutil.copytree(COURSE_FIXTURE, course, ignore=shutil.ignore_patterns("__pycache__", "*.py", "learners.toml"))
        shutil.copy(COURSE_FIXTURE / "nbgrader_config.py", course / "nbgrader_config.py")
        subprocess.run(["chown", "-R", f"{ins.pw_uid}:{ins.pw_gid}", str(course)], check=True)

        token = new_token()
        port, settings = hub_settings(private, proxy_cmd, token,
                                      ["admin:users", "admin:servers", "admin:server_state", "tokens", "read:groups"])
        config = private / "jupyterhub_config.py"
        config.write_text(f"""
c = get_config()
load_subconfig({str(ROOT / 'deploy' / 'jupyterhub_config.py')!r})
{settings}""", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "JUPYTER"))}
        env.update({
            "PATH": f"{user_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "ATELIER_HUB_INSTRUCTORS": instructor,
            "ATELIER_HUB_LEARNERS": ",".join(learners),
            "ATELIER_HUB_SECRETS": str(secrets_file),
            "ATELIER_COURSE_ID": COURSE_ID,
            "ATELIER_EXCHANGE": str(exchange),
            "ATELIER_HUB_NBGRADER_CONFIG": str(jupyter),
        })
        log = private / "hub.log"
        hub = Hub(url=f"http://127.0.0.1:{port}", token=token, log=log)
        with log.open("wb") as sink:
            hub.process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(config)], cwd=private, env=env,
                                           stdout=sink, stderr=subprocess.STDOUT)
        hub.wait_up()

        for name in users:
            hub.api("POST", f"/users/{name}/server")
        servers = {name: hub.wait_server(name) for name in users}
        state = hub.api("GET", f"/users/{instructor}")["servers"][""]["state"]
        teacher = hub.server(instructor)
        prelude = _instructor_steps(course, course / "graders")

        released = _steps(teacher.run(prelude + f"""
print(json.dumps({{"key in environment": os.environ.get("OPENAI_API_KEY") == {CANARY!r}}}))
step("nbgrader", "generate_assignment", "{ASSIGNMENT}") and step("nbgrader", "release_assignment", "{ASSIGNMENT}")
"""))

        listed, submitted = {}, {}
        for name, profile in zip(learners, PROFILES):
            me = hub.server(name)
            listed[name] = me.json("GET", "/assignments", params={"course_id": COURSE_ID})
            me.json("POST", "/assignments/fetch", json={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
            path = f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
            fetched = me.json("GET", path)["content"]
            answered = _answered(fetched, profile, base / "scratch" / name)
            me.json("PUT", path, json={"type": "notebook", "format": "json", "content": answered})
            submitted[name] = me.json("POST", "/assignments/submit",
                                      json={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})

        # the third learner hands in a notebook of their own under the first learner's name, later
        forger, victim = learners[2], learners[0]
        forged = hub.server(forger).run(f"""
import datetime, os, shutil
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
folder = os.path.join({str(exchange / COURSE_ID / "inbound")!r}, "{victim}+{ASSIGNMENT}+" + stamp + "+forged")
os.mkdir(folder)
shutil.copy("{ASSIGNMENT}/{ASSIGNMENT}.ipynb", folder)
for name, text in (("timestamp.txt", stamp), ("submission_secret.txt", "0" * 128)):
    with open(os.path.join(folder, name), "w") as fh:
        fh.write(text)
print(os.path.basename(folder))
""").strip()

        graded = _steps(teacher.run(prelude + f"""
(step("nbgrader", "collect", "{ASSIGNMENT}")
 and step("atelier", "grade", "{ASSIGNMENT}", "--model", "local", "--no-progress")
 and step("nbgrader", "generate_feedback", "{ASSIGNMENT}")
 and step("nbgrader", "release_feedback", "{ASSIGNMENT}"))
"""))

        feedback: dict[str, str] = {}
        for name in learners:
            me = hub.server(name)
            me.json("POST", "/assignments/fetch_feedback", json={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
            stamps = me.json("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
            pages = [me.json("GET", f"/api/contents/{item['path']}/{ASSIGNMENT}.html")["content"]
                     for item in stamps if item["type"] == "directory"]
            feedback[name] = "\n".join(pages)

        first = users[learners[0]]
        probes = {}
        for name in learners[1:]:
            probes[name] = json.loads(hub.server(name).run(_probe(
                paths={
                    "another learner's notebook": f"{first.pw_dir}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                    "the instructor's hidden cases": str(course / "graders" / "tc" / "label.toml"),
                    "the instructor's gradebook": str(course / "gradebook.db"),
                    "the instructor's collected submissions": str(course / "submitted" / learners[0] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                    "the hub's secrets file": str(secrets_file),
                    "the instructor's server environment": f"/proc/{state['pid']}/environ",
                },
                dirs={
                    "another learner's home": first.pw_dir,
                    "another learner's feedback": f"{first.pw_dir}/{ASSIGNMENT}/feedback",
                    "the exchange's inbound": str(exchange / COURSE_ID / "inbound"),
                    "the exchange's feedback": str(exchange / COURSE_ID / "feedback"),
                    "the instructor's home": ins.pw_dir,
                },
            )).strip().splitlines()[-1])
        yield {
            "hub": hub, "instructor": instructor, "learners": learners, "users": users, "course": course,
            "exchange": exchange, "released": released, "listed": listed, "submitted": submitted,
            "graded": graded, "feedback": feedback, "probes": probes, "servers": servers, "forged": forged,
        }
    finally:
        if hub is not None:
            hub.stop()
        for name in [instructor, *learners]:
            remove_user(name)
        shutil.rmtree(base, ignore_errors=True)


def _ok(steps: list[dict[str, Any]]) -> None:
    for s in steps:
        if "cmd" in s:
            assert s["rc"] == 0, f"{s['cmd']} failed ({s['rc']}):\n{s['out']}\n{s['err']}"


def test_each_learner_gets_feedback_with_their_own_score(course_hub: dict[str, Any]) -> None:
    _ok(course_hub["released"])
    _ok(course_hub["graded"])
    assert len([s for s in course_hub["graded"] if "cmd" in s]) == 4
    learners = course_hub["learners"]
    for name in learners:
        listed, submitted = course_hub["listed"][name], course_hub["submitted"][name]
        assert listed["success"] and [(a["assignment_id"], a["status"]) for a in listed["value"]] == [(ASSIGNMENT, "released")], listed
        assert submitted["success"], submitted
        assert sorted(a["status"] for a in submitted["value"]) == ["fetched", "submitted"], submitted
    scores = _gradebook_scores(course_hub["course"], learners)
    shown = {}
    for name in learners:
        page = course_hub["feedback"][name]
        found = re.findall(rf"<h4>{ASSIGNMENT} \(Score: ([0-9.]+) / ([0-9.]+)\)</h4>", page)
        assert len(found) == 1, (name, page[:2000])
        shown[name] = float(found[0][0])
        assert shown[name] == pytest.approx(round(scores[name], 2)), (name, shown, scores)
    strong, naive, cheat = learners
    assert shown[strong] > shown[naive] >= shown[cheat] - 1e-9, shown
    assert "Trusted grade" in course_hub["feedback"][strong]


def test_no_learner_can_read_another_learner_the_instructors_course_or_the_key(course_hub: dict[str, Any]) -> None:
    for name, seen in course_hub["probes"].items():
        assert seen.pop("secret variables") == [], name
        assert seen.pop("canary in environment") is False, name
        assert seen == {label: "denied" for label in seen}, (name, seen)
    # what a learner cannot list, they cannot find: nbgrader names each submission with a random part
    inbound = sorted(p.name for p in (course_hub["exchange"] / COURSE_ID / "inbound").iterdir()
                     if p.name != course_hub["forged"])
    assert len(inbound) == 3
    for entry, name in zip(inbound, sorted(course_hub["learners"])):
        student, assignment, _, random_part = entry.split("+")
        assert (student, assignment) == (name, ASSIGNMENT) and len(random_part) >= 12


def test_a_submission_under_another_learners_name_is_left_out(course_hub: dict[str, Any]) -> None:
    collect = next(s for s in course_hub["graded"] if s.get("cmd", "").startswith("nbgrader collect"))
    victim, _, forger = course_hub["learners"]
    assert f"Left out {course_hub['forged']}: it names {victim} but its folder belongs to {forger}" in collect["err"]
    assert "Processing 3 submissions" in collect["err"]
    # the victim's grade is their own notebook's (the strong learner's), not the forger's 0
    submitted = course_hub["course"] / "submitted" / victim / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "Classify the sentiment" in submitted.read_text(encoding="utf-8")


def test_the_key_reaches_the_instructors_server_only_and_no_learner_file(course_hub: dict[str, Any]) -> None:
    assert {"key in environment": True} in course_hub["released"]  # the hub gave it to the instructor's server
    checked = 0
    roots = [Path(course_hub["users"][name].pw_dir) for name in course_hub["learners"]] + [course_hub["exchange"]]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert CANARY.encode() not in path.read_bytes(), path
                checked += 1
    assert checked >= 3 * 3, checked  # each learner's notebook, checkpoint, feedback, and the exchange


def test_released_notebooks_and_honest_feedback_hold_no_hidden_case(course_hub: dict[str, Any]) -> None:
    released = (course_hub["exchange"] / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8")
    strong, naive, _ = course_hub["learners"]
    for secret in _hidden_inputs():
        for text in (released, course_hub["feedback"][strong], course_hub["feedback"][naive]):
            assert secret not in text and json.dumps(secret)[1:-1] not in text, secret
