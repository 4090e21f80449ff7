"""Model backends behind one protocol, the response cache, concurrency and cost accounting.

This package knows nothing of grading, widgets or the command line.
"""

from .base import Backend, ChatRequest, Completion, Message, TokenLogprob, TopLogprob, Usage
from .batch_api import BatchAPI, BatchStatus, batch_api
from .cache import CacheStats, ResponseCache, get_cache
from .client import BatchResult, complete, complete_many, concurrency_for, make_request
from .cost import Ledger, cost_of, ledger, price_for
from .registry import clear_backends, get_backend, parse_model_string, providers, register

__all__ = [
    "Backend",
    "BatchAPI",
    "BatchResult",
    "BatchStatus",
    "CacheStats",
    "ChatRequest",
    "Completion",
    "Ledger",
    "Message",
    "ResponseCache",
    "TokenLogprob",
    "TopLogprob",
    "Usage",
    "batch_api",
    "clear_backends",
    "complete",
    "complete_many",
    "concurrency_for",
    "cost_of",
    "get_backend",
    "get_cache",
    "ledger",
    "make_request",
    "parse_model_string",
    "price_for",
    "providers",
    "register",
]
