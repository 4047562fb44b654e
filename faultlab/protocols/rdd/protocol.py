"""The RDD engine as the harness sees it: a driver, executors and a storage node; settings,
planted bugs, checks, roles and events for the nemesis."""
from __future__ import annotations

import random

from faultlab.errors import FaultlabError
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Check, Cluster, Promise, Protocol, Setting
from faultlab.protocols.rdd import checks
from faultlab.protocols.rdd.driver import Driver
from faultlab.protocols.rdd.executor import Executor
from faultlab.protocols.rdd.jobs import bundled_jobs
from faultlab.protocols.rdd.storage import Storage
from faultlab.protocols.rdd.workload import JobOps
from faultlab.sim.workload import Workload

BUGS = {
    "round-robin-without-sort": "repartition deals rows round-robin in arrival order, so a "
                                "rerun sends them elsewhere (SPARK-23207)",
    "partial-rerun-indeterminate": "a fetch failure reruns only the missing partitions of an "
                                   "indeterminate stage (before SPARK-23243)",
    "resubmit-partial-result-stage": "a result stage that already delivered partitions is "
                                     "resubmitted instead of aborting (SPARK-25342)",
    "rand-key-marked-determinate": "a shuffle keyed by a random value is taken as "
                                   "determinate (SPARK-23243)",
    "checkpoint-without-persist": "checkpoint recomputes the RDD in a separate job, so a "
                                  "nondeterministic one is saved different from what the "
                                  "first action saw",
    "local-checkpoint-silent-empty": "a lost local checkpoint block is read as an empty "
                                     "partition",
    "recompute-everything": "any loss reruns the whole job: right results, wasted work",
}


class Rdd(Protocol):
    name = "rdd"
    summary = ("A small Spark: a driver scheduling stages of RDD jobs on executors, with "
               "shuffles, caching and checkpoints, judged against lineage")
    settings = (
        Setting("executors", 4, "executor slots", 1, 32),
        Setting("slots", 2, "tasks an executor runs at once", 1, 64),
        Setting("record_us", 20, "simulated cost of one record a task processes", 0,
                1_000_000),
        Setting("task_overhead_us", 2_000, "simulated cost of starting a task", 0,
                10_000_000),
        Setting("heartbeat_us", 50_000, "executor heartbeat period", 1_000, 60_000_000),
        Setting("executor_timeout_us", 300_000, "silence after which the driver declares an "
                "executor lost", 1_000, 600_000_000),
        Setting("fetch_timeout_us", 100_000, "wait for a shuffle block before a fetch "
                "failure", 1_000, 600_000_000),
        Setting("words", 2_000, "words in the bundled jobs' text input", 10, 1_000_000),
        Setting("jobs", "all", "the bundled jobs clients submit in turn, comma-separated "
                "(all: every one)"),
    )
    bugs = BUGS
    checks = (
        Check("lineage-result", "every completed job returns what the plain local evaluation "
              "of its lineage returns (an explicit abort is allowed)",
              function=checks.lineage_result),
        Check("minimal-recomputation", "no task reran unless its output was lost, or the "
              "indeterminate stage it depends on reran", function=checks.minimal_recomputation),
        Check("checkpoint-truncates", "no task recomputes a shuffle behind a complete "
              "checkpoint: recovery reads the checkpoint", function=checks.checkpoint_truncates),
    )
    roles = ("executors", "executor-with-cached-block", "executor-with-shuffle-output")
    cap_target = "driver"
    announces = ("action-started", "task-started", "shuffle-written", "stage-completed")
    default_workload = Workload(clients=1, think_us=10_000, timeout_us=30_000_000, keys=1)
    # The general families, lost cached blocks and shuffle files, executor kills, and strikes
    # between stages.
    default_nemesis = NemesisConfig(families=(
        *general_families(), "data-loss", "data-loss", "data-loss", "kill-role",
        "event-strike", "event-strike"))

    def check_config(self, config: dict) -> None:
        self._jobs(config)

    @staticmethod
    def _jobs(config: dict) -> tuple[str, ...]:
        known = bundled_jobs()
        if config["jobs"] == "all":
            return tuple(known)
        names = tuple(j.strip() for j in config["jobs"].split(",") if j.strip())
        for name in names:
            if name not in known:
                raise FaultlabError(f"protocol 'rdd' config jobs names an unknown job "
                                    f"{name!r} (known: {', '.join(known)})")
        if not names:
            raise FaultlabError("protocol 'rdd' config jobs names no job")
        return names

    def cluster(self, config: dict) -> Cluster:
        classes = {"driver": Driver, "storage": Storage}
        classes.update({f"e{i}": Executor for i in range(1, config["executors"] + 1)})
        return Cluster(classes, tuple(sorted(classes)), frozenset({"driver", "storage"}))

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> JobOps:
        return JobOps(workload, config, rng, self._jobs(config))

    def cap_promise(self, config: dict) -> Promise:
        return Promise(("all",), "none", "every completed job's result is right (an abort "
                       "is allowed); jobs wait for executors the driver can reach")

    def role_holders(self, sim, role: str) -> list[str]:
        executors = [n for n in sim.names if n.startswith("e") and sim.nodes[n] is not None]
        if role == "executors":
            return executors
        driver = sim.nodes.get("driver")
        if driver is None:
            return []
        if role == "executor-with-cached-block":
            held = {e for holders in driver.cached.values() for e in holders}
            held |= {e for e in driver.local.values() if e}
        else:
            held = {e for holders in driver.outputs.values() for e in holders if e}
        return sorted(e for e in executors if e in held)
