"""Lineage correctness, judged on plain data: a job's result under faults against the plain
local evaluation of the same lineage, and the scheduler's task log against the losses it
recorded.

- **Results.** A job that completed must return what the local evaluation returns: records
  compared as a multiset (a shuffle delivers them in arrival order), floats to a relative
  1e-9 (sums in another order); a job may instead abort with an explicit error — an abort is
  correct, a wrong answer never is.
- **Minimal recomputation.** A task may run again only if what it produces is missing: a
  map task only while its output is unregistered, a result task only while its partition
  is undelivered. An output may be unregistered only for a loss (its executor lost or
  restarted, a fetch from it failed, the data gone from it) or because the stage it
  depends on is indeterminate and reran (SPARK-23243): never to rerun what was not lost.

- **Checkpoints truncate lineage.** Once every partition of a checkpointed RDD is kept
  (reliably on the storage node, or locally on the executors), no later task of the job
  recomputes a shuffle that lies behind it only: recovery reads the checkpoint.

The task log is the driver's (protocols/rdd/driver.py): tuples whose second field names the
event — launch, done, failed, output-lost, block-lost, results-dropped, executor-lost, abort.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from faultlab.checkers.verdict import Verdict

REL_TOL = 1e-9
LOSSES = ("executor", "gone from its executor", "fetch from")


def same_result(got, expected) -> bool:
    """Equal as results: lists as multisets of records, numbers to a tolerance."""
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        if len(got) != len(expected):
            return False
        if all(isinstance(x, (int, float)) for x in [*got, *expected]):
            return all(_close(a, b) for a, b in zip(got, expected))  # a vector: in order
        rest = list(got)
        for e in sorted(expected, key=_shape):
            match = next((i for i, g in enumerate(rest) if same_result(g, e)), None)
            if match is None:
                return False
            rest.pop(match)
        return True
    if isinstance(expected, float) or isinstance(got, float):
        return isinstance(got, (int, float)) and _close(got, expected)
    return got == expected


def _close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


def _shape(x) -> str:
    """A sort key that keeps records comparable whatever their types."""
    return repr(type(x)) + repr(x)[:40]


def judge_results(completed: list[tuple[int, str, str, object]],
                  expected: Callable[[str], object]) -> Verdict:
    """`completed`: (op index, job name, "ok" or "fail", result or error) of each job;
    `expected(name)`: the local evaluation's result."""
    checked = aborted = 0
    for index, name, outcome, value in completed:
        if outcome != "ok":
            aborted += 1
            continue
        checked += 1
        want = expected(name)
        if not same_result(value, want):
            return Verdict("lineage-result", False,
                           f"op {index}: job {name} returned {_diff(value, want)}",
                           {"job": name}, ops=(index,))
    return Verdict("lineage-result", True, f"{checked} job results equal the local "
                   f"evaluation; {aborted} jobs aborted explicitly",
                   {"measured": {"jobs-checked": checked, "jobs-aborted": aborted}})


def _diff(got, want) -> str:
    """What differs, told as rows missing and rows extra when both are lists."""
    if isinstance(got, list) and isinstance(want, list):
        g = Counter(map(repr, got))
        w = Counter(map(repr, want))
        missing, extra = w - g, g - w
        parts = []
        if missing:
            parts.append(f"{sum(missing.values())} rows missing (e.g. "
                         f"{', '.join(list(missing)[:3])})")
        if extra:
            parts.append(f"{sum(extra.values())} rows extra or changed (e.g. "
                         f"{', '.join(list(extra)[:3])})")
        if parts:
            return "; ".join(parts) + f", against the local evaluation's {len(want)} rows"
    return f"{_short(got)}, where the local evaluation gives {_short(want)}"


def _short(x) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def judge_recomputation(log: list[tuple], indeterminate: Callable[[int, int], bool]
                        ) -> Verdict:
    """`indeterminate(job, shuffle)`: whether that shuffle's map side may write other data
    on a rerun (the lineage's levels)."""
    available: set = set()   # (job, "map", shuffle, partition) outputs registered
    delivered: set = set()   # (job, action, "result", rdd, partition) partitions delivered
    reruns = 0
    for entry in log:
        t, kind = entry[0], entry[1]
        if kind == "launch":
            _, _, job, action, what, ident, p, attempt, executor = entry
            key = (job, what, ident, p) if what == "map" else (job, action, what, ident, p)
            if key in (available if what == "map" else delivered):
                return Verdict("minimal-recomputation", False,
                               f"at t={t / 1e6:.3f}s job {job} reran the {what} task of "
                               f"{'shuffle' if what == 'map' else 'RDD'} {ident} partition "
                               f"{p} on {executor} although its output was not lost",
                               {"job": job}, time=t)
            reruns += attempt > 0
        elif kind == "done":
            _, _, job, action, what, ident, p, _, _ = entry
            if what == "map":
                available.add((job, what, ident, p))
            else:
                delivered.add((job, action, what, ident, p))
        elif kind == "output-lost":
            _, _, job, sid, m, why, origin = entry
            real = why.startswith(LOSSES) or (why == "indeterminate rerun"
                                             and indeterminate(job, origin))
            if not real:
                return Verdict("minimal-recomputation", False,
                               f"at t={t / 1e6:.3f}s job {job} threw away the output of "
                               f"shuffle {sid} partition {m}, which was not lost ({why})",
                               {"job": job}, time=t)
            available.discard((job, "map", sid, m))
        elif kind == "results-dropped":
            _, _, job, action, why = entry
            return Verdict("minimal-recomputation", False,
                           f"at t={t / 1e6:.3f}s job {job} threw away delivered result "
                           f"partitions ({why})", {"job": job}, time=t)
    return Verdict("minimal-recomputation", True, f"{reruns} tasks reran, each for a loss",
                   {"measured": {"tasks-rerun": reruns}})


def judge_truncation(log: list[tuple], partitions: Callable[[int, int], int],
                     behind: Callable[[int, int, int, int], bool]) -> Verdict:
    """`partitions(job, rdd)`: how many partitions the RDD has; `behind(job, action, shuffle,
    rdd)`: whether every path from the action's RDD to that shuffle passes through `rdd`."""
    kept: dict[tuple[int, int], set[int]] = {}  # (job, rdd) -> partitions checkpointed
    complete: dict[int, dict[int, int]] = {}    # job -> RDD checkpointed whole -> in action
    action_now: dict[int, int] = {}             # job -> the action its last launch served
    for entry in log:
        t, kind = entry[0], entry[1]
        if kind == "checkpointed":
            _, _, job, rdd, p, _ = entry
            parts = kept.setdefault((job, rdd), set())
            parts.add(p)
            if len(parts) == partitions(job, rdd):
                complete.setdefault(job, {}).setdefault(rdd, action_now.get(job, 0))
        elif kind == "launch":
            action_now[entry[2]] = entry[3]
            if entry[4] != "map":
                continue
            _, _, job, action, _, sid, p, _, executor = entry
            # actions planned after the checkpoint was whole must read it
            for rdd, when in sorted(complete.get(job, {}).items()):
                if action > when and behind(job, action, sid, rdd):
                    return Verdict("checkpoint-truncates", False,
                                   f"at t={t / 1e6:.3f}s job {job} recomputed shuffle {sid} "
                                   f"partition {p}, which lies behind RDD {rdd}'s complete "
                                   "checkpoint", {"job": job}, time=t)
    n = sum(len(v) for v in complete.values())
    return Verdict("checkpoint-truncates", True,
                   f"{n} complete checkpoints, none recomputed behind")
