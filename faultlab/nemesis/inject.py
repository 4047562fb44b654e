"""The nemesis at run time: turns a schedule's faults into kernel actions and undoes them.

Targets are resolved when a fault strikes: node names as they are, "role:<name>" by asking
the protocol who holds the role, "announcer" as the node whose announcement set a triggered
fault off, and "!<target>" as every node but those. Exempt nodes are never struck, save by
a partition that puts them on one side of its cut (`cut_exempt`). The resolved nodes are
remembered so the fault's end undoes exactly what its start did; overlapping crashes and
pauses are counted, so a node killed twice restarts when the last kill ends. A fault with a
trigger arms at its time and strikes after the n-th matching announcement; one that has not
struck by the heal never does.
"""
from __future__ import annotations

from collections.abc import Callable

import attrs

from faultlab.nemesis.faults import ANNOUNCER, NOT, ROLE_PREFIX, Fault
from faultlab.nemesis.kinds import KINDS
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.kernel import Simulator


@attrs.frozen
class FaultRecord:
    """One line of the nemesis log: a fault starting or ending (or the final heal)."""

    time: int
    phase: str          # "start", "end" or "heal"
    index: int          # position in the schedule (-1 for heal)
    text: str
    nodes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return attrs.asdict(self)


class Nemesis:
    """Applies one schedule to one simulator. `role_holders(role)` names the nodes holding
    a role now; `contact_for(joining)` names the live member a joining node bootstraps from;
    `may_depart(node)` says why a member may not leave or fail now (None: it may)."""

    def __init__(self, sim: Simulator, schedule: Schedule,
                 role_holders: Callable[[str], list[str]],
                 contact_for: Callable[[str], str | None] | None = None,
                 may_depart: Callable[[str], str | None] | None = None):
        self.sim = sim
        self.schedule = schedule
        self.role_holders = role_holders
        self._contact_for = contact_for
        self._may_depart = may_depart
        self.log: list[FaultRecord] = []
        self.healed = False
        self.fired: dict[str, int] = {}
        self._active: dict[int, tuple[Fault, tuple[str, ...], object]] = {}
        self._counts: dict[tuple[str, str], int] = {}  # (counter, node) -> faults holding it
        self._message_faults: dict[str, dict[int, float]] = {}  # kind -> fault -> value
        self._armed: dict[str, list[list]] = {}  # event -> [[fault index, announcements left]]

    def install(self, heal_at: int) -> None:
        for i, fault in enumerate(self.schedule.faults):
            if fault.time < heal_at:
                self.sim.at(fault.time, f"nemesis start {i}", self._start, i)
        self.sim.at(heal_at, "nemesis heal", self._heal)

    # ---- what kinds use ------------------------------------------------------------------

    def hold(self, counter: str, node: str) -> None:
        key = (counter, node)
        self._counts[key] = self._counts.get(key, 0) + 1

    def release(self, counter: str, node: str) -> bool:
        """Drop one hold; True when it was the last (the node may be restored)."""
        key = (counter, node)
        left = self._counts.get(key, 0) - 1
        if left > 0:
            self._counts[key] = left
            return False
        self._counts.pop(key, None)
        return True

    def is_active(self, index: int) -> bool:
        return index in self._active

    def reachable(self, with_exempt: bool = False) -> tuple[str, ...]:
        """The nodes whose links a partition may cut (every slot but the exempt, unless
        `with_exempt`)."""
        if with_exempt:
            return self.sim.names
        exempt = self.sim.net.exempt
        return tuple(n for n in self.sim.names if n not in exempt)

    def contact_for(self, joining: str) -> str | None:
        return None if self._contact_for is None else self._contact_for(joining)

    def departing(self, index: int, fault: Fault, nodes: tuple[str, ...]) -> tuple[str, ...]:
        """The nodes of a leave or fail that the protocol lets go now; each one held back
        is logged with the reason."""
        allowed = []
        for n in nodes:
            why = None if self._may_depart is None else self._may_depart(n)
            if why is None:
                allowed.append(n)
                continue
            key = f"{fault.kind} (held back)"
            self.fired[key] = self.fired.get(key, 0) + 1
            self.log.append(FaultRecord(self.sim.time, "held", index,
                                        f"{fault.describe()}: {n} stays, {why}", (n,)))
        return tuple(allowed)

    def set_message_fault(self, kind: str, index: int, value: float | None) -> None:
        """Fault `index` turns a message fault on (value) or off (None); the largest value of
        each kind holds."""
        table = self._message_faults.setdefault(kind, {})
        if value is None:
            table.pop(index, None)
        else:
            table[index] = value

        def top(k):
            return max(self._message_faults.get(k, {}).values(), default=0)

        self.sim.net.set_faults(loss=top("loss"), duplicate=top("duplicate"),
                                delay_us=int(top("delay")), extra_spread_us=int(top("reorder")))

    # ---- starting and ending faults -----------------------------------------------------

    def _start(self, i: int) -> None:
        fault = self.schedule.faults[i]
        if fault.trigger is None:
            self._begin((i, None))
            return
        event = fault.trigger.event
        armed = self._armed.get(event)
        if armed is None:
            armed = self._armed[event] = []
            self.sim.listeners.setdefault(event, []).append(self._heard)
        armed.append([i, fault.trigger.nth])

    def _heard(self, node: str, event: str, data: dict) -> None:
        """An announcement: count it for every fault armed on its event (and source)."""
        if self.healed:
            return
        sim = self.sim
        armed = self._armed.get(event, [])
        for entry in list(armed):
            i = entry[0]
            trigger = self.schedule.faults[i].trigger
            if trigger.source is not None and node not in self._resolve((trigger.source,)):
                continue
            entry[1] -= 1
            if entry[1] == 0:
                armed.remove(entry)
                sim.at(sim.time + trigger.after_us, f"nemesis start {i}", self._begin,
                       (i, node))

    def _resolve(self, targets: tuple[str, ...], announcer: str | None = None,
                 with_exempt: bool = False) -> tuple[str, ...]:
        nodes: list[str] = []
        for t in targets:
            if t.startswith(NOT):
                but = self._resolve((t[len(NOT):],), announcer, with_exempt)
                nodes.extend(n for n in self.reachable(with_exempt) if n not in but)
            elif t.startswith(ROLE_PREFIX):
                nodes.extend(self.role_holders(t[len(ROLE_PREFIX):]))
            elif t == ANNOUNCER:
                if announcer is not None:
                    nodes.append(announcer)
            elif t in self.sim.contexts:
                nodes.append(t)
        exempt = () if with_exempt else self.sim.net.exempt
        return tuple(sorted({n for n in nodes if n not in exempt}))

    def _begin(self, arg: tuple[int, str | None]) -> None:
        i, announcer = arg
        if self.healed:  # a triggered fault that struck only after the heal
            return
        fault = self.schedule.faults[i]
        kind = KINDS[fault.kind]
        nodes = kind.struck(self, fault, self._resolve(fault.targets, announcer,
                                                       bool(fault.params.get("cut_exempt"))))
        key = fault.kind if fault.kind != "partition" else f"partition-{fault.params['mode']}"
        if fault.trigger is not None:
            key += f" (on {fault.trigger.event})"
        self.fired[key] = self.fired.get(key, 0) + 1
        undo = kind.start(self, i, fault, nodes)
        self._active[i] = (fault, nodes, undo)
        sim = self.sim
        self.log.append(FaultRecord(sim.time, "start", i, fault.describe(), nodes))
        sim.at(sim.time + fault.duration_us, f"nemesis end {i}", self._end, i)

    def _end(self, i: int) -> None:
        entry = self._active.pop(i, None)
        if entry is None:
            return
        fault, nodes, undo = entry
        KINDS[fault.kind].end(self, i, fault, nodes, undo)
        self.log.append(FaultRecord(self.sim.time, "end", i, fault.describe(), nodes))

    def _heal(self, _arg=None) -> None:
        """The heal phase: every fault ends, crashed members restart, clocks are true."""
        self.healed = True
        self._active.clear()
        self._counts.clear()
        self._message_faults.clear()
        self._armed.clear()
        self.sim.heal()
        self.log.append(FaultRecord(self.sim.time, "heal", -1, "heal: all faults end"))
