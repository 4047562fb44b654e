"""The paper's shopping cart. Clients shop in sessions: the few carts open at a time get
adds (each a new, unique item), removes of items added earlier and reads; a cart's session
then ends, one in three with a checkout that clears it, the rest abandoned. Carts go cold as
the run goes on, as most keys of a real store are, so what the faults left behind on them
is repaired by hinted handoff and anti-entropy alone, not by the next write.

A put reads the siblings, merges them (the union of their items) and writes the result
back with the merged context, as the cart service does; the coordinator does this for the
client. After a quiet period the run ends with an audit of every cart: every owner's copy,
merged, nothing written back.

`RegisterOps` is the plain register the stale-read measure is read on: writes of unique
values, and reads, over a few keys."""
from __future__ import annotations

import random
from typing import Any

from faultlab.sim.workload import OpGenerator, Workload

MIX = (("add", 8), ("get", 6), ("remove", 2))
SESSION = 25  # ops between one cart's session ending and the next one's beginning
OPEN = 4      # carts open at a time


class CartOps(OpGenerator):
    quiet_before_final_us = 1_000_000  # anti-entropy and handoff converge, then the audit

    def __init__(self, workload: Workload, config: dict, rng: random.Random) -> None:
        super().__init__(workload, config, rng)
        self.mix = workload.mix or MIX
        self.added: dict[int, list[int]] = {}  # cart -> items added to it, in order
        self.used: set[int] = set()            # carts that saw any op

    def next_op(self, n: int) -> tuple[str, Any]:
        keys = self.workload.keys
        session = n // SESSION
        if n % SESSION == 0 and session and self.rng.random() < 1 / 3:
            return "clear", [(session - 1) % keys, None]  # checkout of the closing cart
        key = (session + self.rng.randrange(OPEN)) % keys
        self.used.add(key)
        f = self.pick(self.mix)
        items = self.added.setdefault(key, [])
        if f == "remove" and items:
            return "remove", [key, self.rng.choice(items[-8:])]
        if f == "get":
            return "get", [key, None]
        items.append(n)
        return "add", [key, n]

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("audit", [k, None]) for k in range(self.workload.keys)]


class RegisterOps(OpGenerator):
    """Writes of unique values and reads of a few registers; a write overwrites the siblings
    it read, concurrent writes become siblings."""

    quiet_before_final_us = 1_000_000

    def next_op(self, n: int) -> tuple[str, Any]:
        key = self.rng.randrange(self.workload.keys)
        if self.pick(self.workload.mix or (("read", 1), ("write", 1))) == "read":
            return "read", [key, None]
        return "write", [key, n]

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("audit", [k, None]) for k in range(self.workload.keys)]
