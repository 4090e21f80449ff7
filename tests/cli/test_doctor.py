"""`atelier doctor`: the installed command in a subprocess, with the real local model and with a
hosted model that has no key (nothing is contacted: the missing key is found first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ATELIER = Path(sys.executable).with_name("atelier")


def doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_") and not k.endswith("_API_KEY")}
    environ.update(ATELIER_CACHE=str(tmp_path / "responses.sqlite"), **env)
    return subprocess.run(
        [str(ATELIER), "doctor", *args], capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=600
    )


@pytest.mark.local_model
def test_doctor_with_the_local_model(tmp_path: Path):
    run = doctor(tmp_path, ANTHROPIC_API_KEY="sk-ant-test-0123456789abcdef")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    out = run.stdout
    for dist in ("prompt-atelier", "llama-cpp-python", "openai", "anthropic", "nbgrader", "jupyterlab", "ipywidgets"):
        assert dist in out
    assert "learner model  local" in out and "grading model  local" in out
    assert "learner/grading  local: ok" in out and "SmolLM2-135M-Instruct.Q4_1.gguf" in out
    # keys: masked, with where they come from, never in full
    assert "sk-…ef (from environment)" in out
    assert "sk-ant-test-0123456789abcdef" not in out
    assert "OPENAI_API_KEY" in out and "not set" in out
    assert str(tmp_path / "responses.sqlite") in out
    assert "All set" in out


def test_doctor_reports_the_cache_size_and_hit_rate(tmp_path: Path):
    from promptatelier.models import ChatRequest, Completion, ResponseCache

    cache = ResponseCache(tmp_path / "responses.sqlite")
    request = ChatRequest.from_prompt("hi")
    cache.put("local", request, Completion(text="hello", model="local"))
    cache.get("local", request)
    cache.get("local", request.with_(seed=5))
    cache.close()
    run = doctor(tmp_path, "--skip-models")
    assert run.returncode == 0, run.stderr
    assert "1 responses" in run.stdout and "1 hits / 1 misses (hit rate 50%)" in run.stdout


def test_doctor_fails_when_the_learner_model_has_no_key(tmp_path: Path):
    run = doctor(tmp_path, ATELIER_MODEL="openai:gpt-4.1-mini")
    assert run.returncode == 1
    assert "OPENAI_API_KEY" in run.stderr
    assert "learner" in run.stderr and "openai:gpt-4.1-mini" in run.stderr
    assert "Fix:" in run.stderr
    assert "NOT USABLE" in run.stdout
    # the grading model is still the local one, and is still checked
    assert "grading  local" in run.stdout or "grading          local" in run.stdout


def test_doctor_fails_on_an_unknown_grading_model(tmp_path: Path):
    run = doctor(tmp_path, ATELIER_MODEL="mock", ATELIER_GRADING_MODEL="nosuchprovider:m")
    assert run.returncode == 1
    assert "grading" in run.stderr and "nosuchprovider" in run.stderr and "Fix:" in run.stderr


def test_a_broken_judge_is_reported_but_does_not_fail(tmp_path: Path):
    run = doctor(tmp_path, ATELIER_MODEL="mock", ATELIER_GRADING_MODEL="mock", ATELIER_JUDGE_MODEL="anthropic:claude-haiku-4-5")
    assert run.returncode == 0, run.stderr
    assert "judge" in run.stdout and "NOT USABLE" in run.stdout and "ANTHROPIC_API_KEY" in run.stdout
