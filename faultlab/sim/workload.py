"""What the clients do: how many there are, how often they act and when they give up
(`Workload`), and which operations they issue in one run (`OpGenerator`)."""
from __future__ import annotations

import random
from typing import Any

import attrs

from faultlab.errors import FaultlabError

MAX_CLIENTS = 1_000
MAX_US = 3_600_000_000


@attrs.frozen
class Workload:
    """Client behaviour for one run (all times in simulated microseconds).

    `clients` single-threaded client processes each invoke an op, wait for its completion,
    think for about `think_us`, and repeat. An op unanswered after `timeout_us` is recorded as
    info and its process retires; a fresh process id takes its slot (Jepsen's numbering:
    process p is followed by p + clients + 1, the extra thread being the final ops').
    `keys` and `mix` are read by the protocol's op generator (an empty mix means the
    protocol's default). `sided` attaches each client to one node, as Jepsen's clients are:
    during a partition it reaches only the nodes on that node's side (the CAP experiments
    turn it on; campaigns keep free-roaming clients).
    """

    clients: int = 10
    think_us: int = 10_000
    timeout_us: int = 400_000
    keys: int = 4
    mix: tuple[tuple[str, int], ...] = ()
    sided: bool = False

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["mix"] = [list(pair) for pair in self.mix]
        if not self.sided:  # bundles written before sided clients existed read the same
            del d["sided"]
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Workload:
        if not isinstance(d, dict):
            raise FaultlabError(f"workload must be an object, got {d!r}")
        unknown = sorted(set(d) - {f.name for f in attrs.fields(cls)})
        if unknown:
            raise FaultlabError(f"workload has unknown field {unknown[0]!r}")
        d = dict(d)
        mix = d.get("mix", ())
        if not isinstance(mix, (list, tuple)) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], int) and not isinstance(p[1], bool) and p[1] >= 0
                for p in mix):
            raise FaultlabError(f"workload mix must be a list of [op, weight] pairs, got {mix!r}")
        d["mix"] = tuple(tuple(pair) for pair in mix)
        return cls(**d)

    def validate(self) -> None:
        for name, lo, hi in (("clients", 1, MAX_CLIENTS), ("think_us", 0, MAX_US),
                             ("timeout_us", 1, MAX_US), ("keys", 1, 1_000_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise FaultlabError(f"workload {name} must be an integer from {lo} to {hi}, "
                                    f"got {value!r}")
        if not isinstance(self.sided, bool):
            raise FaultlabError(f"workload sided must be true or false, got {self.sided!r}")
        if self.mix and not any(w for _, w in self.mix):
            raise FaultlabError("workload mix needs at least one op with a positive weight")


class OpGenerator:
    """Makes one run's client operations. A protocol subclasses it; the runner builds one per
    run from the workload, the protocol config and the run's workload stream, so it may keep
    state (e.g. the values a compare-and-set may expect)."""

    # A quiet period between the end of the workload and the final ops, for protocols whose
    # final ops observe what background repair (anti-entropy, handoff) has converged to.
    quiet_before_final_us = 0

    def __init__(self, workload: Workload, config: dict, rng: random.Random) -> None:
        self.workload = workload
        self.config = config
        self.rng = rng

    def next_op(self, n: int) -> tuple[str, Any]:
        """The next client op (f, value); `n` counts ops generated so far in this run."""
        raise NotImplementedError

    def pick(self, mix: tuple[tuple[str, int], ...]) -> str:
        """An op name drawn from (name, weight) pairs, by weight."""
        r = self.rng.randrange(sum(weight for _, weight in mix))
        for name, weight in mix:
            if r < weight:
                return name
            r -= weight
        return mix[-1][0]

    def node_for(self, f: str, value: Any, members: tuple[str, ...]) -> str | None:
        """The member this op must go to, or None for the client's usual node."""
        return None

    def homes(self, members: tuple[str, ...]) -> tuple[str, ...]:
        """The nodes sided clients attach to, in turn (default: the members clients send
        to; a job-submitting client lives beside its driver)."""
        return members

    def final_ops(self) -> list[tuple[str, Any]]:
        """Ops issued after the workload and retried until they succeed (a final read)."""
        return []
