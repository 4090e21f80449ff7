"""Batch grading (`atelier grade --batch`) on the real nbgrader test course, against a server on
127.0.0.1 speaking OpenAI's Batch API and Anthropic's Message Batches, with the official SDKs:
submit, a run while the batch runs, completion, an errored item, an expired batch, resumption in
a new process, the errors that say how to fix a misconfiguration, and no key in the journal."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptatelier.cli import main
from promptatelier.cli.grade import WAITING
from promptatelier.config import reload_settings, set_key
from promptatelier.grading.cohort import Journal
from promptatelier.models import make_request
from tests.support import wire
from tests.support.batch_server import BatchServer
from tests.support.fixtures import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, point_hosted_sdks

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cohort_course", HERE / "course" / "cohort_course.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)  # type: ignore[union-attr]

pytestmark = [pytest.mark.server, pytest.mark.nbgrader]

OPENAI = "openai:gpt-4.1-mini"
ANTHROPIC = "anthropic:claude-haiku-4-5"
# answers the server gives, batch or live: a sentiment word, French, or JSON
FAILING = "Terrible service"  # a prompt the server answers with an HTTP 500 when `failing` is on


def answer(body: dict[str, Any]) -> str | int:
    text = wire.prompt_text(body)
    if text.startswith("Criterion:"):  # the judge
        return '{"reasoning": "It answers in French.", "score": 5}'
    if "review" in text.lower() or "<review>" in text:
        return "positive" if ("loved" in text or "brand new" in text) else "negative"
    if "JSON" in text:
        return '{"name": "Ann Smith", "age": 30}'
    return "Le ciel est bleu parce que la lumière se diffuse."


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.build_course(tmp_path_factory.mktemp("generated") / "course")


@pytest.fixture
def course(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = cc.working_copy(generated, tmp_path / "course", monkeypatch)
    cc.submit_learner(root, "strong")
    cc.submit_learner(root, "naive")
    return root


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchServer]:
    with BatchServer(answer) as running:
        point_hosted_sdks(monkeypatch, running.url, max_retries=0)
        yield running


def grade(course: Path, capsys: pytest.CaptureFixture[str], *extra: str, model: str = OPENAI) -> tuple[int, str, str]:
    code = main(["grade", "ps1", "--course", str(course), "--model", model, "--no-progress", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def journal_of(course: Path) -> Journal:
    return Journal(course / ".atelier" / "grading" / "ps1.sqlite")


def journal_bytes(course: Path) -> bytes:
    folder = course / ".atelier" / "grading"
    return b"".join(p.read_bytes() for p in folder.glob("ps1.sqlite*"))


def gradebook_scores(course: Path) -> dict[tuple[str, str], float | None]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("strong", "naive"):
            try:
                nb = gb.find_submission_notebook("ps1", "ps1", student)
            except Exception:
                continue
            out.update({(student, g.name): g.auto_score for g in nb.grades})
    return out


def test_submit_wait_collect_and_grade_with_no_live_request(course: Path, server: BatchServer,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # 1. submit: every request the grading would send, in one batch; nobody graded
    code, out, _ = grade(course, capsys, "--batch")
    assert code == WAITING  # nobody graded yet: a loop can tell this from 0
    [batch_id] = server.batch_ids()
    lines = server.input_lines(batch_id)
    assert f"Submitted {len(lines)} request(s) in batch {batch_id} ({OPENAI})" in out
    assert "Nothing was graded yet" in out and f"atelier grade ps1 --course {course} --model {OPENAI} --batch`" in out
    # strong and naive, 3 exercises: label 4 cases, french 3, json 2 -> 9 each, none shared
    assert len(lines) == 18
    assert all(re.fullmatch(r"[0-9a-f]{64}", line["custom_id"]) for line in lines)
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert {line["body"]["model"] for line in lines} == {"gpt-4.1-mini"}
    assert all(line["body"]["temperature"] == 0 for line in lines)
    assert server.uploads[0]["fields"] == {"purpose": "batch"}
    assert server.uploads[0]["content_type"].startswith("multipart/form-data")
    assert not server.live and not gradebook_scores(course)
    assert not (course / "autograded").exists()
    journal = journal_of(course)
    assert [(b.id, b.state, b.requests) for b in journal.batches()] == [(batch_id, "submitted", 18)]
    journal.close()

    # 2. while it runs: said with counts, nothing graded, nothing submitted again
    code, out, _ = grade(course, capsys, "--batch")
    assert code == WAITING
    assert f"Batch {batch_id} ({OPENAI}, 18 requests" in out and "still running" in out
    assert "Nothing was graded" in out
    assert server.batch_ids() == [batch_id] and not gradebook_scores(course)

    # 3. ended: the answers go into the cache, and the grading finds all of them there
    server.finish()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == 0, out
    assert f"Batch {batch_id} ({OPENAI}) ended: 18 answer(s) into the response cache" in out
    assert "at the batch price" in out
    assert "Every answer the batches could give is in the response cache: grading now." in out
    assert "0 model calls, 18 cache hits" in out
    assert not server.live  # 0 live requests
    scores = gradebook_scores(course)
    assert len(scores) == 6 and all(v is not None for v in scores.values())
    journal = journal_of(course)
    assert [(b.id, b.state) for b in journal.batches()] == [(batch_id, "ended")]
    assert {r.status for r in journal.all()} == {"graded"}
    journal.close()

    # the same answers live give the same grades
    code, out, _ = grade(course, capsys, "--force")
    assert code == 0 and gradebook_scores(course) == scores

    # the key is never written down: not in the journal, not in the gradebook
    assert FAKE_OPENAI_KEY.encode() not in journal_bytes(course)
    assert FAKE_OPENAI_KEY.encode() not in (course / "gradebook.db").read_bytes()


def test_an_errored_request_is_sent_live_and_left_not_graded_when_that_fails(
        course: Path, server: BatchServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.answer = lambda body: 500 if FAILING in wire.prompt_text(body) else answer(body)
    code, out, _ = grade(course, capsys, "--batch", model=ANTHROPIC)
    assert code == WAITING
    [batch_id] = server.batch_ids()
    assert batch_id.startswith("msgbatch_") and len(server.input_lines(batch_id)) == 18
    params = server.input_lines(batch_id)[0]["params"]
    assert params["model"] == "claude-haiku-4-5" and params["max_tokens"] > 0
    server.finish()
    code, out, err = grade(course, capsys, "--batch", model=ANTHROPIC)
    # the failing case is one of tc.label's, for both learners: sent live, fails again, not graded
    assert "16 answer(s) into the response cache, 2 request(s) failed in it" in out
    assert "Sent live instead: 2 that failed in their batch." in out
    assert code == 3 and "2 answer(s) not graded" in err
    assert len(server.live) == 2 and all(FAILING in wire.prompt_text(b) for b in server.live)
    journal = journal_of(course)
    by = {(r.student, r.exercise_id): r for r in journal.all()}
    journal.close()
    for student in ("strong", "naive"):
        item = by[student, "tc.label"]
        assert item.status == "not_graded" and item.points is None  # never 0
        assert any("not graded" in f for f in item.flags)
        assert by[student, "tc.json"].status == "graded"
    scores = gradebook_scores(course)
    assert scores["strong", "tc-label-test"] is None and scores["strong", "tc-json-test"] is not None
    assert FAKE_ANTHROPIC_KEY.encode() not in journal_bytes(course)


def test_an_expired_batch_says_how_to_resubmit_and_resubmits_only_what_never_ran(
        course: Path, server: BatchServer, capsys: pytest.CaptureFixture[str]) -> None:
    grade(course, capsys, "--batch")
    [first] = server.batch_ids()
    server.finish(ran=10)
    code, out, err = grade(course, capsys, "--batch")
    assert code == 1
    assert f"Batch {first} ({OPENAI}) expired: 10 answer(s) into the response cache" in err
    assert f"Batch {first} expired with 8 request(s) never run" in err
    assert "--batch --resubmit" in err and "without --batch" in err
    assert not gradebook_scores(course)
    code, out, err = grade(course, capsys, "--batch")  # the same until the instructor chooses
    assert code == 1 and "--resubmit" in err
    code, out, _ = grade(course, capsys, "--batch", "--resubmit")
    assert code == WAITING
    second = server.batch_ids()[-1]
    assert second != first and "8 request(s) that earlier batches never ran are collected again" in out
    resent = {line["custom_id"] for line in server.input_lines(second)}
    assert len(resent) == 8 and resent == {line["custom_id"] for line in server.input_lines(first)[10:]}
    server.finish()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == 0 and "0 model calls, 18 cache hits" in out and not server.live


def test_a_failed_batch_gives_the_providers_reason(course: Path, server: BatchServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    grade(course, capsys, "--batch")
    [batch_id] = server.batch_ids()
    server.fail(batch_id, "Model gpt-4.1-mini is not available for batch on this project.")
    code, _, err = grade(course, capsys, "--batch")
    assert code == 1
    assert f"Batch {batch_id} failed (Model gpt-4.1-mini is not available for batch" in err
    assert "Fix what the provider says first" in err and "--resubmit" in err


def edited_graders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str) -> None:
    """The test course's specs, with `old` replaced by `new` in tc/NAME.toml (appended if `old` is empty)."""
    import shutil

    from promptatelier.grading.spec import clear_spec_cache

    graders = tmp_path / "graders"
    shutil.copytree(HERE / "course" / "graders", graders)
    path = graders / "tc" / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert not old or old in text
    path.write_text(text.replace(old, new) if old else text + new, encoding="utf-8")
    monkeypatch.setenv("ATELIER_GRADERS", str(graders))
    reload_settings()
    clear_spec_cache()


def test_requests_sampled_without_a_seed_are_sent_live_and_said_so(
        course: Path, server: BatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    edited_graders(tmp_path, monkeypatch, "json", "[model]\n", "[model]\ntemperature = 0.7\n")
    code, out, _ = grade(course, capsys, "--batch")
    [batch_id] = server.batch_ids()
    assert code == WAITING and "Submitted 14 request(s)" in out  # tc.json's 2 cases x 2 learners are not in it
    assert not any(line["body"]["temperature"] for line in server.input_lines(batch_id))
    server.finish()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == 0
    assert ("Sent live instead: 4 not reproducible (temperature above 0 without a seed the model honours), "
            "so they cannot come back through the cache.") in out
    assert "4 model calls, 14 cache hits" in out and "4 request(s) were sent live at full price" in out
    assert len(server.live) == 4 and all(b["temperature"] == 0.7 for b in server.live)


def test_judge_verdicts_come_in_a_second_round_from_the_judges_own_provider(
        course: Path, server: BatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ATELIER_JUDGE_MODEL", ANTHROPIC)
    edited_graders(tmp_path, monkeypatch, "french", "", '\n[[criteria]]\nuse = "judge"\n'
                   'criterion = "The reply answers the question in French."\nscale = [1, 5]\nweight = 1\n')
    code, out, _ = grade(course, capsys, "--batch")
    assert code == WAITING and "Submitted 18 request(s)" in out and OPENAI in out
    server.finish()
    # the judge needs the outputs first: they come back, and the verdicts go to Anthropic's batches
    code, out, _ = grade(course, capsys, "--batch")
    assert code == WAITING and "ended: 18 answer(s) into the response cache" in out
    judge_batch = server.batch_ids()[-1]
    assert judge_batch.startswith("msgbatch_")
    # 3 cases; both learners got the same French sentence, so one verdict per case is asked for
    assert f"Submitted 3 request(s) in batch {judge_batch} ({ANTHROPIC})" in out
    assert all(line["params"]["system"].startswith("You are a strict, fair grader")
               for line in server.input_lines(judge_batch))
    assert not gradebook_scores(course)
    server.finish()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == 0 and "0 model calls" in out and not server.live
    journal = journal_of(course)
    french = {r.student: r for r in journal.all() if r.exercise_id == "tc.french"}
    journal.close()
    assert all(any(c["name"] == "judge" and c["score"] == 1.0 for c in r.criteria) for r in french.values())


def test_batches_resume_in_a_new_process(course: Path, server: BatchServer, tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": FAKE_OPENAI_KEY, "ATELIER_MAX_RETRIES": "0",
           "ATELIER_CACHE": str(tmp_path / "cache" / "responses.sqlite")}
    args = ["atelier", "grade", "ps1", "--model", OPENAI, "--batch", "--no-progress"]
    first = cc.run(args, course, check=False, **env)
    assert first.returncode == WAITING and "Submitted 18 request(s)" in first.stdout, first.stdout + first.stderr
    server.finish()
    second = cc.run(args, course, **env)  # another process: the batch id comes from the journal
    assert "ended: 18 answer(s) into the response cache" in second.stdout
    assert "0 model calls" in second.stdout and not server.live
    assert len(server.batch_ids()) == 1
    assert FAKE_OPENAI_KEY.encode() not in journal_bytes(course)


def test_grading_live_while_a_batch_is_open_warns_of_the_cost(course: Path, server: BatchServer,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    grade(course, capsys, "--batch")
    code, out, err = grade(course, capsys)
    assert code == 0, out + err
    assert "have not been collected" in err and "--batch" in err
    assert len(server.live) == 18


# ---------------------------------------------------------------- misconfigurations


def test_batch_needs_a_model_with_a_batch_api(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = grade(course, capsys, "--batch", model="local")
    assert code == 1
    assert "embedded model" in err and "has none" in err and "Grade without --batch" in err
    assert "openai:MODEL or anthropic:MODEL" in err
    code, _, err = grade(course, capsys, "--batch", model="mock")
    assert code == 1 and "has none" in err


def test_a_compatible_server_without_a_batch_endpoint(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with BatchServer(answer, batches=False) as bare:
        code, _, err = grade(course, capsys, "--batch", model=f"openai-compatible:{bare.url}/v1#smol")
        assert code == 1
        assert "has no batch endpoint (GET /batches answered HTTP 404)" in err and "without --batch" in err
        assert not bare.live
    with BatchServer(answer) as full:  # one that implements the Batch API is used like OpenAI's
        code, out, _ = grade(course, capsys, "--batch", model=f"openai-compatible:{full.url}/v1#smol")
        assert code == WAITING and "Submitted 18 request(s)" in out
        assert {line["body"]["model"] for line in full.input_lines(full.batch_ids()[0])} == {"smol"}


def test_a_missing_key_says_where_to_set_it(course: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = grade(course, capsys, "--batch", model=ANTHROPIC)
    assert code == 1 and "No API key for Anthropic" in err and "ANTHROPIC_API_KEY" in err


def test_batch_options_need_batch_and_the_cache(course: Path, server: BatchServer, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = grade(course, capsys, "--resubmit")
    assert code == 1 and "--resubmit only applies to batch grading" in err and "--batch --resubmit" in err
    code, _, err = grade(course, capsys, "--batch", "--batch-size", "0")
    assert code == 1 and "--batch-size 0 is not a positive number" in err
    monkeypatch.setenv("ATELIER_CACHE_ENABLED", "false")
    reload_settings()
    code, _, err = grade(course, capsys, "--batch")
    assert code == 1 and "the cache is turned off" in err and not server.batch_ids()


def test_two_batch_runs_at_once_never_submit_twice(course: Path, server: BatchServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    path = course / ".atelier" / "grading" / "ps1.batch-lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as other:  # the lock another run holds
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        code, _, err = grade(course, capsys, "--batch")
        assert code == 1 and "Another `atelier grade --batch` is running" in err
        assert not server.batch_ids()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == WAITING and len(server.batch_ids()) == 1


def test_batch_size_splits_the_requests(course: Path, server: BatchServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grade(course, capsys, "--batch", "--batch-size", "5")
    assert code == WAITING
    sizes = [len(server.input_lines(b)) for b in server.batch_ids()]
    assert sizes == [5, 5, 5, 3]
    server.finish()
    code, out, _ = grade(course, capsys, "--batch")
    assert code == 0 and out.count("ended: ") == 4 and "0 model calls, 18 cache hits" in out


# ---------------------------------------------------------------- the collector, alone


def test_requests_that_cannot_come_back_through_the_cache_are_sent_live() -> None:
    from promptatelier.grading.batch import _Collector
    from promptatelier.models import get_backend
    from promptatelier.models.batch_api import request_key

    set_key("openai", FAKE_OPENAI_KEY)
    real = get_backend(OPENAI)
    collector = _Collector("collector", real, True, errored=set())
    sampled = make_request("Write a poem.", temperature=0.8)
    seeded = make_request("Write a poem.", temperature=0.8, seed=3)  # OpenAI's seed is best effort
    steady = make_request("Name a colour.")
    for request in (sampled, seeded, steady):
        with pytest.raises(Exception, match="waiting for a batch"):
            collector.complete(request)
    assert set(collector.batch) == {request_key(real, steady)}
    assert set(collector.live) == collector.not_cacheable == {request_key(real, sampled), request_key(real, seeded)}
    collector = _Collector("collector", real, True, errored={request_key(real, steady)})
    with pytest.raises(Exception):
        collector.complete(steady)
    assert not collector.batch and set(collector.live) == {request_key(real, steady)}


def test_split_keeps_under_the_count_and_the_size() -> None:
    from promptatelier.models.batch_api import BatchAPI, split

    class Tiny(BatchAPI):
        max_requests = 3
        max_bytes = 200

        def line(self, custom_id: str, request: Any) -> dict[str, Any]:
            return {"custom_id": custom_id, "body": request.messages[0].content}

    items = [(f"id{i}", make_request("x" * (10 if i < 6 else 120))) for i in range(8)]
    parts = split(items, Tiny(None))
    assert [len(p) for p in parts] == [3, 3, 1, 1]  # 3 per batch, then two too big to share one
    assert [len(p) for p in split(items[:6], Tiny(None), limit=2)] == [2, 2, 2]


def test_requests_round_trip_through_the_journal_with_the_same_key() -> None:
    from promptatelier.models.batch_api import request_from_json, request_json

    request = make_request([{"role": "system", "content": "Réponds en JSON."}, {"role": "user", "content": "Ann, 30"}],
                           stop=["END"], json_schema={"type": "object", "properties": {"b": {}, "a": {}}}, seed=4)
    assert request_from_json(request_json(request)).fingerprint() == request.fingerprint()
