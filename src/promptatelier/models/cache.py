"""A response cache in SQLite, shared safely by several processes grading at once.

The key is a hash of what changes the output: the backend's identity (model string, and a custom
server's URL) and the whole request (messages, system prompt, parameters, seed, schema). Never a
key: the cache can be shared or committed without leaking anything.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .base import ChatRequest, Completion

__all__ = ["ResponseCache", "CacheStats", "cache_key", "get_cache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def cache_key(identity: str, request: ChatRequest) -> str:
    return hashlib.sha256(f"{identity}\n{request.fingerprint()}".encode()).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    path: str
    entries: int
    size_bytes: int
    hits: int
    misses: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    def _bump(self, db: sqlite3.Connection, name: str) -> None:
        db.execute(
            "INSERT INTO counters(name, value) VALUES(?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )

    def get(self, identity: str, request: ChatRequest) -> Completion | None:
        db = self._connect()
        row = db.execute(
            "SELECT completion FROM responses WHERE key = ?", (cache_key(identity, request),)
        ).fetchone()
        self._bump(db, "hits" if row else "misses")
        if row is None:
            return None
        return Completion.from_dict(json.loads(row[0]))

    def put(self, identity: str, request: ChatRequest, completion: Completion) -> None:
        data = completion.to_dict()
        data.update(cached=False, retries=0)
        self._connect().execute(
            "INSERT OR REPLACE INTO responses(key, model, completion, created) VALUES(?, ?, ?, ?)",
            (cache_key(identity, request), identity, json.dumps(data, ensure_ascii=False), time.time()),
        )

    def stats(self) -> CacheStats:
        db = self._connect()
        entries = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheStats(str(self.path), entries, size, counters.get("hits", 0), counters.get("misses", 0))

    def clear(self) -> int:
        db = self._connect()
        n = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        db.execute("DELETE FROM responses")
        db.execute("DELETE FROM counters")
        return int(n)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


_caches: dict[str, ResponseCache] = {}
_caches_lock = threading.Lock()


def get_cache(path: str | Path | None = None) -> ResponseCache:
    """The cache at `path`, or at the configured location."""
    if path is None:
        from ..config import settings

        path = settings().cache_path
    key = str(Path(path).resolve())
    with _caches_lock:
        if key not in _caches:
            _caches[key] = ResponseCache(key)
        return _caches[key]
