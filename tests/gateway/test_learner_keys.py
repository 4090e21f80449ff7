"""deploy/gateway/learner_keys.py: issuing, rotating and revoking learners' keys in a file only
its owner can read, and every broken file refused with the fix and without echoing a key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from . import learner_keys


def test_issue_gives_each_user_a_distinct_key_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "learners.json"
    assert learner_keys.issue(path, ["bob", "cy"], {"rpm": 20, "tpm": None, "budget_tokens": 5000}) == ["bob", "cy"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = learner_keys.load(path)
    bob, cy = keys.users["bob"], keys.users["cy"]
    assert bob.key != cy.key and bob.key.startswith("sk-atelier-") and len(bob.key) > 40
    assert (bob.rpm, bob.tpm, bob.budget_tokens) == (20, None, 5000)
    assert keys.by_key(cy.key) is cy and keys.by_key("sk-atelier-guess") is None and keys.by_key("") is None
    assert bob.key not in repr(bob)


def test_issuing_again_keeps_keys_unless_rotated_and_revoke_removes_them(tmp_path: Path) -> None:
    path = tmp_path / "learners.json"
    learner_keys.issue(path, ["bob"])
    first = learner_keys.load(path).users["bob"].key
    assert learner_keys.issue(path, ["bob", "cy"]) == ["cy"]
    assert learner_keys.load(path).users["bob"].key == first
    assert learner_keys.issue(path, ["bob"], rotate=True) == ["bob"]
    assert learner_keys.load(path).users["bob"].key != first
    assert learner_keys.revoke(path, ["bob", "zed"]) == ["bob"]
    assert set(learner_keys.load(path).users) == {"cy"}


def test_a_users_own_limits_override_the_courses(tmp_path: Path) -> None:
    path = tmp_path / "learners.json"
    path.write_text(json.dumps({"limits": {"rpm": 10, "budget_tokens": 100},
                                "users": {"bob": {"key": "sk-atelier-" + "b" * 20, "budget_tokens": 900}}}))
    path.chmod(0o600)
    bob = learner_keys.load(path).users["bob"]
    assert (bob.rpm, bob.budget_tokens) == (10, 900)


def _write(path: Path, data: object, mode: int = 0o600) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    path.chmod(mode)
    return path


SECRET = "sk-atelier-" + "s" * 30


@pytest.mark.parametrize("data, expected", [
    ({"limits": {}, "users": {"bob": {"key": SECRET}}}, None),
    ("{not json " + SECRET, "is not valid JSON"),
    ({"people": {}}, 'has no "users" object'),
    ({"users": {"bob": SECRET}}, "bob has no key of at least 20 characters"),
    ({"users": {"bob": {"key": "short"}}}, "bob has no key of at least 20 characters"),
    ({"users": {"bob;rm": {"key": SECRET}}}, "is not a hub user name"),
    ({"users": {"bob": {"key": SECRET}, "cy": {"key": SECRET}}}, "cy and bob have the same key"),
    ({"limits": {"rpm": 0}, "users": {"bob": {"key": SECRET}}}, "bob's rpm is 0"),
    ({"limits": {"rpn": 5}, "users": {}}, '"limits" may hold only rpm, tpm, budget_tokens'),
    ({"users": {"bob": {"key": SECRET, "tpm": "many"}}}, "bob's tpm is 'many'"),
])
def test_a_malformed_file_is_refused_with_the_fix_and_never_echoes_a_key(tmp_path: Path, data: object, expected: str | None) -> None:
    path = _write(tmp_path / "learners.json", data)
    if expected is None:
        assert learner_keys.load(path).users["bob"].key == SECRET
        return
    with pytest.raises(learner_keys.KeysFileError, match=expected) as caught:
        learner_keys.load(path)
    assert "Fix:" in str(caught.value) and SECRET not in str(caught.value)


def test_a_file_others_can_read_or_that_is_missing_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "learners.json", {"users": {"bob": {"key": SECRET}}}, 0o644)
    with pytest.raises(learner_keys.KeysFileError, match=f"readable by others .*chmod 600 {path}.*--rotate"):
        learner_keys.load(path)
    with pytest.raises(learner_keys.KeysFileError, match="does not exist. Fix: issue the learners' keys with"):
        learner_keys.load(tmp_path / "absent.json")
    with pytest.raises(learner_keys.KeysFileError, match="readable by others"):
        learner_keys.issue(path, ["cy"])  # never adds keys to a file that already leaks


def test_the_command_line_issues_lists_and_revokes_without_printing_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "learners.json"
    assert learner_keys.main(["issue", "--file", str(path), "--rpm", "20", "--budget", "5000", "bob", "cy"]) == 0
    assert "new keys for: bob, cy" in capsys.readouterr().out
    assert learner_keys.main(["list", "--file", str(path)]) == 0
    listed = capsys.readouterr().out
    assert "bob\trpm=20\ttpm=None\tbudget_tokens=5000" in listed
    assert not [k for k in learner_keys.load(path).keys_by_user().values() if k in listed]
    assert learner_keys.main(["revoke", "--file", str(path), "cy"]) == 0
    path.chmod(0o644)
    assert learner_keys.main(["list", "--file", str(path)]) == 1
    assert "readable by others" in capsys.readouterr().err
