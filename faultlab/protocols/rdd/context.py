"""What a job receives as `sc`, and how a job runs: the job is plain Python that builds
RDDs lazily and calls actions; an action's result comes from whoever runs the job (the local
evaluator, or the simulated cluster's driver).

A job is run by re-execution: an action whose result this execution does not know yet
raises `ActionNeeded`; the runner computes it, remembers it and runs the job function again
from the start, every earlier action now answering from memory. Job functions only build
lineage between actions, so this is cheap, and it lets an event-driven driver run a job
written the way Spark users write them (`ranks.collect()` in the middle of a loop). RDD and
shuffle ids come out the same on every execution, so caches and checkpoints keyed by them
carry over.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from faultlab.errors import FaultlabError
from faultlab.protocols.rdd.lineage import DETERMINATE, RDD, slices

DEFAULT_PARTITIONS = 4


class JobError(FaultlabError):
    """A job that cannot run as written (an input file that does not exist, say)."""


class ActionNeeded(Exception):
    """An action this execution of the job has no result for yet."""

    def __init__(self, index: int, rdd: RDD, kind: str, arg: Any = None):
        super().__init__(f"action {index}: {kind} of {rdd!r}")
        self.index, self.rdd, self.kind, self.arg = index, rdd, kind, arg


class Context:
    """The `sc` of a job: sources of RDDs, and actions answered from `results`."""

    def __init__(self, files: dict[str, list[str]], results: list,
                 bugs: frozenset[str] = frozenset(), partitions: int = DEFAULT_PARTITIONS):
        self.files = files
        self.results = results
        self.bugs = bugs
        self.default_partitions = partitions
        self.rdds: list[RDD] = []
        self.shuffles = 0
        self.actions: list[tuple[int, str, Any]] = []  # (rdd id, kind, argument), in order

    def parallelize(self, records: Iterable, partitions: int | None = None) -> RDD:
        parts = slices(records, partitions or self.default_partitions)
        return RDD(self, "parallelize", [], len(parts),
                   lambda p, inputs, task: list(parts[p]), DETERMINATE)

    def text_file(self, path: str, partitions: int | None = None) -> RDD:
        """The lines of an input file on the storage node, in contiguous slices."""
        if path not in self.files:
            known = ", ".join(sorted(self.files)) or "none"
            raise JobError(f"no input file {path!r} (inputs: {known})")
        parts = slices(self.files[path], partitions or self.default_partitions)
        return RDD(self, "text_file", [], len(parts),
                   lambda p, inputs, task: list(parts[p]), DETERMINATE, path)

    def next_shuffle(self) -> int:
        self.shuffles += 1
        return self.shuffles - 1

    def action(self, rdd: RDD, kind: str, arg: Any = None):
        index = len(self.actions)
        self.actions.append((rdd.id, kind, arg))
        if index < len(self.results):
            return self.results[index]
        raise ActionNeeded(index, rdd, kind, arg)

    def partition_sizes(self, rdd: RDD) -> list[int]:
        """How many records each partition holds (zip_with_index's counting job)."""
        return self.action(rdd, "sizes")

    def keys_of(self, rdd: RDD) -> list:
        """Every key of a keyed RDD (sort_by_key's job for its range bounds)."""
        return self.action(rdd, "keys")


def action_result(kind: str, partitions: list[list]):
    """What an action returns, from the partitions of its RDD in order."""
    if kind == "collect":
        return [r for part in partitions for r in part]
    if kind == "count":
        return sum(len(part) for part in partitions)
    if kind == "sizes":
        return [len(part) for part in partitions]
    if kind == "keys":
        return [r[0] for part in partitions for r in part]
    if kind == "save":
        return None
    raise ValueError(f"unknown action {kind!r}")


@attrs.frozen
class Job:
    """A job as users write it: `function(sc, **params)` over input files (path -> lines)
    held by the storage node."""

    name: str
    function: Callable
    inputs: dict[str, list[str]] = attrs.field(factory=dict)
    params: dict[str, Any] = attrs.field(factory=dict)


def run_job(job: Job, execute: Callable[[Context, ActionNeeded], Any],
            bugs: frozenset[str] = frozenset()) -> tuple[Any, Context]:
    """Run `job`, computing each action with `execute(ctx, need)`: the job's return value
    and the context of its last (complete) execution."""
    results: list = []
    while True:
        ctx = Context(job.inputs, results, bugs)
        try:
            return job.function(ctx, **job.params), ctx
        except ActionNeeded as need:
            results.append(execute(ctx, need))
