"""The checks learners' kernels reported, in SQLite, one row per check.

The database lives in a folder only the service's user can enter (service.check_data_dir refuses
any other), because rows may hold prompt text when the course shares prompts. Each write is its
own short transaction; the service is one process, so SQLite's own locking is enough.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .payload import CheckPost, CriterionPost

__all__ = ["CheckRow", "Store", "DB_NAME"]

DB_NAME = "progress.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner TEXT NOT NULL,
    exercise TEXT NOT NULL,
    title TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    points REAL,
    max_points REAL NOT NULL,
    passed INTEGER NOT NULL,
    criteria TEXT NOT NULL,
    prompt TEXT
);
CREATE INDEX IF NOT EXISTS checks_by_learner ON checks (learner, exercise, at);
"""


@dataclass(frozen=True)
class CheckRow:
    """One stored check: the post, who sent it (from the hub) and when (the service's clock)."""

    learner: str
    at: float
    post: CheckPost


class Store:
    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / DB_NAME
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self.path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def add(self, learner: str, post: CheckPost, at: float | None = None) -> CheckRow:
        row = CheckRow(learner, time.time() if at is None else at, post)
        criteria = json.dumps([{"key": c.key, "label": c.label, "score": c.score, "ok": c.ok} for c in post.criteria],
                              ensure_ascii=False)
        self._db.execute(
            "INSERT INTO checks (learner, exercise, title, at, status, points, max_points, passed, criteria, prompt)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (learner, post.exercise, post.title, row.at, post.status, post.points, post.max_points, int(post.passed),
             criteria, post.prompt),
        )
        return row

    def rows(self) -> list[CheckRow]:
        """Every check, oldest first."""
        cursor = self._db.execute(
            "SELECT learner, exercise, title, at, status, points, max_points, passed, criteria, prompt"
            " FROM checks ORDER BY at, id")
        return [_row(values) for values in cursor.fetchall()]


def _row(values: tuple[Any, ...]) -> CheckRow:
    learner, exercise, title, at, status, points, max_points, passed, criteria, prompt = values
    post = CheckPost(
        exercise=exercise, title=title, status=status, points=points, max_points=max_points, passed=bool(passed),
        criteria=tuple(CriterionPost(c["key"], c["label"], c["score"], c["ok"]) for c in json.loads(criteria)),
        prompt=prompt,
    )
    return CheckRow(learner, at, post)
