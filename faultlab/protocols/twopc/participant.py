"""A participant: the server of one shard of the keys (key k lives on p<k mod P + 1>).

A coordinator's `prepare` carries the transaction's micro-ops for this shard. The
participant takes locks as it goes (strict two-phase locking: shared for reads, exclusive for
writes), runs the micro-ops against its committed data, logs a prepare record with the
transaction's writes, syncs it, and only then votes yes with what its reads returned. From
the vote on it is in doubt: it holds the locks and waits for the decision, asking the
coordinator (and with `termination=cooperative` the other participants) when it is slow to
come. Before voting it may give up: a lock wait that times out, an inquiry from another
participant, or (bank) an account that cannot pay, and it votes no.

Durable log on `ctx.disk`: `p:<txn>` prepare records, `v:<txn>` votes, `o:<txn>` outcomes
(each decision with its time and who decided it, in order, so a reversal stays visible),
`k:<key>` committed values.
"""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.protocols.twopc.locks import EXCLUSIVE, SHARED, LockTable
from faultlab.sim.node import Node, Request, canonical

COMMIT, ABORT = "commit", "abort"
WORKING, LOGGING, PREPARED = "working", "logging", "prepared"


@attrs.define
class Work:
    """A transaction at this participant: its micro-ops (index in the transaction, f, key,
    value), how far it got, what its reads returned and the values it will write."""

    txn: int
    coordinator: str
    participants: tuple[str, ...]
    ops: tuple
    phase: str = WORKING
    step: int = 0
    reads: dict = attrs.field(factory=dict)
    writes: dict = attrs.field(factory=dict)
    voted_at: int | None = None
    inquiries: int = 0

    def record(self, locks: dict) -> tuple:
        """The prepare record: all recovery needs to finish the transaction."""
        return (self.coordinator, self.participants, self.ops, self.reads, self.writes,
                locks, self.voted_at)


def owner(key, participants: int) -> str:
    """The participant that holds `key`."""
    return f"p{key % participants + 1}"


class Participant(Node):
    def start(self) -> None:
        self.data: dict = {}
        self.outcomes: dict[int, tuple] = {}  # txn -> ((outcome, time, decided by), ...)
        self.votes: dict[int, str] = {}
        self._boot()

    def recover(self) -> None:
        disk = self.ctx.disk
        self.data = {int(k[2:]): disk.get(k) for k in disk.keys() if k.startswith("k:")}
        self.outcomes = {int(k[2:]): tuple(map(tuple, disk.get(k))) for k in disk.keys()
                         if k.startswith("o:")}
        self.votes = {int(k[2:]): disk.get(k) for k in disk.keys() if k.startswith("v:")}
        self._boot()
        if "recovery-forgets-prepared" in self.bugs:
            return  # BUG recovery-forgets-prepared: prepare records ignored, locks not taken
        for key in disk.keys():
            if key.startswith("p:"):
                coordinator, participants, ops, reads, writes, locks, voted_at = disk.get(key)
                w = Work(int(key[2:]), coordinator, tuple(participants), tuple(map(tuple, ops)),
                         PREPARED, len(ops), dict(reads), dict(writes), voted_at)
                for k, mode in locks.items():
                    self.locks.acquire(k, w.txn, mode)
                self.txns[w.txn] = w
                self.ctx.set_timer(f"doubt:{w.txn}", 0, w.txn)  # ask at once

    def _boot(self) -> None:
        self.txns: dict[int, Work] = {}
        self.locks = LockTable()

    def state(self):
        return canonical({"data": self.data, "outcomes": self.outcomes, "votes": self.votes,
                          "txns": self.txns,
                          "locks": self.locks.holders, "waiting": self.locks.waiting,
                          "timers": self.ctx.timers()})

    def value(self, key):
        """The committed value of `key` (the workload's initial one if never written)."""
        if key in self.data:
            return self.data[key]
        workload = self.config["workload"]
        return [] if workload == "list-append" else \
            self.config["balance"] if workload == "bank" else None

    # ---- messages -------------------------------------------------------------------------

    def on_request(self, req: Request) -> None:
        self.ctx.redirect(req, "c1")  # clients talk to coordinators

    def on_message(self, src: str, msg: tuple) -> None:
        kind, txn = msg[0], msg[1]
        if kind == "prepare":
            self._prepare(src, txn, msg[2], msg[3])
        elif kind == "decision":
            self._decide(txn, msg[2], f"decided by {src}")
            self.ctx.send(src, ("ack", txn))
        elif kind == "status?":
            self._answer_status(src, txn, msg[2])
        elif kind == "status" and msg[2] is not None:
            w = self.txns.get(txn)
            if w is not None and w.phase == PREPARED:
                self._decide(txn, msg[2], f"told by {src}")
                if src.startswith("p"):
                    self.ctx.count("in-doubt resolved by another participant")

    def on_timer(self, name: str, txn: Any) -> None:
        w = self.txns.get(txn)
        if w is None:
            return
        if name.startswith("lock-wait:") and w.phase == WORKING:
            self.ctx.count("lock wait timeouts")
            self._give_up(w, "its lock wait timed out")
        elif name.startswith("fsync:") and w.phase == LOGGING:
            self.ctx.disk.sync()
            self.ctx.announce("prepare-logged", txn=txn)
            self._vote_yes(w)
        elif name.startswith("fsync:") and w.phase == PREPARED:  # the buggy early vote's log
            self.ctx.disk.sync()
            self.ctx.announce("prepare-logged", txn=txn)
        elif name.startswith("doubt:") and w.phase == PREPARED:
            self._inquire(w)

    # ---- before the vote ------------------------------------------------------------------

    def _prepare(self, coordinator: str, txn: int, ops, participants) -> None:
        ctx = self.ctx
        if txn in self.outcomes:  # decided already (or given up): say so again
            ctx.send(coordinator, ("vote", txn, self.outcomes[txn][-1][0] == COMMIT, None))
            return
        w = self.txns.get(txn)
        if w is not None:
            if w.phase == PREPARED:
                ctx.send(coordinator, ("vote", txn, True, w.reads))
            return
        self.txns[txn] = Work(txn, coordinator, tuple(participants), tuple(map(tuple, ops)))
        ctx.set_timer(f"lock-wait:{txn}", self.config["lock_wait_us"], txn)
        self._advance(self.txns[txn])

    def _advance(self, w: Work) -> None:
        """Run the micro-ops from where the transaction stopped, taking each lock first;
        stop where a lock is taken by another. When all have run, log the prepare record."""
        while w.step < len(w.ops):
            i, f, key, v = w.ops[w.step]
            if not self.locks.acquire(key, w.txn, SHARED if f == "r" else EXCLUSIVE):
                return
            current = w.writes.get(key, self.value(key))
            if f == "r":
                w.reads[i] = current
            elif f == "append":
                w.writes[key] = [*current, v]
            elif f == "w":
                w.writes[key] = v
            elif f == "credit":
                w.writes[key] = current + v
            elif f == "debit":
                if current < v:
                    self._give_up(w, f"account {key} holds {current}, less than {v}")
                    return
                w.writes[key] = current - v
            w.step += 1
        self.ctx.cancel_timer(f"lock-wait:{w.txn}")
        w.phase = LOGGING
        disk = self.ctx.disk
        w.voted_at = self.ctx.now()
        disk.put(f"p:{w.txn}", w.record(self.locks.held_by(w.txn)))
        disk.put(f"v:{w.txn}", "yes")
        self.votes[w.txn] = "yes"
        self.ctx.set_timer(f"fsync:{w.txn}", self.config["fsync_us"], w.txn)
        if "vote-before-prepare-durable" in self.bugs:
            self._vote_yes(w)  # BUG vote-before-prepare-durable: the record is not synced yet

    def _give_up(self, w: Work, why: str) -> None:
        """Abort a transaction this participant has not voted yes on, and vote no."""
        self.votes[w.txn] = "no"
        self.ctx.disk.put(f"v:{w.txn}", "no")
        self._decide(w.txn, ABORT, f"given up: {why}")
        self.ctx.send(w.coordinator, ("vote", w.txn, False, None))

    def _vote_yes(self, w: Work) -> None:
        ctx = self.ctx
        w.phase = PREPARED
        ctx.send(w.coordinator, ("vote", w.txn, True, w.reads))
        ctx.announce("vote-sent", txn=w.txn)
        ctx.set_timer(f"doubt:{w.txn}", self.config["inquiry_us"], w.txn)
        if "release-read-locks-at-prepare" in self.bugs:
            # BUG release-read-locks-at-prepare: other shards of this transaction may still
            # be taking locks, so two-phase locking no longer holds
            self._wake(self.locks.release(w.txn, shared_only=True))

    # ---- in doubt -------------------------------------------------------------------------

    def _inquire(self, w: Work) -> None:
        ctx = self.ctx
        if "prepared-aborts-on-timeout" in self.bugs:
            # BUG prepared-aborts-on-timeout: it voted yes, so the decision is not its own
            self._decide(w.txn, ABORT, "gave up waiting for the coordinator")
            return
        w.inquiries += 1
        ctx.count("in-doubt inquiries")
        ask = (w.coordinator,)
        if self.config["termination"] == "cooperative":
            ask += tuple(p for p in w.participants if p != ctx.name)
        for node in ask:
            ctx.send(node, ("status?", w.txn, w.coordinator))
        ctx.set_timer(f"doubt:{w.txn}", self.config["inquiry_us"], w.txn)

    def _answer_status(self, src: str, txn: int, coordinator: str) -> None:
        """Another participant asks what became of `txn`. One that has not voted yes may
        still abort it, and does, so the asker can finish (cooperative termination)."""
        if txn in self.outcomes:
            self.ctx.send(src, ("status", txn, self.outcomes[txn][-1][0]))
            return
        w = self.txns.get(txn)
        if w is not None and w.phase != WORKING:
            self.ctx.send(src, ("status", txn, None))  # in doubt itself
            return
        if w is not None:
            self._give_up(w, f"{src} asked before it voted")
        else:  # never saw it: it will vote no if the prepare comes
            self.votes[txn] = "no"
            self._decide(txn, ABORT, f"{src} asked before its prepare came")
            self.ctx.send(coordinator, ("vote", txn, False, None))
        self.ctx.send(src, ("status", txn, ABORT))

    # ---- the outcome ----------------------------------------------------------------------

    def _decide(self, txn: int, outcome: str, how: str) -> None:
        """Record the outcome, apply a commit's writes, release the locks. A second,
        different outcome is recorded too: the log shows the reversal."""
        past = self.outcomes.get(txn, ())
        if past and past[-1][0] == outcome:
            return
        ctx, disk = self.ctx, self.ctx.disk
        w = self.txns.pop(txn, None)
        if w is not None and outcome == COMMIT and w.phase != WORKING:
            for key, value in w.writes.items():
                self.data[key] = value
                disk.put(f"k:{key}", value)
        self.outcomes[txn] = (*past, (outcome, ctx.now(), how))
        disk.put(f"o:{txn}", self.outcomes[txn])
        disk.delete(f"p:{txn}")
        disk.sync()
        if w is None:
            return
        for timer in ("lock-wait", "fsync", "doubt"):
            ctx.cancel_timer(f"{timer}:{txn}")
        if w.phase == PREPARED:
            self._count_doubt(ctx.now() - w.voted_at, w.inquiries)
            ctx.announce("doubt-ended", txn=txn, outcome=outcome)  # vote-sent began it
        self._wake(self.locks.release(txn))

    def _count_doubt(self, waited: int, inquiries: int) -> None:
        """How long a participant sat in doubt, in buckets that add up over runs."""
        for bound, label in ((10_000, "under 10 ms"), (100_000, "10-100 ms"),
                             (1_000_000, "0.1-1 s"), (None, "over 1 s")):
            if bound is None or waited < bound:
                self.ctx.count(f"in doubt {label}")
                break
        if inquiries:
            self.ctx.count("blocked (had to ask)")
            self.ctx.count("blocked ms", waited // 1000)

    def _wake(self, txns: list) -> None:
        for txn in txns:
            w = self.txns.get(txn)
            if w is not None and w.phase == WORKING:
                self._advance(w)
