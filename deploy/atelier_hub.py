"""What every course hub configuration shares (jupyterhub_config.py, tljh_atelier.py and the
Z2JH values' extraConfig): who teaches and who learns, the grading key as a hub-managed secret
that reaches instructors' servers only, and checks that refuse a configuration which would leak
the key or break nbgrader's exchange, each with the fix.

Standard library only: the hub's own Python (TLJH's /opt/tljh/hub, the Z2JH hub image) does not
have the kit installed.

Settings, all from the hub's environment (a systemd drop-in, `hub.extraEnv` on Kubernetes):

  ATELIER_HUB_INSTRUCTORS   hub user names, comma-separated; they get the grading key
  ATELIER_HUB_LEARNERS      hub user names, comma-separated; they never get it
  ATELIER_HUB_ADMINS        hub admins (optional; an admin can open every server, so keep it short)
  ATELIER_HUB_SECRETS       a file of KEY=VALUE lines owned by the hub's user, mode 600 (optional)
  ATELIER_HUB_KEY_NAMES     which variables of the hub's own environment are grading keys
                            (default OPENAI_API_KEY, ANTHROPIC_API_KEY, ATELIER_COMPATIBLE_API_KEY)
  ATELIER_COURSE_ID         nbgrader's course id (default prompt-atelier)
  ATELIER_EXCHANGE          nbgrader's exchange folder, shared by all (default /srv/nbgrader/exchange)
  ATELIER_HUB_NBGRADER_CONFIG  a folder holding deploy/nbgrader_config.py, put on every server's
                            JUPYTER_CONFIG_PATH (optional: else install that file in /etc/jupyter)
  ATELIER_HUB_LEARNER_GRADERS  the learners' copy of graders/ (from `atelier release`), without
                            hidden cases, for check() in learners' notebooks (optional)
  ATELIER_HUB_LEARNER_KEYS  the learner keys file of a shared model gateway (deploy/gateway/learner_keys.py,
                            JSON, mode 600): each user's server gets that user's own key as
                            ATELIER_COMPATIBLE_API_KEY, and their rate as ATELIER_RPM (optional)
  ATELIER_HUB_LEARNER_MODEL the model string learners' servers use, such as
                            openai-compatible:http://gateway:4000/v1#smollm2 (ATELIER_MODEL; optional)

Live cohort progress (the hub-managed service atelier-progress; course/README.md §8):

  ATELIER_PROGRESS          on: run the service; learners' check() reports to it (default off)
  ATELIER_PROGRESS_PORT     where it listens, on ATELIER_PROGRESS_HOST (default 10101, 127.0.0.1)
  ATELIER_PROGRESS_DIR      its SQLite folder, mode 700, the hub's user's own (default
                            /srv/atelier/progress; made if missing)
  ATELIER_PROGRESS_PYTHON   a Python with the kit installed (default: the hub's own)
  ATELIER_PROGRESS_SHARE_PROMPTS  on: learners' checks send their prompt text too (default off)
  ATELIER_PROGRESS_STUCK_CHECKS, ATELIER_PROGRESS_STUCK_MINUTES  when a learner counts as stuck
                            (3 checks below the pass mark, or 20 minutes without a better score)
  ATELIER_PROGRESS_URL      the service's address as learners' servers reach it (default
                            http://HOST:PORT<hub base_url>services/atelier-progress/)
"""

from __future__ import annotations

import inspect
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CourseHub", "HubConfigError", "Progress", "check_exchange", "read_learner_keys", "read_secrets"]

DEFAULT_KEY_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ATELIER_COMPATIBLE_API_KEY")
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
DEFAULT_COURSE_ID = "prompt-atelier"
PROGRESS_SERVICE = "atelier-progress"
DEFAULT_PROGRESS_DIR = "/srv/atelier/progress"
DEFAULT_PROGRESS_PORT = 10101
# where the kit looks for an openai-compatible server's key (a learner's own gateway key goes there)
LEARNER_KEY_VAR = "ATELIER_COMPATIBLE_API_KEY"
ISSUE_KEYS = "python deploy/gateway/learner_keys.py issue --file {path} {users}"
# what the kit itself treats as a credential (promptatelier.grading.redact), plus *_SECRET
_SECRET_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD)$|^ATELIER_.*KEY", re.IGNORECASE)
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_COURSE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class HubConfigError(RuntimeError):
    """A course hub setting that would break the course or expose the key; the message says the fix."""


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _users(text: str, setting: str) -> tuple[str, ...]:
    names = tuple(n for n in re.split(r"[\s,]+", text.strip()) if n)
    for name in names:
        if not _USER.match(name):
            raise HubConfigError(f"{setting}: {name!r} is not a hub user name. Fix: list names such as "
                                 f"'alice,bob' (letters, digits, '.', '_', '-', '@').")
    return names


def _check_private(p: Path, setting: str, missing_fix: str, kind: str, what: str, rotate: str) -> None:
    """Refuse a file of keys that is absent, not a file, readable by others or not the hub's own."""
    fix_mode = f"chown {_owner_name(os.geteuid())} {p} && chmod 600 {p}"
    try:
        st = p.stat()
    except FileNotFoundError:
        raise HubConfigError(f"{setting}: {p} does not exist. Fix: {missing_fix}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise HubConfigError(f"{setting}: {p} is not a regular file. Fix: point it at {kind}.")
    if st.st_mode & 0o077:
        raise HubConfigError(f"{setting}: {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}), "
                             f"so a learner could read {what}. Fix: {fix_mode}, then {rotate}.")
    if st.st_uid != os.geteuid():
        raise HubConfigError(f"{setting}: {p} belongs to {_owner_name(st.st_uid)}, not to the hub's user "
                             f"{_owner_name(os.geteuid())}. Fix: {fix_mode}.")


def read_secrets(path: str | os.PathLike[str]) -> dict[str, str]:
    """The KEY=VALUE lines of the hub's secrets file, refused unless only the hub's user can read it."""
    p = Path(path)
    _check_private(p, "ATELIER_HUB_SECRETS",
                   f"create it readable by the hub only (install -m 600 /dev/null {p}), add lines such as "
                   f"OPENAI_API_KEY=..., or unset ATELIER_HUB_SECRETS to take the keys from the hub's environment",
                   "a file of KEY=VALUE lines", "the grading key", "rotate the key")
    secrets: dict[str, str] = {}
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or not _VAR.match(name):
            # never echo the line: it may hold a key
            raise HubConfigError(f"ATELIER_HUB_SECRETS: line {number} of {p} is not NAME=VALUE. Fix: write one "
                                 f"variable per line, such as OPENAI_API_KEY=sk-...")
        secrets[name] = value.strip().strip("'\"")
    return secrets


def read_learner_keys(path: str | os.PathLike[str]) -> dict[str, tuple[str, int | None]]:
    """Each user's own gateway key and requests a minute, from the learner keys file of
    deploy/gateway/learner_keys.py, refused unless only the hub's user can read it."""
    p = Path(path)
    issue = ISSUE_KEYS.format(path=p, users="USER...")
    _check_private(p, "ATELIER_HUB_LEARNER_KEYS", f"issue the learners' keys with {issue}",
                   f"the JSON file written by {issue}", "every learner's key",
                   f"issue new keys with {issue} --rotate")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        default_rpm = (data.get("limits") or {}).get("rpm")
        keys = {}
        for name, entry in data["users"].items():
            rpm = entry.get("rpm", default_rpm)
            if not isinstance(entry["key"], str) or not (rpm is None or isinstance(rpm, int)):
                raise TypeError
            keys[str(name)] = (entry["key"], rpm)
    except (ValueError, KeyError, TypeError, AttributeError):
        # never echo the file: it holds keys
        raise HubConfigError(f"ATELIER_HUB_LEARNER_KEYS: {p} is not a learner keys file. Fix: write it with {issue}, "
                             f"and check it with python deploy/gateway/learner_keys.py list --file {p}.") from None
    return keys


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def check_exchange(root: str, course_id: str) -> None:
    """Refuse an exchange nbgrader cannot use or that lets one learner tamper with the course."""
    if not _COURSE_ID.match(course_id):
        raise HubConfigError(f"ATELIER_COURSE_ID: {course_id!r} is not a valid nbgrader course id. Fix: use letters, "
                             f"digits, '.', '_' and '-', the same as CourseDirectory.course_id in the course's "
                             f"nbgrader_config.py.")
    p = Path(root)
    if not p.is_absolute():
        raise HubConfigError(f"ATELIER_EXCHANGE: {root!r} is not an absolute path. Fix: use the same absolute path "
                             f"on the hub and in every server, such as {DEFAULT_EXCHANGE}.")
    make = f"install -d -m 1777 {p}"
    if not p.is_dir():
        raise HubConfigError(f"ATELIER_EXCHANGE: the exchange folder {p} does not exist. Fix: as root, {make} "
                             f"(on Kubernetes: mount the shared exchange volume there).")
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o777 != 0o777:
        raise HubConfigError(f"ATELIER_EXCHANGE: {p} has mode {mode:o}; nbgrader's exchange needs every user to "
                             f"write there (1777). Fix: as root, chmod 1777 {p}.")
    if not mode & stat.S_ISVTX:
        raise HubConfigError(f"ATELIER_EXCHANGE: {p} has no sticky bit (mode {mode:o}), so a learner could rename "
                             f"the course's folder and release assignments of their own. Fix: as root, chmod 1777 {p}.")
    course = p / course_id
    if course.is_dir():
        cmode = stat.S_IMODE(course.stat().st_mode)
        if cmode & 0o022:
            raise HubConfigError(f"ATELIER_EXCHANGE: {course} is writable by others (mode {cmode:o}), so a learner "
                                 f"could replace released assignments. Fix: chmod 755 {course}.")
        inbound = course / "inbound"
        if inbound.is_dir() and stat.S_IMODE(inbound.stat().st_mode) & 0o044:
            imode = stat.S_IMODE(inbound.stat().st_mode)
            raise HubConfigError(f"ATELIER_EXCHANGE: {inbound} can be listed by others (mode {imode:o}), so a learner "
                                 f"could find and read other learners' submissions. Fix: chmod 2733 {inbound}.")


def _switch(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise HubConfigError(f"{name} is {env[name]!r}. Fix: set it to 'on' or 'off'.")


@dataclass
class Progress:
    """The live progress service: how the hub runs it and what learners' servers need to reach it.
    Its own checks (results folder, port, instructors) live in the kit
    (promptatelier.progress.service) and run here once, when the hub loads its configuration."""

    port: int = DEFAULT_PROGRESS_PORT
    host: str = "127.0.0.1"
    data_dir: str = DEFAULT_PROGRESS_DIR
    python: str = field(default_factory=lambda: sys.executable)
    share_prompts: bool = False
    stuck_checks: str = ""
    stuck_minutes: str = ""
    url: str = ""
    base_url: str = "/"

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Progress | None:
        if not _switch(env, "ATELIER_PROGRESS"):
            return None
        raw_port = env.get("ATELIER_PROGRESS_PORT", "").strip() or str(DEFAULT_PROGRESS_PORT)
        if not raw_port.isdigit() or not 1024 < int(raw_port) < 65536:
            raise HubConfigError(f"ATELIER_PROGRESS_PORT is {raw_port!r}. Fix: set it to a free port between 1025 "
                                 f"and 65535, such as {DEFAULT_PROGRESS_PORT}.")
        return cls(
            port=int(raw_port), host=env.get("ATELIER_PROGRESS_HOST", "").strip() or "127.0.0.1",
            data_dir=env.get("ATELIER_PROGRESS_DIR", "").strip() or DEFAULT_PROGRESS_DIR,
            python=env.get("ATELIER_PROGRESS_PYTHON", "").strip() or sys.executable,
            share_prompts=_switch(env, "ATELIER_PROGRESS_SHARE_PROMPTS"),
            stuck_checks=env.get("ATELIER_PROGRESS_STUCK_CHECKS", "").strip(),
            stuck_minutes=env.get("ATELIER_PROGRESS_STUCK_MINUTES", "").strip(),
            url=env.get("ATELIER_PROGRESS_URL", "").strip(),
        )

    @property
    def prefix(self) -> str:
        return f"{self.base_url.rstrip('/')}/services/{PROGRESS_SERVICE}/"

    @property
    def service_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def learner_url(self) -> str:
        """Where learners' servers post: the service itself, not the public proxy (whose address a
        server does not know)."""
        return self.url or f"{self.service_url}{self.prefix}"

    def service_environment(self, hub: CourseHub) -> dict[str, str]:
        env = {
            "ATELIER_PROGRESS_DIR": self.data_dir,
            "ATELIER_PROGRESS_INSTRUCTORS": ",".join(hub.instructors),
            "ATELIER_PROGRESS_LEARNERS": ",".join(hub.learners),
            "ATELIER_PROGRESS_SHARE_PROMPTS": "on" if self.share_prompts else "off",
        }
        if self.stuck_checks:
            env["ATELIER_PROGRESS_STUCK_CHECKS"] = self.stuck_checks
        if self.stuck_minutes:
            env["ATELIER_PROGRESS_STUCK_MINUTES"] = self.stuck_minutes
        if hub.learner_graders:
            env["ATELIER_PROGRESS_GRADERS"] = hub.learner_graders  # posts for other exercises are refused
        return env

    def server_environment(self) -> dict[str, str]:
        return {"ATELIER_PROGRESS_URL": self.learner_url,
                "ATELIER_PROGRESS_SHARE_PROMPTS": "on" if self.share_prompts else "off"}

    def check(self, hub: CourseHub) -> None:
        """Runs the service's own checks with the environment the hub will give it."""
        command = [self.python, "-m", "promptatelier.progress", "--check"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "JUPYTERHUB_SERVICE_URL": self.service_url,
               "JUPYTERHUB_SERVICE_PREFIX": self.prefix, **self.service_environment(hub)}
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        except OSError as exc:
            raise HubConfigError(f"ATELIER_PROGRESS_PYTHON: cannot run {self.python} ({exc.strerror}). Fix: set "
                                 f"ATELIER_PROGRESS_PYTHON to the python of an environment with the kit installed "
                                 f"(pip install prompt-atelier[hub]).") from None
        if done.returncode == 0:
            return
        if "No module named" in done.stderr:
            raise HubConfigError(f"ATELIER_PROGRESS_PYTHON: {self.python} has no promptatelier, so it cannot run the "
                                 f"progress service. Fix: set ATELIER_PROGRESS_PYTHON to the python of an environment "
                                 f"with the kit installed (on TLJH, /opt/tljh/user/bin/python), or install the kit in "
                                 f"the hub's environment.")
        message = done.stderr.strip().removeprefix("atelier-progress: ") or f"exit status {done.returncode}"
        raise HubConfigError(f"ATELIER_PROGRESS: {message}")

    def configure(self, c: Any, hub: CourseHub) -> None:
        """Adds the service, lets the course's users reach it, and lets learners' servers post."""
        self.base_url = c.JupyterHub.get("base_url", "/") or "/"
        self.check(hub)
        services = [s for s in c.JupyterHub.get("services", []) if s.get("name") != PROGRESS_SERVICE]
        services.append({
            "name": PROGRESS_SERVICE,
            "display": True,
            "info": {"description": "Prompt Atelier: the cohort's progress, live (instructors)"},
            "url": self.service_url,
            "command": [self.python, "-m", "promptatelier.progress"],
            "environment": self.service_environment(hub),
            "oauth_no_confirm": True,
        })
        c.JupyterHub.services = services
        access = f"access:services!service={PROGRESS_SERVICE}"
        roles = [dict(r) for r in c.JupyterHub.get("load_roles", []) if r.get("name") != f"{PROGRESS_SERVICE}-users"]
        # the view checks that its user is an instructor; a learner needs the access to post
        roles.append({"name": f"{PROGRESS_SERVICE}-users", "description": "post checks to / open atelier-progress",
                      "scopes": [access], "groups": ["instructors", "learners"]})
        # a server's JUPYTERHUB_API_TOKEN carries the `server` role's scopes (those its user holds)
        server = next((r for r in roles if r.get("name") == "server"), None)
        if server is None:
            server = {"name": "server", "scopes": ["users:activity!user", "access:servers!server"]}
            roles.append(server)
        server["scopes"] = sorted({*server.get("scopes", []), access})
        c.JupyterHub.load_roles = roles
        token_scopes = c.Spawner.get("server_token_scopes")
        if isinstance(token_scopes, list) and access not in token_scopes:
            c.Spawner.server_token_scopes = [*token_scopes, access]


@dataclass(frozen=True)
class CourseHub:
    """One course on one hub: its people, its exchange and its grading key."""

    instructors: tuple[str, ...]
    learners: tuple[str, ...]
    admins: tuple[str, ...] = ()
    course_id: str = DEFAULT_COURSE_ID
    exchange: str = DEFAULT_EXCHANGE
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    nbgrader_config_dir: str | None = None
    learner_graders: str | None = None
    progress: Progress | None = None
    learner_keys: str | None = None
    learner_model: str | None = None

    def __post_init__(self) -> None:
        if not self.instructors:
            raise HubConfigError("ATELIER_HUB_INSTRUCTORS is empty: nobody could release, collect or grade. "
                                 "Fix: set it to the instructors' hub user names, such as ATELIER_HUB_INSTRUCTORS=ann.")
        both = sorted(set(self.instructors) & set(self.learners))
        if both:
            raise HubConfigError(f"{', '.join(both)} is both an instructor and a learner, so a learner's server would "
                                 f"get the grading key. Fix: give them two hub accounts, one in ATELIER_HUB_INSTRUCTORS "
                                 f"and one in ATELIER_HUB_LEARNERS.")
        for name in self.secrets:
            if not _VAR.match(name):
                raise HubConfigError(f"{name!r} is not an environment variable name. Fix: rename it in the secrets.")
        check_exchange(self.exchange, self.course_id)
        if self.nbgrader_config_dir is not None:
            cfg = Path(self.nbgrader_config_dir) / "nbgrader_config.py"
            if not cfg.is_file():
                raise HubConfigError(f"ATELIER_HUB_NBGRADER_CONFIG: {cfg} does not exist. Fix: copy "
                                     f"deploy/nbgrader_config.py there (readable by everyone), or unset the setting "
                                     f"and install it as /etc/jupyter/nbgrader_config.py.")
        if self.learner_keys is not None:
            keys = read_learner_keys(self.learner_keys)
            missing = [name for name in self.learners if name not in keys]
            if missing:
                raise HubConfigError(f"ATELIER_HUB_LEARNER_KEYS: {', '.join(missing)} ha{'s' if len(missing) == 1 else 've'} "
                                     f"no key in {self.learner_keys}, so the gateway would refuse them. Fix: "
                                     f"{ISSUE_KEYS.format(path=self.learner_keys, users=' '.join(missing))}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> CourseHub:
        env = os.environ if environ is None else environ
        names = _users(env.get("ATELIER_HUB_KEY_NAMES", ",".join(DEFAULT_KEY_NAMES)), "ATELIER_HUB_KEY_NAMES")
        secrets = {n: env[n] for n in names if env.get(n)}
        if env.get("ATELIER_HUB_SECRETS"):
            secrets.update(read_secrets(env["ATELIER_HUB_SECRETS"]))
        return cls(
            instructors=_users(env.get("ATELIER_HUB_INSTRUCTORS", ""), "ATELIER_HUB_INSTRUCTORS"),
            learners=_users(env.get("ATELIER_HUB_LEARNERS", ""), "ATELIER_HUB_LEARNERS"),
            admins=_users(env.get("ATELIER_HUB_ADMINS", ""), "ATELIER_HUB_ADMINS"),
            course_id=env.get("ATELIER_COURSE_ID") or DEFAULT_COURSE_ID,
            exchange=env.get("ATELIER_EXCHANGE") or DEFAULT_EXCHANGE,
            secrets=secrets,
            nbgrader_config_dir=env.get("ATELIER_HUB_NBGRADER_CONFIG") or None,
            learner_graders=env.get("ATELIER_HUB_LEARNER_GRADERS") or None,
            progress=Progress.from_environ(env),
            learner_keys=env.get("ATELIER_HUB_LEARNER_KEYS") or None,
            learner_model=env.get("ATELIER_HUB_LEARNER_MODEL") or None,
        )

    def common_environment(self) -> dict[str, str]:
        """What every server gets: where the exchange is and which course it is."""
        env = {"ATELIER_COURSE_ID": self.course_id, "ATELIER_EXCHANGE": self.exchange}
        if self.nbgrader_config_dir:
            env["JUPYTER_CONFIG_PATH"] = self.nbgrader_config_dir
        return env

    def own_key_environment(self, username: str) -> dict[str, str]:
        """`username`'s own gateway key and pace, read from the keys file at each start, so a key
        issued or rotated reaches a server when it next starts, with no hub restart."""
        if self.learner_keys is None:
            return {}
        found = read_learner_keys(self.learner_keys).get(username)
        if found is None:
            if username in self.learners:
                raise HubConfigError(f"ATELIER_HUB_LEARNER_KEYS: {username} has no key in {self.learner_keys}. Fix: "
                                     f"{ISSUE_KEYS.format(path=self.learner_keys, users=username)}")
            return {}
        key, rpm = found
        env = {LEARNER_KEY_VAR: key}
        if rpm:
            env["ATELIER_RPM"] = str(rpm)  # the kit paces itself under the gateway's limit
        if self.learner_model:
            env["ATELIER_MODEL"] = self.learner_model
        return env

    def environment_for(self, username: str) -> dict[str, str]:
        """The variables `username`'s server gets: the grading key for an instructor only, and each
        user's own gateway key for that user only."""
        own = self.own_key_environment(username)
        if username in self.instructors:
            return {**self.common_environment(), **own, **self.secrets}
        env = {**self.common_environment(), **own}
        if self.learner_graders:
            env["ATELIER_GRADERS"] = self.learner_graders
        if self.progress is not None:
            env.update(self.progress.server_environment())
        return env

    def pre_spawn_hook(self, spawner: Any) -> None:
        """Sets the server's environment when it starts; a learner's is emptied of every secret.
        Refuses to start a server whose home others can read."""
        name = spawner.user.name
        home = self.home_of(name)
        if home is not None and stat.S_IMODE(home.stat().st_mode) & 0o077:
            mode = stat.S_IMODE(home.stat().st_mode)
            raise HubConfigError(f"{name}'s home {home} can be read by others (mode {mode:o}), so other users could "
                                 f"read {name}'s notebooks (or the instructor's course). Fix: as root, chmod 700 {home}, "
                                 f"and set HOME_MODE 0700 in /etc/login.defs for accounts made later.")
        env = {k: v for k, v in dict(spawner.environment).items()
               if name in self.instructors or not (is_secret_name(k) or k in self.secrets)}
        env.update(self.environment_for(name))
        spawner.environment = env

    @staticmethod
    def home_of(username: str) -> Path | None:
        """The home of the unix account a hub user's server runs as (TLJH names it jupyter-<name>);
        None when the server runs elsewhere (a Kubernetes pod, whose home is its own volume)."""
        try:
            import pwd
        except ImportError:
            return None
        for account in (username, f"jupyter-{username}"):
            try:
                home = Path(pwd.getpwnam(account).pw_dir)
            except KeyError:
                continue
            return home if home.is_dir() else None
        return None

    def configure(self, c: Any) -> None:
        """Applies the course to a JupyterHub config `c`: users, groups, the spawn hook, the checks."""
        for setting in ("env_keep", "environment"):
            trait = c.Spawner[setting] if setting in c.Spawner else None
            names = list(trait or [])
            leaking = sorted(n for n in names if is_secret_name(n) or n in self.secrets)
            if leaking:
                raise HubConfigError(f"c.Spawner.{setting} holds {', '.join(leaking)}, which would reach every "
                                     f"learner's server. Fix: remove it there; the hub gives the grading key to "
                                     f"instructors' servers itself (ATELIER_HUB_SECRETS or ATELIER_HUB_KEY_NAMES).")
        people = set(self.instructors) | set(self.learners)
        c.Authenticator.allowed_users = people | set(c.Authenticator.get("allowed_users", set()))
        c.Authenticator.admin_users = set(self.admins) | set(c.Authenticator.get("admin_users", set()))
        c.JupyterHub.load_groups = {
            **dict(c.JupyterHub.get("load_groups", {})),
            "instructors": {"users": list(self.instructors)},
            "learners": {"users": list(self.learners)},
            # the groups nbgrader's JupyterHubAuthPlugin reads, should a course switch to it
            f"formgrade-{self.course_id}": {"users": list(self.instructors)},
            f"nbgrader-{self.course_id}": {"users": list(self.learners)},
        }
        previous: Callable[[Any], Any] | None = c.Spawner.get("pre_spawn_hook")

        async def hook(spawner: Any) -> None:
            if previous is not None:
                result = previous(spawner)
                if inspect.isawaitable(result):
                    await result
            self.pre_spawn_hook(spawner)  # last, so no earlier hook can hand a learner the key

        c.Spawner.pre_spawn_hook = hook
        if self.progress is not None:
            self.progress.configure(c, self)
