"""An executor: runs the tasks the driver sends it, keeps cached blocks in memory and shuffle
outputs and local checkpoints on its local disk, and serves shuffle buckets to the others.

A task first walks its partition's lineage to learn what it must fetch (shuffle buckets
from the executors that wrote them, reliable checkpoints from the storage node), fetches
them, then computes the partition by running the user's functions for real, and reports
after simulated time proportional to the records it processed. A bucket that cannot be
fetched fails the task with a fetch failure naming the map output; the driver decides what
to rerun. A crash loses everything: no external shuffle service keeps the files.
"""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.protocols.rdd.lineage import RDD, Shuffle, TaskContext
from faultlab.sim.node import Node, canonical

DRIVER, STORAGE = "driver", "storage"


@attrs.define(eq=False)
class Task:
    """What the driver sends: compute `partition` of `rdd` (the last RDD of the stage) and,
    for a map task, write `shuffle`'s buckets. The RDD travels by reference, as Spark ships
    its serialized closures; everything else is plain data. A task is its id: the driver
    never reuses one."""

    id: int
    job: int
    stage: int
    rdd: RDD
    partition: int
    attempt: int
    shuffle: Shuffle | None
    map_outputs: dict   # shuffle id -> executor holding each map partition's buckets
    checkpoints: dict   # (rdd id, partition) -> the task whose checkpoint write counts
    local_checkpoints: dict  # (rdd id, partition) -> executor holding the block
    seed: int
    write_checkpoints: bool = True  # keep checkpointed partitions as this task computes them

    def __repr__(self) -> str:  # how it enters the trace fingerprint and state()
        return f"task {self.id} stage {self.stage} rdd {self.rdd.id} p{self.partition}"

    def __eq__(self, other) -> bool:
        return isinstance(other, Task) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class Executor(Node):
    def start(self) -> None:
        incarnation = self.ctx.disk.get("incarnation", 0) + 1
        self.ctx.disk.put("incarnation", incarnation)
        self.ctx.disk.sync()
        self.incarnation = incarnation
        self.cache: dict[tuple[int, int], list] = {}        # memory
        self.local: dict[tuple[int, int], list] = {}        # local-checkpoint blocks (disk)
        self.outputs: dict[tuple[int, int], list] = {}      # (shuffle, map partition) -> buckets
        self.running: dict[int, dict] = {}                   # task id -> its progress
        self.job = 0                                         # the job its data belongs to
        self._heartbeat()

    def recover(self) -> None:
        self.start()  # a new process: nothing of the old one survives

    def state(self):
        return canonical({"incarnation": self.incarnation, "job": self.job,
                          "cache": self.cache,
                          "local": self.local, "outputs": self.outputs,
                          "running": {t: {k: v for k, v in r.items() if k != "task"}
                                      | {"task": repr(r["task"])}
                                      for t, r in self.running.items()},
                          "timers": self.ctx.timers()})

    def on_data_loss(self, what: str) -> None:
        if what == "memory":
            self.cache.clear()
        else:
            self.local.clear()
            self.outputs.clear()
        self._heartbeat()  # the driver learns at once what this executor still holds

    def _heartbeat(self) -> None:
        self.ctx.send(DRIVER, ("heartbeat", self.incarnation, tuple(sorted(self.cache)),
                               tuple(sorted(self.local)), tuple(sorted(self.outputs))))
        self.ctx.set_timer("heartbeat", self.config["heartbeat_us"])

    def on_timer(self, name: str, data: Any) -> None:
        if name == "heartbeat":
            self._heartbeat()
        elif name.startswith("fetch:"):
            run = self.running.get(data)
            if run is not None and run["waiting"]:
                self._fail(run, "fetch-failed", min(run["waiting"]))
        elif name.startswith("done:"):
            self._report(data)

    def on_message(self, src: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "task":
            self._begin(msg[1])
        elif kind in ("fetch", "fetch-block"):  # ids are per job: only this job's data
            _, task_id, job, key = msg
            data = None
            if job == self.job and kind == "fetch":
                buckets = self.outputs.get((key[1], key[2]))
                data = None if buckets is None else buckets[key[3]]
            elif job == self.job:
                data = self.local.get(key[1:])
            self.ctx.send(src, ("fetched", task_id, key, data))
        elif kind == "fetched":
            self._fetched(*msg[1:])
        elif kind == "written":
            self._written(*msg[1:])

    # ---- a task -------------------------------------------------------------------------

    def _begin(self, task: Task) -> None:
        if task.job != self.job:  # ids are numbered per job: the last job's data is stale
            self.job = task.job
            self.cache.clear()
            self.local.clear()
            self.outputs.clear()
        needs: dict[tuple, str] = {}  # what to fetch -> from whom
        lost = self._walk(task, task.rdd, task.partition, needs, set())
        run = {"task": task, "waiting": set(needs), "fetched": {}, "arrived": {},
               "writes": set(), "records": 0, "result": None, "lost": lost}
        self.running[task.id] = run
        if lost is not None and "local-checkpoint-silent-empty" not in self.bugs:
            self._fail(run, "local-checkpoint-lost", lost)
            return
        for key, holder in sorted(needs.items()):
            if holder == STORAGE:
                self.ctx.send(holder, ("read", task.id, key))
            else:
                kind = "fetch-block" if key[0] == "local" else "fetch"
                self.ctx.send(holder, (kind, task.id, task.job, key))
        if needs:
            self.ctx.set_timer(f"fetch:{task.id}", self.config["fetch_timeout_us"], task.id)
        else:
            self._compute(run)

    def _walk(self, task: Task, rdd: RDD, p: int, needs: dict, seen: set):
        """Note what partition p of `rdd` needs from elsewhere; return a lost local
        checkpoint block's key, if the lineage runs into one."""
        key = (rdd.id, p)
        if key in seen or key in self.cache or key in self.local:
            return None
        seen.add(key)
        if key in task.checkpoints:  # the write of the task whose result counted
            needs[("checkpoint", rdd.id, p, task.checkpoints[key])] = STORAGE
            return None
        if rdd.storage == "local-checkpoint" and key in task.local_checkpoints:
            holder = task.local_checkpoints[key]
            if holder is None:  # written once, and the block is gone
                return key
            needs[("local", rdd.id, p)] = holder
            return None
        lost = None
        for dep, q in rdd.inputs_of(p):
            if isinstance(dep, Shuffle):
                for m, holder in enumerate(task.map_outputs[dep.id]):
                    needs[("shuffle", dep.id, m, q)] = holder
            else:
                lost = self._walk(task, dep.parent, q, needs, seen) or lost
        return lost

    def _fetched(self, task_id: int, key: tuple, data) -> None:
        run = self.running.get(task_id)
        if run is None or key not in run["waiting"]:
            return
        if data is None:
            self._fail(run, "fetch-failed", key)
            return
        run["waiting"].discard(key)
        run["fetched"][key] = data
        run["arrived"][key] = len(run["arrived"])
        if not run["waiting"]:
            self.ctx.cancel_timer(f"fetch:{task_id}")
            self._compute(run)

    def _compute(self, run: dict) -> None:
        """Compute the partition for real, then report after its simulated cost."""
        task = run["task"]
        records = self._partition(run, task.rdd, task.partition, {})
        if task.shuffle is not None:
            self.outputs[(task.shuffle.id, task.partition)] = task.shuffle.write(
                records, task.partition)
        else:
            run["result"] = records
        cost = self.config["task_overhead_us"] + self.config["record_us"] * run["records"]
        self.ctx.set_timer(f"done:{task.id}", cost, task.id)

    def _partition(self, run: dict, rdd: RDD, p: int, memo: dict) -> list:
        key = (rdd.id, p)
        task = run["task"]
        if key in memo:
            return memo[key]
        if key in self.cache:
            self.ctx.count("cache-hits")
            return self.cache[key]
        if key in self.local:
            return self.local[key]
        if key in task.checkpoints:
            self.ctx.count("checkpoint-reads")
            return run["fetched"][("checkpoint", rdd.id, p, task.checkpoints[key])]
        if rdd.storage == "memory":
            self.ctx.count("cache-misses")
        if ("local", rdd.id, p) in run["fetched"]:
            return run["fetched"][("local", rdd.id, p)]
        if run["lost"] == key:
            # BUG local-checkpoint-silent-empty: a lost local checkpoint block is read as an
            # empty partition instead of failing the job
            return []
        inputs = []
        for dep, q in rdd.inputs_of(p):
            if isinstance(dep, Shuffle):  # the buckets in the order they arrived, as Spark
                keys = sorted((("shuffle", dep.id, m, q) for m in range(dep.parent.partitions)),
                              key=run["arrived"].__getitem__)
                inputs.append([r for key in keys for r in run["fetched"][key]])
            else:
                inputs.append(self._partition(run, dep.parent, q, memo))
        # a random function draws anew in every task, as a truly nondeterministic one would
        out = rdd.compute(p, inputs, TaskContext(p, task.id, task.seed))
        run["records"] += len(out)
        memo[key] = out
        if rdd.storage == "memory":
            self.cache[key] = out
        elif rdd.storage == "local-checkpoint":
            self.local[key] = out
        if rdd.checkpointed and key not in task.checkpoints and task.write_checkpoints:
            run["writes"].add(key)  # the first computation is what the checkpoint keeps
            self.ctx.send(STORAGE, ("write", task.id, key, out))
        return out

    def _written(self, task_id: int, key: tuple) -> None:
        run = self.running.get(task_id)
        if run is not None:
            run["writes"].discard(key)
            run.setdefault("checkpointed", []).append(key)
            if run.get("due") and not run["writes"]:
                self._report(task_id)

    def _report(self, task_id: int) -> None:
        run = self.running.get(task_id)
        if run is None:
            return
        if run["writes"]:  # still waiting for the storage node to keep a checkpoint
            run["due"] = True
            return
        del self.running[task_id]
        task = run["task"]
        self.ctx.send(DRIVER, ("task-done", task.id, self.incarnation, run["result"],
                               run["records"], tuple(sorted(run.get("checkpointed", ()))),
                               tuple(sorted(k for k in self.cache if k[0] in _ids(task))),
                               tuple(sorted(k for k in self.local if k[0] in _ids(task)))))

    def _fail(self, run: dict, reason: str, detail) -> None:
        task = run["task"]
        self.running.pop(task.id, None)
        self.ctx.cancel_timer(f"fetch:{task.id}")
        holder = None
        if reason == "fetch-failed" and detail[0] == "shuffle":
            holder = task.map_outputs[detail[1]][detail[2]]
        self.ctx.send(DRIVER, ("task-failed", task.id, self.incarnation, reason, detail,
                               holder))


def _ids(task: Task) -> set[int]:
    """The ids of the RDDs in the task's lineage (its stage and what it read)."""
    out, stack = set(), [task.rdd]
    while stack:
        r = stack.pop()
        if r.id not in out:
            out.add(r.id)
            stack.extend(d.parent for d in r.deps if not isinstance(d, Shuffle))
    return out
