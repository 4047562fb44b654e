"""Faults as plain data: what goes wrong, to whom, when, and for how long.

A `Fault` starts at `time` and is undone `duration_us` later (a killed node restarts, a
partition heals, a clock is set right). Keeping each fault one self-contained record makes
schedules easy to save, diff, shrink and explain.
"""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.histories.errors import FaultlabError

# kind -> what it does. Targets are node names or "role:<name>", resolved when it starts.
KINDS = {
    "partition": "cut links between nodes; params.mode: halves, isolate, ring, bridge, one-way",
    "kill": "crash targets, restart them afterwards; params.lose_unsynced drops unsynced writes",
    "pause": "freeze targets (SIGSTOP), resume them afterwards",
    "clock-bump": "shift targets' clocks by params.delta_us",
    "clock-skew": "make targets' clocks run params.ppm fast (negative: slow)",
    "clock-strobe": "flip targets' clocks by params.delta_us every params.period_us",
    "loss": "drop each message with probability params.p",
    "duplicate": "deliver each message twice with probability params.p",
    "delay": "add params.delay_us to every message",
    "reorder": "add up to params.spread_us of random latency, reordering messages",
}
# params any fault may carry that change when it starts, not what it does
TIMING_PARAMS = {
    "on_election": "wait for the next leader to be elected and start this many us after it "
                   "(role:leader then means that leader)",
    "elections": "with on_election: wait for the n-th next leader instead (default 1)",
}
PARTITION_MODES = ("halves", "isolate", "ring", "bridge", "one-way")
ROLE_PREFIX = "role:"
LEADER = ROLE_PREFIX + "leader"  # whom election-aimed faults (on_election) strike


@attrs.frozen
class Fault:
    time: int
    kind: str
    duration_us: int
    targets: tuple[str, ...] = ()
    params: dict[str, Any] = attrs.field(factory=dict, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultlabError(f"unknown fault kind {self.kind!r} "
                                f"(known: {', '.join(sorted(KINDS))})")
        if self.time < 0 or self.duration_us < 0:
            raise FaultlabError(f"fault {self.kind} at {self.time}: time and duration must "
                                "not be negative")
        mode = self.params.get("mode")
        if self.kind == "partition" and mode not in PARTITION_MODES:
            raise FaultlabError(f"partition mode {mode!r} is not one of "
                                f"{', '.join(PARTITION_MODES)}")

    @property
    def end(self) -> int:
        return self.time + self.duration_us

    def to_dict(self) -> dict:
        return {"time": self.time, "kind": self.kind, "duration_us": self.duration_us,
                "targets": list(self.targets), "params": dict(sorted(self.params.items()))}

    @classmethod
    def from_dict(cls, d: dict) -> Fault:
        try:
            return cls(time=int(d["time"]), kind=str(d["kind"]),
                       duration_us=int(d["duration_us"]),
                       targets=tuple(str(t) for t in d.get("targets", ())),
                       params=dict(d.get("params", {})))
        except KeyError as e:
            raise FaultlabError(f"fault is missing field {e.args[0]!r}") from None
        except (TypeError, ValueError) as e:
            raise FaultlabError(f"malformed fault {d!r}: {e}") from None

    def describe(self) -> str:
        """One line, e.g. 'partition isolate [n1] for 0.80s'."""
        what = self.kind
        if self.kind == "partition":
            what += f" {self.params['mode']}"
        if self.targets:
            what += f" [{', '.join(self.targets)}]"
        extras = {k: v for k, v in sorted(self.params.items()) if k != "mode"}
        if extras:
            what += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{what} for {self.duration_us / 1e6:.2f}s"


def partition_links(mode: str, targets: tuple[str, ...], names: tuple[str, ...]) -> set:
    """The directed links a partition blocks. `targets` is the side named by the fault: one
    half, the isolated nodes, the ring order, the bridge order, or the one-way senders."""
    inside = [n for n in targets if n in names]
    rest = [n for n in names if n not in inside]
    if mode in ("halves", "isolate"):
        return {(a, b) for a in inside for b in rest} | {(b, a) for a in inside for b in rest}
    if mode == "one-way":  # the targets' messages are lost; they still hear everyone else
        return {(a, b) for a in inside for b in rest}
    order = inside + rest
    n = len(order)
    if mode == "ring":  # each node sees a majority (itself and its nearest neighbours)
        reach = (n // 2 + 1) // 2
        links = set()
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                dist = min(abs(i - j), n - abs(i - j))
                if i != j and dist > reach:
                    links.add((a, b))
        return links
    # bridge: two sides that cannot talk, and one node in the middle that sees both
    mid = n // 2
    left, right = order[:mid], order[mid + 1:]
    return {(a, b) for a in left for b in right} | {(b, a) for a in left for b in right}
