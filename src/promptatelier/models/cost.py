"""Token and cost accounting: a price table and a ledger of every completion in this process.

Prices are US dollars per million tokens. The defaults below are list prices at the time of
writing; a course overrides or extends them in atelier.toml under [prices."MODEL"]. A model with
no price (a course server, the embedded model) costs 0 and is marked as unpriced.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from .base import Completion, Usage

__all__ = ["DEFAULT_PRICES", "price_for", "cost_of", "Ledger", "ledger", "LedgerRow"]

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "local": {"input": 0.0, "output": 0.0},
    "mock": {"input": 0.0, "output": 0.0},
    "openai:gpt-4.1": {"input": 2.0, "output": 8.0},
    "openai:gpt-4.1-mini": {"input": 0.4, "output": 1.6},
    "openai:gpt-4.1-nano": {"input": 0.1, "output": 0.4},
    "openai:gpt-4o": {"input": 2.5, "output": 10.0},
    "openai:gpt-4o-mini": {"input": 0.15, "output": 0.6},
    "anthropic:claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "anthropic:claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "anthropic:claude-opus-4-1": {"input": 15.0, "output": 75.0},
}


def price_for(model: str, table: dict[str, dict[str, float]] | None = None) -> dict[str, float] | None:
    """The price of `model`: the course's table first, then the defaults; None if unknown."""
    if table is None:
        from ..config import settings

        table = settings().prices
    for source in (table, DEFAULT_PRICES):
        if model in source:
            return source[model]
        provider = model.split(":", 1)[0]
        if f"{provider}:*" in source:
            return source[f"{provider}:*"]
    if model.startswith("mock"):
        return DEFAULT_PRICES["mock"]
    return None


def cost_of(model: str, usage: Usage, table: dict[str, dict[str, float]] | None = None) -> float:
    price = price_for(model, table)
    if price is None:
        return 0.0
    return (usage.input_tokens * price["input"] + usage.output_tokens * price["output"]) / 1_000_000


@dataclass
class LedgerRow:
    model: str
    requests: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = True


@dataclass
class Ledger:
    """What this process has asked of each model; cached answers count requests, not cost."""

    rows: dict[str, LedgerRow] = field(default_factory=dict)
    by_tag: dict[str, LedgerRow] = field(default_factory=lambda: defaultdict(lambda: LedgerRow("")))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0

    def record(self, completion: Completion, tag: str | None = None) -> None:
        with self._lock:
            targets = [self.rows.setdefault(completion.model, LedgerRow(completion.model))]
            if tag:
                row = self.by_tag[tag]
                row.model = row.model or completion.model
                targets.append(row)
            for row in targets:
                row.requests += 1
                if completion.cached:
                    row.cached += 1
                    continue
                row.input_tokens += completion.usage.input_tokens
                row.output_tokens += completion.usage.output_tokens
                row.cost_usd += completion.cost_usd
                row.priced = row.priced and price_for(completion.model) is not None
            self.version += 1

    def total_cost(self) -> float:
        return sum(r.cost_usd for r in self.rows.values())

    def total_tokens(self) -> int:
        return sum(r.input_tokens + r.output_tokens for r in self.rows.values())

    def snapshot(self) -> list[LedgerRow]:
        with self._lock:
            return [LedgerRow(**{k: getattr(r, k) for k in LedgerRow.__dataclass_fields__}) for r in self.rows.values()]

    def reset(self) -> None:
        with self._lock:
            self.rows.clear()
            self.by_tag.clear()
            self.version += 1


_ledger = Ledger()


def ledger() -> Ledger:
    """The process-wide ledger (the cost meter widget reads it)."""
    return _ledger
