"""The progress service's web app behind a real JupyterHub (tests/progress/minihub.py): who may
see the view, who may post, under which name a post is recorded, and what is kept."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .minihub import ProgressHub, progress_hub

pytestmark = [pytest.mark.server, pytest.mark.slow]

PROMPT = "PROMPT-CANARY classify {review}"
GRADERS = Path(__file__).resolve().parents[1] / "widgets" / "graders"


@pytest.fixture(scope="module")
def ph() -> Iterator[ProgressHub]:
    with progress_hub(share_prompts=False, graders=GRADERS) as made:
        yield made


def _check(exercise: str = "w01.label", points: float = 1, passed: bool = False, **extra: Any) -> dict[str, Any]:
    return {"exercise": exercise, "title": "Sentiment label", "status": "graded", "points": points, "max_points": 4,
            "passed": passed, "criteria": [{"key": "delimiters", "label": "Delimiters around the input", "score": 0,
                                            "ok": False},
                                           {"key": "accuracy", "label": "Label accuracy", "score": 1, "ok": True}],
            **extra}


def test_a_learners_post_is_recorded_under_the_tokens_owner_whatever_the_body_says(ph: ProgressHub) -> None:
    bob, cy = ph.learners
    r = ph.post(_check(learner=cy, user=cy, name=cy, prompt=PROMPT), bob)
    assert r.status_code == 201, r.text
    assert r.json()["learner"] == bob and r.json()["prompt_kept"] is False
    data = ph.get("api/cohort", ph.instructor).json()
    cells = {(c["learner"], c["exercise"]): c for c in data["cells"]}
    assert cells[(bob, "w01.label")]["latest"] == 0.25 and (cy, "w01.label") not in cells
    assert cells[(bob, "w01.label")]["prompt"] is None
    # the course's learners are listed before their first check
    assert set(ph.learners) <= set(data["learners"])


def test_the_prompt_is_not_kept_when_the_course_does_not_share_prompts(ph: ProgressHub) -> None:
    ph.post(_check(prompt=PROMPT), ph.learners[1])
    assert "PROMPT-CANARY" not in httpx.get(f"{ph.service}", headers={
        "Authorization": f"token {ph.hub.user_token(ph.instructor)}"}).text
    # nor anywhere in the service's database
    db = sqlite3.connect(ph.data_dir / "progress.sqlite")
    assert db.execute("SELECT count(*) FROM checks WHERE prompt IS NOT NULL").fetchone() == (0,)
    db.close()
    assert b"PROMPT-CANARY" not in (ph.data_dir / "progress.sqlite").read_bytes()


def test_only_instructors_see_the_view(ph: ProgressHub) -> None:
    for path in ("", "cohort.html", "api/cohort"):
        assert ph.get(path, ph.instructor).status_code == 200, path
        refused = ph.get(path, ph.learners[0])
        assert refused.status_code == 403, path
        assert "for the course's instructors only" in refused.text and ph.learners[0] in refused.text
    page = ph.get("", ph.instructor).text
    assert "Cohort progress" in page and "Delimiters around the input" in page


def test_without_a_token_or_with_a_bad_one_nothing_is_recorded(ph: ProgressHub) -> None:
    before = ph.get("api/cohort", ph.instructor).json()["checks"]
    anonymous = httpx.post(f"{ph.service}api/checks", json=_check())
    forged = httpx.post(f"{ph.service}api/checks", json=_check(), headers={"Authorization": "token " + "f" * 32})
    assert (anonymous.status_code, forged.status_code) == (403, 403)
    assert "Authorization: token" in anonymous.text
    assert httpx.get(f"{ph.service}api/cohort").status_code == 403
    assert ph.get("api/cohort", ph.instructor).json()["checks"] == before


def test_a_hub_user_outside_the_course_can_neither_post_nor_look(ph: ProgressHub) -> None:
    outsider = ph.learners[0] + "x"
    ph.hub.api("POST", f"/users/{outsider}")
    assert ph.post(_check(), outsider).status_code == 403
    assert ph.get("api/cohort", outsider).status_code == 403


def test_a_bad_post_gets_400_with_the_field_named(ph: ProgressHub) -> None:
    r = ph.post(_check(points=9), ph.learners[0])
    assert r.status_code == 400 and "'points' (9.0) is more than 'max_points' (4.0)" in r.text


def test_a_post_for_an_exercise_not_of_the_course_is_refused(ph: ProgressHub) -> None:
    r = ph.post(_check(exercise="w01.made_up"), ph.learners[0])
    assert r.status_code == 400 and "'w01.made_up' is no exercise of this course" in r.text
    cells = ph.get("api/cohort", ph.instructor).json()["cells"]
    assert not any(c["exercise"] == "w01.made_up" for c in cells)


def test_a_browser_is_sent_to_the_hubs_sign_in(ph: ProgressHub) -> None:
    r = httpx.get(ph.public, follow_redirects=False)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["location"]


def test_the_results_are_private_to_the_services_user(ph: ProgressHub) -> None:
    assert stat.S_IMODE(ph.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((ph.data_dir / "progress.sqlite").stat().st_mode) == 0o600


def test_a_learner_posting_in_a_loop_is_slowed_down(ph: ProgressHub) -> None:
    from promptatelier.progress.app import MAX_POSTS_PER_MINUTE

    cy = ph.learners[1]
    codes = [ph.post(_check(exercise="w01.persona"), cy).status_code for _ in range(MAX_POSTS_PER_MINUTE + 2)]
    assert codes.count(429) >= 2 and set(codes) <= {201, 429}
    assert ph.post(_check(exercise="w01.persona"), cy).text.startswith("429: more than")
    # the others are not slowed by one learner's loop
    assert ph.post(_check(exercise="w01.persona"), ph.learners[0]).status_code == 201


def test_what_a_learner_posts_is_shown_escaped() -> None:
    from promptatelier.progress.app import render
    from promptatelier.progress.cohort import summarise
    from promptatelier.progress.payload import parse
    from promptatelier.progress.store import CheckRow

    evil = "<script>alert(1)</script>"
    post = parse(json.dumps(_check(title=evil, prompt=evil, criteria=[{"key": evil, "label": evil, "score": 0,
                                                                        "ok": False}])).encode(), accept_prompt=True)
    cohort = summarise([CheckRow("bob", 0.0, post)], now=60.0, share_prompts=True)
    for name in ("page.html.j2", "cohort.html.j2"):
        html = render(name, cohort, poll_seconds=3, me="ann", fragment_url="/x", xsrf="t")
        assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
