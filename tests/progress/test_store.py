"""The SQLite store: rows come back as written, in order, in a file only its owner reads."""

from __future__ import annotations

import stat
from pathlib import Path

from promptatelier.progress.payload import CheckPost, CriterionPost
from promptatelier.progress.store import Store


def _post(points: float | None, prompt: str | None = None) -> CheckPost:
    return CheckPost("w01.label", "Sentiment", "graded" if points is not None else "not_graded", points, 4.0,
                     bool(points and points >= 3), (CriterionPost("delimiters", "Delimiters «»", 0.0, False),), prompt)


def test_rows_come_back_as_written_oldest_first(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add("cy", _post(4.0), at=20.0)
    store.add("bob", _post(None, prompt="é {review}"), at=10.0)
    store.close()
    rows = Store(tmp_path).rows()  # a restarted service keeps its results
    assert [(r.learner, r.at) for r in rows] == [("bob", 10.0), ("cy", 20.0)]
    assert rows[0].post == _post(None, prompt="é {review}")
    assert rows[1].post.passed and rows[1].post.criteria[0].label == "Delimiters «»"


def test_the_database_file_is_its_owners_alone(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
