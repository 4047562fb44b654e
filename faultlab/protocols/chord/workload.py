"""What Chord's clients ask: lookups of points on the ring (half of them the identifiers of
node slots, where an interval's closed end matters), and gets and puts of a few keys with
values unique per key. Every run ends with a lookup of every slot's identifier and every
key's point, and a get of every key, once the ring has had time to become ideal."""
from __future__ import annotations

import random
from typing import Any

from faultlab.protocols.chord.store import key_id
from faultlab.protocols.common.ring import ring_id
from faultlab.sim.workload import OpGenerator, Workload

MIX = (("lookup", 2), ("get", 1), ("put", 1))


class ChordOps(OpGenerator):
    def __init__(self, workload: Workload, config: dict, rng: random.Random,
                 slots: tuple[str, ...]) -> None:
        super().__init__(workload, config, rng)
        self.mix = workload.mix or MIX
        self.slot_ids = sorted(ring_id(n, config["m"]) for n in slots)

    def next_op(self, n: int) -> tuple[str, Any]:
        f = self.pick(self.mix)
        key = self.rng.randrange(self.workload.keys)
        if f == "lookup":
            if self.rng.random() < 0.5:
                return "lookup", self.rng.choice(self.slot_ids)
            return "lookup", self.rng.randrange(1 << self.config["m"])
        if f == "get":
            return "get", [key, None]
        return "put", [key, n]

    def final_ops(self) -> list[tuple[str, Any]]:
        keys = range(self.workload.keys)
        return ([("lookup", i) for i in self.slot_ids]
                + [("lookup", key_id(k, self.config["m"])) for k in keys]
                + [("get", [k, None]) for k in keys])
