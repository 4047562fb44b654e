"""A coordinator: runs each client transaction through two-phase commit.

It splits the transaction's micro-ops by shard and sends each participant its `prepare`;
every participant answers with a vote (yes with its reads, or no). All yes: the coordinator
logs the commit decision, syncs it (the decision exists only once durable), then sends it
and answers the client with every read. Any no, or a vote missing at the vote timeout: it
aborts, logging nothing (presumed abort: a transaction it has no commit record of was
aborted), and the client's transaction fails.

Recovery: commit records are re-sent until every participant has acknowledged them; a
participant asking about anything else is told abort. Durable log: `d:<txn>` commit
records (participants, time).
"""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.protocols.twopc.participant import ABORT, COMMIT, owner
from faultlab.sim.node import Node, Request, canonical

VOTING, LOGGING = "voting", "logging"


@attrs.define
class Txn:
    """A transaction being decided: the client's request, its micro-ops (index, f, key,
    value), the votes so far and the reads they carried."""

    req: Request
    ops: tuple
    participants: tuple[str, ...]
    phase: str = VOTING
    votes: dict = attrs.field(factory=dict)
    reads: dict = attrs.field(factory=dict)


class Coordinator(Node):
    def start(self) -> None:
        self.commits: dict[int, tuple] = {}  # txn -> (participants, time logged)
        self._boot()

    def recover(self) -> None:
        disk = self.ctx.disk
        self.commits = {int(k[2:]): disk.get(k) for k in disk.keys() if k.startswith("d:")}
        self._boot()
        self.unacked = {t: set(ps) for t, (ps, _) in self.commits.items()}
        if self.unacked:
            self.ctx.set_timer("resend", 0)

    def _boot(self) -> None:
        self.active: dict[int, Txn] = {}
        self.aborted: set[int] = set()
        self.unacked: dict[int, set[str]] = {}  # committed txn -> participants yet to ack

    def state(self):
        return canonical({"commits": self.commits, "aborted": self.aborted,
                          "active": self.active,
                          "unacked": self.unacked, "timers": self.ctx.timers()})

    # ---- a transaction ----------------------------------------------------------------------

    def on_request(self, req: Request) -> None:
        if req.id in self.active or req.id in self.commits or req.id in self.aborted:
            return  # a resend of one under way
        ops = self._micro_ops(req)
        shards: dict[str, list] = {}
        for op in ops:
            shards.setdefault(owner(op[2], self.config["participants"]), []).append(op)
        participants = tuple(sorted(shards))
        self.active[req.id] = Txn(req, ops, participants)
        for p in participants:
            self.ctx.send(p, ("prepare", req.id, tuple(shards[p]), participants))
        self.ctx.set_timer(f"votes:{req.id}", self.config["vote_timeout_us"], req.id)

    def _micro_ops(self, req: Request) -> tuple:
        if req.f == "transfer":
            v = req.value
            return ((0, "debit", v["from"], v["amount"]), (1, "credit", v["to"], v["amount"]))
        if req.f == "read":
            return tuple((k, "r", k, None) for k in range(self.config["keys"]))
        return tuple((i, f, k, v) for i, (f, k, v) in enumerate(req.value))

    def on_message(self, src: str, msg: tuple) -> None:
        kind, txn = msg[0], msg[1]
        if kind == "vote":
            self._vote(src, txn, msg[2], msg[3])
        elif kind == "ack":
            waiting = self.unacked.get(txn)
            if waiting is not None:
                waiting.discard(src)
                if not waiting:
                    del self.unacked[txn]
        elif kind == "status?":
            self._answer_status(src, txn)

    def _vote(self, src: str, txn: int, yes: bool, reads) -> None:
        t = self.active.get(txn)
        if t is None:  # decided, or forgotten in a crash: presumed abort
            self.ctx.send(src, ("decision", txn, COMMIT if txn in self.commits else ABORT))
            return
        if t.phase != VOTING:
            return
        t.votes[src] = yes
        if reads:
            t.reads.update(reads)
        if not yes:
            self._abort(t, f"{src} voted no", "a participant voted no")
        elif "commit-on-first-yes" in self.bugs:
            self._commit(t)  # BUG commit-on-first-yes: the other votes are not waited for
        elif len(t.votes) == len(t.participants):
            self._commit(t)

    def on_timer(self, name: str, txn: Any) -> None:
        if name == "resend":
            for t, waiting in sorted(self.unacked.items()):
                for p in sorted(waiting):
                    self.ctx.send(p, ("decision", t, COMMIT))
            if self.unacked:
                self.ctx.set_timer("resend", self.config["inquiry_us"])
            return
        if name.startswith("fsync:"):
            self.ctx.disk.sync()
            self.ctx.announce("decision-logged", txn=txn, outcome=COMMIT)
            if txn in self.active:
                self._send_commit(self.active[txn])
            return
        t = self.active.get(txn)
        if t is not None and t.phase == VOTING:
            if "commit-on-vote-timeout" in self.bugs and all(t.votes.values()):
                self._commit(t)  # BUG commit-on-vote-timeout: a missing vote counts as yes
            else:
                self._abort(t, "a vote timed out", "a vote timed out")

    # ---- deciding ---------------------------------------------------------------------------

    def _abort(self, t: Txn, why: str, stat: str) -> None:
        txn = t.req.id
        del self.active[txn]
        self.aborted.add(txn)
        for p in t.participants:
            if t.votes.get(p) is not False:  # one that voted no has aborted already
                self.ctx.send(p, ("decision", txn, ABORT))
        self.ctx.announce("decision-sent", txn=txn, outcome=ABORT)
        self.ctx.count("aborted")
        self.ctx.count(f"aborted: {stat}")
        self.ctx.reply(t.req, "fail", error=f"aborted: {why}")

    def _commit(self, t: Txn) -> None:
        txn = t.req.id
        t.phase = LOGGING
        self.commits[txn] = (t.participants, self.ctx.now())
        self.ctx.disk.put(f"d:{txn}", self.commits[txn])
        self.ctx.cancel_timer(f"votes:{txn}")
        self.ctx.set_timer(f"fsync:{txn}", self.config["fsync_us"], txn)
        if "decision-sent-before-logged" in self.bugs:
            self._send_commit(t)  # BUG decision-sent-before-logged: not durable until fsync

    def _send_commit(self, t: Txn) -> None:
        txn = t.req.id
        if self.active.pop(txn, None) is None:
            return  # sent already, before the log was synced
        self.unacked[txn] = set(t.participants)
        for p in t.participants:
            self.ctx.send(p, ("decision", txn, COMMIT))
        self.ctx.announce("decision-sent", txn=txn, outcome=COMMIT)
        if not any(name == "resend" for name, _ in self.ctx.timers()):
            self.ctx.set_timer("resend", self.config["inquiry_us"])
        self.ctx.count("committed")
        value = self._result(t)
        if value is not None:
            self.ctx.reply(t.req, "ok", value)

    def _result(self, t: Txn):
        """The client's answer: its transaction with every read filled in (None if a
        participant that read never voted yes; the client then times out, unanswered)."""
        reads = [i for i, f, _, _ in t.ops if f == "r"]
        if any(i not in t.reads for i in reads):
            return None
        req = t.req
        if req.f == "transfer":
            return req.value
        if req.f == "read":
            return {k: t.reads[k] for k in range(self.config["keys"])}
        return [[f, k, t.reads[i] if f == "r" else v] for i, f, k, v in t.ops]

    def _answer_status(self, src: str, txn: int) -> None:
        # None: still deciding (or logging the commit); no commit record: presumed abort
        outcome = None if txn in self.active else COMMIT if txn in self.commits else ABORT
        self.ctx.send(src, ("status", txn, outcome))
