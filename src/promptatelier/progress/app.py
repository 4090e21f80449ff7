"""The progress service's web app, behind JupyterHub.

    GET  PREFIX                 the cohort view (instructors; a browser signs in through the hub)
    GET  PREFIX cohort.html     the view's live part, which the page fetches every few seconds
    GET  PREFIX api/cohort      the same as JSON (instructors; a hub token or the browser's cookie)
    POST PREFIX api/checks      one check's result (any course user's hub token; the learner's
                                server sends it with its JUPYTERHUB_API_TOKEN): 201 recorded, 400
                                a bad field or an exercise not of the course, 403 no token or not
                                a user's, 429 over MAX_POSTS_PER_MINUTE
    GET  PREFIX oauth_callback  the end of the hub's OAuth sign-in

The hub authenticates everyone (HubOAuth: cookie after sign-in, or `Authorization: token ...`);
access to the service needs the scope `access:services!service=atelier-progress`, which
deploy/atelier_hub.py grants to the course's instructors and learners. The view is for the
course's instructors only: anyone else gets 403 with a sentence saying so. A post is recorded
under the name of the token's owner, whatever its body says, and only with a token in the
Authorization header (a browser's cookie cannot post, so no other site can post as a signed-in
instructor).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from .cohort import Cohort, summarise
from .payload import PayloadError, parse
from .service import ServiceSettings
from .store import Store

__all__ = ["make_app", "render"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
POLL_SECONDS = 3
MAX_BODY = 256 * 1024
# a learner checks every few seconds at most; more is a script, which must not swamp the view
MAX_POSTS_PER_MINUTE = 30


@lru_cache(maxsize=1)
def _jinja() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["percent"] = lambda v: "–" if v is None else f"{v:.0%}"
    return env


def ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min ago"


def render(name: str, cohort: Cohort, **extra: Any) -> str:
    return _jinja().get_template(name).render(cohort=cohort, ago=lambda t: ago(cohort.now - t), **extra)


class Limiter:
    """At most `per_minute` posts per learner in any sliding minute."""

    def __init__(self, per_minute: int = MAX_POSTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, learner: str, now: float) -> bool:
        seen = self._seen[learner]
        while seen and seen[0] <= now - 60:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return False
        seen.append(now)
        return True


class _Handler(HubOAuthenticated, web.RequestHandler):
    def initialize(self, settings: ServiceSettings, store: Store, clock: Callable[[], float],
                   limiter: Limiter) -> None:
        self.service = settings
        self.store = store
        self.clock = clock
        self.limiter = limiter

    def cohort(self) -> Cohort:
        return summarise(self.store.rows(), now=self.clock(), rules=self.service.rules,
                         learners=self.service.learners, share_prompts=self.service.share_prompts)

    def refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(message + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # tornado's own 403 (a user without access to the service) and 500s, in plain words
        reason = {403: "You have no access to the course's progress service. Sign in to the hub with an "
                       "instructor's account."}.get(status_code, self._reason)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {reason}\n")

    def instructor_only(self) -> bool:
        """True for an instructor; else answers 403 and returns False."""
        user = self.current_user
        if user.get("kind") != "user" or user.get("name") not in self.service.instructors:
            self.refuse(403, f"403: this page is for the course's instructors only; you are signed in as "
                             f"{user.get('name')!r}. An instructor is a hub user listed in ATELIER_HUB_INSTRUCTORS.")
            return False
        return True


class ViewHandler(_Handler):
    @web.authenticated
    def get(self) -> None:
        if self.instructor_only():
            self.set_header("Cache-Control", "no-store")
            # the page's fetches are cookie-authenticated, which the hub accepts only with this token
            xsrf = self.xsrf_token
            self.finish(render("page.html.j2", self.cohort(), poll_seconds=POLL_SECONDS, me=self.current_user["name"],
                               fragment_url=url_path_join(self.service.prefix, "cohort.html"),
                               xsrf=xsrf.decode() if isinstance(xsrf, bytes) else xsrf))


class FragmentHandler(_Handler):
    @web.authenticated
    def get(self) -> None:
        if self.instructor_only():
            self.set_header("Cache-Control", "no-store")
            self.finish(render("cohort.html.j2", self.cohort()))


class CohortJSONHandler(_Handler):
    def get(self) -> None:
        if self.current_user is None:
            self.refuse(403, "403: send an instructor's hub token (Authorization: token ...) or sign in through the hub.")
        elif self.instructor_only():
            self.set_header("Cache-Control", "no-store")
            self.finish(self.cohort().to_json())


class ChecksHandler(_Handler):
    def check_xsrf_cookie(self) -> None:
        """Posts are token-authenticated only (below), which is what XSRF protects against."""

    def post(self) -> None:
        user = self.current_user
        if user is None or not getattr(self, "_token_authenticated", False):
            self.refuse(403, "403: post with a hub token in the Authorization header (Authorization: token "
                             "$JUPYTERHUB_API_TOKEN) whose user may use this service.")
            return
        if user.get("kind") != "user":
            self.refuse(403, f"403: only a hub user's server posts checks, not the {user.get('kind')} {user.get('name')!r}.")
            return
        if not self.limiter.allow(user["name"], time.monotonic()):
            self.refuse(429, f"429: more than {self.limiter.per_minute} checks in a minute; wait a minute.")
            return
        if len(self.request.body) > MAX_BODY:
            self.refuse(413, f"413: a check is at most {MAX_BODY // 1024} KiB.")
            return
        try:
            post = parse(self.request.body, accept_prompt=self.service.share_prompts)
        except PayloadError as exc:
            self.refuse(400, f"400: {exc}.")
            return
        if self.service.exercises is not None and post.exercise not in self.service.exercises:
            self.refuse(400, f"400: {post.exercise!r} is no exercise of this course.")
            return
        row = self.store.add(user["name"], post, at=self.clock())
        self.set_status(201)
        self.finish({"learner": row.learner, "exercise": post.exercise, "at": row.at, "prompt_kept": post.prompt is not None})


def make_app(settings: ServiceSettings, store: Store, *, clock: Callable[[], float] = time.time) -> web.Application:
    """The app, authenticated by HubOAuth as configured from the environment the hub gives."""
    import secrets

    auth = HubOAuth.instance()
    args = {"settings": settings, "store": store, "clock": clock, "limiter": Limiter()}
    prefix = settings.prefix
    return web.Application(
        [
            (prefix, ViewHandler, args),
            (url_path_join(prefix, "cohort.html"), FragmentHandler, args),
            (url_path_join(prefix, "api/cohort"), CohortJSONHandler, args),
            (url_path_join(prefix, "api/checks"), ChecksHandler, args),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        cookie_secret=secrets.token_bytes(32),
        login_url=auth.login_url,
        xsrf_cookies=True,
    )
