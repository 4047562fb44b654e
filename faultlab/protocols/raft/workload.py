"""The Raft KV clients' operations: get, put, append and cas on a few keys."""
from __future__ import annotations

import random
from typing import Any

from faultlab.sim.workload import OpGenerator, Workload


class RaftOps(OpGenerator):
    """Ops drawn from the workload's mix. Every written value is a unique token, so a read's
    value shows which writes it saw (the linearizability checker derives orders from it). A
    cas compares against the value the key would have if the ops applied in the order
    generated (a third of the time an older such value), so it often succeeds."""

    MIX = (("get", 40), ("put", 10), ("append", 40), ("cas", 10))

    def __init__(self, workload: Workload, config: dict, rng: random.Random) -> None:
        super().__init__(workload, config, rng)
        self.mix = workload.mix or self.MIX
        self.recent: dict[int, list[str]] = {}  # key -> the last values it should have

    def next_op(self, n: int) -> tuple[str, Any]:
        rng = self.rng
        f = self.pick(self.mix)
        key = rng.randrange(self.workload.keys)
        if f == "get":
            return "get", [key, None]
        recent = self.recent.setdefault(key, [""])
        if f == "put":
            op = "put", [key, f"p{n},"]
            recent.append(f"p{n},")
        elif f == "append":
            op = "append", [key, f"{n},"]
            recent.append(recent[-1] + f"{n},")
        elif f == "cas":
            fresh, back = rng.randrange(3), rng.randrange(3)
            old = recent[-1] if fresh else recent[max(0, len(recent) - 2 - back)]
            op = "cas", [key, [old, f"c{n},"]]
            recent.append(f"c{n},")
        else:
            raise ValueError(f"raft has no client operation {f!r}")
        del recent[:-4]
        return op

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("get", [k, None]) for k in range(self.workload.keys)]
