"""Raft (Ongaro & Ousterhout, extended paper) with a linearizable KV service on top.

Nodes elect a leader with randomized timeouts and RequestVote (with the up-to-date log
check), replicate the log with AppendEntries (consistency check and fast backtracking by
conflict term/index), persist currentTerm, votedFor and the log before any reply that depends
on them, commit only current-term entries by counting, apply committed entries in order to a
KV state machine, and compact the log into snapshots that lagging followers receive with
InstallSnapshot.

The KV service: get / put / append / cas on string values per key. Writes go through the log
with client sessions (client id + sequence number = the request id) so an op that is retried
and ends up in the log twice applies once. Reads use a read-index round: the leader notes its
commit index, confirms with a majority that it is still leader, waits until it has applied
that index and answers from its state machine. Non-leaders redirect to the leader they know.

Planted bugs are marked `# BUG <name>:` beside the line they mutate; all are off by default
(`protocol.py` lists them). A newly elected leader announces "leader-elected", which the
nemesis's leader-aimed faults wait for.

Messages are plain tuples:
    ("vote", term, candidate, last_index, last_term)
    ("vote-r", term, granted)
    ("append", term, leader, prev_index, prev_term, entries, leader_commit, round)
    ("append-r", term, success, match_index, conflict_term, conflict_index, round)
    ("snap", term, leader, index, term_at_index, kv_items, session_items, round)
    ("snap-r", term, index, round)
Log entries are (term, command); a command is (client, seq, f, key, arg) or None (no-op).

Durable state (ctx.disk): "hs" -> (term, voted_for); "e<i>" -> entry i; "last" -> last log
index; "snap" -> (index, term, kv_items, session_items).
"""
from __future__ import annotations

from typing import Any

from faultlab.sim.node import Context, Node, Request, canonical

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


class RaftNode(Node):
    """One Raft server with its KV state machine."""

    def __init__(self, ctx: Context, config: dict, bugs: frozenset[str]) -> None:
        super().__init__(ctx, config, bugs)
        self.heartbeat_us = config["heartbeat_us"]
        self.election_min = config["election_min_us"]
        self.election_max = config["election_max_us"]
        self.snapshot_every = config["snapshot_every"]
        self.max_batch = config["max_batch"]
        self.name = ctx.name
        self.peers = ctx.peers
        self.quorum = len(ctx.nodes) // 2 + 1
        # Observations for the invariant monitor, shared by every node it has adopted:
        # (kind, node name, ...) tuples. None until a monitor adopts this node.
        self.journal: list | None = None

    # ---- boot ---------------------------------------------------------------------------

    def start(self) -> None:
        self._boot()

    def recover(self) -> None:
        self._boot()

    def _boot(self) -> None:
        disk = self.ctx.disk
        self.term, self.voted_for = disk.get("hs", (0, None))
        snap = disk.get("snap")
        if snap is None:
            snap = (0, 0, (), ())
        self.base, base_term, kv_items, sess_items = snap
        self.snap = snap
        last = disk.get("last", 0)
        log = [(base_term, None)]
        for i in range(self.base + 1, last + 1):
            log.append(disk.get(f"e{i}"))
        self.log = log
        self.kv: dict = dict(kv_items)
        self.sessions: dict = dict(sess_items)
        self.commit = self.applied = self.base
        self.role = FOLLOWER
        self.leader_id: str | None = None
        self.votes: set = set()
        self.answered: set = set()
        # leader state
        self.next_index: dict = {}
        self.match: dict = {}
        self.inflight: dict = {}
        self.acked: dict = {}      # peer -> highest round it answered in this term
        self.round = 0
        self.pending: dict = {}    # log index -> Request waiting for its entry to apply
        self.pending_ids: dict = {}  # request id -> log index
        self.reads: list = []      # [round, read_index or None, req] awaiting confirmation
        self.ready_reads: list = []  # (read_index, req) confirmed, awaiting apply
        self._reset_election_timer()

    # ---- log helpers ----------------------------------------------------------------------

    def last_index(self) -> int:
        return self.base + len(self.log) - 1

    def term_at(self, i: int) -> int:
        return self.log[i - self.base][0]

    def state(self):
        return canonical((
            self.role, self.term, self.voted_for, self.leader_id, self.votes, self.answered,
            self.commit, self.applied, self.base, self.snap, self.log, self.kv, self.sessions,
            self.next_index, self.match, self.inflight, self.acked, self.round,
            self.pending, self.pending_ids, self.reads, self.ready_reads, self.ctx.timers()))

    def _save_hs(self) -> None:
        self.ctx.disk.put("hs", (self.term, self.voted_for))

    def _note(self, event: tuple) -> None:
        if self.journal is not None:
            self.journal.append(event)

    # ---- timers ---------------------------------------------------------------------------

    def _reset_election_timer(self) -> None:
        if "fixed-election-timeout" in self.bugs:
            delay = self.election_min  # BUG fixed-election-timeout: no randomization
        else:
            delay = self.ctx.rng.randint(self.election_min, self.election_max)
        self.ctx.set_timer("elect", delay)

    def on_timer(self, name: str, data: Any) -> None:
        if name == "elect":
            if self.role != LEADER:
                self._start_election()
        elif name == "hb":
            if self.role == LEADER:
                self._broadcast_append()
                self.ctx.set_timer("hb", self.heartbeat_us)
            elif self.role == CANDIDATE:  # retry RequestVote at peers that did not answer
                msg = ("vote", self.term, self.name, self.last_index(), self.log[-1][0])
                for peer in self.peers:
                    if peer not in self.answered:
                        self.ctx.send(peer, msg)
                self.ctx.set_timer("hb", self.heartbeat_us)

    # ---- elections ------------------------------------------------------------------------

    def _step_down(self, term: int, persist: bool = True) -> None:
        """Adopt a higher term as a follower (persisted, not yet synced), or just stop
        leading or campaigning in the current one."""
        if term > self.term:
            self.term = term
            self.voted_for = None
            self.leader_id = None
            if persist:
                self._save_hs()
        if self.role == LEADER:
            self._abandon_clients()
            self._reset_election_timer()
        self.ctx.cancel_timer("hb")
        self.role = FOLLOWER

    def _start_election(self) -> None:
        self.term += 1
        self.role = CANDIDATE
        self.voted_for = self.name
        self.leader_id = None
        self.votes = {self.name}
        self.answered = {self.name}
        disk = self.ctx.disk
        self._save_hs()
        disk.sync()
        self.ctx.count("elections")
        self._reset_election_timer()
        if len(self.votes) >= self.quorum:
            self._become_leader()
            return
        last = self.last_index()
        self.ctx.broadcast(("vote", self.term, self.name, last, self.log[-1][0]))
        self.ctx.set_timer("hb", self.heartbeat_us)

    def _on_vote(self, src: str, term: int, cand: str, last_i: int, last_t: int) -> None:
        if term > self.term:
            self._step_down(term, persist=False)  # persisted below, before the reply
        my_t = self.log[-1][0]
        up_to_date = last_t > my_t or (last_t == my_t and last_i >= self.last_index())
        if "vote-without-log-check" in self.bugs:
            up_to_date = True  # BUG vote-without-log-check: any log is up to date
        granted = (term == self.term and self.voted_for in (None, cand) and up_to_date)
        if granted:
            self.voted_for = cand
            self._reset_election_timer()
        if "no-persist-vote" not in self.bugs:  # BUG no-persist-vote: skip this
            self._save_hs()
            self.ctx.disk.sync()
        self.ctx.send(src, ("vote-r", self.term, granted))

    def _reply_counts(self, term: int, role: str) -> bool:
        """Whether a vote/append/snapshot reply may be acted on: a newer term deposes us,
        and a reply from an older term is stale (unless the planted bug accepts it)."""
        if term > self.term:
            self._step_down(term)
            self.ctx.disk.sync()
            return False
        if self.role != role:
            return False
        # BUG accept-stale-term-reply: act on replies from an older term.
        return term == self.term or "accept-stale-term-reply" in self.bugs

    def _on_vote_reply(self, src: str, term: int, granted: bool) -> None:
        if not self._reply_counts(term, CANDIDATE):
            return
        self.answered.add(src)
        if term != self.term:
            self.ctx.count("stale-replies-used")
        if granted:
            self.votes.add(src)
            if len(self.votes) >= self.quorum:
                self._become_leader()

    def _become_leader(self) -> None:
        self.role = LEADER
        self.leader_id = self.name
        self.ctx.announce("leader-elected", term=self.term)
        self._note(("leader", self.name, self.term))
        nxt = self.last_index() + 1
        self.next_index = dict.fromkeys(self.peers, nxt)
        self.match = dict.fromkeys(self.peers, 0)
        self.inflight = dict.fromkeys(self.peers, False)
        self.acked = dict.fromkeys(self.peers, 0)
        self.ctx.cancel_timer("elect")
        self._broadcast_append()
        self.ctx.set_timer("hb", self.heartbeat_us)
        if not self.peers:
            self._advance_commit()

    # ---- replication: leader side ----------------------------------------------------------

    def _broadcast_append(self) -> None:
        self.round += 1
        for peer in self.peers:
            self._send_append(peer)

    def _send_append(self, peer: str) -> None:
        nxt = self.next_index[peer]
        base = self.base
        self.inflight[peer] = True
        if nxt <= base:
            s = self.snap
            self.ctx.send(peer, ("snap", self.term, self.name, s[0], s[1], s[2], s[3],
                                 self.round))
            return
        prev = nxt - 1
        log = self.log
        entries = tuple(log[nxt - base:nxt - base + self.max_batch])
        self.ctx.send(peer, ("append", self.term, self.name, prev, log[prev - base][0],
                             entries, self.commit, self.round))

    def _replicate(self) -> None:
        """Send new entries to every peer that has nothing in flight."""
        inflight = self.inflight
        for peer in self.peers:
            if not inflight[peer]:
                self._send_append(peer)

    def _on_append_reply(self, src: str, term: int, ok: bool, match: int, cterm: int,
                         cindex: int, rnd: int) -> None:
        if not self._reply_counts(term, LEADER):
            return
        self.inflight[src] = False
        if term != self.term:
            self.ctx.count("stale-replies-used")
        if rnd > self.acked[src]:
            self.acked[src] = rnd
            if self.reads:
                self._confirm_reads()
        # Send the next batch only on progress: a duplicated or stale reply must not start a
        # second AppendEntries stream to the same follower (each would double under
        # duplication).
        before = (self.match[src], self.next_index[src])
        if ok:
            if match > self.match[src]:
                self.match[src] = match
                self._advance_commit()
            if match + 1 > self.next_index[src]:
                self.next_index[src] = match + 1
        else:
            nxt = cindex
            if cterm:
                # fast backtracking: skip past the follower's whole conflicting term
                i = self.last_index()
                base = self.base
                while i > base and self.log[i - base][0] > cterm:
                    i -= 1
                if i > base and self.log[i - base][0] == cterm:
                    nxt = i + 1
            self.next_index[src] = max(1, min(nxt, self.last_index() + 1))
        progressed = before != (self.match[src], self.next_index[src])
        if progressed and self.next_index[src] <= self.last_index():
            self._send_append(src)

    def _on_snap_reply(self, src: str, term: int, index: int, rnd: int) -> None:
        if not self._reply_counts(term, LEADER):
            return
        self.inflight[src] = False
        if rnd > self.acked[src]:
            self.acked[src] = rnd
            if self.reads:
                self._confirm_reads()
        before = (self.match[src], self.next_index[src])
        if index > self.match[src]:
            self.match[src] = index
            self._advance_commit()
        if index + 1 > self.next_index[src]:
            self.next_index[src] = index + 1
        progressed = before != (self.match[src], self.next_index[src])
        if progressed and self.next_index[src] <= self.last_index():
            self._send_append(src)  # (only on progress, as for append replies)

    def _advance_commit(self) -> None:
        ms = sorted(self.match.values(), reverse=True)
        ms.insert(0, self.last_index())  # the leader's own log is synced
        n = ms[self.quorum - 1]
        if n <= self.commit:
            return
        # Only entries of the current term commit by counting (Raft §5.4.2).
        if self.log[n - self.base][0] == self.term or "figure8" in self.bugs:  # BUG figure8
            if self.log[n - self.base][0] != self.term:
                self.ctx.count("old-term-commits")
            if self.journal is not None:
                self.journal.append(("counted", self.name, n, self.log[n - self.base][0],
                                     self.term))
            self._set_commit(n)

    def _set_commit(self, n: int) -> None:
        old = self.commit
        self.commit = n
        if self.journal is not None:
            base, log, term = self.base, self.log, self.term
            for i in range(max(old, base) + 1, min(n, self.last_index()) + 1):
                self.journal.append(("commit", self.name, i, log[i - base][0], term))
        self._apply()
        if self.reads and self.role == LEADER:
            self._confirm_reads()

    # ---- replication: follower side --------------------------------------------------------

    def _follow(self, term: int, leader: str) -> None:
        if term > self.term or self.role != FOLLOWER:
            self._step_down(term)  # e.g. a candidate that meets the leader of its term
        self.leader_id = leader
        self._reset_election_timer()
        if self.pending:
            self._forward_pending()

    def _on_append(self, src: str, term: int, leader: str, prev_i: int, prev_t: int,
                   entries: tuple, lcommit: int, rnd: int) -> None:
        ctx = self.ctx
        if term < self.term:
            ctx.send(src, ("append-r", self.term, False, 0, 0, 0, rnd))
            return
        self._follow(term, leader)
        disk = ctx.disk
        base = self.base
        if prev_i < base:  # the start is already in our snapshot (committed)
            skip = base - prev_i
            if skip >= len(entries):
                disk.sync()
                ctx.send(src, ("append-r", self.term, True, prev_i + len(entries), 0, 0, rnd))
                return
            entries = entries[skip:]
            prev_i, prev_t = base, self.log[0][0]
        log = self.log
        last = base + len(log) - 1
        if prev_i > last:
            disk.sync()
            ctx.send(src, ("append-r", self.term, False, 0, 0, last + 1, rnd))
            return
        if log[prev_i - base][0] != prev_t:
            cterm = log[prev_i - base][0]
            i = prev_i
            while i - 1 > base and log[i - 1 - base][0] == cterm:
                i -= 1
            disk.sync()
            ctx.send(src, ("append-r", self.term, False, 0, cterm, i, rnd))
            return
        if "unconditional-truncate" in self.bugs:
            start = 0  # BUG unconditional-truncate: drop everything after prev_i
        else:
            start = len(entries)
            for k, e in enumerate(entries):
                idx = prev_i + 1 + k
                if idx > last or log[idx - base][0] != e[0]:
                    start = k
                    break
        if start < len(entries) or ("unconditional-truncate" in self.bugs and entries):
            first = prev_i + 1 + start
            del log[first - base:]
            note = self.journal is not None
            for k in range(start, len(entries)):
                e = entries[k]
                idx = prev_i + 1 + k
                log.append(e)
                disk.put(f"e{idx}", e)
                if note:
                    self.journal.append(("entry", self.name, idx, e[0], log[idx - 1 - base][0],
                                         e[1]))
            disk.put("last", base + len(log) - 1)
        disk.sync()
        match = prev_i + len(entries)
        if lcommit > self.commit:
            new = min(lcommit, match)
            if new > self.commit:
                self._set_commit(new)
        ctx.send(src, ("append-r", self.term, True, match, 0, 0, rnd))

    def _on_snap(self, src: str, term: int, leader: str, index: int, sterm: int,
                 kv_items: tuple, sess_items: tuple, rnd: int) -> None:
        ctx = self.ctx
        if term < self.term:
            ctx.send(src, ("snap-r", self.term, 0, rnd))
            return
        self._follow(term, leader)
        if index > self.commit:
            base = self.base
            last = self.last_index()
            if index <= last and self.log[index - base][0] == sterm:
                self.log = [(sterm, None)] + self.log[index - base + 1:]
            else:
                self.log = [(sterm, None)]
            disk = ctx.disk
            for i in range(base + 1, min(index, last) + 1):
                disk.delete(f"e{i}")
            self.base = index
            self.snap = (index, sterm, kv_items, sess_items)
            disk.put("snap", self.snap)
            disk.put("last", self.last_index())
            self.kv = dict(kv_items)
            self.sessions = dict(sess_items)
            self.commit = self.applied = index
            if self.pending:
                self._settle_pending(index)
            ctx.count("snapshots-installed")
        ctx.disk.sync()
        ctx.send(src, ("snap-r", self.term, index, rnd))

    # ---- state machine ----------------------------------------------------------------------

    def _apply(self) -> None:
        upto = min(self.commit, self.last_index())
        if self.applied >= upto:
            return
        log, base, kv, sessions = self.log, self.base, self.kv, self.sessions
        note = self.journal is not None
        pending = self.pending
        while self.applied < upto:
            i = self.applied + 1
            self.applied = i
            cmd = log[i - base][1]
            if cmd is None:
                if note:
                    self.journal.append(("apply", self.name, i, None, None))
                continue
            client, seq, f, key, arg = cmd
            s = sessions.get(client)
            if s is not None and s[0] >= seq:
                result = s[1]  # a retried op already applied: answer, do not reapply
                self.ctx.count("duplicates-skipped")
            else:
                old = kv.get(key, "")
                if f == "put":
                    kv[key] = arg
                    result = True
                elif f == "append":
                    kv[key] = old + arg
                    result = True
                else:  # cas
                    result = old == arg[0]
                    if result:
                        kv[key] = arg[1]
                sessions[client] = (seq, result)
            if note:
                self.journal.append(("apply", self.name, i, cmd, kv.get(key, "")))
            if pending:
                req = pending.pop(i, None)
                if req is not None:
                    del self.pending_ids[req.id]
                    if req.id == seq and req.client == client:
                        if result:
                            self.ctx.reply(req, "ok", value=req.value)
                        else:
                            self.ctx.reply(req, "fail", error="cas-mismatch")
                    else:  # our entry was overwritten: submit the op again
                        self._resubmit(req)
        if self.ready_reads:
            self._answer_reads()
        if self.snapshot_every and self.applied - self.base >= self.snapshot_every:
            self._snapshot()

    def _snapshot(self) -> None:
        index = self.applied
        base = self.base
        sterm = self.log[index - base][0]
        sessions = tuple(sorted(self.sessions.items()))
        if "dedup-not-in-snapshot" in self.bugs:
            sessions = ()  # BUG dedup-not-in-snapshot: sessions are not saved
        self.snap = (index, sterm, tuple(sorted(self.kv.items())), sessions)
        disk = self.ctx.disk
        disk.put("snap", self.snap)
        for i in range(base + 1, index + 1):
            disk.delete(f"e{i}")
        disk.sync()
        self.log = [(sterm, None)] + self.log[index - base + 1:]
        self.base = index
        self.ctx.count("snapshots")

    # ---- clients -------------------------------------------------------------------------------

    def on_request(self, req: Request) -> None:
        if self.role != LEADER:
            if self.leader_id is not None:
                self.ctx.redirect(req, self.leader_id)
            else:
                # No write reaches a non-leader after it entered some log (those are
                # forwarded between servers, never handed back), so this one never happened.
                self.ctx.reply(req, "fail", error="no-leader")
            return
        key, arg = req.value
        if req.f == "get":
            if "stale-leader-read" in self.bugs:  # BUG stale-leader-read: no confirmation
                self.ctx.reply(req, "ok", value=[key, self.kv.get(key, "")])
                return
            self._start_read(req)
            return
        if req.f not in ("put", "append", "cas"):
            self.ctx.reply(req, "fail", error="unknown-op")
            return
        s = self.sessions.get(req.client)
        if s is not None and s[0] == req.id:  # already applied: answer from the session
            if s[1]:
                self.ctx.reply(req, "ok", value=req.value)
            else:
                self.ctx.reply(req, "fail", error="cas-mismatch")
            return
        idx = self.pending_ids.get(req.id)
        if idx is not None:  # a resend of an op already in our log
            self.pending[idx] = req
            return
        if req.f == "cas":
            arg = tuple(arg)
        self._append_command((req.client, req.id, req.f, key, arg))
        idx = self.last_index()
        self.pending[idx] = req
        self.pending_ids[req.id] = idx

    def _append_command(self, cmd) -> None:
        idx = self.last_index() + 1
        e = (self.term, cmd)
        prev_t = self.log[-1][0]
        self.log.append(e)
        disk = self.ctx.disk
        disk.put(f"e{idx}", e)
        disk.put("last", idx)
        disk.sync()
        self._note(("entry", self.name, idx, self.term, prev_t, cmd))
        if self.peers:
            self._replicate()
        else:
            self._advance_commit()

    def _start_read(self, req: Request) -> None:
        committed_here = self.log[self.commit - self.base][0] == self.term
        if not committed_here and self.log[-1][0] != self.term:
            self._append_command(None)  # a no-op to commit an entry of this term
        self.round += 1
        self.reads.append([self.round, self.commit if committed_here else None, req])
        for peer in self.peers:
            self._send_append(peer)
        self._confirm_reads()

    def _confirm_reads(self) -> None:
        """Reads whose round a majority has answered in this term are confirmed."""
        if self.log[self.commit - self.base][0] != self.term:
            return  # no entry of this term committed yet: the read index is not known
        acks = sorted(self.acked.values(), reverse=True)
        confirmed = acks[self.quorum - 2] if self.quorum >= 2 else self.round
        reads = self.reads
        keep = []
        for item in reads:
            rnd, ri, req = item
            if rnd <= confirmed:
                self.ready_reads.append((ri if ri is not None else self.commit, req))
            else:
                if ri is None:
                    item[1] = self.commit
                keep.append(item)
        self.reads = keep
        if self.ready_reads:
            self._answer_reads()

    def _answer_reads(self) -> None:
        applied = self.applied
        keep = []
        for ri, req in self.ready_reads:
            if ri <= applied:
                key = req.value[0]
                self.ctx.reply(req, "ok", value=[key, self.kv.get(key, "")])
            else:
                keep.append((ri, req))
        self.ready_reads = keep

    def _abandon_clients(self) -> None:
        """A leader stepping down hands its open reads back to the clients (they had no
        effect). Writes already in the log stay pending here: they may still commit, and
        this node answers them when it applies their index (or redirects the client once a
        different command is applied there)."""
        redirect = self.ctx.redirect
        for _, _, req in self.reads:
            redirect(req, None)
        for _, req in self.ready_reads:
            redirect(req, None)
        self.reads = []
        self.ready_reads = []

    def _forward_pending(self) -> None:
        """Writes this node appended as leader, now that another node leads: hand them to
        the leader, which appends them again. If both copies commit, the session table makes
        the second a no-op; that is what client sessions are for."""
        leader = self.leader_id
        if leader is None or leader == self.name:
            return
        for idx in sorted(self.pending):
            self.ctx.send(leader, ("fwd", self.pending[idx]))
            self.ctx.count("writes-forwarded")
        self.pending = {}
        self.pending_ids = {}

    def _resubmit(self, req: Request) -> None:
        """Our copy of a write was overwritten: submit it again (a copy may still live in
        another log, so the client must not retry it elsewhere)."""
        if self.role == LEADER:
            self.on_request(req)
        elif self.leader_id is not None:
            self.ctx.send(self.leader_id, ("fwd", req))
        # else: nobody to give it to; the client's op times out (info)

    def _on_forward(self, src: str, req: Request) -> None:
        if self.role == LEADER:
            self.on_request(req)
        elif self.leader_id is not None and self.leader_id != src:
            self.ctx.send(self.leader_id, ("fwd", req))

    def _settle_pending(self, upto: int) -> None:
        """An installed snapshot covers pending writes up to `upto`: answer those the session
        table shows as applied; the rest stay unanswered (the client times out: info)."""
        for idx in sorted(i for i in self.pending if i <= upto):
            req = self.pending.pop(idx)
            del self.pending_ids[req.id]
            s = self.sessions.get(req.client)
            if s is not None and s[0] == req.id:
                if s[1]:
                    self.ctx.reply(req, "ok", value=req.value)
                else:
                    self.ctx.reply(req, "fail", error="cas-mismatch")

    # ---- dispatch ------------------------------------------------------------------------------

    def on_message(self, src: str, msg: tuple) -> None:
        kind = msg[0]
        if kind == "append":
            self._on_append(src, *msg[1:])
        elif kind == "append-r":
            self._on_append_reply(src, *msg[1:])
        elif kind == "vote":
            self._on_vote(src, *msg[1:])
        elif kind == "vote-r":
            self._on_vote_reply(src, *msg[1:])
        elif kind == "snap":
            self._on_snap(src, *msg[1:])
        elif kind == "snap-r":
            self._on_snap_reply(src, *msg[1:])
        elif kind == "fwd":
            self._on_forward(src, msg[1])
