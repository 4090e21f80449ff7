"""The course's rules in LiteLLM's proxy, through its two documented extension points, so that
every limit is enforced at the endpoint and none in the learner's kernel:

- `user_api_key_auth` (general_settings.custom_auth): a request's key must be a learner's key from
  the learner keys file (learner_keys.py); the answer carries that learner's rpm and tpm limits,
  which LiteLLM's own rate limiter enforces (HTTP 429 beyond them). Only the model routes are open.
- `token_budget` (litellm_settings.callbacks): counts each learner's tokens in a SQLite ledger
  (token_ledger.py) after every successful call, streamed or not, and refuses a learner whose
  budget_tokens are used up, with LiteLLM's own budget error (type budget_exceeded, HTTP 422),
  which the kit explains in the learner's language and never retries.

Why not LiteLLM's virtual keys: they live in its database layer (Postgres through Prisma), and
Prisma's query engine is downloaded at first start from a host outside the package registries.
This module needs no database server: the keys are a file, the counts a SQLite file.

Settings, from the gateway's environment (it refuses to start without them, saying the fix):
  ATELIER_GATEWAY_KEYS    the learner keys file (JSON, mode 600, owned by the gateway's user)
  ATELIER_GATEWAY_LEDGER  the SQLite file of tokens used (created mode 600)

LiteLLM loads this file by path from the config's folder; its neighbours are imported from there.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi import Request  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.proxy._types import ProxyException, UserAPIKeyAuth  # noqa: E402

import learner_keys  # noqa: E402
from token_ledger import TokenLedger  # noqa: E402

__all__ = ["user_api_key_auth", "token_budget", "TokenBudget", "GatewayConfigError", "MODEL_ROUTES"]

KEYS_VAR = "ATELIER_GATEWAY_KEYS"
LEDGER_VAR = "ATELIER_GATEWAY_LEDGER"
# what a learner's key may call: the model, and the list of models
MODEL_ROUTES = frozenset({"/chat/completions", "/v1/chat/completions", "/completions", "/v1/completions",
                          "/models", "/v1/models"})
BUDGET_STATUS = 422  # LiteLLM's own budget_exceeded status; the SDKs do not retry it


class GatewayConfigError(RuntimeError):
    """The gateway's own settings are wrong: it stops at start with the fix."""


def _setting(var: str, what: str) -> Path:
    value = os.environ.get(var)
    if not value:
        raise GatewayConfigError(f"{var} is not set, so the gateway does not know {what}. Fix: set it in the "
                                 f"gateway's environment (see course/README.md, 'A shared model behind a gateway').")
    return Path(value)


class _Keys:
    """The keys file, read again whenever it changes (a key issued or revoked needs no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys = learner_keys.load(path, KEYS_VAR)  # at start: a broken file stops the gateway
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int]:
        st = self.path.stat()
        return st.st_mtime_ns, st.st_size

    def current(self) -> learner_keys.LearnerKeys:
        with self._lock:
            try:
                stamp = self._stat()
                if stamp != self._stamp:
                    self._keys, self._stamp = learner_keys.load(self.path, KEYS_VAR), stamp
            except (OSError, learner_keys.KeysFileError) as exc:
                # fail closed: a revoked key must not keep working because the file broke
                raise ProxyException(message=f"The gateway cannot read its keys file: {exc}", type="internal_error",
                                     param=None, code=503) from None
            return self._keys


_keys = _Keys(_setting(KEYS_VAR, "who the learners are (the learner keys file)"))
_ledger = TokenLedger(_setting(LEDGER_VAR, "where to count each learner's tokens (a SQLite file)"))


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's custom_auth: the learner a key belongs to, with their rate limits."""
    route = request.url.path.rstrip("/")
    if route not in MODEL_ROUTES:
        raise ProxyException(message=f"{route} is not open to course keys: this gateway serves the course's model "
                             "only (/v1/chat/completions, /v1/models).", type="auth_error", param=None, code=403)
    entry = _keys.current().by_key(api_key)
    if entry is None:
        raise ProxyException(
            message="This key is not one of the course's learner keys (it may have been revoked or mistyped). "
                    "Fix: use the key your course hub puts in ATELIER_COMPATIBLE_API_KEY (stop and start your "
                    "server from the hub's control panel to get it again), or ask your instructor for one.",
            type="auth_error", param="api_key", code=401)
    return UserAPIKeyAuth(api_key=api_key, user_id=entry.user, key_alias=entry.user,
                          rpm_limit=entry.rpm, tpm_limit=entry.tpm)


def _user_of(kwargs: dict[str, Any]) -> str | None:
    payload = kwargs.get("standard_logging_object") or {}
    metadata = payload.get("metadata") or {}
    user = metadata.get("user_api_key_user_id")
    if user is None:
        user = ((kwargs.get("litellm_params") or {}).get("metadata") or {}).get("user_api_key_user_id")
    return user


def _tokens_of(kwargs: dict[str, Any], response: Any) -> int:
    payload = kwargs.get("standard_logging_object") or {}
    if payload.get("total_tokens") is not None:
        return int(payload["total_tokens"])
    usage = getattr(response, "usage", None)
    return int(getattr(usage, "total_tokens", 0) or 0)


class TokenBudget(CustomLogger):
    """Each learner's course budget: checked before a call, counted after it."""

    def __init__(self, ledger: TokenLedger | None = None) -> None:
        super().__init__()
        self.ledger = ledger or _ledger

    async def async_pre_call_hook(self, user_api_key_dict: UserAPIKeyAuth, cache: Any, data: dict,
                                  call_type: Any) -> None:
        user = user_api_key_dict.user_id
        entry = _keys.current().users.get(user) if user else None
        if entry is None or entry.budget_tokens is None:
            return None
        used = self.ledger.used(entry.user)
        if used >= entry.budget_tokens:
            raise ProxyException(
                message=f"The token budget of {entry.user} for this course is used up ({used} of "
                        f"{entry.budget_tokens} tokens). Fix: ask your instructor to raise it.",
                type="budget_exceeded", param=None, code=BUDGET_STATUS)
        return None

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        user = _user_of(kwargs)
        if user:
            self.ledger.add(user, _tokens_of(kwargs, response_obj))


token_budget = TokenBudget()
