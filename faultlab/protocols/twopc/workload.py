"""What two-phase commit's clients ask for: transactions in one of three workloads.

- list-append (Elle's preferred): `txn` ops of 1..txn_length micro-ops, `[append k v]` with
  values unique per key and `[r k nil]`, a read returning the key's whole list;
- rw-register: `[w k v]` (values unique per key) and `[r k nil]`;
- bank: `transfer` {from, to, amount} between two accounts and `read` of every balance.

The micro-op (or op) mix is the workload's `mix`; the keys are the protocol's `keys`. Every
run ends with a read of every key, so a lost write shows.
"""
from __future__ import annotations

import random
from typing import Any

from faultlab.sim.workload import OpGenerator, Workload

MIXES = {"list-append": (("append", 1), ("r", 1)),
         "rw-register": (("w", 1), ("r", 1)),
         "bank": (("transfer", 4), ("read", 1))}


class TxnOps(OpGenerator):
    def __init__(self, workload: Workload, config: dict, rng: random.Random) -> None:
        super().__init__(workload, config, rng)
        self.kind = config["workload"]
        self.mix = workload.mix or MIXES[self.kind]
        self.keys = config["keys"]
        self.written: dict[int, int] = {}  # key -> values written to it so far
        coordinators = config["nodes"] - config["participants"]
        self.coordinators = tuple(f"c{i}" for i in range(1, coordinators + 1))
        self.routed = 0

    def next_op(self, n: int) -> tuple[str, Any]:
        rng = self.rng
        if self.kind == "bank":
            if self.pick(self.mix) == "read":
                return "read", None
            a, b = rng.sample(range(self.keys), 2) if self.keys > 1 else (0, 0)
            return "transfer", {"from": a, "to": b, "amount": rng.randint(1, 20)}
        mops = []
        for _ in range(rng.randint(1, self.config["txn_length"])):
            f, k = self.pick(self.mix), rng.randrange(self.keys)
            if f == "r":
                mops.append(["r", k, None])
            else:
                self.written[k] = self.written.get(k, 0) + 1
                mops.append([f, k, self.written[k]])
        return "txn", mops

    def node_for(self, f: str, value: Any, members: tuple[str, ...]) -> str | None:
        """Transactions go to the coordinators in turn."""
        self.routed += 1
        return self.coordinators[self.routed % len(self.coordinators)]

    def final_ops(self) -> list[tuple[str, Any]]:
        if self.kind == "bank":
            return [("read", None)]
        return [("txn", [["r", k, None] for k in range(self.keys)])]
