"""Primary-backup replicated set: the smallest protocol worth breaking, and the worked example
of writing a protocol for faultlab (see docs/writing-a-protocol.md).

Clients `add` integers to a set and `read` it. One node is primary; it replicates each add to
every backup, and acknowledges only when all of them have made it durable (write-all), so any
node that later becomes primary already holds every acknowledged element. Reads also make a
round trip to every backup, which confirms the primary still leads.

Failover: every node pings every other node. A backup that has not heard from the primary for
`failover_us` takes over if it is the lowest-named node it has heard from recently, with a
ballot `(counter + 1, its name)`. Ballots are totally ordered and unique per node, so a node
that sees a higher ballot follows it, and a deposed primary's writes are rejected.

Planted bug `ack-before-replicate`: the primary acknowledges an add as soon as it has it
locally. If it is then cut off or crashes, the new primary never learns the element, and the
set checker reports an acknowledged element lost.
"""
from __future__ import annotations

from faultlab.sim.node import Node, Request, canonical


class PrimaryBackupNode(Node):
    """One replica. Durable state: its ballot and one disk key per element ("e:<x>")."""

    def start(self) -> None:
        self.ballot = (0, self.ctx.nodes[0])  # everyone starts following the first node
        self.elements: set[int] = set()
        self._boot()

    def recover(self) -> None:
        disk = self.ctx.disk
        self.ballot = tuple(disk.get("ballot", (0, self.ctx.nodes[0])))
        self.elements = {int(k[2:]) for k in disk.keys() if k.startswith("e:")}
        self._boot()

    def _boot(self) -> None:
        now = self.ctx.now()
        self.last_heard = {n: now for n in self.ctx.peers}
        self.pending: dict[int, tuple[Request, set[str]]] = {}  # request id -> (req, acks)
        self.ctx.set_timer("tick", self.config["heartbeat_us"])

    @property
    def is_primary(self) -> bool:
        return self.ballot[1] == self.ctx.name

    def state(self):
        return canonical((self.ballot, self.elements, self.last_heard, self.pending,
                          self.ctx.timers()))

    # ---- failure detection and failover ---------------------------------------------------

    def on_timer(self, name: str, data) -> None:
        ctx = self.ctx
        ctx.broadcast(("ping", self.ballot))
        now = ctx.now()
        timeout = self.config["failover_us"]
        primary = self.ballot[1]
        if not self.is_primary and now - self.last_heard.get(primary, now) > timeout:
            alive = [n for n in ctx.peers if now - self.last_heard[n] <= timeout]
            if min(alive + [ctx.name]) == ctx.name:
                self._adopt((self.ballot[0] + 1, ctx.name))
                ctx.count("failover")
                ctx.broadcast(("ping", self.ballot))
        ctx.set_timer("tick", self.config["heartbeat_us"])

    def _adopt(self, ballot: tuple) -> None:
        """Follow a higher ballot (ours, after a takeover). Persisted before we act on it."""
        was_primary = self.is_primary
        self.ballot = ballot
        self.ctx.disk.put("ballot", ballot)
        self.ctx.disk.sync()
        if was_primary and not self.is_primary:
            # Deposed: pending ops may or may not have reached backups, so we cannot fail
            # them; the clients will time out and record them as indeterminate.
            self.pending.clear()

    # ---- replication ----------------------------------------------------------------------

    def on_message(self, src: str, msg: tuple) -> None:
        self.last_heard[src] = self.ctx.now()
        kind, ballot = msg[0], msg[1]
        if ballot > self.ballot:
            self._adopt(ballot)
        if kind == "replicate" or kind == "confirm":
            if ballot < self.ballot:
                self.ctx.send(src, ("nack", self.ballot, msg[2]))
                return
            if kind == "replicate":
                self._store(msg[3])
            self.ctx.send(src, ("ack", ballot, msg[2]))
        elif kind == "ack" and ballot == self.ballot and self.is_primary:
            entry = self.pending.get(msg[2])
            if entry is not None:
                req, acks = entry
                acks.add(src)
                if len(acks) == len(self.ctx.peers):
                    del self.pending[msg[2]]
                    self._answer(req)

    def _store(self, element: int) -> None:
        if element not in self.elements:
            self.elements.add(element)
            self.ctx.disk.put(f"e:{element}", True)
            self.ctx.disk.sync()

    def _answer(self, req: Request) -> None:
        if req.f == "read":
            self.ctx.reply(req, "ok", sorted(self.elements))
        else:
            self.ctx.reply(req, "ok", req.value)

    def on_request(self, req: Request) -> None:
        ctx = self.ctx
        if not self.is_primary:
            ctx.redirect(req, self.ballot[1])
            return
        if req.f == "add":
            self._store(req.value)
            ctx.broadcast(("replicate", self.ballot, req.id, req.value))
            if "ack-before-replicate" in self.bugs:
                self._answer(req)  # BUG: acknowledged before any backup has the element
                return
        else:
            ctx.broadcast(("confirm", self.ballot, req.id))
        if not ctx.peers:
            self._answer(req)
        else:
            self.pending[req.id] = (req, set())
