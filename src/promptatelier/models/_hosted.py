"""What the SDK-based backends (OpenAI, OpenAI-compatible, Anthropic) share: keys, clients per
event loop, retries counted, and SDK errors turned into errors that say what to do.

The SDKs retry by themselves (429, 5xx, 529, timeouts, dropped connections, honouring
Retry-After); this module only reads how many retries they took and translates what is left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..config import KEY_ENV_VARS, get_key, key_source, mask, settings
from ..errors import (
    AtelierError,
    BackendError,
    BudgetExceededError,
    MissingKeyError,
    ModelUnavailableError,
)
from .base import Backend, ChatRequest, Completion

__all__ = ["HostedBackend", "retries_of", "shared_tls_context", "tls_context_for"]

# Python's last-resort handler would print the SDKs' warnings on stderr, and nbgrader scores a
# cell that writes to stderr 0: a NullHandler keeps them quiet unless the user configures logging.
for _name in ("openai", "anthropic", "httpx", "httpx2", "httpcore"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

# requests one async SDK client carries at once before the backend opens another (see `_lane`)
LANE_DEPTH = 8

OFFLINE_HINT = "or use the model 'local' to work offline with the embedded model"
OFFLINE_HINT_FR = "ou utilisez le modèle 'local' pour travailler hors ligne avec le modèle embarqué"
# the error type a gateway (LiteLLM's proxy, deploy/gateway/) gives a key whose budget is used up
BUDGET_ERROR_TYPE = "budget_exceeded"


_tls: Any = None
_tls_lock = threading.Lock()


def shared_tls_context() -> Any:
    """One TLS context for every SDK client in the process, built as the SDKs' HTTP library
    builds its default one. Building it (loading the CA bundle) takes about 0.25 s, and
    complete_many makes a client per batch: without sharing, that dominated small batches."""
    global _tls
    with _tls_lock:
        if _tls is None:
            try:
                import httpx2 as http
            except ImportError:  # pragma: no cover - SDK versions built on httpx
                import httpx as http  # type: ignore[no-redef]
            _tls = http.create_ssl_context()
        return _tls


def tls_context_for(base_url: str | None) -> Any:
    """The TLS context for a client of `base_url`: the shared one (CA bundle loaded), except for a
    plain-http server (a course's vLLM or Ollama on its own machine), whose client never does TLS:
    it gets a context that trusts no certificate, built in microseconds instead of loading the
    bundle while the first requests wait."""
    if base_url is not None and urlsplit(base_url).scheme == "http":
        import ssl

        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, against no CA: any TLS would fail
    return shared_tls_context()


def retries_of(exc: BaseException) -> int:
    """How many retries the SDK took before giving up, read from its last request's headers."""
    request = getattr(exc, "request", None)
    response = getattr(exc, "response", None)
    if request is None and response is not None:
        request = getattr(response, "request", None)
    try:
        return int(request.headers.get("x-stainless-retry-count", 0)) if request is not None else 0
    except (TypeError, ValueError, AttributeError, RuntimeError):
        return 0


def _with_retries(error: AtelierError, retries: int) -> AtelierError:
    error.retries = retries  # type: ignore[attr-defined]  # complete_many sums them
    return error


@dataclass
class _Lane:
    """One async SDK client and the number of requests it is carrying."""

    client: Any
    busy: int = 0


class HostedBackend(Backend):
    """A backend that talks to a server through an official SDK.

    Subclasses say how to build a client and how to turn a request into a call and a reply into
    a Completion; this class handles keys (a new key, say from the key widget, gets a new
    client), async clients per event loop, timing, retries and errors.
    """

    key_provider: ClassVar[str] = "openai"
    key_required: ClassVar[bool] = True
    label: ClassVar[str] = "the server"

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name)
        self.model = model
        self._lock = threading.Lock()
        self._sync: tuple[str | None, Any] | None = None
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Lane]] = (
            weakref.WeakKeyDictionary()
        )

    # --- what subclasses provide -------------------------------------------------------------
    def _make_client(self, key: str | None, asynchronous: bool, timeout: float, max_retries: int) -> Any:
        raise NotImplementedError

    def _call(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        """Send the request; return the parsed reply and the number of retries taken."""
        raise NotImplementedError

    async def _acall(self, client: Any, request: ChatRequest) -> tuple[Any, int]:
        raise NotImplementedError

    def _to_completion(self, reply: Any, request: ChatRequest, latency_s: float, retries: int) -> Completion:
        raise NotImplementedError

    def _probe(self, client: Any) -> str:
        """A cheap authenticated request for `check()`; returns a short description."""
        raise NotImplementedError

    def _validate(self, request: ChatRequest) -> None:
        """Raise UnsupportedFeatureError for what this backend cannot do."""

    @property
    def server(self) -> str:
        """The host the backend talks to, for messages."""
        return self.label

    def warm_up(self) -> None:
        """Import the SDK now (openai's takes about half a second), so that a caller can do it
        before its first requests rather than while other work competes for the interpreter."""
        if self.library:
            import importlib

            importlib.import_module(self.library)

    # --- keys and clients ----------------------------------------------------------------------
    def _key(self) -> str | None:
        key = get_key(self.key_provider)
        if key is None and self.key_required:
            var = KEY_ENV_VARS[self.key_provider]
            raise MissingKeyError(
                f"No API key for {self.label} is set, so {self.name} cannot be used.",
                f"Set {var} in the environment or in a .env file next to atelier.toml, or type the "
                f"key into the key widget (KeyEntry); {OFFLINE_HINT}.",
            )
        return key

    def _sync_client(self) -> Any:
        key = self._key()
        with self._lock:
            if self._sync is None or self._sync[0] != key:
                # the old client is left to the garbage collector: another thread may still be
                # in the middle of a request on it
                cfg = settings()
                self._sync = (key, self._make_client(key, False, cfg.timeout_s, cfg.max_retries))
            return self._sync[1]

    def _lane(self) -> _Lane:
        """The least busy async client of this event loop; a new one when all carry LANE_DEPTH.

        httpx's connection pool scans its connections on every request and every response, so
        one client with 32 connections costs more CPU per request than four with 8 each
        (about 20 % of the client's time per request at concurrency 32, bench/bench_many.py).
        Small batches still use a single client.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            lanes = self._lanes.setdefault(loop, [])
        lane = min(lanes, key=lambda candidate: candidate.busy, default=None)
        if lane is None or lane.busy >= LANE_DEPTH:
            cfg = settings()
            lane = _Lane(self._make_client(self._key(), True, cfg.timeout_s, cfg.max_retries))
            lanes.append(lane)
        return lane

    async def aclose(self) -> None:
        """Close this event loop's clients (complete_many calls it at the end of a batch)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            lanes = self._lanes.pop(loop, [])
        for lane in lanes:
            await lane.client.close()

    # --- the Backend protocol ------------------------------------------------------------------
    def complete(self, request: ChatRequest) -> Completion:
        self._validate(request)
        client = self._sync_client()
        started = time.perf_counter()
        try:
            reply, retries = self._call(client, request)
        except AtelierError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None
        return self._to_completion(reply, request, time.perf_counter() - started, retries)

    async def acomplete(self, request: ChatRequest) -> Completion:
        self._validate(request)
        lane = self._lane()
        lane.busy += 1
        started = time.perf_counter()
        try:
            reply, retries = await self._acall(lane.client, request)
        except AtelierError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None
        finally:
            lane.busy -= 1
        return self._to_completion(reply, request, time.perf_counter() - started, retries)

    def check(self) -> str:
        """Key present (masked) and server reachable within a few seconds, or raises."""
        key = self._key()
        client = self._make_client(key, False, 5.0, 0)
        try:
            found = self._probe(client)
        except Exception as exc:
            raise self._translate(exc) from None
        finally:
            client.close()
        where = key_source(self.key_provider)
        key_text = f"key {mask(key)} ({where})" if key else "no key"
        return f"{key_text}; {self.server} reachable{', ' + found if found else ''}"

    # --- errors --------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        key = get_key(self.key_provider)
        if key:
            text = text.replace(key, mask(key))
        return text

    def _server_message(self, exc: BaseException) -> str:
        body = getattr(exc, "body", None)
        message: Any = None
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else inner
        if not message:
            message = getattr(exc, "message", None) or str(exc)
        text = " ".join(str(message).split())
        return self._scrub(text[:300] + ("…" if len(text) > 300 else ""))

    @staticmethod
    def _error_type(exc: BaseException) -> str | None:
        body = getattr(exc, "body", None)
        inner = body.get("error", body) if isinstance(body, dict) else None
        kind = inner.get("type") if isinstance(inner, dict) else None
        return kind if isinstance(kind, str) else None

    def _budget_exceeded(self, retries: int) -> AtelierError:
        return _with_retries(BudgetExceededError(
            f"Your token budget for this course is used up: {self.server} refuses further requests with "
            f"your key.",
            "Ask your instructor to raise your token budget; your work so far is kept.",
            fr=(f"Votre budget de jetons pour ce cours est épuisé\u00a0: {self.server} refuse toute nouvelle "
                f"requête avec votre clé.",
                "Demandez à votre enseignant d'augmenter votre budget de jetons\u00a0; votre travail est "
                "conservé."),
        ), retries)

    def _rate_limited(self, message: str, after: str, retries: int) -> AtelierError:
        if self.key_provider == "openai-compatible":  # a course's own server or gateway: limits per learner
            plural = "s" if retries > 1 else ""
            tries_en = f", {retries} retr{'ies' if retries > 1 else 'y'} taken" if retries else ""
            tries_fr = f", {retries} nouvelle{plural} tentative{plural} faite{plural}" if retries else ""
            return _with_retries(ModelUnavailableError(
                f"Too many requests with your key just now: {self.server} accepts only so many a minute "
                f"from each learner (HTTP 429{tries_en}).",
                "Wait a minute, then run it again.",
                fr=(f"Trop de requêtes avec votre clé en ce moment\u00a0: {self.server} n'en accepte qu'un "
                    f"certain nombre par minute et par personne (HTTP 429{tries_fr}).",
                    "Attendez une minute, puis relancez."),
            ), retries)
        return _with_retries(ModelUnavailableError(
            f"{self.name} is rate-limited (HTTP 429){after}: {message}",
            "Wait a minute and run again, lower [run] concurrency or requests_per_minute in "
            "atelier.toml, or check the account's quota.",
        ), retries)

    def _translate(self, exc: BaseException) -> AtelierError:
        """An SDK exception as an AtelierError that says what to fix (never showing the key)."""
        retries = retries_of(exc)
        after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
        status = getattr(exc, "status_code", None)
        kind = type(exc).__name__
        if status is None:
            if "Timeout" in kind:
                return _with_retries(ModelUnavailableError(
                    f"{self.name}: {self.server} did not answer in time{after}.",
                    "Try again later, raise [run] timeout_s in atelier.toml for slow servers, "
                    f"{OFFLINE_HINT}.",
                ), retries)
            if "Connection" in kind:
                return _with_retries(ModelUnavailableError(
                    f"{self.name}: could not reach {self.server}{after} ({self._scrub(str(exc))}).",
                    f"Check the network and that the server is running, then try again; {OFFLINE_HINT}.",
                ), retries)
            return _with_retries(BackendError(
                f"{self.name} failed: {kind}: {self._scrub(str(exc))[:300]}",
                "Run the request again with complete() to see whether it persists; report it if so.",
            ), retries)
        message = self._server_message(exc)
        var = KEY_ENV_VARS[self.key_provider]
        if self._error_type(exc) == BUDGET_ERROR_TYPE:
            return self._budget_exceeded(retries)
        if status == 401 and self.key_provider == "openai-compatible":
            return _with_retries(MissingKeyError(
                f"{self.server} refused the API key (HTTP 401) for {self.name}: {message}",
                f"Set the key the course gave you in {var}; on the course hub it is set for you: stop and "
                f"start your server from the hub's control panel, or ask your instructor; {OFFLINE_HINT}.",
                fr=(f"{self.server} a refusé la clé d'API (HTTP 401) pour {self.name}\u00a0: {message}",
                    f"Mettez la clé que le cours vous a donnée dans {var}\u00a0; sur le hub du cours, elle est "
                    f"mise pour vous\u00a0: arrêtez puis relancez votre serveur depuis le panneau de contrôle "
                    f"du hub, ou demandez à votre enseignant\u00a0; {OFFLINE_HINT_FR}."),
            ), retries)
        if status == 401:
            return _with_retries(MissingKeyError(
                f"{self.label} refused the API key (HTTP 401) for {self.name}.",
                f"Copy the key again from your {self.label} account into {var} (environment or "
                f".env) or the key widget; {OFFLINE_HINT}.",
            ), retries)
        if status == 403:
            return _with_retries(BackendError(
                f"{self.label} denied access to {self.name} (HTTP 403): {message}",
                "Check that your key's project or organisation may use this model.",
            ), retries)
        if status == 404:
            return _with_retries(BackendError(
                f"{self.name}: not found on {self.server} (HTTP 404): {message}",
                "Check the model name (see `atelier doctor`) and, for a custom server, its base URL "
                "(it usually ends in /v1).",
            ), retries)
        if status == 429:
            return self._rate_limited(message, after, retries)
        if status >= 500 or status in (408, 409):
            return _with_retries(ModelUnavailableError(
                f"{self.name}: {self.server} failed (HTTP {status}){after}: {message}",
                f"The problem is on the server's side: try again later; {OFFLINE_HINT}.",
            ), retries)
        return _with_retries(BackendError(
            f"{self.name} rejected the request (HTTP {status}): {message}",
            "Change what the server complains about (a parameter, the prompt's length, the JSON "
            "schema...) and send it again.",
        ), retries)


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url
