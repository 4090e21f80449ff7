"""Spec loading and validation: every error names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptatelier.errors import SpecError
from promptatelier.grading import list_exercises, load_spec

GOOD = '''
id = "m99.demo"
points = 2
kind = "template"
placeholders = ["text"]
title = { en = "Demo", fr = "Démo" }
instructions = { en = "Do it.", fr = "Faites-le." }
reference = "Summarise <text>{text}</text>"
baseline = "{text}"

[[cases]]
name = "one"
vars = { text = "hello" }

[[criteria]]
use = "length"
max = 10
'''


def write(tmp_path: Path, body: str, name: str = "demo", module: str = "m99") -> Path:
    folder = tmp_path / module
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def error_for(tmp_path: Path, body: str) -> SpecError:
    path = write(tmp_path, body)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value


def test_good_spec_loads(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.id == "m99.demo" and spec.points == 2 and spec.kind == "template"
    assert spec.placeholders == ("text",) and spec.criteria[0].args == {"max": 10}
    assert load_spec("m99.demo", graders_dir=tmp_path).id == "m99.demo"
    assert list_exercises(tmp_path) == ["m99.demo"]


@pytest.mark.parametrize(
    "change, field, fix",
    [
        (('id = "m99.demo"', 'id = "m99.other"'), "'id'", 'id = "m99.demo"'),
        (("points = 2", "points = -1"), "'points'", "number"),
        (('kind = "template"', 'kind = "chat"'), "'kind'", "prompt"),
        (('placeholders = ["text"]', "placeholders = []"), "'placeholders'", "placeholders = ["),
        (('fr = "Démo"', 'de = "Demo"'), "'title'", 'fr = "..."'),
        (('use = "length"', 'use = "lenght"'), "'criteria[0].use'", "contains"),
        (("max = 10", "maxi = 10"), "'criteria[0]'", "arguments"),
        (('vars = { text = "hello" }', 'vars = { txt = "hello" }'), "'cases[0].vars'", "['text']"),
        (('reference = "Summarise <text>{text}</text>"', ""), "'reference'", "above the first"),
        (('[[criteria]]\nuse = "length"\nmax = 10', ""), "'criteria'", "[[criteria]]"),
        (("points = 2", "points = 2\nbogus = 1"), "'bogus'", "spec fields"),
    ],
)
def test_errors_name_file_field_and_fix(tmp_path, change, field, fix):
    body = GOOD.replace(*change)
    assert body != GOOD
    error = error_for(tmp_path, body)
    assert "demo.toml" in error.problem
    assert field in error.problem
    assert fix in error.fix


def test_broken_toml_and_bad_schema(tmp_path):
    assert "not valid TOML" in error_for(tmp_path, GOOD + "\nthis is = = wrong").problem
    bad = GOOD.replace("[[cases]]", '[model]\njson_schema = { type = "nonsense" }\n\n[[cases]]')
    error = error_for(tmp_path, bad)
    assert "model.json_schema" in error.problem and "JSON Schema" in error.problem


def test_unknown_exercise_and_bad_id(test_graders):
    with pytest.raises(SpecError, match="no exercise 't01.nope'"):
        load_spec("t01.nope")
    with pytest.raises(SpecError, match="not an exercise id"):
        load_spec("sentiment")


def test_missing_graders_folder(monkeypatch, tmp_path):
    from promptatelier import config

    monkeypatch.setenv("ATELIER_GRADERS", str(tmp_path / "absent"))
    config.reload_settings()
    with pytest.raises(SpecError, match="does not exist"):
        load_spec("m01.anything")


def test_hidden_cases_are_loaded_only_on_request(test_graders):
    spec = load_spec("t01.extract")
    assert [c.name for c in spec.cases] == ["anna"]
    assert "Montreal" not in repr(spec) and "Montreal" not in repr(spec.cases)
    hidden = spec.hidden_cases()
    assert [c.name for c in hidden] == ["h-bob"] and all(c.hidden for c in hidden)
    assert "Montreal" not in repr(hidden)  # a hidden case never shows its content
    assert [c.name for c in load_spec("t01.sentiment").hidden_cases()] == ["h-pos", "h-neg"]


def test_broken_hidden_file_is_loud(tmp_path):
    path = write(tmp_path, GOOD)
    path.with_name("demo.hidden.toml").write_text('[[hidden]]\nvars = { nope = "x" }\n', encoding="utf-8")
    with pytest.raises(SpecError, match="demo.hidden.toml.*hidden\\[0\\].vars"):
        load_spec(path).hidden_cases()


def test_every_test_spec_is_valid(test_graders):
    for exercise in list_exercises():
        spec = load_spec(exercise)
        spec.hidden_cases()
