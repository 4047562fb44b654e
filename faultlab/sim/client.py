"""Client processes: they invoke operations on nodes and record the history Jepsen-style.

Each client thread runs one single-threaded process at a time. An op ends in ok or fail when
a node answers, or in info when it times out; after info the process retires and a fresh
process takes the thread, numbered as Jepsen does (p, then p + threads). Clients send only to
current members, never to exempt nodes (infrastructure such as a storage node) unless the op
generator routes an op there: a thread keeps its node while ops succeed, moves to the next
member otherwise, and when the membership changes the threads spread over the new members.
After the workload phase, a final thread issues the protocol's final operations (e.g. the
set's final read), retrying until each succeeds or the deadline passes.

Sided clients (`Workload.sided`, for the CAP experiments) are attached to a home node, as
Jepsen's are: every op starts there (or where the op generator routes it), and a request,
redirect or reply crosses a link only if the network lets the home node's messages cross it,
so across a partition it is lost and the op times out. Their ops record the home as `node`.
The final thread roams: it runs after the heal.
"""
from __future__ import annotations

import random

from faultlab.histories import FAIL, INFO, INVOKE, OK, History, Op
from faultlab.sim.kernel import Simulator
from faultlab.sim.node import Request
from faultlab.sim.workload import OpGenerator, Workload

_RETRY_US = 2_000       # pause before resending after a redirect
_FINAL_RETRY_US = 50_000  # pause between attempts of a final operation


class _Thread:
    __slots__ = ("index", "process", "node", "home", "req", "hops", "membership")

    def __init__(self, index: int, node: str, home: str | None = None):
        self.index = index
        self.process = index
        self.node = node        # where this thread sends its next operation
        self.home = home        # a sided client's node (None: it roams)
        self.req: Request | None = None
        self.hops = 0
        self.membership = 0     # the kernel's membership changes when `node` was chosen


class Clients:
    """Drives one run's op generator against a simulator and records the history."""

    def __init__(self, sim: Simulator, workload: Workload, ops: OpGenerator,
                 rng: random.Random):
        self.sim = sim
        self.workload = workload
        self.ops = ops
        self.rng = rng
        self.final_ops = list(ops.final_ops())
        self.history_ops: list[Op] = []
        self.next_req = 0
        self.op_count = 0
        self.open: dict[int, _Thread] = {}  # request id -> thread waiting for it
        members = self._targets() or sim.names
        if workload.sided:
            homes = ops.homes(members)
            self.threads = [_Thread(i, homes[i % len(homes)], homes[i % len(homes)])
                            for i in range(workload.clients)]
        else:
            self.threads = [_Thread(i, members[i % len(members)])
                            for i in range(workload.clients)]
        self.final = _Thread(workload.clients, members[0])
        self.workload_end = 0
        self.deadline = 0
        sim.client = self

    # ---- phases ----------------------------------------------------------------------------

    def start(self, workload_end: int, final_at: int, deadline: int) -> None:
        """Run ops until `workload_end`, then final ops from `final_at` until `deadline`."""
        self.workload_end = workload_end
        self.deadline = deadline
        for thread in self.threads:
            self.sim.at(self._think(), f"client {thread.index} wakes", self._invoke_next,
                        thread)
        if self.final_ops:
            self.sim.at(final_at + self.ops.quiet_before_final_us, "final ops begin",
                        self._invoke_final, self.final)

    def history(self) -> History:
        return History(self.history_ops)

    def _think(self) -> int:
        return self.sim.time + int(self.rng.expovariate(1.0 / max(self.workload.think_us, 1)))

    def _record(self, type: str, thread: _Thread, f: str, value, error=None) -> None:
        ops = self.history_ops
        ops.append(Op(index=len(ops), type=type, process=thread.process, f=f, value=value,
                      time=self.sim.time, node=thread.home or thread.node, error=error))

    def _cut(self, thread: _Thread, src: str, dst: str) -> bool:
        """Whether a sided client's message from `src` to `dst` is lost: the client side of
        the link is its home node's."""
        blocked = self.sim.net.blocked
        return thread.home is not None and bool(blocked) and src != dst and (src, dst) in blocked

    def _submit(self, thread: _Thread, req: Request) -> None:
        if self._cut(thread, thread.home, thread.node):
            self.sim.stats["client-messages-cut"] = \
                self.sim.stats.get("client-messages-cut", 0) + 1
            return  # lost on the way: the op's timeout ends it
        self.sim.submit(thread.node, req)

    def _targets(self) -> tuple[str, ...]:
        """The nodes clients may pick: current members that are not exempt."""
        exempt = self.sim.net.exempt
        return tuple(n for n in self.sim.member_list() if n not in exempt)

    def _next_member(self, node: str) -> str:
        """The member after `node` in name order (any member if `node` is not one)."""
        members = self._targets() or self.sim.names
        names = self.sim.names
        i = names.index(node)
        for k in range(1, len(names) + 1):
            candidate = names[(i + k) % len(names)]
            if candidate in members:
                return candidate
        return members[0]

    # ---- invoking ---------------------------------------------------------------------------

    def _invoke_next(self, thread: _Thread) -> None:
        if self.sim.time >= self.workload_end:
            return
        f, value = self.ops.next_op(self.op_count)
        self.op_count += 1
        self._invoke(thread, f, value)

    def _invoke_final(self, thread: _Thread) -> None:
        if not self.final_ops:
            self.sim.stop()
            return
        if self.sim.time >= self.deadline:
            return
        f, value = self.final_ops[0]
        self._invoke(thread, f, value)

    def _invoke(self, thread: _Thread, f: str, value) -> None:
        chosen = self.ops.node_for(f, value, self.sim.member_list())
        if chosen is not None:
            thread.node = chosen
        elif thread.home is not None:
            thread.node = thread.home
        elif thread.membership != self.sim.membership_changes:
            members = self._targets()
            if members:
                thread.node = members[thread.index % len(members)]
            thread.membership = self.sim.membership_changes
        self.next_req += 1
        req = Request(self.next_req, thread.process, f, value, f"client-{thread.process}")
        thread.req = req
        thread.hops = 0
        self._record(INVOKE, thread, f, value)
        self.open[req.id] = thread
        self._submit(thread, req)
        self.sim.at(self.sim.time + self.workload.timeout_us, f"timeout {req.id}",
                    self._timeout, req)

    # ---- completions --------------------------------------------------------------------

    def _complete(self, thread: _Thread, type: str, value, error) -> None:
        req = thread.req
        del self.open[req.id]
        thread.req = None
        self._record(type, thread, req.f, value if type == OK else req.value, error)
        if type == INFO:  # the process may still be mid-op: a fresh one takes the thread
            thread.process += len(self.threads) + 1
        if type != OK:  # try elsewhere next time
            thread.node = self._next_member(thread.node)
        if thread is not self.final:
            self.sim.at(self._think(), f"client {thread.index} wakes", self._invoke_next,
                        thread)
        elif type == OK:
            self.final_ops.pop(0)
            self.sim.at(self.sim.time, "next final op", self._invoke_final, thread)
        else:
            self.sim.at(self.sim.time + _FINAL_RETRY_US, "final op retry", self._invoke_final,
                        thread)

    def on_reply(self, arg) -> None:
        req, node, type, value, error = arg
        thread = self.open.get(req.id)
        if thread is None:
            return  # the op already timed out
        if self._cut(thread, node, thread.home):
            return  # the answer is lost: the op's timeout ends it
        if type not in (OK, FAIL):
            raise ValueError(f"node {node} replied {type!r}; nodes reply ok or fail")
        thread.node = node
        self._complete(thread, type, value, error)

    def on_redirect(self, arg) -> None:
        req, node, hint = arg
        thread = self.open.get(req.id)
        if thread is None or self._cut(thread, node, thread.home):
            return
        thread.node = hint if hint in self._targets() else self._next_member(node)
        thread.hops += 1
        self.sim.at(self.sim.time + _RETRY_US * min(thread.hops, 10), f"resend {req.id}",
                    self._resend, req)

    def _resend(self, req: Request) -> None:
        thread = self.open.get(req.id)
        if thread is not None:
            self._submit(thread, req)

    def on_refused(self, req: Request, node: str) -> None:
        """The target was down. If this was the first node tried, the op certainly did not
        happen; after a redirect an earlier node may still apply it, so it is unknown."""
        thread = self.open.get(req.id)
        if thread is not None:
            self._complete(thread, FAIL if thread.hops == 0 else INFO, None,
                           "connection-refused")

    def _timeout(self, req: Request) -> None:
        thread = self.open.get(req.id)
        if thread is not None:
            self._complete(thread, INFO, None, "timeout")
