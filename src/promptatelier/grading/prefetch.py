"""Runs the embedded model in several processes at once, to fill the response cache.

llama.cpp decodes one request at a time in a process, and generates on one thread (a 135M
model's matrices are too small for two threads to share: see models/local.py), so one process
leaves the other cores idle while it generates. One process per core, each on one thread,
produces more tokens (1.35x on two cores, bench/bench_prefetch.py). `prefetch` runs evaluations in such worker
processes only to fill the shared response cache; the caller then evaluates as usual, and each
of its requests is a cache hit. The results never depend on it: only reproducible requests are
cached (temperature 0, or a seed), llama.cpp gives the same text whatever its thread count, and
whatever a worker did not cache (an error, a crash) the caller computes and reports itself.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

from .runner import Item, evaluate_many


def default_jobs(model: str | None) -> int:
    """How many worker processes `prefetch` uses for `model`: one per usable core, at most 8,
    for the embedded model (ATELIER_JOBS overrides); 1 (no workers) for every other backend,
    whose server already serves requests side by side, and when the response cache is off."""
    from ..config import settings
    from ..models.local import MAX_THREADS, env_count, usable_cpus
    from ..models.registry import parse_model_string

    cfg = settings()
    if parse_model_string(model or cfg.model)[0] != "local" or not cfg.cache_enabled:
        return 1
    return env_count("ATELIER_JOBS") or min(usable_cpus(), MAX_THREADS)


def prefetch(items: list[Item], *, model: str | None, jobs: int | None = None, cases: str = "all",
             temperature: float | None = 0.0, progress: bool = False) -> int:
    """Evaluate `items` in `jobs` worker processes (default: `default_jobs(model)`), each with
    its own copy of the model on cores // jobs threads, so that their requests are in the
    response cache. Returns the number of workers used (1: nothing was done here)."""
    jobs = default_jobs(model) if jobs is None else jobs
    jobs = min(jobs, len(items))
    if jobs <= 1:
        return 1
    from ..models.local import usable_cpus

    threads = max(1, usable_cpus() // jobs)
    # spawn, not fork: a forked child would inherit a loaded llama.cpp and its threads' locks
    context = multiprocessing.get_context("spawn")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=f"model runs, {jobs} processes", unit="prompt", file=sys.stderr)
    failed: list[str] = []
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(threads,)) as pool:
        # one task per item, longest first (most cases), so the last tasks are short ones
        order = sorted(range(len(items)), key=lambda i: -_size(items[i]))
        futures = [pool.submit(_evaluate, items[i], model, cases, temperature) for i in order]
        for future in as_completed(futures):
            error = future.exception()
            if error is not None and len(failed) < 3:
                failed.append(f"{type(error).__name__}: {error}")
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    if failed:
        print("Some model runs in worker processes failed; they run again in this process, which "
              "reports any error: " + "; ".join(failed), file=sys.stderr)
    return jobs


def _size(item: Item) -> int:
    return len(getattr(item[0], "cases", ()))


def _start_worker(threads: int) -> None:
    # read when the model loads, which happens in this worker's first request
    os.environ["ATELIER_LOCAL_THREADS"] = str(threads)


def _evaluate(item: Item, model: str | None, cases: str, temperature: float | None) -> None:
    evaluate_many([item], model=model, cases=cases, temperature=temperature)


__all__ = ["default_jobs", "prefetch"]
