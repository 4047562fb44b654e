"""The driver: runs the jobs clients submit, one at a time, and schedules their stages on
the executors as Spark's DAGScheduler does.

- **Jobs** run by re-execution (context.py): each action is planned into stages cut at
  shuffles; a shuffle-map stage whose outputs are all on live executors is skipped, as
  Spark skips stages whose shuffle files exist.
- **Tasks** go to executors with a free slot, preferring one that caches a block the task
  reads (locality).
- **Losses.** An executor whose heartbeats stop, or that comes back as a new process, is
  lost with its map outputs and blocks; a heartbeat that no longer lists an output or block
  unregisters it. A fetch failure unregisters the missing map output and resubmits only the
  map tasks whose output was lost (and then the failed stage's missing tasks).
- **Indeterminate stages** (SPARK-23243): when a lost map output belongs to a stage whose
  output may differ on a rerun, all its tasks rerun and every stage that read it reruns
  whole; if the result stage has already delivered partitions, the job aborts.
- **Checkpoints.** A reliable checkpoint, once complete, cuts the lineage: later tasks
  read it from the storage node. A lost local-checkpoint block fails the job loudly.

Every launch, completion and loss goes to the task log in `state()`, plain data that the
lineage checker judges without the simulator.
"""
from __future__ import annotations

from typing import Any

from faultlab.protocols.rdd.context import ActionNeeded, Context, action_result
from faultlab.protocols.rdd.dag import stages
from faultlab.protocols.rdd.executor import STORAGE, Task
from faultlab.protocols.rdd.jobs import bundled_jobs
from faultlab.protocols.rdd.lineage import INDETERMINATE, RDD, Shuffle
from faultlab.sim.node import Node, Request, canonical

MAX_STAGE_ATTEMPTS = 4


class Driver(Node):
    # rebuilt from what state() holds: the jobs' code, and the lineage of the job being run
    DERIVED = ("jobs", "need", "plan")

    def start(self) -> None:
        self.jobs = bundled_jobs(self.config["words"])
        self.queue: list[Request] = []
        self.run: dict | None = None            # the job being run: plain data
        self.need: ActionNeeded | None = None   # the action it waits for (derived from run)
        self.plan: list | None = None           # that action's stages (derived from need)
        self.executors: dict[str, tuple[int, int]] = {}  # name -> (incarnation, last heard)
        self.outputs: dict[int, list] = {}       # shuffle id -> holder of each map output
        self.cached: dict[tuple, set] = {}       # (rdd, partition) -> executors caching it
        self.local: dict[tuple, str | None] = {}  # local checkpoint block -> holder (None: lost)
        # (rdd, partition) kept by the storage node -> the task whose write counts (the one
        # whose result was accepted: a duplicate attempt's write is never read)
        self.checkpointed: dict[tuple, int] = {}
        self.excluded: dict[str, int] = {}       # executor -> until when no task goes there
        self.lost_now: set[int] = set()          # shuffles that lost an output this step
        self.next_task = 0
        self.jobs_run = 0
        self.log: list[tuple] = []               # the task log, for the lineage checker
        self.seed = self.ctx.rng.randrange(1 << 32)  # what random functions draw from
        self.ctx.set_timer("check-executors", self.config["heartbeat_us"])

    def state(self):
        need = None if self.need is None else (self.need.index, self.need.kind,
                                                 self.need.rdd.id)
        plan = None if self.plan is None else [s.id for s in self.plan]
        return canonical({"queue": self.queue, "run": self.run, "need": need, "plan": plan,
                          "executors": self.executors,
                          "outputs": self.outputs, "cached": self.cached,
                          "local": self.local, "checkpointed": self.checkpointed,
                          "excluded": self.excluded,
                          "next_task": self.next_task, "jobs_run": self.jobs_run,
                          "seed": self.seed,
                          "log": self.log, "timers": self.ctx.timers()})

    # ---- jobs ---------------------------------------------------------------------------

    def on_request(self, req: Request) -> None:
        name = req.value[0] if isinstance(req.value, list) and req.value else None
        if req.f != "job" or name not in self.jobs:
            self.ctx.reply(req, "fail", error="unknown-job")
            return
        self.queue.append(req)
        if self.run is None:
            self._next_job()

    def _next_job(self) -> None:
        if not self.queue:
            return
        req = self.queue.pop(0)
        self.jobs_run += 1
        # shuffle and RDD ids are numbered per job: nothing of the last job carries over
        self.outputs, self.cached, self.local, self.checkpointed = {}, {}, {}, {}
        self.run = {"req": req, "job": req.value[0], "number": self.jobs_run, "results": [],
                    "partials": {}, "running": {}, "attempts": {}, "stage_failures": {},
                    "completed": [], "action": 0}
        self._advance()

    def _advance(self) -> None:
        """Run the job function until it needs an action we have no result for, then plan
        that action; when it returns, the job is done."""
        run = self.run
        job = self.jobs[run["job"]]
        ctx = Context(job.inputs, run["results"], self.bugs)
        try:
            value = job.function(ctx, **job.params)
        except ActionNeeded as need:
            self.need, self.plan = need, self._plan(need.rdd)
            # stage ids are the plan's: what tasks of the last action report is ignored
            run.update(partials={}, running={}, attempts={}, stage_failures={},
                       completed=[], action=need.index)
            self.ctx.announce("action-started", job=run["number"], action=need.index)
            self._schedule()
            return
        self.ctx.reply(run["req"], "ok", [run["job"], value])
        self._end_job()

    def _end_job(self) -> None:
        self.run = self.need = self.plan = None
        self._next_job()

    def _abort(self, why: str) -> None:
        self.log.append((self.ctx.now(), "abort", self.run["number"], why))
        self.ctx.reply(self.run["req"], "fail", error=f"job aborted: {why}")
        self._end_job()

    def _plan(self, rdd: RDD) -> list:
        """The action's stages, the lineage cut at complete checkpoints: reliable ones are
        read from the storage node, local ones from the executors (or the job fails)."""
        def complete(r: RDD) -> bool:
            held = self.checkpointed if r.checkpointed else self.local \
                if r.storage == "local-checkpoint" else ()
            return bool(held) and all((r.id, p) in held for p in range(r.partitions))
        return stages(rdd, cut=complete)

    # ---- scheduling ---------------------------------------------------------------------

    def _missing(self, stage) -> list[int]:
        if stage.shuffle is None:
            return [p for p in range(stage.rdd.partitions) if p not in self.run["partials"]]
        held = self.outputs.get(stage.shuffle.id, [None] * stage.rdd.partitions)
        return [p for p, h in enumerate(held) if h is None]

    def _schedule(self) -> None:
        run = self.run
        if run is None or self.plan is None:
            return
        by_id = {s.id: s for s in self.plan}
        result = self.plan[-1]
        if not self._missing(result):
            self._finish_action()
            return
        busy = {}
        for _, (_, _, executor) in run["running"].items():
            busy[executor] = busy.get(executor, 0) + 1
        running = {(s, p) for s, p, _ in run["running"].values()}
        for stage in self.plan:
            if any(self._missing(by_id[s]) for s in stage.parents):
                continue
            missing = self._missing(stage)
            if missing and stage.id in run["completed"]:  # it had finished: resubmitted
                run["completed"].remove(stage.id)
                self.ctx.count("stages-resubmitted")
            for p in missing:
                if (stage.id, p) in running:
                    continue
                executor = self._pick(stage, p, busy)
                if executor is None:
                    return
                busy[executor] = busy.get(executor, 0) + 1
                self._launch(stage, p, executor)

    def _pick(self, stage, p: int, busy: dict) -> str | None:
        """A live executor with a free slot, one caching a block of this partition first."""
        live = sorted(self.executors)
        free = [e for e in live if busy.get(e, 0) < self.config["slots"]]
        now = self.ctx.now()
        trusted = [e for e in free if self.excluded.get(e, 0) <= now]
        if trusted:  # Spark's exclusion: avoid an executor others could not fetch from
            free = trusted
        if not free:
            return None
        for rdd_id in stage.rdds:
            for e in sorted(self.cached.get((rdd_id, p), ())):
                if e in free:
                    return e
        return free[(p + stage.id) % len(free)]

    def _launch(self, stage, p: int, executor: str) -> None:
        run = self.run
        self.next_task += 1
        key = (stage.id, p)
        attempt = run["attempts"].get(key, 0)
        run["attempts"][key] = attempt + 1
        final = self.need.rdd
        task = Task(self.next_task, run["number"], stage.id, stage.rdd, p, attempt,
                    stage.shuffle,
                    {sid: list(self.outputs.get(sid, ())) for sid in _shuffles_read(stage)},
                    {(r, q): t for (r, q), t in self.checkpointed.items()
                     if all((r, x) in self.checkpointed
                            for x in range(final.ctx.rdds[r].partitions))},
                    dict(self.local), self.seed,
                    "checkpoint-without-persist" not in self.bugs
                    or self.need.kind == "checkpoint")
        run["running"][task.id] = (stage.id, p, executor)
        self.log.append((self.ctx.now(), "launch", run["number"], run["action"],
                         *_what(stage), p, attempt, executor))
        self.ctx.announce("task-started", stage=stage.id, partition=p)
        self.ctx.send(executor, ("task", task))

    def _finish_action(self) -> None:
        run = self.run
        need = self.need
        if need.kind != "checkpoint":
            parts = [run["partials"][p] for p in range(need.rdd.partitions)]
            if need.kind == "save":
                self.ctx.send(STORAGE, ("save", need.arg, [r for part in parts for r in part]))
            run["results"].append(action_result(need.kind, parts))
            unsaved = self._unsaved_checkpoints(need.rdd)
            if unsaved and "checkpoint-without-persist" in self.bugs:
                # BUG checkpoint-without-persist: the checkpoint is written by a separate job
                # that computes the RDD again, not from what this action computed
                self.need = ActionNeeded(need.index, unsaved[0], "checkpoint")
                self.plan = self._plan(unsaved[0])
                run.update(partials={}, running={}, attempts={}, stage_failures={},
                           completed=[])
                self._schedule()
                return
        self.plan = None
        self._advance()

    def _unsaved_checkpoints(self, rdd: RDD) -> list[RDD]:
        """The checkpointed RDDs in `rdd`'s lineage not yet kept whole by the storage
        node."""
        out, stack, seen = [], [rdd], set()
        while stack:
            r = stack.pop()
            if r.id in seen:
                continue
            seen.add(r.id)
            if r.checkpointed and not all((r.id, p) in self.checkpointed
                                          for p in range(r.partitions)):
                out.append(r)
            stack.extend(d.parent for d in r.deps)
        return sorted(out, key=lambda r: r.id)

    # ---- what executors report -----------------------------------------------------------

    def on_message(self, src: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "heartbeat":
            self._heartbeat(src, *msg[1:])
        elif kind == "task-done":
            self._task_done(src, *msg[1:])
        elif kind == "task-failed":
            self._task_failed(src, *msg[1:])
        self._after_losses()
        self._schedule()

    def _heartbeat(self, executor: str, incarnation: int, cached, local, outputs) -> None:
        known = self.executors.get(executor)
        if known is not None and known[0] != incarnation:
            self._lose_executor(executor, "restarted")
        self.executors[executor] = (incarnation, self.ctx.now())
        # anything registered here that the executor no longer holds is lost
        held = set(outputs)
        for sid, holders in sorted(self.outputs.items()):
            for m, h in enumerate(holders):
                if h == executor and (sid, m) not in held:
                    self._lose_output(sid, m, "gone from its executor")
        for key in sorted(self.cached):
            if executor in self.cached[key] and key not in set(cached):
                self.cached[key].discard(executor)
        for key, h in sorted(self.local.items()):
            if h == executor and key not in set(local):
                self._lose_local(key)

    def on_timer(self, name: str, data: Any) -> None:
        if name == "check-executors":
            now = self.ctx.now()
            for e, (_, heard) in sorted(self.executors.items()):
                if now - heard > self.config["executor_timeout_us"]:
                    self._lose_executor(e, "heartbeats stopped")
            self.ctx.set_timer("check-executors", self.config["heartbeat_us"])
            self._after_losses()
            self._schedule()

    def _lose_executor(self, executor: str, why: str) -> None:
        self.executors.pop(executor, None)
        self.log.append((self.ctx.now(), "executor-lost", executor, why))
        for sid, holders in sorted(self.outputs.items()):
            for m, h in enumerate(holders):
                if h == executor:
                    self._lose_output(sid, m, f"executor {executor} lost")
        for key in sorted(self.cached):
            self.cached[key].discard(executor)
        for key, h in sorted(self.local.items()):
            if h == executor:
                self._lose_local(key)
        run = self.run
        if run is not None:
            for task_id, (_, _, e) in sorted(run["running"].items()):
                if e == executor:
                    del run["running"][task_id]

    def _lose_output(self, sid: int, m: int, why: str, origin: int | None = None) -> None:
        """Unregister a map output: lost (`why`), or thrown away because shuffle `origin`,
        indeterminate, reruns."""
        holders = self.outputs.get(sid)
        if holders is not None and holders[m] is not None:
            holders[m] = None
            self.log.append((self.ctx.now(), "output-lost", self.jobs_run, sid, m, why,
                             origin))
            if origin is None:
                self.lost_now.add(sid)

    def _lose_local(self, key: tuple) -> None:
        if self.local.get(key) is not None:
            self.local[key] = None
            self.log.append((self.ctx.now(), "block-lost", self.jobs_run, *key))

    def _task_done(self, executor: str, task_id: int, incarnation: int, result, records: int,
                   checkpointed, cached, local) -> None:
        run = self.run
        if run is None or task_id not in run["running"]:
            return  # from an attempt given up on
        stage_id, p, _ = run["running"].pop(task_id)
        stage = next(s for s in self.plan if s.id == stage_id)
        self.log.append((self.ctx.now(), "done", run["number"], run["action"],
                         *_what(stage), p, executor, records))
        for key in checkpointed:
            self.checkpointed[tuple(key)] = task_id
            self.log.append((self.ctx.now(), "checkpointed", run["number"], *key, "reliable"))
        for key in cached:
            self.cached.setdefault(tuple(key), set()).add(executor)
        for key in local:
            if tuple(key) not in self.local:
                self.log.append((self.ctx.now(), "checkpointed", run["number"], *key, "local"))
            self.local[tuple(key)] = executor
        if stage.shuffle is not None:
            holders = self.outputs.setdefault(stage.shuffle.id, [None] * stage.rdd.partitions)
            holders[p] = executor
            if not self._missing(stage):
                run["completed"].append(stage_id)
                self.ctx.announce("shuffle-written", shuffle=stage.shuffle.id)
                self.ctx.announce("stage-completed", stage=stage_id)
        else:
            run["partials"][p] = result
            if not self._missing(stage):
                self.ctx.announce("stage-completed", stage=stage_id)

    def _task_failed(self, executor: str, task_id: int, incarnation: int, reason: str,
                     detail, holder) -> None:
        run = self.run
        if run is None or task_id not in run["running"]:
            return
        stage_id, p, _ = run["running"].pop(task_id)
        stage = next(st for st in self.plan if st.id == stage_id)
        self.log.append((self.ctx.now(), "failed", run["number"], run["action"],
                         *_what(stage), p, executor, reason))
        if reason == "local-checkpoint-lost":
            self._abort(f"the local checkpoint block of RDD {detail[0]} partition "
                        f"{detail[1]} was lost; it cannot be recomputed")
            return
        failures = run["stage_failures"].get(stage_id, 0) + 1
        run["stage_failures"][stage_id] = failures
        if failures > MAX_STAGE_ATTEMPTS * 4:
            self._abort(f"stage {stage_id} failed {failures} times")
            return
        if reason != "fetch-failed" or detail[0] != "shuffle":
            return  # the task runs again when scheduled
        sid, m = detail[1], detail[2]
        if holder is not None:
            self.excluded[holder] = self.ctx.now() + self.config["executor_timeout_us"]
        if self.outputs.get(sid, [None] * (m + 1))[m] == holder:
            for mm, h in enumerate(self.outputs[sid]):
                if h == holder:
                    self._lose_output(sid, mm, f"fetch from {holder} failed")

    def _after_losses(self) -> None:
        """Once a step's losses are known: rerun what depends on a lost output of an
        indeterminate stage (whatever found the loss: a fetch failure, a lost executor, a
        heartbeat)."""
        lost, self.lost_now = sorted(self.lost_now), set()
        run = self.run
        if run is None or self.plan is None or not lost:
            return
        if "recompute-everything" in self.bugs:
            # BUG recompute-everything: any loss reruns the whole job: every map output
            # and result partition is thrown away
            for s, holders in sorted(self.outputs.items()):
                for m in range(len(holders)):
                    self._lose_output(s, m, "rerun everything")
            self.lost_now.clear()
            if run["partials"]:
                self.log.append((self.ctx.now(), "results-dropped", run["number"],
                                 run["action"], "rerun everything"))
            run["partials"].clear()
            run["running"].clear()  # what tasks still running report is ignored
            return
        for sid in lost:
            if self.run is not run:  # aborted
                return
            self._rerun_indeterminate(sid)

    def _rerun_indeterminate(self, sid: int) -> None:
        """A lost map output of a stage that may write other data on a rerun: rerun all of
        it and everything downstream, or abort if results were already delivered."""
        run = self.run
        stage = next((s for s in self.plan if s.shuffle is not None and s.shuffle.id == sid),
                     None)
        if stage is None or stage.shuffle.parent.level != INDETERMINATE:
            return
        if "partial-rerun-indeterminate" in self.bugs:
            return  # BUG partial-rerun-indeterminate: only the missing partitions rerun
        downstream = _downstream(self.plan, stage.id)
        if not self._consumed(downstream):
            return  # nothing read the old output yet: the missing partitions suffice
        for s in [stage, *downstream]:
            if s.shuffle is not None:
                for m in range(s.rdd.partitions):
                    self._lose_output(s.shuffle.id, m, "indeterminate rerun", sid)
        if run["partials"]:
            if "resubmit-partial-result-stage" in self.bugs:
                return  # BUG resubmit-partial-result-stage: the delivered partitions stay
            self._abort(f"stage {stage.id} is indeterminate and its result stage had "
                        f"already delivered {len(run['partials'])} partition(s)")
            return
        for task_id, (s, _, _) in sorted(run["running"].items()):
            if s in {d.id for d in downstream}:
                del run["running"][task_id]

    def _consumed(self, downstream: list) -> bool:
        """Whether any of these stages has read, or is reading, what is upstream of it."""
        run = self.run
        ids = {s.id for s in downstream}
        if any(s in ids for s, _, _ in run["running"].values()):
            return True
        if any(s.shuffle is None for s in downstream) and run["partials"]:
            return True
        return any(h is not None for s in downstream if s.shuffle is not None
                   for h in self.outputs.get(s.shuffle.id, ()))


def _what(stage) -> tuple:
    """How the task log names a stage's tasks: ("map", shuffle id) or ("result", rdd id)."""
    return ("map", stage.shuffle.id) if stage.shuffle is not None else ("result", stage.rdd.id)


def _shuffles_read(stage) -> set[int]:
    """The shuffles a stage's tasks read: the wide dependencies of the RDDs it pipelines."""
    rdds = stage.rdd.ctx.rdds
    return {d.id for i in stage.rdds for d in rdds[i].deps if isinstance(d, Shuffle)}


def _downstream(plan: list, stage_id: int) -> list:
    """The stages that read, directly or not, what `stage_id` writes."""
    out, frontier = [], {stage_id}
    for s in plan:
        if frontier & set(s.parents):
            out.append(s)
            frontier.add(s.id)
    return out
