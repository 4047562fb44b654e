"""Every fault kind, each in one place: what it does, how it is undone, its parameters.

A kind's `start` acts on the simulator through the nemesis (which resolves targets and
counts overlaps) and returns whatever its `end` needs to undo exactly that; `end` runs when
the fault's duration is over (the heal ends the rest at once). Parameters are named, typed
and ranged, so a schedule read from a file is checked before it runs. Adding a kind means
adding one class here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from faultlab.errors import FaultlabError

if TYPE_CHECKING:
    from faultlab.nemesis.faults import Fault
    from faultlab.nemesis.inject import Nemesis

HOUR_US = 3_600_000_000


@attrs.frozen
class Param:
    """One named fault parameter: its type, its range or choices, and a default (None:
    required)."""

    name: str
    type: type
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    default: Any = None

    def read(self, value: Any, kind: str) -> Any:
        """`value` checked against this parameter, or a one-line error naming it."""
        where = f"fault {kind} param {self.name!r}"
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is not bool
                                                 and isinstance(value, bool)):
            raise FaultlabError(f"{where} must be {self.type.__name__}, got {value!r}")
        if self.type is float and not math.isfinite(value):
            raise FaultlabError(f"{where} must be finite, got {value!r}")
        if self.choices and value not in self.choices:
            raise FaultlabError(f"{where} must be one of {', '.join(map(str, self.choices))}, "
                                f"got {value!r}")
        if (self.lo is not None and value < self.lo) or (self.hi is not None
                                                         and value > self.hi):
            raise FaultlabError(f"{where} must be from {_num(self.lo, self.type)} to "
                                f"{_num(self.hi, self.type)}, got {value!r}")
        return value

    def describe(self) -> str:
        if self.choices:
            rng = "|".join(map(str, self.choices))
        elif self.type is bool:
            rng = "true|false"
        else:
            rng = f"{_num(self.lo, self.type)}..{_num(self.hi, self.type)}"
        default = "" if self.default is None else f", default {self.default}"
        return f"{self.name} ({rng}{default}): {self.help}"


def _num(x: float, kind: type) -> str:
    return str(int(x)) if kind is int else f"{x:g}"


class FaultKind:
    """What one kind of fault does. `targets` says what a fault's targets mean: "nodes"
    (each is struck), "none" (the whole network), or "partition" (a side or an order)."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    targets: ClassVar[str] = "nodes"
    membership: ClassVar[bool] = False  # changes who is a member (only for protocols that allow it)

    def read_params(self, params: dict) -> dict:
        """The params checked by name and range, defaults filled in."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise FaultlabError(f"fault {self.name} has no param {unknown[0]!r} "
                                f"(params: {names})")
        out = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.read(params[p.name], self.name)
            elif p.default is None:
                raise FaultlabError(f"fault {self.name} needs param {p.name!r}")
            else:
                out[p.name] = p.default
        return out

    def struck(self, nemesis: Nemesis, fault: Fault, nodes: tuple[str, ...]) -> tuple[str, ...]:
        """The nodes the fault strikes, from its resolved targets (default: those)."""
        return nodes

    def start(self, nemesis: Nemesis, key: int, fault: Fault, nodes: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def end(self, nemesis: Nemesis, key: int, fault: Fault, nodes: tuple[str, ...],
            undo: Any) -> None:
        """Undo the start (default: nothing to undo)."""


# ---- partitions ------------------------------------------------------------------------------

PARTITION_MODES = ("halves", "isolate", "ring", "bridge", "one-way")


class Partition(FaultKind):
    name = "partition"
    description = ("cut links between nodes; mode halves|isolate|one-way: targets are one "
                   "side (one-way: the side whose messages are lost); ring|bridge: targets "
                   "are an order of the nodes")
    params = (Param("mode", str, "the shape of the cut", choices=PARTITION_MODES),
              Param("size", int, "make the targeted side exactly this many nodes: the "
                    "targets first, then the others in name order (0: the targets as "
                    "they are)", 0, 1_000, default=0),
              Param("cut_exempt", bool, "exempt nodes (a driver, a storage node) take part "
                    "in the cut like any other node, on whichever side", default=False))
    targets = "partition"

    def struck(self, nemesis, fault, nodes):
        size = fault.params["size"]
        if not size:
            return nodes
        others = [n for n in nemesis.reachable(fault.params["cut_exempt"]) if n not in nodes]
        return tuple(sorted([*nodes, *others][:size]))

    def start(self, nemesis, key, fault, nodes):
        sim = nemesis.sim
        links = partition_links(fault.params["mode"], nodes,
                                nemesis.reachable(fault.params["cut_exempt"]))
        sim.net.block(links)
        return links

    def end(self, nemesis, key, fault, nodes, undo):
        nemesis.sim.net.unblock(undo)


def partition_sides(mode: str, targets: tuple[str, ...],
                    names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The sides a partition leaves among `names`, named by what they are: halves and
    isolate give the targeted side and the rest, one-way the mute side (whose messages are
    lost) and the rest, bridge the left, the bridge node and the right; ring (everyone sees
    a majority) one side per node."""
    inside = tuple(n for n in targets if n in names)
    rest = tuple(n for n in names if n not in inside)
    if mode == "halves":
        return {"cut": inside, "rest": rest}
    if mode == "isolate":
        return {"isolated": inside, "rest": rest}
    if mode == "one-way":
        return {"mute": inside, "rest": rest}
    order = inside + rest
    if mode == "bridge":
        mid = len(order) // 2
        return {"left": order[:mid], "bridge": order[mid:mid + 1], "right": order[mid + 1:]}
    return {n: (n,) for n in order}


def partition_links(mode: str, targets: tuple[str, ...], names: tuple[str, ...]) -> set:
    """The directed links a partition blocks among `names`. `targets` is the side named by
    the fault: one half, the isolated nodes, the ring order, the bridge order, or the one-way
    senders."""
    sides = partition_sides(mode, targets, names)
    if mode in ("halves", "isolate", "one-way"):
        inside, rest = sides.values()
        links = {(a, b) for a in inside for b in rest}
        if mode == "one-way":  # the targets' messages are lost; they still hear everyone
            return links
        return links | {(b, a) for a, b in links}
    if mode == "bridge":  # two sides that cannot talk, and one node in the middle sees both
        left, right = sides["left"], sides["right"]
        return {(a, b) for a in left for b in right} | {(b, a) for a in left for b in right}
    order = list(sides)  # ring: each node sees a majority (itself and its nearest neighbours)
    n = len(order)
    reach = (n // 2 + 1) // 2
    links = set()
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            dist = min(abs(i - j), n - abs(i - j))
            if i != j and dist > reach:
                links.add((a, b))
    return links


# ---- processes -------------------------------------------------------------------------------

class Kill(FaultKind):
    name = "kill"
    description = "crash the targets and restart them when the fault ends"
    params = (Param("lose_unsynced", bool, "the machine loses power: unsynced disk writes "
                    "are lost", default=False),)

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            nemesis.hold("down", n)
            nemesis.sim.crash(n, lose_unsynced=fault.params["lose_unsynced"])

    def end(self, nemesis, key, fault, nodes, undo):
        for n in nodes:
            if nemesis.release("down", n):
                nemesis.sim.restart(n)


class Pause(FaultKind):
    name = "pause"
    description = "freeze the targets (SIGSTOP) and resume them when the fault ends"

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            nemesis.hold("frozen", n)
            nemesis.sim.pause(n)

    def end(self, nemesis, key, fault, nodes, undo):
        for n in nodes:
            if nemesis.release("frozen", n):
                nemesis.sim.resume(n)


# ---- membership ------------------------------------------------------------------------------

class Join(FaultKind):
    name = "join"
    description = ("boot each target spare and call its on_join(contact), the contact a live "
                   "member chosen by the protocol; the duration is how long joining may take")
    membership = True

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            nemesis.sim.join(n, nemesis.contact_for(n))


class Leave(FaultKind):
    name = "leave"
    description = ("each target member leaves gracefully: on_leave() runs, it may hand over "
                   "for the fault's duration, then it stops for good")
    membership = True

    def start(self, nemesis, key, fault, nodes):
        leaving = nemesis.departing(key, fault, nodes)
        for n in leaving:
            nemesis.sim.leave(n)
        return leaving

    def end(self, nemesis, key, fault, nodes, undo):
        for n in undo:
            nemesis.sim.retire(n)


class Fail(FaultKind):
    name = "fail"
    description = "crash each target member for good: it never restarts, not even at the heal"
    membership = True

    def start(self, nemesis, key, fault, nodes):
        for n in nemesis.departing(key, fault, nodes):
            nemesis.sim.retire(n)


class LoseData(FaultKind):
    name = "lose-data"
    description = ("the targets lose data without crashing: `memory` (cached blocks evicted) "
                   "or `disk` (local files gone), through the node's on_data_loss")
    params = (Param("what", str, "what is lost", choices=("memory", "disk"),
                    default="memory"),)

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            node = nemesis.sim.nodes.get(n)
            if node is not None:
                node.on_data_loss(fault.params["what"])


# ---- clocks ----------------------------------------------------------------------------------

class ClockBump(FaultKind):
    name = "clock-bump"
    description = "shift the targets' clocks by delta_us, and back when the fault ends"
    params = (Param("delta_us", int, "the shift (negative: back in time)", -HOUR_US, HOUR_US),)

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            nemesis.sim.bump_clock(n, fault.params["delta_us"])

    def end(self, nemesis, key, fault, nodes, undo):
        for n in nodes:
            nemesis.sim.bump_clock(n, -fault.params["delta_us"])


class ClockSkew(FaultKind):
    name = "clock-skew"
    description = "make the targets' clocks run ppm parts per million fast (negative: slow)"
    params = (Param("ppm", int, "the rate error", -500_000, 500_000),)

    def start(self, nemesis, key, fault, nodes):
        for n in nodes:
            nemesis.sim.skew_clock(n, fault.params["ppm"])

    def end(self, nemesis, key, fault, nodes, undo):
        for n in nodes:
            nemesis.sim.skew_clock(n, 0)


class ClockStrobe(FaultKind):
    name = "clock-strobe"
    description = "flip the targets' clocks forward and back by delta_us every period_us"
    params = (Param("delta_us", int, "the size of each flip", 1, HOUR_US),
              Param("period_us", int, "time between flips", 1_000, HOUR_US))

    def start(self, nemesis, key, fault, nodes):
        shifted = [False]  # whether the clocks are shifted right now
        nemesis.sim.at(nemesis.sim.time, f"nemesis strobe {key}", self._flip,
                       (nemesis, key, fault, nodes, shifted))
        return shifted

    def _flip(self, arg) -> None:
        nemesis, key, fault, nodes, shifted = arg
        if not nemesis.is_active(key):
            return
        sign = -1 if shifted[0] else 1
        for n in nodes:
            nemesis.sim.bump_clock(n, sign * fault.params["delta_us"])
        shifted[0] = not shifted[0]
        nemesis.sim.at(nemesis.sim.time + fault.params["period_us"], f"nemesis strobe {key}",
                       self._flip, arg)

    def end(self, nemesis, key, fault, nodes, undo):
        if undo[0]:
            for n in nodes:
                nemesis.sim.bump_clock(n, -fault.params["delta_us"])


# ---- message faults: one network-wide setting each; overlapping faults take the largest ----

class MessageFault(FaultKind):
    """A network-wide setting: while any fault of this kind is on, the largest value holds."""

    targets = "none"

    def start(self, nemesis, key, fault, nodes):
        nemesis.set_message_fault(self.name, key, fault.params[self.params[0].name])

    def end(self, nemesis, key, fault, nodes, undo):
        nemesis.set_message_fault(self.name, key, None)


class Loss(MessageFault):
    name = "loss"
    description = "drop each message with probability p"
    params = (Param("p", float, "probability a message is lost", 0.0, 1.0),)


class Duplicate(MessageFault):
    name = "duplicate"
    description = "deliver each message twice with probability p"
    params = (Param("p", float, "probability a message is delivered twice", 0.0, 1.0),)


class Delay(MessageFault):
    name = "delay"
    description = "add delay_us to every message"
    params = (Param("delay_us", int, "extra latency", 0, 60_000_000),)


class Reorder(MessageFault):
    name = "reorder"
    description = "add up to spread_us of random latency to each message, reordering them"
    params = (Param("spread_us", int, "extra random latency", 0, 60_000_000),)


KINDS: dict[str, FaultKind] = {k.name: k() for k in (
    Partition, Kill, Pause, Join, Leave, Fail, LoseData, ClockBump, ClockSkew, ClockStrobe,
    Loss, Duplicate, Delay, Reorder)}


def get_kind(name: str) -> FaultKind:
    try:
        return KINDS[name]
    except KeyError:
        raise FaultlabError(f"unknown fault kind {name!r} (known: {', '.join(KINDS)})") from None
