"""Two-phase commit as the harness sees it: settings, planted bugs, checks, roles, events
and the default nemesis."""
from __future__ import annotations

import random

from faultlab.errors import FaultlabError
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Blocking, Check, Cluster, Promise, Protocol, Setting
from faultlab.protocols.twopc import checks
from faultlab.protocols.twopc.coordinator import Coordinator
from faultlab.protocols.twopc.participant import Participant
from faultlab.protocols.twopc.workload import TxnOps
from faultlab.sim.workload import Workload

BUGS = {
    "commit-on-first-yes": "the coordinator decides commit on the first yes vote",
    "commit-on-vote-timeout": "a vote missing at the vote timeout counts as yes",
    "prepared-aborts-on-timeout": "a participant that voted yes aborts on its own when the "
                                  "coordinator is silent",
    "decision-sent-before-logged": "the coordinator sends commit before its decision is "
                                   "synced; after a crash, presumed abort contradicts it",
    "vote-before-prepare-durable": "a participant votes yes before its prepare record is "
                                   "synced",
    "release-read-locks-at-prepare": "read locks are released at the vote: atomicity holds, "
                                     "serializability does not",
    "recovery-forgets-prepared": "a recovering participant ignores its prepare records",
}
EVENTS = ("prepare-logged", "vote-sent", "decision-logged", "decision-sent", "doubt-ended")


class TwoPhaseCommit(Protocol):
    name = "twopc"
    summary = ("two-phase commit over a sharded transactional store: strict two-phase "
               "locking, write-ahead logs, presumed abort, recovery and cooperative "
               "termination")
    settings = (
        Setting("nodes", 4, "coordinators and participants together", 2, 32),
        Setting("participants", 3, "participants, each holding a shard of the keys", 1, 31),
        Setting("keys", 8, "keys (accounts, for bank), spread over the participants", 1,
                10_000),
        Setting("workload", "list-append", "what the transactions do",
                choices=("list-append", "rw-register", "bank")),
        Setting("txn_length", 4, "most micro-ops in a transaction", 1, 64),
        Setting("balance", 100, "bank: each account's starting balance", 0, 1_000_000_000),
        Setting("lock_wait_us", 50_000, "longest wait for a lock before giving up", 1_000,
                60_000_000),
        Setting("vote_timeout_us", 200_000, "longest wait for votes before aborting",
                1_000, 60_000_000),
        Setting("inquiry_us", 100_000, "silence after which an in-doubt participant asks "
                "for the outcome (and between asks)", 1_000, 60_000_000),
        Setting("fsync_us", 2_000, "time a log sync takes", 0, 1_000_000),
        Setting("termination", "coordinator", "who an in-doubt participant asks",
                choices=("coordinator", "cooperative")),
    )
    bugs = BUGS
    checks = (
        Check("agreement", "AC1: no transaction commits at one node and aborts at another",
              function=checks.agreement),
        Check("no-reversal", "AC2: no participant reverses a decision",
              function=checks.no_reversal),
        Check("commit-needs-all-yes", "AC3: a transaction commits only if every participant "
              "voted yes", function=checks.commit_needs_all_yes),
        Check("fault-free-commits", "AC4: with every vote yes and no fault, a transaction "
              "commits", function=checks.fault_free_commits),
        Check("decided-after-heal", "AC5: after the heal, every participant learns every "
              "outcome within the liveness bound", "liveness", checks.decided_after_heal),
        Check("strict-serializable", "the history is strict serializable (the Elle-style "
              "transaction checker; bank: every read keeps the total)",
              function=checks.transactions),
    )
    roles = ("coordinator", "participants")
    announces = EVENTS
    # cut when a participant has voted yes: it is then in doubt until it hears the outcome
    cap_target = "role:coordinator"
    cap_trigger = "vote-sent"
    cap_blocking = Blocking("vote-sent", "doubt-ended", "txn", "in doubt")
    cap_configs = (("list-append", {}),
                   ("cooperative termination", {"termination": "cooperative"}))
    default_workload = Workload(clients=10, think_us=10_000, timeout_us=1_000_000, keys=8)
    # The general families, crashes of the coordinator, and strikes between two steps of
    # the protocol (a quarter of the draws).
    default_nemesis = NemesisConfig(families=(
        *general_families(), "kill-role", "flicker", "crash-cluster",
        *("event-strike",) * 8))

    def check_config(self, config: dict) -> None:
        if config["participants"] >= config["nodes"]:
            raise FaultlabError(f"protocol 'twopc' config participants "
                                f"({config['participants']}) must be below nodes "
                                f"({config['nodes']}): the rest are coordinators")
        slowest = config["lock_wait_us"] + config["fsync_us"]
        if config["vote_timeout_us"] < 2 * slowest:
            raise FaultlabError(f"protocol 'twopc' config vote_timeout_us "
                                f"({config['vote_timeout_us']}) must be at least twice "
                                f"lock_wait_us + fsync_us ({slowest}), or fault-free "
                                "transactions abort")
        if config["workload"] == "bank" and config["keys"] < 2:
            raise FaultlabError("protocol 'twopc' workload bank needs keys >= 2 accounts")

    def cap_promise(self, config: dict) -> Promise:
        return Promise(("all",), "none", "atomic and strict serializable; blocks while the "
                       "coordinator is unreachable (an in-doubt participant holds its locks)")

    def cluster(self, config: dict) -> Cluster:
        """Coordinators c1.., then participants p1..; every slot starts as a member."""
        coordinators = config["nodes"] - config["participants"]
        classes = {f"c{i}": Coordinator for i in range(1, coordinators + 1)}
        classes.update({f"p{i}": Participant for i in range(1, config["participants"] + 1)})
        return Cluster(classes, tuple(sorted(classes)))

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> TxnOps:
        return TxnOps(workload, config, rng)

    def role_holders(self, sim, role: str) -> list[str]:
        prefix = {"coordinator": "c", "participants": "p"}.get(role)
        return [n for n in sim.names if prefix and n.startswith(prefix)
                and sim.nodes[n] is not None]
