"""Faults as plain data: what goes wrong, to whom, when, and for how long.

A `Fault` starts at `time` and is undone `duration_us` later (a killed node restarts, a
partition heals, a clock is set right). With a `Trigger` it instead waits, from `time` on,
for the n-th announcement of a protocol event ("leader-elected") and strikes a set number
of microseconds after it. Keeping each fault one self-contained record makes schedules easy
to save, diff, shrink and explain; what each kind does lives in `kinds.py`.
"""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.errors import FaultlabError
from faultlab.nemesis.kinds import get_kind

ROLE_PREFIX = "role:"
ANNOUNCER = "announcer"  # target: the node whose announcement set the fault off
NOT = "!"  # target prefix: every node but those the rest names ("!role:leader")
LEADER = ROLE_PREFIX + "leader"
MAX_TIME_US = 3_600_000_000  # an hour of simulated time bounds every time in a schedule


def _time(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIME_US:
        raise FaultlabError(f"{what} must be an integer number of microseconds from 0 to "
                            f"{MAX_TIME_US}, got {value!r}")
    return value


@attrs.frozen
class Trigger:
    """Strike `after_us` after the `nth` announcement of `event` counted from the fault's
    time, only counting announcements from `source` (a node or "role:<name>") if given."""

    event: str
    nth: int = 1
    after_us: int = 0
    source: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.event, str) or not self.event:
            raise FaultlabError(f"trigger event must be a name, got {self.event!r}")
        if not isinstance(self.nth, int) or isinstance(self.nth, bool) or \
                not 1 <= self.nth <= 10_000:
            raise FaultlabError(f"trigger nth must be an integer from 1 to 10000, "
                                f"got {self.nth!r}")
        _time(self.after_us, "trigger after_us")
        if self.source is not None and not isinstance(self.source, str):
            raise FaultlabError(f"trigger source must be a node or role, got {self.source!r}")

    def to_dict(self) -> dict:
        d = {"event": self.event, "nth": self.nth, "after_us": self.after_us}
        if self.source is not None:
            d["source"] = self.source
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Trigger:
        if not isinstance(d, dict):
            raise FaultlabError(f"a trigger must be an object, got {d!r}")
        unknown = sorted(set(d) - {"event", "nth", "after_us", "source"})
        if unknown:
            raise FaultlabError(f"trigger has unknown field {unknown[0]!r}")
        if "event" not in d:
            raise FaultlabError("trigger is missing field 'event'")
        return cls(d["event"], d.get("nth", 1), d.get("after_us", 0), d.get("source"))

    def describe(self) -> str:
        nth = "" if self.nth == 1 else f"{_ordinal(self.nth)} "
        source = f" from {self.source}" if self.source else ""
        return f"{self.after_us / 1e3:g} ms after the {nth}{self.event}{source}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@attrs.frozen
class Fault:
    time: int
    kind: str
    duration_us: int
    targets: tuple[str, ...] = ()
    params: dict[str, Any] = attrs.field(factory=dict, hash=False)
    trigger: Trigger | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, str):
            raise FaultlabError(f"fault kind must be a name, got {self.kind!r}")
        kind = get_kind(self.kind)
        _time(self.time, f"fault {self.kind} time")
        _time(self.duration_us, f"fault {self.kind} duration_us")
        if not isinstance(self.targets, tuple) or not all(isinstance(t, str)
                                                          for t in self.targets):
            raise FaultlabError(f"fault {self.kind} targets must be a list of node names or "
                                f"roles, got {self.targets!r}")
        if not isinstance(self.params, dict):
            raise FaultlabError(f"fault {self.kind} params must be an object, "
                                f"got {self.params!r}")
        object.__setattr__(self, "params", kind.read_params(self.params))
        if ANNOUNCER in self.targets and self.trigger is None:
            raise FaultlabError(f"fault {self.kind} targets the {ANNOUNCER} but has no trigger")

    @property
    def end(self) -> int:
        return self.time + self.duration_us

    def set_params(self) -> dict[str, Any]:
        """The params that differ from their defaults (the rest go unsaid), by name."""
        defaults = {p.name: p.default for p in get_kind(self.kind).params}
        return {k: v for k, v in sorted(self.params.items())
                if defaults.get(k) is None or v != defaults[k]}

    def to_dict(self) -> dict:
        d = {"time": self.time, "kind": self.kind, "duration_us": self.duration_us,
             "targets": list(self.targets), "params": self.set_params()}
        if self.trigger is not None:
            d["trigger"] = self.trigger.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Fault:
        if not isinstance(d, dict):
            raise FaultlabError(f"a fault must be an object, got {d!r}")
        unknown = sorted(set(d) - {"time", "kind", "duration_us", "targets", "params",
                                   "trigger"})
        if unknown:
            raise FaultlabError(f"fault has unknown field {unknown[0]!r}")
        for field in ("time", "kind", "duration_us"):
            if field not in d:
                raise FaultlabError(f"fault is missing field {field!r}")
        targets = d.get("targets", [])
        if not isinstance(targets, list):
            raise FaultlabError(f"fault {d['kind']} targets must be a list, got {targets!r}")
        trigger = d.get("trigger")
        return cls(time=d["time"], kind=d["kind"], duration_us=d["duration_us"],
                   targets=tuple(targets), params=d.get("params", {}),
                   trigger=None if trigger is None else Trigger.from_dict(trigger))

    def describe(self) -> str:
        """One line, e.g. 'partition isolate [n1] for 0.80s'."""
        what = self.kind
        if self.kind == "partition":
            what += f" {self.params['mode']}"
        if self.targets:
            what += f" [{', '.join(self.targets)}]"
        extras = {k: v for k, v in self.set_params().items() if k != "mode"}
        if extras:
            what += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        when = f", {self.trigger.describe()}" if self.trigger else ""
        return f"{what} for {self.duration_us / 1e6:.2f}s{when}"
