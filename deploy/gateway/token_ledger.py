"""How many tokens each learner has used through the gateway, in a SQLite file that outlives the
gateway's restarts: the count a learner's course budget (budget_tokens) is checked against.

    python deploy/gateway/token_ledger.py --ledger USAGE.sqlite show          # tokens used, per user
    python deploy/gateway/token_ledger.py --ledger USAGE.sqlite reset bob     # bob starts again from 0

Only the gateway writes it (one process: see the gateway's docs), so a plain transaction per
request is enough. Standard library only.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
from pathlib import Path

__all__ = ["TokenLedger"]


class TokenLedger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS usage (user TEXT PRIMARY KEY, tokens INTEGER NOT NULL, "
                         "requests INTEGER NOT NULL)")
        self.path.chmod(0o600)  # who used how much is nobody else's business

    def used(self, user: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT tokens FROM usage WHERE user = ?", (user,)).fetchone()
        return int(row[0]) if row else 0

    def add(self, user: str, tokens: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO usage (user, tokens, requests) VALUES (?, ?, 1) ON CONFLICT(user) DO UPDATE "
                             "SET tokens = tokens + excluded.tokens, requests = requests + 1", (user, max(0, tokens)))

    def all(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            rows = self._db.execute("SELECT user, tokens, requests FROM usage ORDER BY user").fetchall()
        return {user: (tokens, requests) for user, tokens, requests in rows}

    def reset(self, user: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM usage WHERE user = ?", (user,))

    def close(self) -> None:
        self._db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tokens each learner used through the gateway.")
    parser.add_argument("--ledger", required=True, help="the gateway's ATELIER_GATEWAY_LEDGER file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show")
    reset = sub.add_parser("reset")
    reset.add_argument("users", nargs="+")
    args = parser.parse_args(argv)
    if not Path(args.ledger).is_file():
        print(f"token_ledger: {args.ledger} does not exist. Fix: pass the file named by the gateway's "
              f"ATELIER_GATEWAY_LEDGER.", file=sys.stderr)
        return 1
    ledger = TokenLedger(args.ledger)
    if args.command == "show":
        for user, (tokens, requests) in ledger.all().items():
            print(f"{user}\t{tokens} tokens\t{requests} requests")
    else:
        for user in args.users:
            ledger.reset(user)
        print(f"reset: {', '.join(args.users)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
