"""The nemesis at run time: turns a schedule's faults into kernel actions and undoes them.

Role targets ("role:leader") are resolved when a fault starts, by asking the protocol, and the
resolved nodes are remembered so the fault's end undoes exactly what its start did. A fault with
`params.on_election` waits instead for the next leader to be elected (or the `params.elections`-th
one; the protocol is polled every ELECTION_POLL_US) and strikes that many microseconds after its
election, aiming at a leader's first moments.
"""
from __future__ import annotations

from collections.abc import Callable

import attrs

from faultlab.nemesis.faults import LEADER, ROLE_PREFIX, Fault, partition_links
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.kernel import Simulator

ELECTION_POLL_US = 500


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
    def __init__(self, sim: Simulator, schedule: Schedule,
                 role_holders: Callable[[str], list[str]]):
        self.sim = sim
        self.schedule = schedule
        self.role_holders = role_holders
        self.log: list[FaultRecord] = []
        self.healed = False
        self.fired: dict[str, int] = {}
        self._active: dict[int, tuple[Fault, tuple[str, ...], object]] = {}
        self._down = {n: 0 for n in sim.names}
        self._frozen = {n: 0 for n in sim.names}
        self._net_values: dict[str, dict[int, float]] = {
            "loss": {}, "duplicate": {}, "delay": {}, "reorder": {}}
        # start time -> [leaders last seen, elections seen, faults still waiting]
        self._waiting: dict[int, list] = {}
        self.polls = 0  # election polls run (kernel events that are not the system's work)

    def install(self, heal_at: int) -> None:
        for i, fault in enumerate(self.schedule.faults):
            if fault.time < heal_at:
                self.sim.at(fault.time, f"nemesis start {i}", self._start, i)
        self.sim.at(heal_at, "nemesis heal", self._heal)

    def _resolve(self, targets: tuple[str, ...]) -> tuple[str, ...]:
        nodes: list[str] = []
        for t in targets:
            if t.startswith(ROLE_PREFIX):
                nodes.extend(self.role_holders(t[len(ROLE_PREFIX):]))
            elif t in self.sim.names:
                nodes.append(t)
        return tuple(sorted(set(nodes)))

    def _start(self, i: int) -> None:
        fault = self.schedule.faults[i]
        if "on_election" not in fault.params:
            self._begin((i, None))
            return
        # Faults that start waiting at the same moment (a storm) share one poll loop: they
        # see the same elections, each striking at its own count.
        group = self._waiting.get(self.sim.time)
        if group is None:
            group = self._waiting[self.sim.time] = [tuple(self.role_holders("leader")), 0, []]
            self._await_election(self.sim.time)
        group[2].append(i)

    def _await_election(self, key: int) -> None:
        """Poll for leader changes; each waiting fault strikes the `elections`-th new leader
        (default: the next)."""
        sim = self.sim
        group = self._waiting[key]
        if self.healed:
            return
        self.polls += 1
        before, seen, waiting = group
        leaders = tuple(self.role_holders("leader"))
        if leaders and leaders != before:
            group[1] = seen = seen + 1
            for i in list(waiting):
                fault = self.schedule.faults[i]
                if seen >= fault.params.get("elections", 1):
                    waiting.remove(i)
                    # "role:leader" means the leader just elected; others resolve on start
                    aimed = leaders if LEADER in fault.targets else None
                    sim.at(sim.time + fault.params["on_election"], f"nemesis start {i}",
                           self._begin, (i, aimed))
        group[0] = leaders or before
        if waiting or sim.time == key:  # (more faults may still join at this moment)
            sim.at(sim.time + ELECTION_POLL_US, "nemesis await", self._await_election, key)
        else:
            del self._waiting[key]

    def _begin(self, arg: tuple[int, tuple[str, ...] | None]) -> None:
        i, nodes = arg
        if self.healed:  # an election-triggered fault that never struck before the heal
            return
        fault = self.schedule.faults[i]
        if nodes is None:
            nodes = self._resolve(fault.targets)
        sim = self.sim
        key = fault.kind if fault.kind != "partition" else f"partition-{fault.params['mode']}"
        if "on_election" in fault.params:
            key += " (on election)"
        self.fired[key] = self.fired.get(key, 0) + 1
        undo: object = None
        if fault.kind == "partition":
            undo = partition_links(fault.params["mode"], nodes, sim.names)
            sim.net.block(undo)
        elif fault.kind == "kill":
            for n in nodes:
                self._down[n] += 1
                sim.crash(n, lose_unsynced=bool(fault.params.get("lose_unsynced")))
        elif fault.kind == "pause":
            for n in nodes:
                self._frozen[n] += 1
                sim.pause(n)
        elif fault.kind == "clock-bump":
            for n in nodes:
                sim.bump_clock(n, fault.params["delta_us"])
        elif fault.kind == "clock-skew":
            for n in nodes:
                sim.skew_clock(n, fault.params["ppm"])
        elif fault.kind == "clock-strobe":
            undo = [False]  # whether the clocks are currently shifted
            sim.at(sim.time, f"nemesis strobe {i}", self._strobe, i)
        else:
            self._net_values[fault.kind][i] = next(iter(fault.params.values()))
            self._apply_net()
        self._active[i] = (fault, nodes, undo)
        self.log.append(FaultRecord(sim.time, "start", i, fault.describe(), nodes))
        sim.at(sim.time + fault.duration_us, f"nemesis end {i}", self._end, i)

    def _strobe(self, i: int) -> None:
        if i not in self._active:
            return
        fault, nodes, shifted = self._active[i]
        sign = -1 if shifted[0] else 1
        for n in nodes:
            self.sim.bump_clock(n, sign * fault.params["delta_us"])
        shifted[0] = not shifted[0]
        self.sim.at(self.sim.time + fault.params["period_us"], f"nemesis strobe {i}",
                    self._strobe, i)

    def _end(self, i: int) -> None:
        entry = self._active.pop(i, None)
        if entry is None:
            return
        fault, nodes, undo = entry
        sim = self.sim
        if fault.kind == "partition":
            sim.net.unblock(undo)
        elif fault.kind == "kill":
            for n in nodes:
                self._down[n] -= 1
                if self._down[n] == 0:
                    sim.restart(n)
        elif fault.kind == "pause":
            for n in nodes:
                self._frozen[n] -= 1
                if self._frozen[n] == 0:
                    sim.resume(n)
        elif fault.kind == "clock-bump":
            for n in nodes:
                sim.bump_clock(n, -fault.params["delta_us"])
        elif fault.kind == "clock-skew":
            for n in nodes:
                sim.skew_clock(n, 0)
        elif fault.kind == "clock-strobe":
            if undo[0]:
                for n in nodes:
                    sim.bump_clock(n, -fault.params["delta_us"])
        else:
            del self._net_values[fault.kind][i]
            self._apply_net()
        self.log.append(FaultRecord(sim.time, "end", i, fault.describe(), nodes))

    def _apply_net(self) -> None:
        net, values = self.sim.net, self._net_values
        net.loss = max(values["loss"].values(), default=0.0)
        net.duplicate = max(values["duplicate"].values(), default=0.0)
        net.set_delay(int(max(values["delay"].values(), default=0)),
                      int(max(values["reorder"].values(), default=0)))

    def _heal(self, _arg=None) -> None:
        """The heal phase: every fault ends, every node is up, clocks are true."""
        self.healed = True
        self._active.clear()
        for table in self._net_values.values():
            table.clear()
        self._down = dict.fromkeys(self._down, 0)
        self._frozen = dict.fromkeys(self._frozen, 0)
        self.sim.heal()
        self.log.append(FaultRecord(self.sim.time, "heal", -1, "heal: all faults end"))
