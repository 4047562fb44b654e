"""Campaigns: one spec over many seeds, on any concurrent.futures executor.

Each seed runs in a worker as a pure function of its spec and returns a compact `SeedResult`
(the full history travels back only for failures, inside the bundle). Results are ordered by
seed, so a campaign reports the same whatever the executor or the number of jobs.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from faultlab import __version__
from faultlab.campaign.runner import RunResult, run
from faultlab.campaign.spec import RunSpec
from faultlab.histories.bundle import Bundle, write_bundle


@attrs.frozen
class SeedResult:
    seed: int
    fingerprint: str
    failed_checks: tuple[str, ...]
    explanations: tuple[str, ...]
    events: int
    sim_time_us: int
    wall_s: float
    stats: dict
    faults_fired: dict
    bundle: Bundle | None = None

    @property
    def failed(self) -> bool:
        return bool(self.failed_checks)


def make_bundle(result: RunResult) -> Bundle:
    return Bundle(spec=result.spec.to_dict(), fingerprint=result.fingerprint,
                  failing_checks=tuple(v.name for v in result.failed),
                  faultlab_version=__version__, history=result.history)


def run_seed(spec_doc: dict) -> SeedResult:
    """Worker entry point: plain data in, plain data out (picklable for any executor)."""
    result = run(RunSpec.from_dict(spec_doc))
    failed = result.failed
    return SeedResult(
        seed=result.spec.seed, fingerprint=result.fingerprint,
        failed_checks=tuple(v.name for v in failed),
        explanations=tuple(v.explanation for v in failed),
        events=result.events, sim_time_us=result.sim_time_us, wall_s=result.wall_s,
        stats=result.stats, faults_fired=result.faults_fired,
        bundle=make_bundle(result) if failed else None)


def bundle_name(spec: RunSpec) -> str:
    """e.g. primary-backup-ack-before-replicate-17.json"""
    return "-".join([spec.protocol, *spec.bugs, str(spec.seed)]) + ".json"


def save_bundle(bundle: Bundle, out_dir: str | Path) -> Path:
    spec = RunSpec.from_dict(bundle.spec)
    return write_bundle(Path(out_dir) / bundle_name(spec), bundle)


@attrs.frozen
class CampaignResult:
    spec: RunSpec
    results: tuple[SeedResult, ...]
    wall_s: float

    @property
    def failures(self) -> list[SeedResult]:
        return [r for r in self.results if r.failed]

    def check_failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.failures:
            for name in r.failed_checks:
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def totals(self, field: str) -> dict[str, int]:
        """Sum a per-run dict ("stats" or "faults_fired") over every seed."""
        total: dict[str, int] = {}
        for r in self.results:
            for k, v in getattr(r, field).items():
                total[k] = total.get(k, 0) + v
        return dict(sorted(total.items()))


def run_campaign(spec: RunSpec, seeds: Iterable[int], *, jobs: int = 1,
                 executor: cf.Executor | None = None,
                 on_result: Callable[[SeedResult], None] | None = None) -> CampaignResult:
    """Run `spec` once per seed. Uses `executor` if given, else a process pool of `jobs`
    workers (never more than seeds; this process when jobs == 1). Interrupted (Ctrl-C,
    SIGTERM), it stops its own workers at once and re-raises."""
    import time

    started = time.perf_counter()
    docs = [attrs.evolve(spec, seed=s).to_dict() for s in seeds]
    results = run_all(run_seed, docs, jobs=jobs, executor=executor, on_result=on_result)
    results.sort(key=lambda r: r.seed)
    return CampaignResult(spec, tuple(results), time.perf_counter() - started)


def run_all(worker: Callable, docs: list, *, jobs: int = 1, executor: cf.Executor | None = None,
            on_result: Callable | None = None) -> list:
    """`worker(doc)` for every doc, in completion order, on `executor` or a process pool
    of `jobs` workers (this process when jobs == 1); `on_result` sees each as it comes.
    Interrupted, it stops its own workers at once and re-raises."""
    results: list = []

    def collect(r) -> None:
        results.append(r)
        if on_result is not None:
            on_result(r)

    jobs = max(1, min(jobs, len(docs)))
    if executor is None and jobs == 1:
        for doc in docs:
            collect(worker(doc))
        return results
    own = executor is None
    pool = executor or cf.ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(worker, doc) for doc in docs]
        for fut in cf.as_completed(futures):
            collect(fut.result())
    except BaseException:
        if own:
            _stop_workers(pool)
        raise
    if own:
        pool.shutdown(cancel_futures=True)
    return results


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """End a pool's workers now rather than after their current run, and the pool with them:
    a SIGTERM reaches only the parent (Ctrl-C reaches the whole process group). Workers
    write nothing, so killing them loses only runs in progress."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    # A worker killed while sending its result leaves the pool's manager thread waiting
    # for the rest of the message, and the interpreter would wait for that thread at exit.
    # With our end of the result pipe closed too, the dead workers' ends are the last: the
    # manager reads end-of-file, calls the pool broken and ends.
    queue = getattr(pool, "_result_queue", None)
    if queue is not None:
        queue._writer.close()
    # Wait for that thread to close its wake-up pipe: the pool's exit hook writes to the
    # pipe without the pool's lock, and racing the close it printed a traceback (EBADF)
    # after one SIGTERM in fifteen.
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
        manager.join(timeout=10)
