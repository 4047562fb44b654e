"""RDDs as Spark defines them: immutable, partitioned collections built lazily from their
parents by transformations, each knowing how to compute one partition from its inputs.

An RDD's dependencies are narrow (a partition reads one partition of a parent:
`OneToOne`, or `Range` for a union) or wide (`Shuffle`: a partition reads one bucket of
every partition of the parent, after the parent's records were partitioned by key, by range
or round-robin). Stages are cut at shuffles (stages.py). Nothing here runs anything: the
local evaluator (local.py) and the simulated cluster compute partitions through the same
`RDD.compute` and `Shuffle.write`.

Determinism levels, as Spark tracks them (SPARK-23243): `determinate` (a rerun gives the
same records in the same order), `unordered` (the same records, perhaps in another order:
the output of a shuffle, read in arrival order) and `indeterminate` (a rerun may give other
records: an order-sensitive step over unordered input, or a random function).
"""
from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Callable, Iterable
from typing import Any

import attrs

DETERMINATE, UNORDERED, INDETERMINATE = "determinate", "unordered", "indeterminate"
_RANK = {DETERMINATE: 0, UNORDERED: 1, INDETERMINATE: 2}


def worst(*levels: str) -> str:
    """The least deterministic of `levels`."""
    return max(levels, key=_RANK.__getitem__)


def stable_hash(value) -> int:
    """A hash of a record or key that is the same in every process (Python's hash of a
    string is not)."""
    return int.from_bytes(hashlib.blake2b(repr(value).encode(), digest_size=8).digest(), "big")


@attrs.frozen
class TaskContext:
    """What a partition's computation may know about the task running it: random functions
    draw from `rng`, seeded by the job, the RDD, the partition and the task, so every
    computation draws anew (that is what makes them indeterminate) and a replay of the run
    draws the same."""

    partition: int
    task: int = 0
    seed: int = 0

    def rng(self, rdd_id: int) -> random.Random:
        return random.Random(f"{self.seed}:{rdd_id}:{self.partition}:{self.task}")


# ---- dependencies ----------------------------------------------------------------------------

@attrs.define(eq=False)
class OneToOne:
    """Partition p of the child reads partition p of the parent."""

    parent: RDD

    def parents_of(self, p: int) -> list[int]:
        return [p]


@attrs.define(eq=False)
class Range:
    """A union's slice: child partitions [offset, offset + n) read the parent's 0..n-1."""

    parent: RDD
    offset: int

    def parents_of(self, p: int) -> list[int]:
        q = p - self.offset
        return [q] if 0 <= q < self.parent.partitions else []


@attrs.define(eq=False)
class Shuffle:
    """A wide dependency: every partition of `parent` is split into `partitions` buckets by
    `scheme` ("hash" of the key, "range" of the key over `bounds`, or "round-robin"), after
    `combine` merges values of equal keys within the map partition when given."""

    id: int
    parent: RDD
    partitions: int
    scheme: str
    combine: Callable | None = None
    bounds: list | None = None
    sort_first: bool = True  # round-robin: sort the map partition first (SPARK-23207's fix)

    def write(self, records: list, map_partition: int) -> list[list]:
        """The map side: the buckets of one map partition, one per reduce partition."""
        n = self.partitions
        buckets: list[list] = [[] for _ in range(n)]
        if self.combine is not None:
            merged: dict = {}
            for k, v in records:
                merged[k] = self.combine(merged[k], v) if k in merged else v
            records = list(merged.items())
        if self.scheme == "round-robin":
            if self.sort_first:  # the order of the records no longer matters, only which
                records = sorted(records, key=stable_hash)
            start = random.Random(map_partition).randrange(n)
            for i, record in enumerate(records):
                buckets[(start + i) % n].append(record)
        elif self.scheme == "range":
            for record in records:
                buckets[bisect.bisect_left(self.bounds, record[0])].append(record)
        else:
            for record in records:
                buckets[stable_hash(record[0]) % n].append(record)
        return buckets


# ---- RDDs ------------------------------------------------------------------------------------

class RDD:
    """One node of a job's lineage. `compute(partition, inputs, task)` makes a partition
    from the records of its inputs (one list per dependency that feeds it)."""

    def __init__(self, ctx, op: str, deps: list, partitions: int, compute: Callable,
                 level: str, label: str = ""):
        self.ctx = ctx
        self.id = len(ctx.rdds)
        ctx.rdds.append(self)
        self.op = op
        self.label = label
        self.deps = deps
        self.partitions = partitions
        self._compute = compute
        self.level = level
        self.storage: str | None = None  # "memory" (cache) or "local-checkpoint"
        self.checkpointed = False          # reliable checkpoint to the storage node

    def __repr__(self) -> str:
        return f"RDD {self.id} {self.op}{f' {self.label}' if self.label else ''}"

    def compute(self, partition: int, inputs: list[list], task: TaskContext) -> list:
        return self._compute(partition, inputs, task)

    def inputs_of(self, p: int) -> list[tuple[Any, int]]:
        """(dependency, the parent partition or the shuffle bucket it reads) for partition
        p, in the order `compute` takes them."""
        out = []
        for dep in self.deps:
            if isinstance(dep, Shuffle):
                out.append((dep, p))
            else:
                out.extend((dep, q) for q in dep.parents_of(p))
        return out

    # ---- narrow transformations -----------------------------------------------------------

    def _narrow(self, op: str, per_partition: Callable, level: str | None = None,
                label: str = "") -> RDD:
        return RDD(self.ctx, op, [OneToOne(self)], self.partitions,
                   lambda p, inputs, task: per_partition(inputs[0], task),
                   level or self.level, label)

    def map(self, f: Callable) -> RDD:
        return self._narrow("map", lambda rs, t: [f(r) for r in rs])

    def filter(self, f: Callable) -> RDD:
        return self._narrow("filter", lambda rs, t: [r for r in rs if f(r)])

    def flat_map(self, f: Callable) -> RDD:
        return self._narrow("flat_map", lambda rs, t: [x for r in rs for x in f(r)])

    def map_partitions(self, f: Callable) -> RDD:
        """`f(records)` returns the partition's new records."""
        return self._narrow("map_partitions", lambda rs, t: list(f(list(rs))))

    def map_values(self, f: Callable) -> RDD:
        return self._narrow("map_values", lambda rs, t: [(k, f(v)) for k, v in rs])

    def key_by(self, f: Callable) -> RDD:
        return self._narrow("key_by", lambda rs, t: [(f(r), r) for r in rs])

    def map_random(self, f: Callable) -> RDD:
        """`f(record, rng)`: a random function, drawing anew on every attempt
        (indeterminate, as Spark's rand())."""
        rdd_id = len(self.ctx.rdds)

        def run(rs, task):
            rng = task.rng(rdd_id)
            return [f(r, rng) for r in rs]
        # BUG rand-key-marked-determinate: the random function's output is taken to be as
        # repeatable as its input
        level = self.level if "rand-key-marked-determinate" in self.ctx.bugs else INDETERMINATE
        return self._narrow("map_random", run, level)

    def sample(self, fraction: float, seed: int = 0) -> RDD:
        """Each record kept with probability `fraction`, drawn per partition from `seed`:
        the same records only if the partition's order is the same."""
        rdd_id = len(self.ctx.rdds)

        def run(rs, task):
            rng = random.Random(f"sample:{seed}:{rdd_id}:{task.partition}")
            return [r for r in rs if rng.random() < fraction]
        return self._narrow("sample", run, _order_sensitive(self.level), f"{fraction}")

    def zip_with_index(self) -> RDD:
        """(record, index) numbered across partitions in order; counts each partition first
        (an action, as Spark does)."""
        sizes = self.ctx.partition_sizes(self)
        offsets = [sum(sizes[:p]) for p in range(len(sizes))]
        return RDD(self.ctx, "zip_with_index", [OneToOne(self)], self.partitions,
                   lambda p, inputs, task: [(r, offsets[p] + i)
                                            for i, r in enumerate(inputs[0])],
                   _order_sensitive(self.level))

    def union(self, other: RDD) -> RDD:
        deps = [Range(self, 0), Range(other, self.partitions)]
        return RDD(self.ctx, "union", deps, self.partitions + other.partitions,
                   lambda p, inputs, task: list(inputs[0]), worst(self.level, other.level))

    # ---- wide transformations -------------------------------------------------------------

    def _shuffled(self, op: str, scheme: str, partitions: int | None, after: Callable,
                  level: str, combine=None, bounds=None, label: str = "",
                  sort_first: bool = True) -> RDD:
        n = partitions or self.partitions
        dep = Shuffle(self.ctx.next_shuffle(), self, n, scheme, combine, bounds,
                      sort_first=sort_first)
        return RDD(self.ctx, op, [dep], n, lambda p, inputs, task: after(inputs[0]),
                   level, label)

    def _after_shuffle(self) -> str:
        """A shuffle's output is read in arrival order: unordered, unless what was written
        may itself differ on a rerun."""
        return INDETERMINATE if self.level == INDETERMINATE else UNORDERED

    def partition_by(self, partitions: int) -> RDD:
        return self._shuffled("partition_by", "hash", partitions, list, self._after_shuffle())

    def reduce_by_key(self, f: Callable, partitions: int | None = None) -> RDD:
        def reduce(records):
            out: dict = {}
            for k, v in records:
                out[k] = f(out[k], v) if k in out else v
            return list(out.items())
        return self._shuffled("reduce_by_key", "hash", partitions, reduce,
                              self._after_shuffle(), combine=f)

    def group_by_key(self, partitions: int | None = None) -> RDD:
        def group(records):
            out: dict = {}
            for k, v in records:
                out.setdefault(k, []).append(v)
            return list(out.items())
        return self._shuffled("group_by_key", "hash", partitions, group,
                              self._after_shuffle())

    def distinct(self, partitions: int | None = None) -> RDD:
        return (self.map(lambda r: (r, None))
                .reduce_by_key(lambda a, b: a, partitions).map(lambda kv: kv[0]))

    def join(self, other: RDD, partitions: int | None = None) -> RDD:
        """Inner join of two keyed RDDs: (k, (v, w)) for every pair of values of a key."""
        n = partitions or max(self.partitions, other.partitions)
        deps = [Shuffle(self.ctx.next_shuffle(), self, n, "hash"),
                Shuffle(self.ctx.next_shuffle(), other, n, "hash")]

        def cogroup(p, inputs, task):
            right: dict = {}
            for k, w in inputs[1]:
                right.setdefault(k, []).append(w)
            return [(k, (v, w)) for k, v in inputs[0] for w in right.get(k, ())]
        level = worst(self._after_shuffle(), other._after_shuffle())
        return RDD(self.ctx, "join", deps, n, cogroup, level)

    def sort_by_key(self, ascending: bool = True, partitions: int | None = None) -> RDD:
        """Sorted by key across partitions: range bounds from the keys (an action, as
        Spark's sampling job), then each partition sorted (determinate: Spark's rule for a
        shuffle with a key ordering)."""
        n = partitions or self.partitions
        keys = sorted(self.ctx.keys_of(self))
        bounds = [keys[len(keys) * i // n] for i in range(1, n)] if keys else []

        def sort(records):
            return sorted(records, key=lambda kv: kv[0], reverse=not ascending)
        level = INDETERMINATE if self.level == INDETERMINATE else DETERMINATE
        rdd = self._shuffled("sort_by_key", "range", n, sort, level, bounds=bounds)
        if not ascending:  # the last range first
            return RDD(self.ctx, "reverse_partitions", [_Reversed(rdd)], n,
                       lambda p, inputs, task: list(inputs[0]), rdd.level)
        return rdd

    def repartition(self, partitions: int) -> RDD:
        """Round-robin into `partitions`, as Spark's repartition. Each map partition is
        sorted first, so where a record goes depends on which records the partition holds,
        not on their order (SPARK-23207's fix)."""
        sort_first = "round-robin-without-sort" not in self.ctx.bugs
        # BUG round-robin-without-sort: with sort_first off, rows go round-robin in their
        # arrival order, yet the output is still taken as repeatable as the input
        return self._shuffled("repartition", "round-robin", partitions, list,
                              self._after_shuffle(), sort_first=sort_first)

    # ---- persistence ----------------------------------------------------------------------

    def cache(self) -> RDD:
        self.storage = "memory"
        return self

    persist = cache

    def checkpoint(self) -> RDD:
        """Write the partitions to the reliable storage node when first computed; later
        reads (recovery included) start there: the lineage before it is cut."""
        self.checkpointed = True
        return self

    def local_checkpoint(self) -> RDD:
        """Keep the partitions on the executors' disks and cut the lineage: fast, but a
        lost block cannot be recomputed, and the job fails."""
        self.storage = "local-checkpoint"
        return self

    # ---- actions --------------------------------------------------------------------------

    def collect(self) -> list:
        return self.ctx.action(self, "collect")

    def count(self) -> int:
        return self.ctx.action(self, "count")

    def reduce(self, f: Callable):
        values = self.ctx.action(self, "collect")
        if not values:
            raise ValueError("reduce of an empty RDD")
        out = values[0]
        for v in values[1:]:
            out = f(out, v)
        return out

    def save(self, path: str) -> None:
        self.ctx.action(self, "save", path)


@attrs.define(eq=False)
class _Reversed:
    """A descending sort's partitions: child p reads parent n-1-p."""

    parent: RDD

    def parents_of(self, p: int) -> list[int]:
        return [self.parent.partitions - 1 - p]


def _order_sensitive(level: str) -> str:
    """The level of a step whose output depends on its input's order (sample, zip with
    index, round-robin without the sort)."""
    return DETERMINATE if level == DETERMINATE else INDETERMINATE


def slices(records: Iterable, partitions: int) -> list[list]:
    """`records` cut into `partitions` contiguous slices, as Spark's parallelize does."""
    records = list(records)
    n = len(records)
    return [records[n * i // partitions: n * (i + 1) // partitions]
            for i in range(partitions)]
