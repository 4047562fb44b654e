"""Dynamo as the harness sees it: settings, planted bugs, checks, churn limits and the
default nemesis."""
from __future__ import annotations

import random

import attrs

from faultlab.errors import FaultlabError
from faultlab.nemesis.families import ChurnLimits
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Check, Promise, Protocol, Setting
from faultlab.protocols.common.vclock import reconcile
from faultlab.protocols.dynamo import checks
from faultlab.protocols.dynamo.node import DynamoNode, stored_keys
from faultlab.protocols.dynamo.workload import CartOps, RegisterOps
from faultlab.sim.workload import OpGenerator, Workload

BUGS = {
    "concurrent-as-descended": "vector clock comparison takes concurrent clocks as ordered, "
                               "dropping a sibling",
    "hinted-acks-in-strict": "strict quorum writes to fallback nodes and counts their acks "
                             "towards W",
    "drop-hint-before-ack": "a hint is deleted when it is sent, not when the owner "
                            "acknowledges it",
    "merkle-keys-only": "anti-entropy's Merkle trees hash the keys without their values",
    "reap-tombstone-immediately": "tombstones are reaped at once, with no grace period",
    "read-repair-fresh-clock": "read repair writes back the newest sibling under a new "
                               "clock instead of the siblings with their own clocks",
}


class Dynamo(Protocol):
    name = "dynamo"
    summary = ("Dynamo's leaderless store: consistent hashing with virtual nodes, sloppy or "
               "strict quorums, hinted handoff, vector clocks with siblings, read repair, "
               "Merkle anti-entropy and gossip, running the paper's shopping cart")
    settings = (
        Setting("nodes", 7, "node slots (the rest of `initial` are spares that join)", 1,
                64),
        Setting("initial", 5, "members at the start", 1, 64),
        Setting("n", 3, "replicas of each key (N)", 1, 16),
        Setting("r", 2, "replies a read waits for (R)", 1, 16),
        Setting("w", 2, "acknowledgements a write waits for (W), the coordinator's own "
                "included", 1, 16),
        Setting("quorum", "sloppy", "sloppy: the first N healthy nodes, with hints; "
                "strict: the N owners only", choices=("sloppy", "strict")),
        Setting("resolution", "siblings", "siblings: concurrent writes kept side by side; "
                "lww: the latest timestamp wins", choices=("siblings", "lww")),
        Setting("clocks", "dotted", "how siblings are ordered: dotted version vectors, or "
                "the paper's plain vector clocks", choices=("dotted", "vector")),
        Setting("workload", "cart", "the clients: the paper's shopping cart, or a plain "
                "register (writes and reads of 8 keys) for the stale-read measure",
                choices=("cart", "register")),
        Setting("tokens", 8, "virtual nodes per member", 1, 256),
        Setting("prune_threshold", 10, "entries a vector clock keeps (the oldest go)", 1,
                64),
        Setting("gossip_us", 50_000, "period of membership gossip", 1_000, 60_000_000),
        Setting("anti_entropy_us", 200_000, "period of Merkle anti-entropy", 1_000,
                60_000_000),
        Setting("handoff_us", 100_000, "period of hinted handoff", 1_000, 60_000_000),
        Setting("rpc_timeout_us", 50_000, "wait for replicas before giving up", 1_000,
                60_000_000),
        Setting("tombstone_grace_us", 5_000_000, "age at which a tombstone is reaped; "
                "every replica must see it by then", 0, 3_600_000_000),
    )
    bugs = BUGS
    bug_settings = {"hinted-acks-in-strict": {"quorum": "strict"}}
    checks = (
        Check("durability", "every acknowledged add is in the final audit of its cart "
              "(unless a remove or clear may have taken it)", function=checks.durability),
        Check("deletes-hold", "no item comes back in a version a delete superseded "
              "(concurrent resurrections are counted, not failed)",
              function=checks.deletes_hold),
        Check("convergence", "after the heal and a quiet period every owner of a key holds "
              "the same siblings and no hint is left", function=checks.convergence),
        Check("sibling-causality", "no stored sibling is superseded by another",
              function=checks.sibling_causality),
        Check("quorum-reads", "strict quorum with R + W > N: every get sees the adds "
              "acknowledged before it began (away from membership changes)",
              function=checks.quorum_reads),
        Check("write-availability", "sloppy quorum: every put issued while no fault has "
              "been active for a second is accepted", "liveness",
              function=checks.write_availability),
        Check("stale-reads", "the share of gets that missed an acknowledged add (measured)",
              "measure", function=checks.stale_reads),
    )
    rates = (("stale reads", "stale-reads", "reads-judged"),
             ("reads not linearizable", "reads-not-linearizable", "reads-judged"),
             ("reads with siblings", "reads-with-siblings", "reads"),
             ("acknowledged adds lost", "lost-adds", "acknowledged-adds"))
    violations = ("stale-reads", "reads-not-linearizable", "lost-adds")
    default_workload = Workload(clients=6, think_us=20_000, timeout_us=500_000, keys=100)
    cap_configs = tuple((label, {"nodes": 5, "initial": 5, **cfg}) for label, cfg in (
        ("sloppy", {}),
        ("sloppy lww", {"resolution": "lww"}),
        ("sloppy register", {"workload": "register"}),
        ("strict", {"quorum": "strict"}),
        ("strict R1 W1", {"quorum": "strict", "r": 1, "w": 1}),
        ("strict register", {"quorum": "strict", "workload": "register"})))
    churn = ChurnLimits(min_members=3, max_joining=1, max_leaving=1)
    # Every general family, and churn and replacements: ranges move while faults strike.
    default_nemesis = NemesisConfig(families=(*general_families(), "churn", "churn",
                                              "replace"))

    def check_config(self, config: dict) -> None:
        for q in ("r", "w"):
            if config[q] > config["n"]:
                raise FaultlabError(f"protocol 'dynamo' config {q} ({config[q]}) must not "
                                    f"exceed n ({config['n']})")
        if config["n"] > config["initial"]:
            raise FaultlabError(f"protocol 'dynamo' config n ({config['n']}) must not exceed "
                                f"initial ({config['initial']}): each key needs n members")
        self.churn = ChurnLimits(min_members=config["n"], max_joining=1, max_leaving=1)

    def promises(self, config: dict) -> list[str]:
        from faultlab.checkers.quorum import check_quorums

        results = check_quorums(config["n"], config["r"], config["w"],
                                config["quorum"] == "sloppy", config["nodes"])
        return [f"quorum (z3, N={config['n']} R={config['r']} W={config['w']} "
                f"{config['quorum']}): {p.describe()}" for p in results]

    def cap_promise(self, config: dict) -> Promise:
        from faultlab.checkers.quorum import check_quorums

        sloppy = config["quorum"] == "sloppy"
        meets = check_quorums(config["n"], config["r"], config["w"], sloppy,
                              config["nodes"])[0]
        quorum = (f"N={config['n']} R={config['r']} W={config['w']} {config['quorum']}: "
                  f"reads meet writes {'proved' if meets.proved else 'refuted'} (z3)")
        durable = () if config["resolution"] == "lww" else ("durability",)
        most = max(config["r"], config["w"])
        if sloppy:
            return Promise(durable, "every", f"{quorum}; any side of {most} or more nodes "
                           "serves (hinted handoff); reads may be stale"
                           + ("" if durable else "; last write wins drops adds"), most)
        fresh = ("stale-reads", "quorum-reads") if meets.proved else ()
        return Promise((*durable, *fresh), "none", f"{quorum}; a key is served only where "
                       f"{most} of its {config['n']} owners are reachable")

    def node_class(self):
        return DynamoNode

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> OpGenerator:
        if config["workload"] == "register":
            workload = attrs.evolve(workload, keys=min(workload.keys, 8))  # contended
            return RegisterOps(workload, config, rng)
        return CartOps(workload, config, rng)

    def may_depart(self, sim, node: str) -> str | None:
        """A member may go only if every version on its disk is also on the disk of a member
        that stays (a crashed one restarts with its disk): a departure never takes the last
        copy of a write. Every node syncs before it acknowledges, so disks are current."""
        why = super().may_depart(sim, node)
        if why is not None:
            return why
        going = sim.leaving | {node}
        config = sim.config
        dotted, lww = config["clocks"] == "dotted", config["resolution"] == "lww"
        others = [stored_keys(sim.disks[n]) for n in sim.member_list() if n not in going]
        for key, (siblings, _) in sorted(stored_keys(sim.disks[node]).items()):
            copies = [v for o in others for v in o.get(key, ((), None))[0]]
            for v in siblings:
                if v in copies or (any((c.stamp, c.dot) > (v.stamp, v.dot) for c in copies)
                                   if lww else v not in reconcile([*copies, v], dotted)):
                    continue
                return f"{node} holds the only copy of cart {key}'s version " \
                       f"{v.dot[0]}:{v.dot[1]}"
        return None
