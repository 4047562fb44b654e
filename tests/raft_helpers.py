"""A small 6.824-style test harness for Raft on the simulation kernel.

`Cluster` wraps a Simulator running RaftNode with the safety monitor installed, so every
step of every scenario is checked for election safety, log matching, leader completeness and
state machine safety. Client commands are submitted as real requests through the kernel.
"""
from __future__ import annotations

import random

from faultlab.protocols.raft.monitor import RaftMonitor
from faultlab.protocols.raft.node import LEADER, RaftNode
from faultlab.protocols.raft.protocol import Raft
from faultlab.sim.kernel import Simulator
from faultlab.sim.node import Request

MS = 1_000
SEC = 1_000_000


class Collector:
    """Stands in for sim.client: records replies and redirects by request id."""

    def __init__(self) -> None:
        self.replies: dict[int, tuple] = {}
        self.redirects: dict[int, int] = {}

    def on_reply(self, arg) -> None:
        req, node, type, value, error = arg
        self.replies.setdefault(req.id, (type, value, error, node))

    def on_redirect(self, arg) -> None:
        req, node, hint = arg
        self.redirects[req.id] = self.redirects.get(req.id, 0) + 1

    def on_refused(self, req, node) -> None:
        pass


class Cluster:
    def __init__(self, n: int, seed: int = 1, bugs=(), **config) -> None:
        names = tuple(f"n{i}" for i in range(1, n + 1))
        self.sim = Simulator(RaftNode, names, seed=seed,
                             config=Raft().resolve_config({"nodes": n, **config}),
                             bugs=frozenset(bugs))
        self.monitor = RaftMonitor()
        self.sim.invariants.append(self.monitor)
        self.client = Collector()
        self.sim.client = self.client
        self.names = names
        self.cut: set[str] = set()  # nodes disconnected by the test
        self.rng = random.Random(seed)
        self.next_id = 0
        self.sim.boot()

    # ---- running -----------------------------------------------------------------------------

    def run(self, us: int) -> None:
        self.sim.run(self.sim.time + us)
        assert self.sim.violation is None, self.sim.violation

    @property
    def violation(self):
        return self.sim.violation

    def node(self, name: str) -> RaftNode | None:
        return self.sim.nodes[name]

    def live(self) -> list[str]:
        return [n for n in self.names if self.sim.nodes[n] is not None]

    # ---- faults --------------------------------------------------------------------------------

    def disconnect(self, name: str) -> None:
        if name in self.cut:
            return
        self.cut.add(name)
        links = [(name, o) for o in self.names if o != name]
        links += [(o, name) for o in self.names if o != name]
        self.sim.net.block(links)

    def connect(self, name: str) -> None:
        if name not in self.cut:
            return
        self.cut.discard(name)
        links = [(name, o) for o in self.names if o != name]
        links += [(o, name) for o in self.names if o != name]
        self.sim.net.unblock(links)

    def crash(self, name: str, lose_unsynced: bool = False) -> None:
        self.sim.crash(name, lose_unsynced=lose_unsynced)

    def restart(self, name: str) -> None:
        self.sim.restart(name)

    # ---- observations --------------------------------------------------------------------------

    def leaders(self) -> list[tuple[int, str]]:
        """(term, name) of connected live nodes that believe they lead, as 6.824's
        checkOneLeader (a cut-off old leader may still believe it)."""
        return sorted((node.term, name) for name, node in self.sim.nodes.items()
                      if node is not None and node.role == LEADER and name not in self.cut)

    def check_one_leader(self, within_us: int = 2 * SEC) -> str:
        """Wait for a leader; exactly one may lead the newest term. Returns it."""
        waited = 0
        while waited <= within_us:
            leaders = self.leaders()
            if leaders:
                top = leaders[-1][0]
                in_top = [n for t, n in leaders if t == top]
                assert len(in_top) == 1, f"two leaders in term {top}: {in_top}"
                return in_top[0]
            self.run(20 * MS)
            waited += 20 * MS
        raise AssertionError("no leader elected")

    def check_no_leader(self) -> None:
        """No connected, live node is leader (an isolated old leader is allowed)."""
        assert not self.leaders(), f"unexpected leaders {self.leaders()}"

    def terms(self) -> set[int]:
        return {node.term for node in self.sim.nodes.values() if node is not None}

    def n_committed(self, index: int) -> tuple[int, object]:
        """How many live nodes have applied `index`, and the command there (the monitor has
        already checked that they agree)."""
        count = sum(1 for n in self.live() if self.node(n).applied >= index)
        seen = self.monitor.applied.get(index)
        return count, (seen[1] if seen else None)

    # ---- client commands -----------------------------------------------------------------------

    def submit(self, node: str, f: str, value) -> Request:
        self.next_id += 1
        req = Request(self.next_id, self.next_id, f, value, f"client-{self.next_id}")
        self.sim.submit(node, req)
        return req

    def one(self, value: str, expected: int, retry: bool = True, key: int = 0,
            within_us: int = 10 * SEC) -> int:
        """Like 6.824's cfg.one: submit an append at a leader until it commits on at least
        `expected` nodes; returns its log index."""
        waited = 0
        while waited < within_us:
            leaders = self.leaders()
            if leaders:
                leader = leaders[-1][1]
                req = self.submit(leader, "append", [key, value])
                for _ in range(50):
                    self.run(10 * MS)
                    waited += 10 * MS
                    index = self._index_of(req)
                    if index and self.n_committed(index)[0] >= expected:
                        return index
                if not retry:
                    raise AssertionError(f"{value!r} did not commit on {expected} nodes")
            else:
                self.run(20 * MS)
                waited += 20 * MS
        raise AssertionError(f"{value!r} never committed on {expected} nodes")

    def _index_of(self, req: Request) -> int | None:
        for i, (_, cmd, _) in self.monitor.applied.items():
            if cmd is not None and cmd[1] == req.id:
                return i
        return None

    def wait_reply(self, req: Request, within_us: int = 5 * SEC):
        waited = 0
        while req.id not in self.client.replies and waited < within_us:
            self.run(10 * MS)
            waited += 10 * MS
        return self.client.replies.get(req.id)

    def entry_count(self) -> int:
        return max((n.last_index() for n in self.sim.nodes.values() if n is not None), default=0)
