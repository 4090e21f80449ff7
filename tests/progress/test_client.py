"""The learner side of progress: what check() posts, to where, with which token; nothing
outside a course hub or under nbgrader; a failure is one line, never an exception."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from promptatelier.grading import check
from promptatelier.progress import client

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hubtoken-" + "0" * 32
PROMPT = "What do you think of this review? {review}"


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 201
    delay = 0.0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": json.loads(body)})
        time.sleep(type(self).delay)
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"403: this token may not post\n" if type(self).status == 403 else b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Recorder]]:
    """A real HTTP server on 127.0.0.1 standing in for the progress service, recording posts."""
    recorder = type("Recorder", (_Recorder,), {"received": [], "status": 201, "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("ATELIER_GRADERS", str(ROOT / "tests" / "widgets" / "graders"))
    monkeypatch.setenv("ATELIER_PROGRESS_URL", f"http://127.0.0.1:{server.server_address[1]}/services/atelier-progress/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
    monkeypatch.delenv("ATELIER_PROGRESS_SHARE_PROMPTS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    from promptatelier import config

    config.reload_settings()
    yield recorder
    server.shutdown()
    server.server_close()


def test_check_posts_its_result_with_the_servers_hub_token(service: type[_Recorder],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = check("w01.label", PROMPT, model="mock")
    assert len(service.received) == 1
    sent = service.received[0]
    assert sent["path"] == "/services/atelier-progress/api/checks" and sent["auth"] == f"token {TOKEN}"
    body = sent["body"]
    assert body["exercise"] == "w01.label" and body["points"] == report.points and body["max_points"] == 4
    assert body["passed"] is report.evaluation.passed
    failing = {c["key"] for c in body["criteria"] if not c["ok"]}
    assert "delimiters" in failing  # the prompt has no delimiters around {review}
    text = json.dumps(body)
    # no prompt, no name, no token, no model output
    assert "prompt" not in body and "What do you think" not in text and TOKEN not in text
    assert not any(o.text and o.text in text for o in report.evaluation.outputs if o.text and len(o.text) > 3)
    assert "learner" not in body and capsys.readouterr().out == ""


def test_the_prompt_goes_along_only_when_the_course_shares_prompts(service: type[_Recorder],
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    course = tmp_path / "atelier.toml"
    course.write_text("[progress]\nshare_prompts = true\n", encoding="utf-8")
    monkeypatch.setenv("ATELIER_CONFIG", str(course))
    check("w01.label", PROMPT, model="mock")
    monkeypatch.setenv("ATELIER_PROGRESS_SHARE_PROMPTS", "off")  # the hub's setting wins over the course file
    check("w01.label", PROMPT, model="mock")
    assert [r["body"].get("prompt") for r in service.received] == [PROMPT, None]


@pytest.mark.parametrize("missing", ["ATELIER_PROGRESS_URL", "JUPYTERHUB_API_TOKEN"])
def test_nothing_is_posted_outside_a_course_hub(service: type[_Recorder], monkeypatch: pytest.MonkeyPatch,
                                                missing: str) -> None:
    monkeypatch.delenv(missing)
    check("w01.label", PROMPT, model="mock")
    assert service.received == []


def test_nothing_is_posted_while_nbgrader_runs_the_notebook(service: type[_Recorder],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    check("w01.label", PROMPT, model="mock")
    assert service.received == []


def test_a_refused_post_is_one_line_and_the_check_goes_on(service: type[_Recorder],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    service.status = 403
    report = check("w01.label", PROMPT, model="mock")
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and out.err == ""
    assert "Progress not sent" in out.out and "HTTP 403: 403: this token may not post" in out.out
    assert report.points is not None


def test_a_service_that_does_not_answer_costs_at_most_the_timeout(service: type[_Recorder],
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(client, "POST_TIMEOUT_S", 0.2)
    service.delay = 1.0
    report = check("w01.label", PROMPT, model="mock", lang="fr")
    out = capsys.readouterr().out
    assert out.startswith("(Progression non envoyée") and out.count("\n") == 1
    assert report.points is not None


def test_nobody_listening_is_one_line_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                          service: type[_Recorder]) -> None:
    monkeypatch.setenv("ATELIER_PROGRESS_URL", "http://127.0.0.1:9/services/atelier-progress/")
    assert client.report(check("w01.label", PROMPT, model="mock").evaluation, "en") is False
    assert capsys.readouterr().out.count("Progress not sent") == 2  # the check's own post, and this one


def test_the_exercise_check_widget_reports_through_check(service: type[_Recorder]) -> None:
    from promptatelier.widgets import ExerciseCheck

    widget = ExerciseCheck("w01.label", PROMPT, model="mock")
    widget.check_button.click()
    assert widget.wait(30)
    assert [r["body"]["exercise"] for r in service.received] == ["w01.label"]
    assert service.received[0]["body"]["points"] == widget.evaluation.points
