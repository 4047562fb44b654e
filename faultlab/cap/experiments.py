"""CAP experiments as schedules: a warm-up, one partition of a standard shape held for a set
time, the heal, then recovery, with clients attached to nodes (sided). Each run is an
ordinary RunSpec, so its bundle opens with `faultlab replay`.

Shapes, over the nodes the cut can reach (m of them):
- majority-minority: (m-1)//2 nodes cut from the rest;
- halves: m//2 nodes cut from the rest (the same as majority-minority when m is odd);
- isolate-one: one node cut from the rest;
- bridge: two sides that cannot talk and one node between them that sees both;
- one-way: one node's messages are lost; it still hears everyone.

Where a protocol has a node that matters (a leader, a coordinator, a driver:
`Protocol.cap_target`), each shape runs with that node on the cut side and, where the
shape has two distinct sides, on the other.
"""
from __future__ import annotations

import re
from typing import Any

import attrs

from faultlab.campaign.spec import RunSpec
from faultlab.errors import FaultlabError
from faultlab.nemesis.faults import NOT, ROLE_PREFIX, Fault, Trigger
from faultlab.nemesis.schedule import Schedule
from faultlab.protocols import get_protocol
from faultlab.protocols.base import Protocol

WARMUP_US = 1_000_000
HOLD_US = 3_000_000
RECOVERY_US = 2_000_000
# a client gives up within a second, so an op blocked by the cut shows within the partition
CLIENT_TIMEOUT_US = 1_000_000

# shape -> (partition mode, size of the targeted side given m nodes (0: the targets' order,
# for a bridge), side names: the mode's own labels -> the report's)
SHAPES: dict[str, tuple[str, Any, dict[str, str]]] = {
    "majority-minority": ("halves", lambda m: (m - 1) // 2,
                          {"cut": "minority", "rest": "majority"}),
    "isolate-one": ("isolate", lambda m: 1, {"isolated": "isolated", "rest": "rest"}),
    "halves": ("halves", lambda m: m // 2, {"cut": "half A", "rest": "half B"}),
    "bridge": ("bridge", lambda m: 0, {"left": "left", "bridge": "bridge", "right": "right"}),
    "one-way": ("one-way", lambda m: 1, {"mute": "mute", "rest": "rest"}),
}
# where the cap target stands, in words, by the report's side name
PLACES = {"minority": "on the minority", "majority": "on the majority",
          "isolated": "isolated", "rest": "on the rest side", "half A": "in half A",
          "half B": "in half B", "left": "on the left side", "right": "on the right side",
          "mute": "on the mute side"}


@attrs.frozen
class Experiment:
    """One partition experiment on one configuration of a protocol. `placement` is where
    the protocol's `cap_target` stands: "cut" (on the targeted side), "rest" (on the
    other), or None (a protocol of peers)."""

    protocol: str
    label: str                       # the configuration's name in the report
    config: dict = attrs.field(hash=False)
    shape: str
    placement: str | None = None
    bugs: tuple[str, ...] = ()
    warmup_us: int = WARMUP_US
    hold_us: int = HOLD_US
    recovery_us: int = RECOVERY_US

    @property
    def configuration(self) -> str:
        """The protocol, its planted bugs and the configuration's label: 'raft default'."""
        bugs = f" +{','.join(self.bugs)}" if self.bugs else ""
        return f"{self.protocol}{bugs} {self.label}"

    @property
    def key(self) -> str:
        """A short unique name, for files and JSON: raft-default-majority-minority-cut."""
        parts = [self.protocol, *self.bugs, self.label, self.shape, self.placement or ""]
        return re.sub(r"[^\w.=+-]", "_", "-".join(p for p in parts if p))

    def side_names(self) -> dict[str, str]:
        return SHAPES[self.shape][2]

    def describe(self) -> str:
        """e.g. 'majority-minority, leader on the minority'."""
        if self.placement is None:
            return self.shape
        who = get_protocol(self.protocol).cap_target.removeprefix(ROLE_PREFIX)
        names = list(self.side_names().values())
        return f"{self.shape}, {who} {PLACES[names[0 if self.placement == 'cut' else -1]]}"

    def cut_nodes(self) -> tuple[tuple[str, ...], bool]:
        """The members a cut can put on a side, and whether exempt ones are among them (the
        RDD driver and storage node are exempt from faults, but not from this question)."""
        protocol = get_protocol(self.protocol)
        cluster = protocol.cluster(protocol.resolve_config(self.config))
        cut_exempt = bool(cluster.exempt)
        return tuple(n for n in cluster.members
                     if cut_exempt or n not in cluster.exempt), cut_exempt

    def partition(self, protocol: Protocol, reach: int, cut_exempt: bool) -> Fault:
        mode, size, _ = SHAPES[self.shape]
        target = protocol.cap_target
        targets = () if target is None else (target,) if self.placement == "cut" \
            else (NOT + target,)
        trigger = Trigger(protocol.cap_trigger) if protocol.cap_trigger else None
        return Fault(self.warmup_us, "partition", self.hold_us, targets,
                     {"mode": mode, "size": size(reach), "cut_exempt": cut_exempt}, trigger)

    def spec(self, seed: int) -> RunSpec:
        """The run of this experiment for `seed`."""
        protocol = get_protocol(self.protocol)
        nodes, cut_exempt = self.cut_nodes()
        default = protocol.default_workload
        workload = attrs.evolve(default, sided=True,
                                timeout_us=min(default.timeout_us, CLIENT_TIMEOUT_US))
        return RunSpec(self.protocol, seed=seed, bugs=self.bugs, config=dict(self.config),
                       workload=workload,
                       schedule=Schedule([self.partition(protocol, len(nodes), cut_exempt)]),
                       heal_at_us=self.warmup_us + self.hold_us, recovery_us=self.recovery_us)


def experiments(protocol: str, config: dict | None = None, label: str | None = None,
                shapes: tuple[str, ...] | None = None,
                bugs: tuple[str, ...] = ()) -> list[Experiment]:
    """A protocol's standard experiments: every shape (or those named) with each placement
    of its cap target, on one configuration (default: each of its `cap_configs`), with
    `bugs` planted."""
    proto = get_protocol(protocol)
    proto.check_bugs(bugs)
    for shape in shapes or ():
        if shape not in SHAPES:
            raise FaultlabError(f"unknown partition shape {shape!r} (shapes: "
                                f"{', '.join(SHAPES)})")
    configs = proto.cap_configs if config is None else ((label or "custom", config),)
    out = []
    for name, cfg in configs:
        # a bug's own settings (a strict-mode bug runs strict) unless the config says
        cfg = {k: v for bug in bugs for k, v in proto.bug_settings.get(bug, {}).items()} | cfg
        proto.resolve_config(cfg)  # a bad setting fails here, before any run
        m = len(Experiment(protocol, name, cfg, "isolate-one").cut_nodes()[0])
        impossible = [s for s in shapes or () if not _possible(s, m)]
        chosen = shapes or _standard_shapes(m)
        if impossible or not chosen:
            raise FaultlabError(f"{protocol} {name} has {m} node(s) to partition: too few for "
                                f"{'a ' + impossible[0] if impossible else 'any'} partition "
                                "(a cut needs two sides of at least one node, a bridge "
                                "three nodes)")
        for shape in chosen:
            placements: tuple[str | None, ...] = (None,)
            if proto.cap_target is not None:
                # bridge's two sides mirror each other: one placement says it all
                placements = ("cut",) if shape == "bridge" else ("cut", "rest")
            out += [Experiment(protocol, name, cfg, shape, p, tuple(bugs))
                    for p in placements]
    return out


def _possible(shape: str, m: int) -> bool:
    """Whether `shape` leaves two sides of at least one node among m (a bridge: three)."""
    return m >= 3 if shape == "bridge" else 1 <= SHAPES[shape][1](m) < m


def _standard_shapes(m: int) -> tuple[str, ...]:
    """Every shape m nodes allow, less those that cut the same links as another (halves
    and isolation cut both ways: the same side size is the same cut), in table order; the
    one kept is the most specific name (isolate-one, then majority-minority)."""
    kept: dict[tuple, str] = {}
    for shape in ("isolate-one", "majority-minority", "halves", "bridge", "one-way"):
        mode, size, _ = SHAPES[shape]
        cut = ("both ways", size(m)) if mode in ("halves", "isolate") else (mode,)
        if _possible(shape, m):
            kept.setdefault(cut, shape)
    return tuple(s for s in SHAPES if s in kept.values())
