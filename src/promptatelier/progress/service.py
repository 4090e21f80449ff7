"""The progress service's settings, read from the environment the hub starts it with, and the
checks that refuse a misconfiguration before it can lose results or expose prompts, each with
its fix. deploy/atelier_hub.py runs the same checks (`python -m promptatelier.progress --check`)
when the hub loads its configuration, so a mistake stops the hub with this message instead of
leaving a service that dies in the hub's log.

Set by JupyterHub for a managed service: JUPYTERHUB_SERVICE_URL (where to listen),
JUPYTERHUB_SERVICE_PREFIX, JUPYTERHUB_API_TOKEN, JUPYTERHUB_API_URL, JUPYTERHUB_CLIENT_ID...
Set by deploy/atelier_hub.py (from the hub's own ATELIER_PROGRESS_* settings):

  ATELIER_PROGRESS_DIR            where the SQLite file lives; mode 700, the service's user's own
  ATELIER_PROGRESS_INSTRUCTORS    who may open the view (hub user names, comma-separated)
  ATELIER_PROGRESS_LEARNERS       the course's learners, shown before their first check
  ATELIER_PROGRESS_SHARE_PROMPTS  keep the prompt text learners' checks send (default off)
  ATELIER_PROGRESS_STUCK_CHECKS   checks below the pass mark before a learner counts as stuck (3)
  ATELIER_PROGRESS_STUCK_MINUTES  minutes without a better score before they count as stuck (20)
  ATELIER_PROGRESS_GRADERS        the learners' copy of the specs: posts for any other exercise
                                  are refused (optional; the hub passes ATELIER_HUB_LEARNER_GRADERS)
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ConfigError
from .cohort import Rules

__all__ = ["ProgressConfigError", "ServiceSettings", "check_data_dir", "bind", "parse_bool"]

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class ProgressConfigError(ConfigError):
    """The progress service is set up wrong; the message says how to fix it."""


def parse_bool(raw: str, name: str) -> bool:
    text = raw.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise ProgressConfigError(f"{name} is {raw!r}, which is neither on nor off.", f"Set {name} to 'on' or 'off'.")


def _names(raw: str, name: str) -> tuple[str, ...]:
    names = tuple(n for n in re.split(r"[\s,]+", raw.strip()) if n)
    for n in names:
        if not _USER.match(n):
            raise ProgressConfigError(f"{name}: {n!r} is not a hub user name.",
                                      f"List names such as 'ann,bob' in {name}.")
    return names


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ProgressConfigError(f"{name} is {raw!r}.", f"Set {name} to a {kind.__name__} above 0 (default {default}).")
    return value


@dataclass(frozen=True)
class ServiceSettings:
    host: str
    port: int
    prefix: str
    data_dir: Path
    instructors: tuple[str, ...]
    learners: tuple[str, ...] = ()
    share_prompts: bool = False
    rules: Rules = Rules()
    # the course's exercise ids, when known: a post for another is refused
    exercises: frozenset[str] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *, need_hub: bool = True) -> ServiceSettings:
        env = os.environ if environ is None else environ
        missing = [n for n in ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN",
                               "JUPYTERHUB_API_URL") if need_hub and not env.get(n)]
        if missing or not env.get("JUPYTERHUB_SERVICE_URL"):
            raise ProgressConfigError(
                f"The progress service was started without {', '.join(missing or ['JUPYTERHUB_SERVICE_URL'])}, which "
                f"JupyterHub gives the services it runs.",
                "Let the hub run it: set ATELIER_PROGRESS=on in the hub's environment (deploy/atelier_hub.py adds "
                "the service to c.JupyterHub.services), then restart the hub.")
        url = urlparse(env["JUPYTERHUB_SERVICE_URL"])
        if url.scheme != "http" or not url.hostname or not url.port:
            raise ProgressConfigError(f"The service URL {env['JUPYTERHUB_SERVICE_URL']!r} has no host and port.",
                                      "Give the service a URL such as http://127.0.0.1:10101 (ATELIER_PROGRESS_PORT).")
        instructors = _names(env.get("ATELIER_PROGRESS_INSTRUCTORS", ""), "ATELIER_PROGRESS_INSTRUCTORS")
        if not instructors:
            raise ProgressConfigError(
                "The progress service has no instructor, so nobody could open the cohort view.",
                "Set ATELIER_HUB_INSTRUCTORS in the hub's environment to the instructors' hub user names "
                "(the hub passes them to the service as ATELIER_PROGRESS_INSTRUCTORS).")
        raw_dir = env.get("ATELIER_PROGRESS_DIR", "")
        if not raw_dir or not Path(raw_dir).is_absolute():
            raise ProgressConfigError(f"ATELIER_PROGRESS_DIR is {raw_dir!r}, not an absolute folder.",
                                      "Set ATELIER_PROGRESS_DIR to a folder such as /srv/atelier/progress.")
        prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/atelier-progress/"
        return cls(
            host=url.hostname, port=url.port, prefix=prefix if prefix.endswith("/") else prefix + "/",
            data_dir=Path(raw_dir), instructors=instructors,
            learners=_names(env.get("ATELIER_PROGRESS_LEARNERS", ""), "ATELIER_PROGRESS_LEARNERS"),
            share_prompts=parse_bool(env.get("ATELIER_PROGRESS_SHARE_PROMPTS", ""), "ATELIER_PROGRESS_SHARE_PROMPTS"),
            rules=Rules(stuck_checks=int(_number(env, "ATELIER_PROGRESS_STUCK_CHECKS", 3, int)),
                        stuck_minutes=float(_number(env, "ATELIER_PROGRESS_STUCK_MINUTES", 20.0, float))),
            exercises=_exercises(env.get("ATELIER_PROGRESS_GRADERS", "").strip()),
        )


def _exercises(folder: str) -> frozenset[str] | None:
    if not folder:
        return None
    from ..grading.spec import list_exercises

    fix = ("Point ATELIER_HUB_LEARNER_GRADERS at the learners' copy of graders/ (the output of `atelier release`), "
           "readable by the hub's user, or unset it.")
    if not Path(folder).is_dir():
        raise ProgressConfigError(f"ATELIER_PROGRESS_GRADERS: {folder} is not a folder the service can read.", fix)
    ids = frozenset(list_exercises(folder))
    if not ids:
        raise ProgressConfigError(f"ATELIER_PROGRESS_GRADERS: {folder} holds no exercise spec (graders/<module>/<name>.toml).",
                                  fix)
    return ids


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_data_dir(folder: Path) -> Path:
    """The results folder, made mode 700 if missing; refused if anyone but this process's user
    could read it (prompts may be stored there) or if this user cannot write it."""
    me = _owner(os.geteuid())
    fix_owner = f"as root, chown {me} {folder} && chmod 700 {folder}"
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise ProgressConfigError(
                f"ATELIER_PROGRESS_DIR: cannot create {folder} ({exc.strerror}).",
                f"As root, install -d -m 700 -o {me} {folder}, or point ATELIER_PROGRESS_DIR at a folder {me} "
                f"can create.") from None
        folder.chmod(0o700)
    if not folder.is_dir():
        raise ProgressConfigError(f"ATELIER_PROGRESS_DIR: {folder} is not a folder.",
                                  "Point ATELIER_PROGRESS_DIR at a folder (it is made if missing).")
    st = folder.stat()
    if st.st_uid != os.geteuid():
        raise ProgressConfigError(f"ATELIER_PROGRESS_DIR: {folder} belongs to {_owner(st.st_uid)}, not to {me}, "
                                  f"the user the service runs as.", f"{fix_owner}.")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise ProgressConfigError(f"ATELIER_PROGRESS_DIR: {folder} can be read by others (mode {mode:o}), and it "
                                  f"holds learners' results (and prompts, when shared).", f"chmod 700 {folder}.")
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise ProgressConfigError(f"ATELIER_PROGRESS_DIR: {me} cannot read and write {folder} (mode {mode:o}).",
                                  f"chmod 700 {folder}.")
    db = folder / "progress.sqlite"
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        raise ProgressConfigError(f"ATELIER_PROGRESS_DIR: {me} cannot read and write {db}.",
                                  f"As root, chown {me} {db} && chmod 600 {db}.")
    return folder


def bind(host: str, port: int) -> list[socket.socket]:
    """The listening socket, or the error that says which port to change."""
    from tornado.netutil import bind_sockets

    try:
        return bind_sockets(port, address=host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ProgressConfigError(
                f"Port {port} on {host} is already in use, so the progress service cannot listen there.",
                f"Set ATELIER_PROGRESS_PORT in the hub's environment to a free port (see `ss -ltnp | grep :{port}` "
                f"for what holds this one), then restart the hub.") from None
        raise ProgressConfigError(f"The progress service cannot listen on {host}:{port} ({exc.strerror}).",
                                  "Set ATELIER_PROGRESS_PORT to a free port above 1024.") from None
