"""`atelier calibrate` generates cheats for every exercise and fails naming the one that passes;
`atelier score` scores given outputs with no model call."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from promptatelier.cli import main
from promptatelier.grading.spec import clear_spec_cache

SPEC = """
id = "c01.reply"
points = 2
kind = "template"
placeholders = ["message"]
title = "English reply"
instructions = "Answer the customer in English, in one sentence."
reference = "Answer the customer's message in <m>{message}</m> in one short English sentence."
baseline = "{message}"

[[cases]]
name = "late"
vars = { message = "Hello, my parcel is late and I would like to know when it will arrive." }

[[cases]]
name = "broken"
vars = { message = "Hello, the mug I ordered arrived broken and I want a new one." }

[[hidden]]
name = "h-size"
vars = { message = "Hello, the shirt I ordered is too small and I want the next size up." }

[[criteria]]
use = "language"
lang = "en"
"""


def graders(tmp_path: Path, extra: str = "") -> Path:
    folder = tmp_path / "graders" / "c01"
    folder.mkdir(parents=True)
    (folder / "reply.toml").write_text(textwrap.dedent(SPEC + extra), encoding="utf-8")
    clear_spec_cache()
    return folder.parent


def test_calibration_fails_naming_the_exercise_and_the_cheat_that_passes(tmp_path, capsys) -> None:
    # without its echo gate, an exercise graded on language alone is passed by echoing the input
    root = graders(tmp_path, '\n[[criteria]]\nuse = "not_echo"\nweight = 0\ngate = false\n')
    code = main(["calibrate", "--graders", str(root), "--model", "mock"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("c01.reply "))
    assert code == 1
    assert "FAIL" in line and "cheat 'echo*' passes" in line and "cheat 'echo' passes" in line
    assert "cheats: " in out and "empty* 0.00" in out


def test_the_echo_gate_stops_that_cheat(tmp_path, capsys) -> None:
    root = graders(tmp_path)
    main(["calibrate", "--graders", str(root), "--model", "mock"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("c01.reply "))
    assert "cheat 'echo*'" not in line
    cheats = next(line for line in out.splitlines() if "cheats:" in line)
    assert "echo* 0.00" in cheats


def test_calibration_rejects_prompt_criteria_that_weigh_more_than_a_quarter(tmp_path, capsys) -> None:
    root = graders(tmp_path, '\n[[criteria]]\nuse = "delimiters"\nweight = 1\n')
    assert main(["calibrate", "--graders", str(root), "--model", "mock", "--no-cheats"]) == 1
    assert "prompt criteria weigh 50% (at most 25%)" in capsys.readouterr().out


def test_score_prints_the_rubric_on_given_outputs(tmp_path, capsys, monkeypatch) -> None:
    root = graders(tmp_path)
    monkeypatch.setenv("ATELIER_GRADERS", str(root))
    from promptatelier import config

    config.reload_settings()
    outputs = tmp_path / "out.json"
    outputs.write_text(json.dumps({"late": "It will arrive tomorrow.", "broken": "Le colis est en route."}), encoding="utf-8")
    assert main(["score", "c01.reply", str(outputs), "--visible", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "1/2 cases pass" in out and "French" in out
    assert main(["score", "c01.reply", str(outputs), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["points"] == 1.0 and data["status"] == "graded"


def test_score_explains_a_bad_file(tmp_path, capsys, monkeypatch) -> None:
    root = graders(tmp_path)
    monkeypatch.setenv("ATELIER_GRADERS", str(root))
    from promptatelier import config

    config.reload_settings()
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert main(["score", "c01.reply", str(bad)]) == 1
    assert "holds a JSON list, not an object" in capsys.readouterr().err
    assert main(["score", "c01.reply", str(tmp_path / "missing.json")]) == 1
    assert "Cannot read" in capsys.readouterr().err
