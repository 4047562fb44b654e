"""The plain local evaluation of a job's lineage: every partition computed on one machine,
in order, no faults. It is the oracle the lineage checker compares a faulty run with, and
what `faultlab lineage` runs to draw a job."""
from __future__ import annotations

from typing import Any

from faultlab.protocols.rdd.context import ActionNeeded, Context, Job, action_result, run_job
from faultlab.protocols.rdd.lineage import RDD, Shuffle, TaskContext


class LocalRunner:
    """Computes actions partition by partition. A cached or checkpointed RDD keeps the
    partitions its first computation made, across actions, as a cluster does when nothing
    is lost; everything else is recomputed per action."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.kept: dict[tuple[int, int], list] = {}
        self.saved: dict[str, list] = {}  # path -> records written by `save`

    def execute(self, ctx: Context, need: ActionNeeded) -> Any:
        memo: dict = {}
        parts = [self.partition(need.rdd, p, memo) for p in range(need.rdd.partitions)]
        if need.kind == "save":
            self.saved[need.arg] = [r for part in parts for r in part]
        return action_result(need.kind, parts)

    def partition(self, rdd: RDD, p: int, memo: dict) -> list:
        key = (rdd.id, p)
        if key in self.kept:
            return self.kept[key]
        if key not in memo:
            inputs = [self._read(dep, q, memo) if isinstance(dep, Shuffle)
                      else self.partition(dep.parent, q, memo)
                      for dep, q in rdd.inputs_of(p)]
            memo[key] = rdd.compute(p, inputs, TaskContext(p, 0, self.seed))
            if rdd.storage or rdd.checkpointed:
                self.kept[key] = memo[key]
        return memo[key]

    def _read(self, dep: Shuffle, bucket: int, memo: dict) -> list:
        """One reduce partition's input: its bucket of every map partition, in map order."""
        key = ("shuffle", dep.id)
        if key not in memo:
            memo[key] = [dep.write(self.partition(dep.parent, m, memo), m)
                         for m in range(dep.parent.partitions)]
        return [r for buckets in memo[key] for r in buckets[bucket]]


def evaluate(job: Job, bugs: frozenset[str] = frozenset(), seed: int = 0):
    """The job's result computed locally, and the context of its complete execution."""
    runner = LocalRunner(seed)
    return run_job(job, runner.execute, bugs)
