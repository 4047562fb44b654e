"""A tiny protocol for testing the platform: members that greet through a contact when they
join, say goodbye when they leave, ping an exempt storage node, and answer "whoami".

Slots n1..n<nodes>: the first `initial` are members, the rest spares, and one extra slot,
"store", runs `Storage` and is exempt from faults (node kinds and exemptions).
"""
from __future__ import annotations

from faultlab.checkers.verdict import Verdict
from faultlab.nemesis.families import ChurnLimits
from faultlab.nemesis.generator import NemesisConfig, general_families
from faultlab.protocols.base import Check, Cluster, Protocol, Setting
from faultlab.sim.node import Node, canonical
from faultlab.sim.workload import OpGenerator, Workload

STORE = "store"


class Member(Node):
    def start(self):
        self.heard: dict[str, list] = {}
        self.joined_via = None
        self.leaving = False
        self.ctx.set_timer("ping", 10_000)

    def on_join(self, contact):
        self.joined_via = contact
        if contact is not None:
            self.ctx.send(contact, ("hello",))
        self.ctx.announce("joined")

    def on_leave(self):
        self.leaving = True
        for peer in self.ctx.peers:
            if peer != STORE:
                self.ctx.send(peer, ("bye",))

    def on_message(self, src, msg):
        self.heard.setdefault(msg[0], []).append(src)

    def on_timer(self, name, data):
        self.ctx.send(STORE, ("ping",))
        self.ctx.count("pings-sent")
        self.ctx.set_timer("ping", 10_000)

    def on_request(self, req):
        self.ctx.reply(req, "ok", self.ctx.name)

    def state(self):
        return canonical(("member", self.heard, self.joined_via, self.leaving,
                          self.ctx.timers()))


class Storage(Node):
    def start(self):
        self.pings = 0

    def on_message(self, src, msg):
        self.pings += 1
        self.ctx.count("pings-received")

    def state(self):
        return ("storage", self.pings)


class WhoAmI(OpGenerator):
    def next_op(self, n):
        return ("whoami", None)


def _not_n1(members, node):
    return node != "n1"  # the protocol's own precondition: n1 never leaves


def served_by_members(record) -> Verdict:
    """Every ok whoami was answered by the node it names (and never by the storage)."""
    bad = [op.index for op in record.history if op.type == "ok" and op.value == STORE]
    return Verdict("served-by-members", not bad, f"{len(bad)} ops answered by the store",
                   ops=bad)


class Roster(Protocol):
    name = "roster"
    summary = "members that join, leave and fail, beside an exempt storage node"
    settings = (Setting("nodes", 5, "member slots", 1, 16),
                Setting("initial", 3, "slots that start as members", 1, 16))
    checks = (Check("served-by-members", "ops are answered by members",
                    function=served_by_members),)
    churn = ChurnLimits(min_members=2, max_joining=1, max_leaving=1, may_remove=_not_n1)
    announces = ("joined",)
    default_workload = Workload(clients=4, think_us=5_000, timeout_us=100_000)
    default_nemesis = NemesisConfig(families=(*general_families(), "churn", "churn"))

    def cluster(self, config):
        slots = [f"n{i}" for i in range(1, config["nodes"] + 1)]
        classes = dict.fromkeys(slots, Member)
        classes[STORE] = Storage
        return Cluster(classes, (*slots[:config["initial"]], STORE), frozenset({STORE}))

    def ops(self, config, workload, rng):
        return WhoAmI(workload, config, rng)

    def contact_for(self, sim, joining):
        live = [n for n in sim.member_list() if n in sim.up and n not in (joining, STORE)]
        return live[-1] if live else None
