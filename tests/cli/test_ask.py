"""`atelier ask` end to end: the installed command in a subprocess, on the real local model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

pytestmark = pytest.mark.local_model

ATELIER = Path(sys.executable).with_name("atelier")
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "population_millions": {"type": "number"},
    },
    "required": ["city", "country", "population_millions"],
}


def atelier(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_") and not k.endswith("_API_KEY")}
    environ.update(ATELIER_CACHE=str(tmp_path / "responses.sqlite"), **env)
    return subprocess.run(
        [str(ATELIER), *args], capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=600
    )


def test_ask_prints_the_reply_and_is_reproducible(tmp_path: Path):
    first = atelier("ask", "--max-tokens", "30", "Name three colours.", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.strip()
    # same request again, now through the response cache: same text, marked cached
    again = atelier("ask", "--max-tokens", "30", "--usage", "Name three colours.", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    text, usage_line = again.stdout.rstrip("\n").rsplit("\n", 1)
    assert text + "\n" == first.stdout
    assert usage_line.startswith("[local]") and "(cached)" in usage_line


def test_ask_system_prompt_and_stdin(tmp_path: Path):
    run = subprocess.run(
        [str(ATELIER), "ask", "--system", "Answer with one word.", "--max-tokens", "10", "--usage", "-"],
        input="What colour is the sky?", capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "ATELIER_CACHE": str(tmp_path / "c.sqlite")},
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "[local]" in run.stdout and " in / " in run.stdout


def test_ask_with_a_json_schema_file(tmp_path: Path):
    schema_file = tmp_path / "city.json"
    schema_file.write_text(json.dumps(SCHEMA), encoding="utf-8")
    run = atelier(
        "ask", "--json-schema", str(schema_file), "--max-tokens", "80",
        "Give the largest city of Japan as JSON.", tmp_path=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    jsonschema.validate(json.loads(run.stdout), SCHEMA)


def test_ask_with_an_unreadable_schema_fails_clearly(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    run = atelier("ask", "--json-schema", str(bad), "hello", tmp_path=tmp_path)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "bad.json" in run.stderr and "Fix:" in run.stderr


def test_ask_with_an_unknown_model_fails_clearly(tmp_path: Path):
    run = atelier("ask", "--model", "nosuchprovider:x", "hello", tmp_path=tmp_path)
    assert run.returncode == 1
    assert "nosuchprovider" in run.stderr and "Fix:" in run.stderr
