"""The course's learner keys file: who may use the shared model through the gateway, with which
key and which limits. The instructor writes it with this script; the gateway
(atelier_gateway.py) checks every request's key against it; the hub (deploy/atelier_hub.py,
ATELIER_HUB_LEARNER_KEYS) hands each learner's server that learner's key and nobody else's.

    python deploy/gateway/learner_keys.py issue  --file KEYS.json --rpm 20 --tpm 20000 --budget 200000 bob cy
    python deploy/gateway/learner_keys.py issue  --file KEYS.json --rotate bob     # a new key for bob
    python deploy/gateway/learner_keys.py revoke --file KEYS.json bob
    python deploy/gateway/learner_keys.py list   --file KEYS.json                  # names and limits, never keys

The file is JSON, owned by the account that reads it and mode 600 (it holds every learner's key):

    {"limits": {"rpm": 20, "tpm": 20000, "budget_tokens": 200000},
     "users": {"bob": {"key": "sk-atelier-..."}, "cy": {"key": "sk-atelier-...", "budget_tokens": 400000}}}

`limits` apply to everyone; a user's own entry may raise or lower any of them. rpm: requests a
minute, tpm: tokens a minute (both enforced by LiteLLM's own limiter), budget_tokens: tokens for the
whole course (enforced by atelier_gateway.py). Standard library only: the hub's Python and the
gateway's run it without the kit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KeysFileError", "LearnerKey", "LearnerKeys", "load", "issue", "revoke", "LIMIT_NAMES"]

LIMIT_NAMES = ("rpm", "tpm", "budget_tokens")
KEY_PREFIX = "sk-atelier-"  # LiteLLM hashes keys that start with sk- before it logs them
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_ISSUE = "python deploy/gateway/learner_keys.py issue --file {path} USER..."


class KeysFileError(RuntimeError):
    """The learner keys file is missing, unsafe or malformed; the message says the fix."""


@dataclass(frozen=True)
class LearnerKey:
    user: str
    key: str
    rpm: int | None
    tpm: int | None
    budget_tokens: int | None

    def __repr__(self) -> str:  # never the key
        return (f"LearnerKey(user={self.user!r}, rpm={self.rpm}, tpm={self.tpm}, "
                f"budget_tokens={self.budget_tokens})")


class LearnerKeys:
    """The parsed file: users by name and by key."""

    def __init__(self, users: Iterable[LearnerKey]) -> None:
        self.users = {u.user: u for u in users}
        self._by_key = {u.key: u for u in self.users.values()}

    def by_key(self, key: str | None) -> LearnerKey | None:
        return self._by_key.get(key) if key else None

    def keys_by_user(self) -> dict[str, str]:
        return {name: entry.key for name, entry in self.users.items()}


def check_private(path: Path, setting: str) -> os.stat_result:
    """Refuse a keys file that is absent, not a file, readable by others or owned by someone else."""
    fix_mode = f"chown {_owner_name(os.geteuid())} {path} && chmod 600 {path}"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeysFileError(f"{setting}: {path} does not exist. Fix: issue the learners' keys with "
                            f"{_ISSUE.format(path=path)}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeysFileError(f"{setting}: {path} is not a regular file. Fix: point it at the JSON file written by "
                            f"{_ISSUE.format(path=path)}.")
    if st.st_mode & 0o077:
        raise KeysFileError(f"{setting}: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}), so a learner "
                            f"could read every learner's key. Fix: {fix_mode}, then issue new keys with --rotate.")
    if st.st_uid != os.geteuid():
        raise KeysFileError(f"{setting}: {path} belongs to {_owner_name(st.st_uid)}, not to "
                            f"{_owner_name(os.geteuid())} who reads it. Fix: {fix_mode}.")
    return st


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _limit(value: Any, where: str, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KeysFileError(f"{path}: {where} is {value!r}; a limit is a whole number of 1 or more. Fix: correct it, "
                            f"or remove it for no limit.")
    return value


def parse(data: Any, path: Path) -> LearnerKeys:
    """The users of a keys file's JSON, checked: every user named properly, with a key of their own."""
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise KeysFileError(f"{path} has no \"users\" object. Fix: write it with {_ISSUE.format(path=path)}.")
    defaults = data.get("limits") or {}
    if not isinstance(defaults, dict) or set(defaults) - set(LIMIT_NAMES):
        raise KeysFileError(f"{path}: \"limits\" may hold only {', '.join(LIMIT_NAMES)}. Fix: correct it.")
    seen: dict[str, str] = {}
    users = []
    for name, entry in data["users"].items():
        if not _USER.match(name):
            raise KeysFileError(f"{path}: {name!r} is not a hub user name. Fix: use the names the hub knows "
                                f"(letters, digits, '.', '_', '-', '@').")
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or len(entry["key"]) < 20:
            # never echo the entry: it may hold a key
            raise KeysFileError(f"{path}: {name} has no key of at least 20 characters. Fix: "
                                f"python deploy/gateway/learner_keys.py issue --file {path} --rotate {name}")
        if entry["key"] in seen:
            raise KeysFileError(f"{path}: {name} and {seen[entry['key']]} have the same key, so the gateway could not "
                                f"tell them apart. Fix: python deploy/gateway/learner_keys.py issue --file {path} "
                                f"--rotate {name}")
        seen[entry["key"]] = name
        limits = {n: _limit(entry.get(n, defaults.get(n)), f"{name}'s {n}", path) for n in LIMIT_NAMES}
        users.append(LearnerKey(name, entry["key"], **limits))
    return LearnerKeys(users)


def load(path: str | os.PathLike[str], setting: str = "ATELIER_GATEWAY_KEYS") -> LearnerKeys:
    p = Path(path)
    check_private(p, setting)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeysFileError(f"{setting}: {p} is not valid JSON ({type(exc).__name__} at line "
                            f"{getattr(exc, 'lineno', '?')}). Fix: correct it, or write it anew with "
                            f"{_ISSUE.format(path=p)}.") from None
    return parse(data, p)


def _read_raw(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"limits": {}, "users": {}}
    check_private(path, "--file")
    data = json.loads(path.read_text(encoding="utf-8"))
    parse(data, path)
    return data


def _write(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically, created mode 600 so the keys are never readable by others, even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def issue(path: str | os.PathLike[str], users: Iterable[str], limits: Mapping[str, int | None] | None = None,
          *, rotate: bool = False) -> list[str]:
    """Give each user a key (a new one with rotate, else only those without one); set the course's
    limits if given. Returns the users whose key is new."""
    p = Path(path)
    data = _read_raw(p)
    for name, value in (limits or {}).items():
        if value is not None:
            data.setdefault("limits", {})[name] = value
    fresh = []
    for name in users:
        if not _USER.match(name):
            raise KeysFileError(f"{name!r} is not a hub user name. Fix: use the names the hub knows.")
        entry = data["users"].setdefault(name, {})
        if rotate or "key" not in entry:
            entry["key"] = new_key()
            fresh.append(name)
    parse(data, p)
    _write(p, data)
    return fresh


def revoke(path: str | os.PathLike[str], users: Iterable[str]) -> list[str]:
    p = Path(path)
    data = _read_raw(p)
    gone = [name for name in users if data["users"].pop(name, None) is not None]
    _write(p, data)
    return gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Issue, revoke and list the learners' gateway keys.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("issue", "revoke", "list"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--file", required=True, help="the learner keys file (JSON, mode 600)")
        if name != "list":
            cmd.add_argument("users", nargs="+", help="hub user names")
        if name == "issue":
            cmd.add_argument("--rotate", action="store_true", help="replace these users' keys")
            cmd.add_argument("--rpm", type=int, help="requests a minute, for every user")
            cmd.add_argument("--tpm", type=int, help="tokens a minute, for every user")
            cmd.add_argument("--budget", type=int, help="tokens for the whole course, for every user")
    args = parser.parse_args(argv)
    try:
        if args.command == "issue":
            fresh = issue(args.file, args.users, {"rpm": args.rpm, "tpm": args.tpm, "budget_tokens": args.budget},
                          rotate=args.rotate)
            print(f"new keys for: {', '.join(fresh) or 'nobody'}; restart their servers to hand them over")
        elif args.command == "revoke":
            print(f"revoked: {', '.join(revoke(args.file, args.users)) or 'nobody'}")
        else:
            keys = load(args.file, "--file")
            for entry in keys.users.values():
                print(f"{entry.user}\trpm={entry.rpm}\ttpm={entry.tpm}\tbudget_tokens={entry.budget_tokens}")
    except KeysFileError as exc:
        print(f"learner_keys: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
