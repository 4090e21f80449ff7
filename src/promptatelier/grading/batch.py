"""Batch grading: the steps behind `atelier grade ASSIGNMENT --batch`.

A provider's batch API answers at half the price of live requests, within 24 hours. Grading
does not change: each run of `--batch` takes one step towards a normal grading run that finds
every answer in the response cache.

1. Poll the batches the journal records for this assignment. While one runs, say so and stop.
   When one has ended, write each answer into the response cache (its custom_id is the
   request's cache key) and mark the batch done in the journal.
2. Collect the requests the grading would send that the cache does not hold: the grading runs
   as usual on a stand-in backend that serves cache hits and records the misses instead of
   sending them. A conversation's next turn, a chain's next step or a judge's verdict needs the
   answer before it, so a later run collects the next round.
3. Submit the misses as new batches (recorded in the journal) and stop, or, with nothing left to
   collect, let the normal grading run.

What cannot come back through the cache goes live when grading: a request that is not
reproducible (temperature above 0 without a seed the backend honours), one that errored in its
batch, and the judge's requests when the judge model has no batch API. A batch that failed,
expired or was cancelled stops the run with the way out: `--resubmit`, or grading live.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, ModelUnavailableError
from ..models.base import Backend, ChatRequest, Completion
from ..models.cache import cache_key

__all__ = ["BatchError", "BatchStep", "batch_step", "open_batches"]

COLLECTOR = "atelier-batch-collect"
_ids = itertools.count(1)
_collectors: dict[str, _Collector] = {}
_lock = threading.Lock()


class BatchError(BackendError):
    """A batch failed, expired or was cancelled before all its requests ran."""


@dataclass
class BatchStep:
    """What one `--batch` run did. `ready`: nothing left to wait for, grade now."""

    ready: bool
    lines: list[str] = field(default_factory=list)
    submitted: list[tuple[str, int]] = field(default_factory=list)  # (batch id, requests)
    running: list[str] = field(default_factory=list)
    ingested: int = 0  # answers written into the cache by this run
    cost_usd: float = 0.0  # what those answers cost, at the batch price
    not_cacheable: int = 0
    errored: int = 0
    live_judge: int = 0

    @property
    def message(self) -> str:
        return "\n".join(self.lines)


class _Collector(Backend):
    """Stands in for a backend while the grading's requests are collected: the response cache
    serves what it holds (complete_many looks there first, under the real backend's identity);
    a miss is recorded here instead of being sent, and fails as an outage would."""

    provider = COLLECTOR
    default_concurrency = 64

    def __init__(self, name: str, real: Backend, batchable: bool, errored: set[str]) -> None:
        super().__init__(name)
        self.real, self.batchable, self.errored = real, batchable, errored
        self.batch: dict[str, ChatRequest] = {}
        self.live: dict[str, ChatRequest] = {}
        self.not_cacheable: set[str] = set()

    @property
    def cache_identity(self) -> str:
        return self.real.cache_identity

    def reproducible(self, request: ChatRequest) -> bool:
        return self.real.reproducible(request)

    def complete(self, request: ChatRequest) -> Completion:
        validate = getattr(self.real, "_validate", None)
        if validate is not None:
            validate(request)  # what the backend cannot do fails here as it would live
        key = cache_key(self.real.cache_identity, request)
        if not self.real.reproducible(request):
            self.not_cacheable.add(key)
            self.live[key] = request
        elif self.batchable and key not in self.errored:
            self.batch[key] = request
        else:
            self.live[key] = request
        raise ModelUnavailableError(f"{self.real.name}: waiting for a batch", "")

    async def acomplete(self, request: ChatRequest) -> Completion:
        return self.complete(request)


def _factory(name: str, rest: str) -> Backend:
    return _collectors[name]


def _collector(real: Backend, batchable: bool, errored: set[str]) -> _Collector:
    from ..models.registry import register

    name = f"{COLLECTOR}:{next(_ids)}"
    with _lock:
        register(COLLECTOR, _factory)
        _collectors[name] = collector = _Collector(name, real, batchable, errored)
    return collector


def _has_batch_api(backend: Backend) -> bool:
    return getattr(backend, "provider", "") in ("openai", "anthropic")


def _collect(assignment: str, course: Any, model: str, judge: str, students: Sequence[str] | None, force: bool,
             errored: set[str]) -> list[_Collector]:
    """The collectors after a dry grading run: every request it would send, batchable or live."""
    from ..models import get_backend
    from . import evaluate_many
    from .cohort import pending_answers

    items = pending_answers(assignment, course=course, model=model, students=students, force=force)
    grading = _collector(get_backend(model), True, errored)
    collectors = [grading]
    judge_name = judge
    if judge and judge.strip() == model.strip():
        judge_name = grading.name
    elif judge and judge.strip() != "local":
        real = get_backend(judge)
        judging = _collector(real, _has_batch_api(real), errored)
        collectors.append(judging)
        judge_name = judging.name
    try:
        if items:
            _dry_run(evaluate_many, items, grading.name, judge_name)
    finally:
        with _lock:
            for c in collectors:
                _collectors.pop(c.name, None)
    return collectors


def _dry_run(evaluate_many: Any, items: list[tuple[str, Any, str]], model: str, judge: str) -> None:
    """Every item through the grading's own evaluation (what it would ask of the model). An item
    the evaluation fails on is left to the grading run, which sends it to manual grading."""
    try:
        evaluate_many(items, model=model, cases="all", judge_model=judge, progress=False)
    except (ConfigError, KeyboardInterrupt):
        raise
    except Exception:
        if len(items) == 1:
            return
        for item in items:
            _dry_run(evaluate_many, [item], model, judge)


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def _money(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 0.01 else f"${usd:.2g}"


def _ingest(journal: Any, record: Any, status: Any, store: Any) -> tuple[int, int, float]:
    """An ended batch's answers into the response cache, then the batch marked ended in the
    journal (in that order: a run stopped between the two reads the results again).
    Returns (answers, errored, cost)."""
    from ..models.batch_api import FAILED, ItemError, batch_api, request_from_json

    api = batch_api(record.model)
    requests = {k: request_from_json(t) for k, t in journal.batch_requests(record.id, "pending").items()}
    if status.state == FAILED:
        results: dict[str, Completion | ItemError] = {
            k: ItemError("unfinished", status.message or "the batch failed") for k in requests}
    else:
        results = api.results(record.id, requests)
    identity = api.backend.cache_identity
    outcomes: dict[str, tuple[str, str]] = {}
    answers, errored, cost = 0, 0, 0.0
    for key, result in results.items():
        if isinstance(result, Completion):
            store.put(identity, requests[key], result)
            outcomes[key] = ("done", "")
            answers += 1
            cost += result.cost_usd
        else:
            outcomes[key] = (result.kind, result.message[:500])
            errored += result.kind == "errored"
    journal.end_batch(record.id, status.state, outcomes, status.message, time.time())
    return answers, errored, cost


def batch_step(
    assignment: str,
    *,
    course: str | Path | Any = None,
    model: str | None = None,
    students: Sequence[str] | None = None,
    force: bool = False,
    resubmit: bool = False,
    limit: int | None = None,
    again: str | None = None,
) -> BatchStep:
    """One step of batch grading (see the module's docstring). `again` is the command to run
    next, for the messages; `limit` caps the requests per batch."""
    from ..config import settings
    from ..models import get_backend, get_cache
    from ..models.batch_api import batch_api, request_json, split
    from .course_dir import Course
    from .journal import Journal

    cfg = settings()
    again = again or f"atelier grade {assignment} --batch"
    if not cfg.cache_enabled:
        raise ConfigError("--batch brings answers back through the response cache, and the cache is turned off.",
                          "Turn it on ([cache] enabled = true in atelier.toml, or unset ATELIER_CACHE_ENABLED), "
                          "or grade without --batch.")
    course = course if isinstance(course, Course) else Course(course)
    model = model or cfg.grading_model
    api = batch_api(model)
    api.check()
    course.layout(assignment)  # an instructor's mistake (no such assignment) before anything is sent
    store = get_cache()
    step = BatchStep(ready=False)
    path = Journal.path_for(course, assignment)
    lock = _lock_step(path.with_suffix(".batch-lock"), again)
    journal = Journal(path)
    try:
        if resubmit:
            dropped = journal.drop_unfinished()
            step.lines.append(f"{dropped} request(s) that earlier batches never ran are collected again." if dropped
                              else "No batch left requests unrun: --resubmit has nothing to resubmit.")
        now = time.time()
        for record in journal.batches(open_only=True):
            status = batch_api(record.model).status(record.id)
            if status.running:
                step.running.append(record.id)
                done = f"{status.succeeded + status.errored} of {status.total}" if status.total else "none yet"
                step.lines.append(f"Batch {record.id} ({record.model}, {record.requests} requests, submitted "
                                  f"{_ago(now - record.submitted_at)}) is still running: {done} done.")
                continue
            answers, errored, cost = _ingest(journal, record, status, store)
            step.ingested += answers
            step.cost_usd += cost
            step.lines.append(f"Batch {record.id} ({record.model}) {status.state}: {answers} answer(s) into the "
                              f"response cache" + (f", {errored} request(s) failed in it" if errored else "")
                              + (f", {_money(cost)} at the batch price." if cost else "."))
        if step.running:
            step.lines.append(f"Nothing was graded. Run `{again}` again later (batches end within 24 hours).")
            return step
        unfinished = journal.unfinished()
        if unfinished:
            ended = {r.id: r for r in journal.batches()}
            what = "; ".join(f"batch {bid} {ended[bid].state}" + (f" ({ended[bid].note})" if ended[bid].note else "")
                             + f" with {n} request(s) never run" for bid, n in unfinished.items())
            raise BatchError(
                " ".join([*step.lines, f"{what[0].upper()}{what[1:]}. Nothing was graded."]),
                f"Run `{again} --resubmit` to submit those requests in a new batch (the answers that came back "
                f"are kept in the response cache), or `{again.removesuffix(' --batch')}` without --batch to send "
                "them live at full price." + (" Fix what the provider says first." if any(
                    ended[b].state == "failed" for b in unfinished) else ""),
            )
        errored = journal.keys_with("errored")
        collectors = _collect(assignment, course, model, cfg.judge_model, students, force, set(errored))
        for collector in collectors:
            if not collector.batch:
                continue
            capi = api if collector.real is get_backend(model) else batch_api(collector.real)
            if capi is not api:
                capi.check()
            for part in split(sorted(collector.batch.items()), capi, limit):
                batch_id = capi.submit(part)
                journal.add_batch(batch_id, collector.real.name, [(k, request_json(r)) for k, r in part], time.time())
                step.submitted.append((batch_id, len(part)))
                step.lines.append(f"Submitted {len(part)} request(s) in batch {batch_id} ({collector.real.name}).")
        step.not_cacheable = sum(len(c.not_cacheable) for c in collectors)
        step.errored = sum(len(set(c.live) & set(errored)) for c in collectors)
        step.live_judge = sum(len(c.live) for c in collectors[1:] if not c.batchable)
        if step.submitted:
            step.lines.append(
                f"Nothing was graded yet. Run `{again}` again later: it collects the answers when the batches "
                "have ended (within 24 hours, at half the price of live requests) and grades, or submits the next "
                "round (a conversation's next turn, a chain's next step and the judge's verdicts need the answers "
                "before them).")
            return step
        step.ready = True
        live = []
        if step.not_cacheable:
            live.append(f"{step.not_cacheable} not reproducible (temperature above 0 without a seed the model "
                        "honours), so they cannot come back through the cache")
        if step.errored:
            live.append(f"{step.errored} that failed in their batch")
        if step.live_judge:
            live.append(f"{step.live_judge} to the judge model {cfg.judge_model}, which has no batch API")
        step.lines.append("Every answer the batches could give is in the response cache: grading now."
                          + (f" Sent live instead: {'; '.join(live)}." if live else ""))
        return step
    finally:
        journal.close()
        lock.close()


def _lock_step(path: Path, again: str) -> Any:
    """An exclusive lock on the assignment's batch steps: two runs at once would submit the same
    requests twice (and pay twice). Released when the file is closed, also by a killed process."""
    handle = open(path, "a+b")  # noqa: SIM115 - held until the step ends
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not guarded
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError("Another `atelier grade --batch` is running for this assignment right now.",
                          f"Wait for it to finish, then run `{again}` again if it asks you to.") from None
    return handle


def open_batches(course: str | Path | Any, assignment: str) -> list[Any]:
    """The batches still open for `assignment` (none when it was never batch-graded)."""
    from .course_dir import Course
    from .journal import Journal

    course = course if isinstance(course, Course) else Course(course)
    path = Journal.path_for(course, assignment)
    if not path.is_file():
        return []
    journal = Journal(path)
    try:
        return journal.batches(open_only=True)
    finally:
        journal.close()

