"""deploy/gateway/token_ledger.py: each learner's tokens, counted across gateway restarts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from . import token_ledger


def test_tokens_add_up_per_user_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = token_ledger.TokenLedger(path)
    ledger.add("bob", 120)
    ledger.add("bob", 30)
    ledger.add("cy", 7)
    ledger.add("cy", -5)  # a nonsense count never gives tokens back
    ledger.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = token_ledger.TokenLedger(path)
    assert (again.used("bob"), again.used("cy"), again.used("nobody")) == (150, 7, 0)
    assert again.all() == {"bob": (150, 2), "cy": (7, 2)}
    again.reset("bob")
    assert again.used("bob") == 0 and again.used("cy") == 7


def test_the_command_line_shows_and_resets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    token_ledger.TokenLedger(path).add("bob", 42)
    assert token_ledger.main(["--ledger", str(path), "show"]) == 0
    assert "bob\t42 tokens\t1 requests" in capsys.readouterr().out
    assert token_ledger.main(["--ledger", str(path), "reset", "bob"]) == 0
    assert token_ledger.TokenLedger(path).used("bob") == 0
    assert token_ledger.main(["--ledger", str(tmp_path / "none.sqlite"), "show"]) == 1
    assert "ATELIER_GATEWAY_LEDGER" in capsys.readouterr().err
