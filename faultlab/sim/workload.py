"""What the clients do: how many there are, how often they act, and when they give up."""
from __future__ import annotations

import attrs

from faultlab.histories.errors import FaultlabError


@attrs.frozen
class Workload:
    """Client behaviour for one run (all times in simulated microseconds).

    `clients` single-threaded client processes each invoke an op, wait for its completion,
    think for about `think_us`, and repeat. An op unanswered after `timeout_us` is recorded as
    info and its process retires; a fresh process id takes its slot. `keys` and `mix` are read
    by the protocol's op generator (an empty mix means the protocol's default).
    """

    clients: int = 10
    think_us: int = 10_000
    timeout_us: int = 400_000
    keys: int = 4
    mix: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["mix"] = [list(pair) for pair in self.mix]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Workload:
        d = dict(d)
        d["mix"] = tuple(tuple(pair) for pair in d.get("mix", ()))
        return cls(**d)

    def validate(self) -> None:
        if self.clients < 1:
            raise FaultlabError(f"workload needs at least 1 client, got {self.clients}")
        if self.timeout_us <= 0 or self.think_us < 0:
            raise FaultlabError("workload timeout must be positive and think time >= 0")
        if self.keys < 1:
            raise FaultlabError(f"workload needs at least 1 key, got {self.keys}")
