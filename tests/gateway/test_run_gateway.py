"""deploy/gateway/run-gateway refuses to start the gateway without its settings, saying the fix;
the gateway itself (atelier_gateway.py) refuses an unsafe keys file at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import GATEWAY_DIR, learner_keys

BIN = str(Path(sys.executable).parent)


def _run(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GATEWAY_DIR / "run-gateway"), "--port", "9"], capture_output=True, text=True,
                          env={"PATH": f"{BIN}:/usr/bin:/bin", **env}, timeout=timeout)


@pytest.mark.parametrize("missing, fix", [
    ("ATELIER_GATEWAY_KEYS", "learner_keys.py issue --file FILE"),
    ("ATELIER_GATEWAY_LEDGER", "gateway-ledger.sqlite"),
    ("ATELIER_GATEWAY_UPSTREAM", "http://127.0.0.1:8000/v1"),
])
def test_a_missing_setting_stops_it_with_the_fix(tmp_path: Path, missing: str, fix: str) -> None:
    env = {"ATELIER_GATEWAY_KEYS": str(tmp_path / "k.json"), "ATELIER_GATEWAY_LEDGER": str(tmp_path / "l.sqlite"),
           "ATELIER_GATEWAY_UPSTREAM": "http://127.0.0.1:9/v1"}
    del env[missing]
    run = _run(env)
    assert run.returncode == 1 and f"{missing} is not set" in run.stderr and fix in run.stderr


@pytest.mark.slow
def test_a_keys_file_others_can_read_stops_the_gateway(tmp_path: Path) -> None:
    keys = tmp_path / "learners.json"
    learner_keys.issue(keys, ["bob"])
    keys.chmod(0o644)
    run = _run({"ATELIER_GATEWAY_KEYS": str(keys), "ATELIER_GATEWAY_LEDGER": str(tmp_path / "l.sqlite"),
                "ATELIER_GATEWAY_UPSTREAM": "http://127.0.0.1:9/v1", "ATELIER_GATEWAY_LITELLM": f"{BIN}/litellm",
                "HOME": os.environ.get("HOME", "/root")}, timeout=240)
    assert run.returncode != 0
    assert "readable by others (mode 644)" in run.stdout + run.stderr
    keys.chmod(0o600)
    assert learner_keys.load(keys).keys_by_user()["bob"] not in run.stdout + run.stderr
