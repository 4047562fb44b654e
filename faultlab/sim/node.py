"""The node API: what a protocol implements, and the context through which it acts.

A protocol node is a deterministic state machine. The kernel calls its handlers; the node
acts on the world only through `self.ctx` (clock, rng, network, timers, disk, replies).
A crash throws the node object away; a restart builds a fresh one and calls `recover()`,
so volatile state is lost by construction and only what reached `ctx.disk` survives.
Membership changes reach a node through `on_join` and `on_leave`; which nodes are members it
learns through its own messages, as a real system does. A message sent to a node that left
or failed for good comes back through `on_gone`, as a refused connection would; a node that
is down for a while, paused or cut off answers nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import random

    from faultlab.sim.disk import Disk
    from faultlab.sim.kernel import Simulator


@attrs.define(slots=True, eq=False)
class Request:
    """A client operation as a node sees it; answer it with `ctx.reply` or `ctx.redirect`."""

    id: int
    process: int
    f: str
    value: Any
    client: str  # "client-<process>", for messages and traces


class Node:
    """Base class for protocol nodes. Override the handlers you need.

    `config` is the protocol config (plain data) and `bugs` the set of planted bugs switched
    on for this run; a bug is checked where the code it mutates lives (`if "x" in self.bugs`).
    """

    # attributes rebuilt from what state() holds (code, caches), which need not be in it
    DERIVED: tuple[str, ...] = ()

    def __init__(self, ctx: Context, config: dict, bugs: frozenset[str]) -> None:
        self.ctx = ctx
        self.config = config
        self.bugs = bugs

    def start(self) -> None:
        """First boot, with an empty disk (an initial member, or a spare about to join)."""

    def recover(self) -> None:
        """Boot after a crash: rebuild volatile state from `ctx.disk`. Defaults to start()."""
        self.start()

    def on_join(self, contact: str | None) -> None:
        """This spare was just booted to join the cluster through `contact`, a live member
        (None when no member is up). Called right after `start()`."""

    def on_leave(self) -> None:
        """This member is leaving gracefully: hand over what it owns. It keeps running for
        the leave's hand-off window, then stops for good."""

    def on_message(self, src: str, msg: tuple) -> None:
        """A message from another node; `msg[0]` names its type."""

    def on_timer(self, name: str, data: Any) -> None:
        """A timer set with `ctx.set_timer(name, ...)` fired."""

    def on_gone(self, node: str, msg: tuple) -> None:
        """`msg`, sent to `node`, found it gone for good (it left or failed)."""

    def on_data_loss(self, what: str) -> None:
        """This node lost data without crashing: "memory" (cached blocks evicted) or "disk"
        (its local files). Nodes that keep no such data ignore it."""

    def on_request(self, req: Request) -> None:
        """A client operation arrived at this node."""
        self.ctx.reply(req, "fail", error="not-supported")

    def state(self) -> Hashable:
        """Everything that decides this node's future behaviour, as a canonical hashable value
        (build it with `canonical`). Checks, invariants and exploration read it: a partial
        state silently merges distinct states."""
        return ()


class Context:
    """A node's only window on the world. One per node, kept across restarts."""

    __slots__ = ("name", "nodes", "peers", "rng", "disk", "send", "_sim")

    def __init__(self, sim: Simulator, name: str, nodes: tuple[str, ...], rng: random.Random,
                 disk: Disk) -> None:
        self._sim = sim
        self.name = name
        self.nodes = nodes  # every node of the cluster, sorted, including this one
        self.peers = tuple(n for n in nodes if n != name)
        self.rng = rng
        self.disk = disk
        # send(dst, msg): a partial, so the hot path costs one Python call, not two.
        self.send = functools.partial(sim.send, name)

    def now(self) -> int:
        """This node's clock in microseconds: true time shifted by any clock fault."""
        sim = self._sim
        if sim.clock_drift_ppm[self.name]:
            return sim.local_time(self.name)
        return sim.time + sim.clock_offset[self.name]

    def broadcast(self, msg: tuple) -> None:
        """Send `msg` to every other node."""
        send = self._sim.send
        for dst in self.peers:
            send(self.name, dst, msg)

    def set_timer(self, name: str, delay_us: int, data: Any = None) -> None:
        """Fire `on_timer(name, data)` after `delay_us` of this node's clock; replaces a
        pending timer of the same name."""
        self._sim.set_timer(self.name, name, delay_us, data)

    def cancel_timer(self, name: str) -> None:
        self._sim.cancel_timer(self.name, name)

    def timers(self) -> tuple[tuple[str, int], ...]:
        """The pending timers, as (name, microseconds of true time until it fires), by name:
        part of what decides the node's future, so `state()` includes it."""
        now = self._sim.time
        return tuple(sorted((name, due - now)
                            for name, due in self._sim.timers[self.name].values()))

    def reply(self, req: Request, type: str, value: Any = None, error: Any = None) -> None:
        """Complete a client request: `type` is "ok" or "fail" (certainly did not happen)."""
        self._sim.reply(self.name, req, type, value, error)

    def redirect(self, req: Request, node: str | None) -> None:
        """Tell the client to retry at `node` (or at any other node if None); the operation
        stays open and keeps its timeout."""
        self._sim.redirect(self.name, req, node)

    def announce(self, event: str, **data: Any) -> None:
        """Mark a protocol moment ("leader-elected", "prepare-logged"): faults waiting for it
        strike, and the run counts it among its statistics."""
        self._sim.announce(self.name, event, data)

    def count(self, stat: str, n: int = 1) -> None:
        """Add to a run statistic shown in campaign summaries (e.g. "leader-change")."""
        stats = self._sim.stats
        stats[stat] = stats.get(stat, 0) + n


def canonical(value: Any) -> Hashable:
    """`value` as nested tuples in a deterministic order: lists become tuples, dicts sorted
    (key, value) pairs, sets sorted tuples, requests their identifying fields, attrs records
    their fields."""
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return _sorted((canonical(k), canonical(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return _sorted(canonical(v) for v in value)
    if isinstance(value, Request):
        return ("request", value.id, value.process, value.f, canonical(value.value))
    if attrs.has(type(value)):  # a record a protocol keeps: its fields, by name
        return (type(value).__name__, canonical(attrs.asdict(value, recurse=False)))
    return value


def _sorted(items) -> tuple:
    items = list(items)
    try:
        return tuple(sorted(items))
    except TypeError:  # mixed types: repr still gives one order in every process
        return tuple(sorted(items, key=repr))
