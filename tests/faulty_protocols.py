"""Protocols that misbehave on purpose, to show how the harness reports what they do:
`brittle` raises from a handler on some seeds, `forgetful` acknowledges appends that a
later read does not show (its replicas never talk to each other)."""
from __future__ import annotations

from faultlab.checkers.lost_appends import check_lost_appends
from faultlab.protocols.base import Check, Protocol, Setting
from faultlab.sim.node import Node, canonical
from faultlab.sim.workload import OpGenerator, Workload


class BrittleNode(Node):
    """Ticks every 5 ms. On about half the seeds n1 is doomed and divides by zero on its
    50th tick."""

    def start(self):
        self.ticks = 0
        self.doomed = self.ctx.name == "n1" and self.ctx.rng.random() < 0.5
        self.ctx.set_timer("tick", 5_000)

    def on_timer(self, name, data):
        self.ticks += 1
        if self.doomed and self.ticks == 50:
            self.ticks //= 0
        self.ctx.set_timer("tick", 5_000)

    def on_request(self, req):
        self.ctx.reply(req, "ok", self.ticks)

    def state(self):
        return canonical((self.ticks, self.doomed, self.ctx.timers()))


class Ping(OpGenerator):
    def next_op(self, n):
        return ("ping", None)


class Brittle(Protocol):
    name = "brittle"
    summary = "a node handler that sometimes raises"
    settings = (Setting("nodes", 3, "nodes", 1, 5),)

    def node_class(self):
        return BrittleNode

    def ops(self, config, workload, rng):
        return Ping(workload, config, rng)


class ForgetfulNode(Node):
    """A KV replica that never replicates: each node has its own map."""

    def start(self):
        self.kv: dict = {}

    def on_request(self, req):
        key, arg = req.value
        if req.f == "append":
            self.kv[key] = self.kv.get(key, "") + arg
            self.ctx.reply(req, "ok", req.value)
        else:
            self.ctx.reply(req, "ok", [key, self.kv.get(key, "")])

    def state(self):
        return canonical(self.kv)


class Appends(OpGenerator):
    def next_op(self, n):
        key = self.rng.randrange(2)
        return ("append", [key, f"{n},"]) if self.rng.random() < 0.7 else ("get", [key, None])

    def final_ops(self):
        return [("get", [0, None]), ("get", [1, None])]


class Forgetful(Protocol):
    name = "forgetful"
    summary = "KV replicas that acknowledge appends and never share them"
    settings = (Setting("nodes", 3, "nodes", 1, 5),)
    checks = (Check("no-lost-writes", "every acknowledged append is in the final read",
                    function=lambda record: check_lost_appends(record.history,
                                                               record.heal_at)),)
    default_workload = Workload(clients=3, think_us=20_000, timeout_us=100_000)

    def node_class(self):
        return ForgetfulNode

    def ops(self, config, workload, rng):
        return Appends(workload, config, rng)
