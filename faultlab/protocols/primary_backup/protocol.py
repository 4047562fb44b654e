"""Primary-backup as the harness sees it: settings, the planted bug, the set check, roles."""
from __future__ import annotations

import random

from faultlab.checkers.set import check_set
from faultlab.errors import FaultlabError
from faultlab.protocols.base import Check, Promise, Protocol, Setting
from faultlab.protocols.primary_backup.node import PrimaryBackupNode
from faultlab.sim.workload import OpGenerator, Workload


class SetOps(OpGenerator):
    """Adds of fresh integers and reads of the whole set, then one final read."""

    def next_op(self, n: int):
        mix = dict(self.workload.mix or PrimaryBackup.default_workload.mix)
        adds, reads = mix.get("add", 0), mix.get("read", 0)
        if self.rng.random() * (adds + reads) < adds:
            return ("add", n)
        return ("read", None)

    def final_ops(self):
        return [("read", None)]


class PrimaryBackup(Protocol):
    name = "primary-backup"
    summary = "write-all primary-backup replicated set with ballot-based failover"
    settings = (
        Setting("nodes", 5, "replicas", 1, 31),
        Setting("heartbeat_us", 50_000, "ping interval", 1_000, 10_000_000),
        Setting("failover_us", 300_000, "silence after which a backup takes over", 1_000,
                60_000_000),
    )
    bugs = {"ack-before-replicate":
            "the primary acknowledges an add before the backups have it"}
    checks = (Check("set", "every acknowledged add is in the final read (Jepsen's set "
                    "checker)", function=lambda record: check_set(record.history)),)
    roles = ("primary",)
    cap_target = "role:primary"
    default_workload = Workload(clients=10, think_us=10_000, timeout_us=400_000, keys=1,
                                mix=(("add", 49), ("read", 1)))

    def check_config(self, config: dict) -> None:
        if config["failover_us"] <= config["heartbeat_us"]:
            raise FaultlabError(f"protocol 'primary-backup' config failover_us "
                                f"({config['failover_us']}) must exceed heartbeat_us "
                                f"({config['heartbeat_us']})")

    def cap_promise(self, config: dict) -> Promise:
        return Promise(("all",), "none", "no acknowledged add lost; an add waits for every "
                       "backup, so a cut stalls adds until a failover or the heal")

    def node_class(self):
        return PrimaryBackupNode

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> SetOps:
        return SetOps(workload, config, rng)

    def role_holders(self, sim, role: str) -> list[str]:
        if role != "primary":
            return []
        return [n for n in sim.names if sim.nodes[n] is not None and sim.nodes[n].is_primary]
