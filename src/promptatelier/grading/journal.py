"""The grading journal: every finished (student, exercise) with its trusted result.

An SQLite file per assignment in the course's `.atelier/grading/` (git-ignored by the folder's
own `.gitignore`: it holds learners' scores and feedback). Written as each batch finishes, so an
interrupted run resumes without redoing work; `atelier report` reads it, also while grading runs.

Statuses:
- graded: scored by the rubric (points set). With flags it also needs manual review.
- invalid: the answer cannot be graded (not a literal, not answered, not submitted): 0 points,
  the reason in `feedback`.
- not_graded: the model could not be reached: no score yet (never 0); retried on the next run.
- manual: the kit cannot grade it (an unreadable notebook, text no request can carry, the grader
  failing on it): no score, graded by hand; the reason is in `flags`. Retried on the next run.

Batch grading (`atelier grade --batch`) records its provider batches here too: each batch's id,
model and state, and each request in it (the request's text, never a key) with what became of it:
pending (the batch is running), done (its answer is in the response cache), errored (the request
failed in the batch: sent live when grading), unfinished (the batch expired, failed or was
cancelled before it ran: resubmitted with --resubmit), dropped (resubmitted since).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["STATUSES", "BatchRecord", "ItemResult", "Journal"]

STATUSES = ("graded", "invalid", "not_graded", "manual")
# statuses whose result is final for a given submission (the others are retried)
FINAL = frozenset({"graded", "invalid"})


@dataclass
class ItemResult:
    """The trusted result for one (student, exercise)."""

    student: str
    notebook: str
    exercise_id: str
    test_id: str
    answer_id: str
    submission_hash: str
    status: str  # one of STATUSES
    points: float | None
    max_points: float
    feedback: str  # for the learner (plain text, in the notebook's language)
    feedback_html: str = ""
    criteria: list[dict[str, Any]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # the evaluation's own reasons for manual review
    flags: list[str] = field(default_factory=list)  # every reason the instructor should look at it
    graded_at: float = 0.0
    # the visible cases' outputs and the criteria each failed (never a hidden case): the report's
    # "cases most often failed" table
    cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_manual(self) -> bool:
        """No trusted score, or one a person must confirm: nbgrader's needs_manual_grade."""
        return self.status in ("not_graded", "manual") or bool(self.flags)

    @property
    def scored(self) -> bool:
        return self.status in FINAL and self.points is not None

    def to_json(self) -> str:
        # ASCII escapes keep any lone surrogate a learner typed storable
        return json.dumps(asdict(self), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> ItemResult:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL,
    notebook TEXT NOT NULL,
    test_id TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (student, notebook, test_id)
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    requests INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    ended_at REAL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS batch_requests (
    batch_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, key)
);
CREATE INDEX IF NOT EXISTS batch_requests_key ON batch_requests(key);
"""


@dataclass
class BatchRecord:
    """A provider batch submitted for this assignment; `state` is submitted until it has ended
    (then ended, failed, expired or cancelled)."""

    id: str
    model: str
    state: str
    requests: int
    submitted_at: float
    ended_at: float | None = None
    note: str = ""

    @property
    def open(self) -> bool:
        return self.state == "submitted"


class Journal:
    """Finished results of one assignment, written as each batch finishes (resumable runs)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # a commit per batch without a disk sync each (WAL syncs at checkpoints): safe from a crash
        # of the run, and the gradebook, not the journal, is the record a power loss must not lose
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @staticmethod
    def path_for(course: Any, assignment: str) -> Path:
        from .course_dir import ignored_dir

        return ignored_dir(course.state_dir / "grading") / f"{assignment}.sqlite"

    @classmethod
    def for_assignment(cls, course: Any, assignment: str) -> Journal:
        return cls(cls.path_for(course, assignment))

    def get(self, student: str, notebook: str, test_id: str, submission_hash: str) -> ItemResult | None:
        row = self.db.execute(
            "SELECT data FROM results WHERE student=? AND notebook=? AND test_id=? AND submission_hash=?",
            (student, notebook, test_id, submission_hash),
        ).fetchone()
        return ItemResult.from_json(row[0]) if row else None

    def put(self, results: Sequence[ItemResult]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO results(student, notebook, test_id, submission_hash, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.student, r.notebook, r.test_id, r.submission_hash, r.to_json()) for r in results],
            )

    def all(self) -> list[ItemResult]:
        rows = self.db.execute("SELECT data FROM results ORDER BY student, notebook, test_id").fetchall()
        return [ItemResult.from_json(r[0]) for r in rows]

    # --- provider batches (`atelier grade --batch`) --------------------------------------------
    def add_batch(self, batch_id: str, model: str, requests: Sequence[tuple[str, str]], at: float) -> None:
        """A batch just submitted, with its requests as (custom_id, request JSON)."""
        with self.db:
            self.db.execute("INSERT INTO batches(id, model, state, requests, submitted_at) VALUES (?, ?, 'submitted', ?, ?)",
                            (batch_id, model, len(requests), at))
            self.db.executemany("INSERT OR REPLACE INTO batch_requests(batch_id, key, request, status) "
                                "VALUES (?, ?, ?, 'pending')", [(batch_id, k, r) for k, r in requests])

    def batches(self, *, open_only: bool = False) -> list[BatchRecord]:
        where = " WHERE state = 'submitted'" if open_only else ""
        rows = self.db.execute("SELECT id, model, state, requests, submitted_at, ended_at, note FROM batches"
                               f"{where} ORDER BY submitted_at, id").fetchall()
        return [BatchRecord(*row) for row in rows]

    def batch_requests(self, batch_id: str, status: str | None = None) -> dict[str, str]:
        """custom_id -> request JSON of a batch's requests (of one status)."""
        query = "SELECT key, request FROM batch_requests WHERE batch_id = ?"
        args: tuple[str, ...] = (batch_id,)
        if status is not None:
            query += " AND status = ?"
            args += (status,)
        return dict(self.db.execute(query, args).fetchall())

    def end_batch(self, batch_id: str, state: str, outcomes: dict[str, tuple[str, str]], note: str, at: float) -> None:
        """A batch that has ended: its state, and each request's status and error."""
        with self.db:
            self.db.execute("UPDATE batches SET state = ?, note = ?, ended_at = ? WHERE id = ?",
                            (state, note, at, batch_id))
            self.db.executemany("UPDATE batch_requests SET status = ?, error = ? WHERE batch_id = ? AND key = ?",
                                [(status, error, batch_id, key) for key, (status, error) in outcomes.items()])

    def keys_with(self, status: str) -> dict[str, str]:
        """custom_id -> error of the requests of every batch with this status."""
        return dict(self.db.execute("SELECT key, error FROM batch_requests WHERE status = ?", (status,)).fetchall())

    def unfinished(self) -> dict[str, int]:
        """Batch id -> how many of its requests it never ran (expired, failed, cancelled)."""
        rows = self.db.execute("SELECT batch_id, COUNT(*) FROM batch_requests WHERE status = 'unfinished' "
                               "GROUP BY batch_id ORDER BY batch_id").fetchall()
        return dict(rows)

    def drop_unfinished(self) -> int:
        """Forget the requests batches never ran, so they are collected and submitted again."""
        with self.db:
            return self.db.execute("UPDATE batch_requests SET status = 'dropped' WHERE status = 'unfinished'").rowcount

    def close(self) -> None:
        self.db.close()
