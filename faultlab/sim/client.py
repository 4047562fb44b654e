"""Client processes: they invoke operations on nodes and record the history Jepsen-style.

Each slot runs one single-threaded process at a time. An op ends in ok or fail when a node
answers, or in info when it times out; after info the process retires and a fresh process
id takes the slot. After the workload phase, a final process issues the protocol's final
operations (e.g. the set's final read), retrying until each succeeds or the deadline passes.
"""
from __future__ import annotations

import random
from collections.abc import Callable

from faultlab.histories import FAIL, INFO, INVOKE, OK, History, Op
from faultlab.sim.kernel import Simulator
from faultlab.sim.node import Request
from faultlab.sim.workload import Workload

OpGenerator = Callable[[random.Random, Workload, int], tuple[str, object]]

_RETRY_US = 2_000       # pause before resending after a redirect
_FINAL_RETRY_US = 50_000  # pause between attempts of a final operation


class _Slot:
    __slots__ = ("index", "process", "node", "req", "invoked_by", "hops")

    def __init__(self, index: int, process: int, node: str):
        self.index = index
        self.process = process
        self.node = node        # where this slot sends its next operation
        self.req: Request | None = None
        self.invoked_by: int = 0  # history index of the open op's invoke
        self.hops = 0


class Clients:
    """Drives the workload against a simulator and records the history."""

    def __init__(self, sim: Simulator, workload: Workload, generate: OpGenerator,
                 rng: random.Random, final_ops: list[tuple[str, object]]):
        self.sim = sim
        self.workload = workload
        self.generate = generate
        self.rng = rng
        self.final_ops = list(final_ops)
        self.ops: list[Op] = []
        self.next_process = workload.clients
        self.next_req = 0
        self.op_count = 0
        self.open: dict[int, _Slot] = {}  # request id -> slot waiting for it
        names = sim.names
        self.slots = [_Slot(i, i, names[i % len(names)]) for i in range(workload.clients)]
        self.workload_end = 0
        self.final_done = False
        sim.client = self

    # ---- phases ----------------------------------------------------------------------------

    def start(self, workload_end: int, final_at: int, deadline: int) -> None:
        """Run ops until `workload_end`, then final ops from `final_at` until `deadline`."""
        self.workload_end = workload_end
        self.deadline = deadline
        for slot in self.slots:
            self.sim.at(self._think(), f"client {slot.index} wakes", self._invoke_next, slot)
        if self.final_ops:
            final = _Slot(-1, self._fresh_process(), self.sim.names[0])
            self.sim.at(final_at, "final ops begin", self._invoke_final, final)
        else:
            self.final_done = True

    def history(self) -> History:
        return History(self.ops)

    def _think(self) -> int:
        return self.sim.time + int(self.rng.expovariate(1.0 / max(self.workload.think_us, 1)))

    def _fresh_process(self) -> int:
        self.next_process += 1
        return self.next_process - 1

    def _record(self, type: str, slot: _Slot, f: str, value, error=None) -> None:
        self.ops.append(Op(index=len(self.ops), type=type, process=slot.process, f=f,
                           value=value, time=self.sim.time, node=slot.node, error=error))

    # ---- invoking ---------------------------------------------------------------------------

    def _invoke_next(self, slot: _Slot) -> None:
        if self.sim.time >= self.workload_end:
            return
        f, value = self.generate(self.rng, self.workload, self.op_count)
        self.op_count += 1
        self._invoke(slot, f, value)

    def _invoke_final(self, slot: _Slot) -> None:
        if not self.final_ops:
            self.final_done = True
            self.sim.stop()
            return
        if self.sim.time >= self.deadline:
            return
        f, value = self.final_ops[0]
        self._invoke(slot, f, value)

    def _invoke(self, slot: _Slot, f: str, value) -> None:
        self.next_req += 1
        req = Request(self.next_req, slot.process, f, value, f"client-{slot.process}")
        slot.req = req
        slot.hops = 0
        slot.invoked_by = len(self.ops)
        self._record(INVOKE, slot, f, value)
        self.open[req.id] = slot
        self.sim.submit(slot.node, req)
        self.sim.at(self.sim.time + self.workload.timeout_us, f"timeout {req.id}",
                    self._timeout, req)

    # ---- completions --------------------------------------------------------------------

    def _complete(self, slot: _Slot, type: str, value, error) -> None:
        req = slot.req
        del self.open[req.id]
        slot.req = None
        self._record(type, slot, req.f, value if type == OK else req.value, error)
        if type == INFO:
            slot.process = self._fresh_process()
        if type != OK:  # try elsewhere next time
            names = self.sim.names
            slot.node = names[(names.index(slot.node) + 1) % len(names)]
        if slot.index >= 0:
            self.sim.at(self._think(), f"client {slot.index} wakes", self._invoke_next, slot)
        elif type == OK:
            self.final_ops.pop(0)
            self.sim.at(self.sim.time, "next final op", self._invoke_final, slot)
        else:
            self.sim.at(self.sim.time + _FINAL_RETRY_US, "final op retry", self._invoke_final,
                        slot)

    def on_reply(self, arg) -> None:
        req, node, type, value, error = arg
        slot = self.open.get(req.id)
        if slot is None:
            return  # the op already timed out
        if type not in (OK, FAIL):
            raise ValueError(f"node {node} replied {type!r}; nodes reply ok or fail")
        slot.node = node
        self._complete(slot, type, value, error)

    def on_redirect(self, arg) -> None:
        req, node, hint = arg
        slot = self.open.get(req.id)
        if slot is None:
            return
        names = self.sim.names
        slot.node = hint if hint in names else names[(names.index(node) + 1) % len(names)]
        slot.hops += 1
        self.sim.at(self.sim.time + _RETRY_US * min(slot.hops, 10), f"resend {req.id}",
                    self._resend, req)

    def _resend(self, req: Request) -> None:
        slot = self.open.get(req.id)
        if slot is not None:
            self.sim.submit(slot.node, req)

    def on_refused(self, req: Request, node: str) -> None:
        """The target was down. If this was the first node tried, the op certainly did not
        happen; after a redirect an earlier node may still apply it, so it is unknown."""
        slot = self.open.get(req.id)
        if slot is not None:
            self._complete(slot, FAIL if slot.hops == 0 else INFO, None, "connection-refused")

    def _timeout(self, req: Request) -> None:
        slot = self.open.get(req.id)
        if slot is not None:
            self._complete(slot, INFO, None, "timeout")
