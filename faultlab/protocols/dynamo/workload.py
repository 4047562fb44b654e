"""The paper's shopping cart: clients add items (each add a new, unique item), remove items
added earlier, now and then clear a cart, and read carts. A put reads the siblings, merges
them (the union of their items) and writes the result back with the merged context, as the
cart service does; the coordinator does this for the client. After a quiet period the run
ends with an audit of every cart: every owner's copy, merged, nothing written back."""
from __future__ import annotations

import random
from typing import Any

from faultlab.sim.workload import OpGenerator, Workload

MIX = (("add", 8), ("get", 6), ("remove", 2), ("clear", 1))


class CartOps(OpGenerator):
    quiet_before_final_us = 1_000_000  # anti-entropy and handoff converge, then the audit

    def __init__(self, workload: Workload, config: dict, rng: random.Random) -> None:
        super().__init__(workload, config, rng)
        self.mix = workload.mix or MIX
        self.added: dict[int, list[int]] = {}  # cart -> items added to it, in order

    def next_op(self, n: int) -> tuple[str, Any]:
        f = self.pick(self.mix)
        key = self.rng.randrange(self.workload.keys)
        items = self.added.setdefault(key, [])
        if f == "remove" and items:
            return "remove", [key, self.rng.choice(items[-8:])]
        if f in ("get", "clear"):
            return f, [key, None]
        items.append(n)
        return "add", [key, n]

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("audit", [k, None]) for k in range(self.workload.keys)]
