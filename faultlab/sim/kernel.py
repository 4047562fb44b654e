"""The deterministic simulation kernel: one clock, one event heap, every node in one thread.

Events are heap tuples `(time, seq, kind, target, a, b)`; `seq` is a global counter, so ties
break the same way in every process. Every delivered event is appended to the trace
fingerprint (blake2b over a canonical encoding), which replay must reproduce exactly.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from heapq import heappop, heappush
from typing import Any

import orjson

from faultlab.sim.chooser import Chooser, RandomChooser
from faultlab.sim.disk import Disk
from faultlab.sim.network import Network, NetworkConfig
from faultlab.sim.node import Context, Node, Request
from faultlab.sim.rng import stream

# Event kinds. DELIVER/TIMER/REQUEST/GONE go to a node (held while it is paused); CALL runs
# a kernel-side callback (client actions, nemesis faults).
DELIVER, TIMER, REQUEST, CALL, GONE = 0, 1, 2, 3, 4

Invariant = Callable[["Simulator"], "str | None"]


def _canonical(value: Any) -> Any:
    """orjson fallback for values it cannot encode natively, in a process-independent way."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Request):
        return [value.id, value.process, value.f, value.value]
    return repr(value)


class Simulator:
    """Runs a cluster of protocol nodes. Faults are applied through its methods (the nemesis
    calls them; scenario tests may too).

    `names` are the node slots, the addresses every node knows (`ctx.nodes`). `members` are
    the slots that boot as members (default: all); the others are spares a `join` boots
    later. A member that leaves or fails is gone and never runs again. `node_class` is one
    class for every slot or a mapping from slot to class (node kinds). `exempt` slots never
    suffer message faults (the nemesis never targets them either).
    """

    FLUSH_EVERY = 2048  # fingerprint events are hashed in batches: cheaper than one by one

    def __init__(self, node_class: type[Node] | Mapping[str, type[Node]],
                 names: tuple[str, ...], *, seed: int, config: dict | None = None,
                 bugs: frozenset[str] = frozenset(), network: NetworkConfig = NetworkConfig(),
                 chooser: Chooser | None = None, members: tuple[str, ...] | None = None,
                 exempt: frozenset[str] = frozenset()):
        self.seed = seed
        self.names = tuple(sorted(names))
        self.classes = (dict(node_class) if isinstance(node_class, Mapping)
                        else dict.fromkeys(self.names, node_class))
        self.config = config or {}
        self.bugs = frozenset(bugs)
        self.time = 0
        self.queue: list = []
        self.seq = 0
        self.events = 0
        self.stopped = False
        self.violation: str | None = None
        self.violated_check = ""  # the invariant's name, which names the failing check
        self.invariants: list[Invariant] = []
        self.stats: dict[str, int] = {}
        self.net = Network(network, frozenset(exempt))
        self.chooser = chooser if chooser is not None else RandomChooser(stream(seed, "network"))
        self._latency = self.chooser.latency
        self.client: Any = None  # receives replies; set by sim.client.Clients

        self.disks = {n: Disk() for n in self.names}
        self.contexts = {n: Context(self, n, self.names, stream(seed, f"node/{n}"),
                                    self.disks[n]) for n in self.names}
        self.nodes: dict[str, Node | None] = {n: None for n in self.names}
        self.members: set[str] = set(self.names if members is None else members)
        self.leaving: set[str] = set()  # left the membership, still handing over
        self.gone: set[str] = set()     # left or failed: never runs again
        self._member_list: tuple = (None, ())  # (membership version, members in order)
        self.membership_changes = 0     # joins, leaves and failures so far
        self.up: set[str] = set()
        self.boots = 0  # node starts and restarts so far (invariants adopt new nodes)
        self.paused: set[str] = set()
        self.held: dict[str, list] = {n: [] for n in self.names}
        # node -> timer name -> the (name, due time) token of its pending heap entry
        self.timers: dict[str, dict[str, tuple[str, int]]] = {n: {} for n in self.names}
        self.clock_offset = {n: 0 for n in self.names}
        self.clock_drift_ppm = {n: 0 for n in self.names}
        self.clock_drift_since = {n: 0 for n in self.names}
        # event -> callables(node, event, data) told of each announcement (nemesis triggers)
        self.listeners: dict[str, list[Callable[[str, str, dict], None]]] = {}
        self.announcements: list[tuple[int, str, str, dict]] = []

        self._hash = hashlib.blake2b(digest_size=16)
        self._trace: list = []

    # ---- running -------------------------------------------------------------------------

    def boot(self) -> None:
        """Start every initial member, in name order, at the current time."""
        for name in self.names:
            if name in self.members:
                self._create(name, recovering=False)

    def member_list(self) -> tuple[str, ...]:
        """The current members, in name order (clients send only to them)."""
        key = (self.membership_changes, len(self.members))
        if self._member_list[0] != key:
            self._member_list = (key, tuple(n for n in self.names if n in self.members))
        return self._member_list[1]

    def run(self, until: int) -> None:
        """Process events up to simulated time `until`, or until stop() or a violation."""
        q = self.queue
        trace = self._trace
        nodes = self.nodes
        paused = self.paused
        blocked = self.net.blocked
        invariants = self.invariants
        held = self.held
        events = self.events
        try:
            while q and not self.stopped:
                if q[0][0] > until:
                    break
                ev = heappop(q)
                t, _, kind, target, a, b = ev
                self.time = t
                if kind == CALL:
                    trace.append((t, target))
                    a(b)
                else:
                    if target in paused:
                        held[target].append(ev)
                        continue
                    node = nodes[target]
                    if node is None:
                        if kind == REQUEST and self.client is not None:
                            self.client.on_refused(a, target)
                        elif kind == DELIVER and target in self.gone:
                            self._bounce(target, a, b)
                        continue
                    if kind == DELIVER:
                        if blocked and (a, target) in blocked:
                            continue
                        trace.append((t, target, a, b))
                        node.on_message(a, b)
                    elif kind == TIMER:
                        name = a[0]
                        timers = self.timers[target]
                        if timers.get(name) is not a:  # replaced or cancelled since
                            continue
                        del timers[name]
                        trace.append((t, target, name))
                        node.on_timer(name, b)
                    elif kind == REQUEST:
                        trace.append((t, target, a))
                        node.on_request(a)
                    else:
                        trace.append((t, target, "gone", a))
                        node.on_gone(a, b)
                    if invariants:
                        self._check_invariants()
                events += 1
                if not events % self.FLUSH_EVERY:
                    self._flush()
        finally:  # also when a handler raises: the count stays true
            self.events = events
        if self.time < until and not self.stopped:
            self.time = until

    def stop(self) -> None:
        self.stopped = True

    def _check_invariants(self) -> None:
        for inv in self.invariants:
            problem = inv(self)
            if problem:
                name = getattr(inv, "__name__", "<lambda>")
                self.violated_check = "invariant" if name.startswith("<") else name
                self.violation = f"{self.violated_check}: {problem}"
                self.stopped = True
                return

    def _flush(self) -> None:
        self._hash.update(orjson.dumps(self._trace, default=_canonical,
                                       option=orjson.OPT_NON_STR_KEYS))
        self._trace.clear()

    def fingerprint(self) -> str:
        """Hex digest of every event delivered so far."""
        self._flush()
        return self._hash.hexdigest()

    def _push(self, time: int, kind: int, target, a, b) -> None:
        self.seq += 1
        heappush(self.queue, (time, self.seq, kind, target, a, b))

    def at(self, time: int, label: str, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Run `fn(arg)` at simulated `time`; `label` names the event in the fingerprint."""
        self.seq += 1
        heappush(self.queue, (max(time, self.time), self.seq, CALL, label, fn, arg))

    # ---- what nodes do through their Context -------------------------------------------

    def local_time(self, name: str) -> int:
        t = self.time + self.clock_offset[name]
        drift = self.clock_drift_ppm[name]
        if drift:
            t += drift * (self.time - self.clock_drift_since[name]) // 1_000_000
        return t

    def send(self, src: str, dst: str, msg: tuple) -> None:
        net = self.net
        if net.blocked and (src, dst) in net.blocked:
            return
        if net.degraded and src not in net.exempt and dst not in net.exempt:
            self._send_degraded(src, dst, msg)
            return
        seq = self.seq = self.seq + 1
        heappush(self.queue, (self.time + self._latency(net.latency_us, net.spread_us), seq,
                              DELIVER, dst, src, msg))

    def _bounce(self, dst: str, src: str, msg: tuple) -> None:
        """A message reached `dst` after it left or failed for good: its host answers that
        nothing listens there (as a refused connection does), back over the network.
        A node that is down for a while, paused or cut off answers nothing."""
        net = self.net
        if net.blocked and (dst, src) in net.blocked:
            return
        seq = self.seq = self.seq + 1
        heappush(self.queue, (self.time + self._latency(net.latency_us, net.spread_us), seq,
                              GONE, src, dst, msg))

    def _send_degraded(self, src: str, dst: str, msg: tuple) -> None:
        """A send while message faults are on: it may be lost, delayed or duplicated."""
        net = self.net
        if net.loss and self.chooser.chance(net.loss):
            self.stats["messages-lost"] = self.stats.get("messages-lost", 0) + 1
            return
        seq = self.seq = self.seq + 1
        heappush(self.queue, (self.time + self._latency(net.latency_us, net.spread_us), seq,
                              DELIVER, dst, src, msg))
        if net.duplicate and self.chooser.chance(net.duplicate):
            self.stats["messages-duplicated"] = self.stats.get("messages-duplicated", 0) + 1
            seq = self.seq = self.seq + 1
            heappush(self.queue, (self.time + self._latency(net.latency_us, net.spread_us),
                                  seq, DELIVER, dst, src, msg))

    def announce(self, node: str, event: str, data: dict) -> None:
        """A node marked a protocol moment: count it, log it, tell whoever listens."""
        self.stats[event] = self.stats.get(event, 0) + 1
        self.announcements.append((self.time, node, event, data))
        listeners = self.listeners.get(event)
        if listeners:
            for listener in tuple(listeners):
                listener(node, event, data)

    def set_timer(self, node: str, name: str, delay_us: int, data: Any) -> None:
        drift = self.clock_drift_ppm[node]
        if drift:  # a fast clock fires its timers early in true time
            delay_us = delay_us * 1_000_000 // (1_000_000 + drift)
        self.seq += 1
        due = self.time + max(delay_us, 0)
        token = self.timers[node][name] = (name, due)
        heappush(self.queue, (due, self.seq, TIMER, node, token, data))

    def cancel_timer(self, node: str, name: str) -> None:
        self.timers[node].pop(name, None)

    def client_latency(self) -> int:
        cfg = self.net.config  # client links suffer no network faults
        return self.chooser.latency(cfg.base_latency_us, cfg.spread_us)

    def submit(self, node: str, req: Request) -> None:
        """A client sends `req` to `node`; client links are never partitioned (as in Jepsen,
        the nemesis cuts links between servers)."""
        self._push(self.time + self.client_latency(), REQUEST, node, req, None)

    def reply(self, node: str, req: Request, type: str, value: Any, error: Any) -> None:
        if self.client is not None:
            self.at(self.time + self.client_latency(), f"reply {req.id}",
                    self.client.on_reply, (req, node, type, value, error))

    def redirect(self, node: str, req: Request, hint: str | None) -> None:
        if self.client is not None:
            self.at(self.time + self.client_latency(), f"redirect {req.id}",
                    self.client.on_redirect, (req, node, hint))

    # ---- faults ---------------------------------------------------------------------------

    def _create(self, name: str, recovering: bool) -> Node:
        node = self.classes[name](self.contexts[name], self.config, self.bugs)
        self.nodes[name] = node
        self.up.add(name)
        self.boots += 1
        if recovering:
            node.recover()
        else:
            node.start()
        if self.invariants:
            self._check_invariants()
        return node

    def crash(self, name: str, lose_unsynced: bool = False) -> None:
        """Kill a node: volatile state, timers and queued input are gone. With
        `lose_unsynced` the machine lost power too, and unsynced disk writes vanish."""
        if name not in self.up:
            return
        self.up.discard(name)
        self.nodes[name] = None
        self.timers[name] = {}
        self.held[name] = []
        self.paused.discard(name)
        if lose_unsynced:
            lost = self.disks[name].lose_unsynced()
            self.stats["unsynced-writes-lost"] = self.stats.get("unsynced-writes-lost", 0) + lost

    def restart(self, name: str) -> None:
        """Boot a crashed member from its durable state (no-op if it is up, a spare or
        gone)."""
        if name not in self.up and name in self.members:
            self._create(name, recovering=True)

    # ---- membership -----------------------------------------------------------------------

    def join(self, name: str, contact: str | None) -> bool:
        """Boot the spare `name` as a new member and let it join through `contact`. False if
        it is not a spare (already a member, or gone)."""
        if name in self.members or name in self.leaving or name in self.gone:
            return False
        self.members.add(name)
        self.membership_changes += 1
        node = self._create(name, recovering=False)
        if not self.stopped:
            node.on_join(contact)
        return True

    def leave(self, name: str) -> bool:
        """The member `name` leaves gracefully: it is no longer a member and runs
        `on_leave()`; it keeps running (to hand over) until `retire()`. A member that is down
        when it leaves is gone at once. False if it is not a member."""
        if name not in self.members:
            return False
        self.members.discard(name)
        self.membership_changes += 1
        node = self.nodes[name]
        if node is None:
            self.gone.add(name)
            return True
        self.leaving.add(name)
        if name in self.paused:  # a frozen process cannot hand over; it resumes to leave
            self.resume(name)
        node.on_leave()
        return True

    def retire(self, name: str) -> None:
        """`name` stops for good: a leave's hand-off is over, or it failed. It never
        restarts, not even at the heal."""
        if name in self.gone:
            return
        self.crash(name)
        if name in self.members:
            self.membership_changes += 1
        self.members.discard(name)
        self.leaving.discard(name)
        self.gone.add(name)

    # ---- other faults ---------------------------------------------------------------------

    def pause(self, name: str) -> None:
        """Freeze a node: its messages, timers and requests wait until resume()."""
        if name in self.up:
            self.paused.add(name)

    def resume(self, name: str) -> None:
        if name in self.paused:
            self.paused.discard(name)
            for ev in self.held[name]:
                self._push(self.time, ev[2], ev[3], ev[4], ev[5])
            self.held[name] = []

    def bump_clock(self, name: str, delta_us: int) -> None:
        self.clock_offset[name] += delta_us

    def skew_clock(self, name: str, ppm: int) -> None:
        """Make a node's clock run `ppm` parts per million fast (negative: slow)."""
        # Fold the drift accumulated so far into the offset, so the clock stays continuous.
        self.clock_offset[name] = self.local_time(name) - self.time
        self.clock_drift_ppm[name] = ppm
        self.clock_drift_since[name] = self.time

    def reset_clock(self, name: str) -> None:
        self.clock_offset[name] = 0
        self.clock_drift_ppm[name] = 0

    def heal(self) -> None:
        """End every fault: links open, message faults off, clocks true, paused nodes
        resumed, crashed members restarted. Leaving nodes finish leaving; spares stay spares
        and nodes that left or failed stay gone."""
        self.net.heal()
        for name in sorted(self.leaving):
            self.retire(name)
        for name in self.names:
            self.reset_clock(name)
            self.resume(name)
            self.restart(name)

    def states(self) -> dict[str, Any]:
        """Every slot's canonical state, None for a node that is not running, in name
        order."""
        return {n: None if self.nodes[n] is None else self.nodes[n].state()
                for n in self.names}
