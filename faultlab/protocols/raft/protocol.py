"""Raft as the harness sees it: settings, planted bugs, checks, roles and default nemesis."""
from __future__ import annotations

import random

from faultlab.errors import FaultlabError
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Check, Promise, Protocol, Setting, liveness_check
from faultlab.protocols.raft.checks import kv_key, linearizable, no_lost_writes
from faultlab.protocols.raft.monitor import RaftMonitor
from faultlab.protocols.raft.node import LEADER, RaftNode
from faultlab.protocols.raft.workload import RaftOps
from faultlab.sim.workload import Workload

BUGS = {
    "figure8": "commit an entry from an earlier term by counting replicas (Figure 8)",
    "vote-without-log-check": "grant votes without the up-to-date log check",
    "no-persist-vote": "reply to RequestVote before votedFor/term are persisted",
    "stale-leader-read": "the leader answers reads from local state without confirming "
                         "leadership",
    "accept-stale-term-reply": "act on vote and append replies from an older term",
    "unconditional-truncate": "followers truncate the log after prev_index on every "
                              "AppendEntries, even old reordered ones",
    "dedup-not-in-snapshot": "the client session table is left out of snapshots",
    "fixed-election-timeout": "no randomized election timeout (a liveness bug)",
}


class Raft(Protocol):
    name = "raft"
    summary = ("Raft consensus (elections, log replication, persistence, snapshots) with a "
               "linearizable KV store and client sessions on top")
    settings = (
        Setting("nodes", 5, "servers", 1, 31),
        Setting("heartbeat_us", 10_000, "leader heartbeat interval", 1_000, 10_000_000),
        Setting("election_min_us", 40_000, "shortest election timeout", 1_000, 60_000_000),
        Setting("election_max_us", 80_000, "longest election timeout", 1_000, 60_000_000),
        Setting("snapshot_every", 10, "applied entries between snapshots (0: never)", 0,
                1_000_000),
        Setting("max_batch", 32, "entries per AppendEntries", 1, 100_000),
    )
    bugs = BUGS
    checks = (
        Check("election-safety", "at most one leader per term", "invariant"),
        Check("log-matching", "logs with an entry of the same index and term are identical "
              "up to it", "invariant"),
        Check("leader-completeness", "a committed entry is in every later leader's log",
              "invariant"),
        Check("state-machine-safety", "no two nodes apply different commands (or reach "
              "different values) at one index", "invariant"),
        Check("linearizable", "the KV history is linearizable per key "
              "(get/put/append/cas)", function=linearizable),
        Check("no-lost-writes", "every acknowledged append is in the final read of its key",
              function=no_lost_writes),
    )
    liveness = liveness_check(key=kv_key)
    roles = ("leader", "followers")
    announces = ("leader-elected",)
    cap_target = "role:leader"
    default_workload = Workload(clients=10, think_us=10_000, timeout_us=500_000, keys=3,
                                mix=RaftOps.MIX)
    # Every general family plus the brief ones that hit elections and persistence (leader
    # churn, flicker, leader flap, whole-cluster crash, leader snipes and storms). Crashes are
    # weighted double and storms eight times (a quarter of the draws; measured: Figure 8 found
    # twice as often as with four, other bugs as often): the forgotten-vote bug needs a crash
    # inside an election, Figure 8 and stale replies a quick succession of leaders.
    default_nemesis = NemesisConfig(families=(
        *general_families(), "leader-churn", "leader-churn", "flicker", "leader-flap",
        "crash-cluster", "crash-cluster", "leader-snipe", *("leader-storm",) * 8))

    def check_config(self, config: dict) -> None:
        if config["election_min_us"] > config["election_max_us"]:
            raise FaultlabError(f"protocol 'raft' config election_min_us "
                                f"({config['election_min_us']}) must not exceed "
                                f"election_max_us ({config['election_max_us']})")
        if config["heartbeat_us"] >= config["election_min_us"]:
            raise FaultlabError(f"protocol 'raft' config heartbeat_us "
                                f"({config['heartbeat_us']}) must be below election_min_us "
                                f"({config['election_min_us']}), or followers time out "
                                "between heartbeats")

    def node_class(self):
        return RaftNode

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> RaftOps:
        return RaftOps(workload, config, rng)

    def role_holders(self, sim, role: str) -> list[str]:
        leaders = sorted((node.term, name) for name, node in sim.nodes.items()
                         if node is not None and node.role == LEADER)
        leader = leaders[-1][1] if leaders else None
        if role == "leader":
            return [leader] if leader else []
        if role == "followers":
            return [n for n in sim.names if sim.nodes[n] is not None and n != leader]
        return []

    def cap_promise(self, config: dict) -> Promise:
        return Promise(("all",), "majority", "linearizable, no acknowledged write lost; the "
                       "side holding a majority elects a leader and serves, the rest waits")

    def monitor(self, config: dict) -> RaftMonitor:
        return RaftMonitor()
