"""Chord as the harness sees it: settings, modes, planted bugs, checks, churn limits and
the default nemesis."""
from __future__ import annotations

import random

from faultlab.errors import FaultlabError
from faultlab.nemesis.families import ChurnLimits
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Check, Cluster, Promise, Protocol, Setting
from faultlab.protocols.chord import checks
from faultlab.protocols.chord.invariants import PROPERTIES
from faultlab.protocols.chord.monitor import ChordMonitor, why_not_depart
from faultlab.protocols.chord.node import ChordNode, initial_members, slot_names
from faultlab.protocols.chord.workload import ChordOps
from faultlab.protocols.common.ring import ring_id
from faultlab.sim.workload import Workload

BUGS = {
    "stabilize-no-liveness-check": "stabilize adopts its successor's predecessor without "
                                   "asking it anything",
    "join-no-liveness-check": "a joining node adopts the successor a lookup named without "
                              "asking it",
    "rectify-no-between-check": "a node takes any notifier as its predecessor",
    "lookup-open-interval": "find_successor tests (n, successor) instead of (n, successor]",
    "successor-list-not-repaired": "stabilize neither drops a dead first successor nor "
                                   "pads the list again",
    "no-key-transfer-on-leave": "a leaving node drops its keys instead of handing them over",
    "finger-off-by-one": "finger i points at n + 2^(i+1): a benign control, it changes hop "
                         "counts only",
}
DESCRIPTIONS = {
    "live-successor": "every member has a live member in its successor list",
    "at-least-one-ring": "following best successors, some members form a ring",
    "at-most-one-ring": "there is only one ring",
    "ordered-ring": "round the ring, identifiers increase with one wrap",
    "connected-appendages": "every member off the ring reaches it",
    "ordered-appendages": "members off the ring lie in order before the member they reach",
    "ordered-successor-lists": "each successor list runs clockwise from its owner",
    "principals": "at least r+1 members no successor list skips (the corrected protocol's "
                  "stable base; zave mode)",
    "predecessors-advance": "a member's predecessor only moves closer to it, unless the old "
                            "one left or failed",
}


class Chord(Protocol):
    name = "chord"
    summary = ("Chord ring maintenance as published (2001) and as corrected by Zave, with "
               "a replicated key-value store")
    settings = (
        Setting("nodes", 12, "node slots (the rest of `initial` are spares that join)", 1,
                4096),
        Setting("initial", 8, "members of the ideal ring at the start (zave mode; the "
                "2001 protocol starts from one)", 1, 4096),
        Setting("mode", "zave", "the protocol", choices=("zave", "original")),
        Setting("m", 16, "identifier bits: the ring has 2^m points", 4, 64),
        Setting("r", 3, "successor list length (and copies of each value)", 1, 32),
        Setting("stabilize_us", 50_000, "period of stabilize and fix-fingers", 1_000,
                60_000_000),
        Setting("rpc_timeout_us", 20_000, "wait for an answer before trying again later",
                1_000, 60_000_000),
    )
    bugs = BUGS
    checks = (
        *(Check(p, DESCRIPTIONS[p], "invariant") for p in PROPERTIES),
        Check("ideal-after-heal", "after churn stops, the ring becomes ideal within the "
              "recovery period", "liveness", checks.ideal_after_heal),
        Check("lookups-correct", "in the quiet ideal ring every lookup returns the true "
              "owner (lookups during churn are not judged)", function=checks.lookups_correct),
        Check("no-lost-puts", "puts, and gets once the ring is quiet, are linearizable per "
              "key: no acknowledged put is lost", function=checks.no_lost_puts),
        Check("stale-reads", "the share of gets, over the whole run, that missed a put "
              "acknowledged before they began (measured)", "measure", checks.stale_gets),
        Check("replicas-after-heal", "once the ring is quiet, each key's value is on at "
              "least r members again", function=checks.replicas_after_heal),
    )
    announces = ("joined", "leaving")
    rates = (("stale reads", "stale-reads", "reads-judged"),)
    violations = ("stale-reads",)
    cap_configs = (("lookups and kv", {"nodes": 8, "initial": 8}),)
    default_workload = Workload(clients=6, think_us=20_000, timeout_us=500_000, keys=64)

    def __init__(self) -> None:
        self.churn = _churn(3, "zave")  # the defaults' until a config is resolved

    # Every general family, churn (joins, graceful leaves and failures) eight times as
    # often, a failed member replaced by a spare four times as often, and strikes right
    # after a node announces it joined or is leaving.
    default_nemesis = NemesisConfig(families=(
        *general_families(), *("churn",) * 8, *("replace",) * 4, "event-strike",
        "event-strike"))

    def cap_promise(self, config: dict) -> Promise:
        kept = tuple(c.name for c in self.checks if c.category != "measure")
        return Promise(kept, "none", "lookups and gets are right once the ring is quiet "
                       "again; nothing is promised during a cut (a side whose successor "
                       "lists all point across it cannot route)")

    def check_config(self, config: dict) -> None:
        if config["mode"] == "zave" and config["initial"] < config["r"] + 1:
            raise FaultlabError(f"protocol 'chord' config initial ({config['initial']}) "
                                f"must be at least r + 1 ({config['r'] + 1}) in zave mode: "
                                "the corrected protocol starts from an ideal ring that big")
        if config["initial"] > config["nodes"]:
            raise FaultlabError(f"protocol 'chord' config initial ({config['initial']}) "
                                f"must not exceed nodes ({config['nodes']})")
        seen: dict[int, str] = {}
        for n in slot_names(config):
            i = ring_id(n, config["m"])
            if i in seen:
                raise FaultlabError(f"protocol 'chord' config m ({config['m']}) is too small "
                                    f"for {config['nodes']} nodes: {seen[i]} and {n} hash "
                                    f"to the same identifier {i}")
            seen[i] = n
        self.churn = _churn(config["r"], config["mode"])

    def cluster(self, config: dict) -> Cluster:
        return Cluster(dict.fromkeys(slot_names(config), ChordNode), initial_members(config))

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> ChordOps:
        return ChordOps(workload, config, rng, slot_names(config))

    def monitor(self, config: dict) -> ChordMonitor:
        return ChordMonitor(config)

    def may_depart(self, sim, node: str) -> str | None:
        """Zave's operating assumption, on the live ring (the 2001 protocol has none)."""
        config = sim.config
        if config["mode"] != "zave":
            return super().may_depart(sim, node)
        return super().may_depart(sim, node) or why_not_depart(sim, node, config["m"],
                                                                 config["r"])


def _churn(r: int, mode: str) -> ChurnLimits:
    """Zave's operating assumption, as far as a schedule drawn before the run can keep it:
    a departure (leave or failure) only once the ring has repaired the last one (so each
    member's list holds r live successors and losing one leaves it r-1), and never below
    2r+1 members, so the r+1 principals survive the joiners that are not principals yet.
    The 2001 protocol comes with no such promise: any member may go, down to one."""
    if mode == "original":
        return ChurnLimits(min_members=1, max_joining=1, max_leaving=1)
    return ChurnLimits(min_members=2 * r + 1, max_joining=1, max_leaving=1)
