"""A Chord node: ring maintenance (join, stabilize, notify/rectify, fix-fingers, check
predecessor), lookups routed through fingers, and graceful leave; the replicated key-value
store it carries is in store.py.

Two modes (config `mode`):

- `zave` (default): Zave's corrected protocol ("Reasoning about identifier spaces: how to
  make Chord correct", 2017). The ring starts ideal with at least r+1 members; a joining node
  learns its successor by a lookup, then queries it and copies its successor list; stabilize
  adopts its successor's predecessor only after querying it (so only a live node, with its
  list); rectify takes a notifier as predecessor if it lies between the old one and itself,
  or if the old one is gone.
- `original`: the SIGCOMM 2001 protocol. The ring grows from one node; join and stabilize
  adopt a successor without asking it anything; notify as published; a periodic
  check_predecessor (flush) clears a predecessor found gone.

A node drops a successor only when a message to it comes back gone (it left or failed for
good: `on_gone`); one that is slow, paused or cut off stays in the list and is asked again.
Ring pointers and the store are on `ctx.disk`, so a crashed node restarts where it was.
"""
from __future__ import annotations

import bisect
import functools
from typing import Any

from faultlab.protocols.chord.store import KeyValueStore, stored_keys
from faultlab.protocols.common.ring import between, between_right, ring_id, ring_ids
from faultlab.sim.node import Node, canonical

MAX_HOPS = 64  # a lookup forwarded more often than this is given up


class ChordNode(KeyValueStore, Node):
    # ---- boot -------------------------------------------------------------------------------

    def start(self) -> None:
        self._fields()
        initial = initial_members(self.config)
        ring = []
        if self.ctx.name in initial:  # the ring as it starts: ideal (or one node)
            ring = sorted(initial, key=self.ids.__getitem__)
            i = ring.index(self.ctx.name)
            self.succ = [ring[(i + k) % len(ring)]
                         for k in range(1, min(len(ring), self.r + 1))] or [self.ctx.name]
            self.pred = ring[i - 1] if len(ring) > 1 else None
            self.joined = True
            self._save_ring()
        self._boot()
        if ring:  # and its fingers as stabilization would leave them
            points = [self.ids[n] for n in ring]
            for k in range(self.m):
                at = bisect.bisect_left(points, (self.id + (1 << k)) % (1 << self.m))
                self.fingers[k] = ring[at % len(ring)]

    def recover(self) -> None:
        self._fields()
        disk = self.ctx.disk
        saved = disk.get("ring")
        if saved is not None:
            self.joined, succ, self.pred = saved
            self.succ = list(succ)
        self.store = stored_keys(disk)
        self._boot()
        if not self.joined:  # it crashed while joining: join again, through any node
            self.contact = next(n for n in self.ctx.nodes if n != self.ctx.name)
            self._join()
        elif self.pred is not None and self.pred != self.ctx.name:
            # hand-over messages it was still sending died with it: send its keys to its
            # replicas again and fetch its range again
            self._replicate(self._replicas())
            self._take_over(self.pred, self.ctx.name)

    def _fields(self) -> None:
        self.m, self.r = self.config["m"], self.config["r"]
        self.id = ring_id(self.ctx.name, self.m)
        self.ids = ring_ids(self.ctx.nodes, self.m)
        self.joined = False
        self.succ: list[str] = []
        self.pred: str | None = None
        self.store: dict[int, tuple] = {}  # key -> ((version, owner), value)
        self.journal: list | None = None   # the monitor's, once it adopts this node

    def _boot(self) -> None:
        self.fingers: list[str | None] = [None] * self.m
        if self.succ:
            self.fingers[0] = self.succ[0]
        self.next_finger = 0
        self.asking: dict[int, tuple] = {}   # query id -> (purpose, target, data)
        # query ids never repeat across restarts, so an answer or a resent hand-over
        # from before a crash is never taken for a new one
        incarnation = self.ctx.disk.get("incarnation", 0) + 1
        self.ctx.disk.put("incarnation", incarnation)
        self.ctx.disk.sync()
        self.next_query = incarnation << 32
        self.contact: str | None = None      # the member a join goes through
        self.pending: dict[int, tuple] = {}  # put id -> (request, replicas yet to ack)
        self.unacked: dict[int, tuple] = {}  # hand-over id -> (target, message), resent
        self.handled: set[tuple[str, int]] = set()  # (sender, hand-over id) already done
        self.routed: set[tuple] = set()  # lookups routed since the last stabilize
        self.leaving = False
        self.gone: set[str] = set()          # nodes a message found gone for good
        if self.joined:
            self._start_timers()

    def _start_timers(self) -> None:
        cfg = self.config
        self.ctx.set_timer("stabilize", self.ctx.rng.randint(1, cfg["stabilize_us"]))
        self.ctx.set_timer("fix-fingers", self.ctx.rng.randint(1, cfg["stabilize_us"]))
        if cfg["mode"] == "original":
            self.ctx.set_timer("check-predecessor", cfg["stabilize_us"] * 2)

    def state(self):
        return canonical({"id": self.id, "joined": self.joined, "succ": self.succ,
                          "pred": self.pred, "fingers": self.fingers,
                          "next_finger": self.next_finger, "store": self.store,
                          "asking": self.asking, "next_query": self.next_query,
                          "contact": self.contact, "pending": self.pending,
                          "unacked": self.unacked, "handled": self.handled,
                          "routed": self.routed,
                          "leaving": self.leaving,
                          "gone": self.gone,
                          "timers": self.ctx.timers()})

    # ---- pointers ---------------------------------------------------------------------------

    def _set_succ(self, succ: list[str]) -> None:
        """A new successor list: at most r entries, no repeats; in a ring of r members or
        fewer it comes round to this node, which ends it."""
        out: list[str] = []
        for n in succ:
            if n not in out:
                out.append(n)
            if n == self.ctx.name:
                break
        out = out[:self.r] or [self.ctx.name]
        if out != self.succ:
            old, self.succ = self.succ, out
            self.fingers[0] = out[0]
            self._save_ring()
            self._replicate([n for n in self._replicas() if n not in old[:self.r - 1]])

    def _set_pred(self, pred: str | None) -> None:
        if pred != self.pred:
            old, self.pred = self.pred, pred
            self._save_ring()
            if pred is None or pred == self.ctx.name:
                return
            if old is None or old == self.ctx.name:
                self._take_over(pred, self.ctx.name)  # a range new to us: (pred, us]
            elif between(self.ids[old], self.ids[pred], self.id):
                self._hand_over(old, pred)  # the new predecessor took part of our range
            else:
                self._take_over(pred, old)  # our range grew by (pred, old]

    def _save_ring(self) -> None:
        self.ctx.disk.put("ring", (self.joined, tuple(self.succ), self.pred))
        self.ctx.disk.sync()
        if self.journal is not None:
            self.journal.append(self.ctx.name)

    # ---- asking other nodes -----------------------------------------------------------------

    def _ask(self, target: str, purpose: str, data: Any = None) -> None:
        """Query `target` for its predecessor and successor list; the answer (or None for
        no answer in time, or "gone") goes to `_answered`."""
        self.next_query += 1
        q = self.next_query
        self.asking[q] = (purpose, target, data)
        if target == self.ctx.name:  # asking oneself: at once
            self._answered(q, (self.pred, tuple(self.succ)))
            return
        self.ctx.send(target, ("ask", q))
        self.ctx.set_timer(f"ask:{q}", self.config["rpc_timeout_us"], q)

    def _answered(self, q: int, answer) -> None:
        entry = self.asking.pop(q, None)
        if entry is None:
            return
        self.ctx.cancel_timer(f"ask:{q}")
        purpose, target, data = entry
        getattr(self, f"_after_{purpose}")(target, answer, data)

    def _send_until_acked(self, target: str, msg: tuple) -> None:
        """Hand-over messages (keys, fetches, a leave's notices) are sent again until the
        target acknowledges them or is found gone: losing one would lose keys or a
        pointer."""
        self.next_query += 1
        self.unacked[self.next_query] = (target, msg)
        self._resend(self.next_query)

    def _resend(self, q: int) -> None:
        target, msg = self.unacked[q]
        self.ctx.send(target, ("handover", q, msg))
        self.ctx.set_timer(f"resend:{q}", self.config["rpc_timeout_us"], q)

    def on_gone(self, node: str, msg: tuple) -> None:
        self.gone.add(node)  # for good: lookups skip it from now on
        self.fingers = [None if f == node else f for f in self.fingers]
        if msg[0] == "handover" and self.unacked.pop(msg[1], None) is not None:
            self.ctx.cancel_timer(f"resend:{msg[1]}")
        elif msg[0] == "ask":
            self._answered(msg[1], "gone")
        elif msg[0] == "find" and node not in self.succ:
            self._find(*msg[1:])  # route it around the finger that is gone

    # ---- messages and timers ----------------------------------------------------------------

    def on_message(self, src: str, msg: tuple) -> None:
        getattr(self, _HANDLERS[msg[0]])(src, msg)

    def _on_ask(self, src: str, msg: tuple) -> None:
        if self.joined:
            self.ctx.send(src, ("told", msg[1], self.pred, tuple(self.succ)))

    def _on_told(self, src: str, msg: tuple) -> None:
        self._answered(msg[1], (msg[2], msg[3]))

    def _on_notify(self, src: str, msg: tuple) -> None:
        if self.joined:
            self._notified(src)

    def _on_find(self, src: str, msg: tuple) -> None:
        # a duplicated copy is routed once: in a loop of lookups (a broken ring), copies
        # routed again would double at every hop
        _, q, _, origin, hops, _, req = msg
        copy = (origin, q, hops, None if req is None else req.id)
        if copy not in self.routed:
            self.routed.add(copy)
            self._find(*msg[1:])

    def _on_found(self, src: str, msg: tuple) -> None:
        self._found(*msg[1:])

    def _on_handover(self, src: str, msg: tuple) -> None:
        _, q, inner = msg
        if (src, q) not in self.handled:  # a resent copy is acknowledged, not redone
            self.handled.add((src, q))
            getattr(self, _HANDLERS[inner[0]])(src, inner)
        self.ctx.send(src, ("handover-ack", q))

    def _on_handover_ack(self, src: str, msg: tuple) -> None:
        if self.unacked.pop(msg[1], None) is not None:
            self.ctx.cancel_timer(f"resend:{msg[1]}")

    def _on_leaving(self, src: str, msg: tuple) -> None:
        if self.succ and self.succ[0] == src:
            self._set_succ([*msg[1]])

    def _on_pred_leaving(self, src: str, msg: tuple) -> None:
        """Our predecessor is leaving: its predecessor is ours now, and its keys are ours
        to keep and to copy to our replicas."""
        _, pred, items = msg
        if self.pred == src and pred is not None:  # (one that never learned its own
            self._set_pred(pred)                    # is replaced once it is gone)
        self._receive(items, handed_over=True)

    def on_timer(self, name: str, data: Any) -> None:
        if name.startswith("ask:"):
            self._answered(data, None)
        elif name.startswith("resend:"):
            if data in self.unacked:
                self._resend(data)
        elif name == "stabilize":
            self.routed.clear()  # copies of older lookups have arrived by now
            self._stabilize()
            self.ctx.set_timer("stabilize", self.config["stabilize_us"])
        elif name == "fix-fingers":
            self._fix_finger()
            self.ctx.set_timer("fix-fingers", self.config["stabilize_us"])
        elif name == "check-predecessor":
            if self.pred is not None and self.pred != self.ctx.name:
                self._ask(self.pred, "check_predecessor")
            self.ctx.set_timer("check-predecessor", self.config["stabilize_us"] * 2)
        elif name == "join":
            self._join()
        elif name.startswith("put:"):
            self.pending.pop(data, None)  # replicas silent: the client will time out

    # ---- join ---------------------------------------------------------------------------------

    def on_join(self, contact: str | None) -> None:
        self.contact = contact
        self._join()

    def _join(self) -> None:
        """Ask the contact for our successor; when an attempt goes unanswered, the next
        attempt goes through the next node slot (the contact may have left)."""
        if self.joined:
            return
        if self.asking or self.contact is None:  # unanswered, or no member was up: try
            self.asking.clear()                    # the next node slot
            others = [n for n in self.ctx.nodes if n != self.ctx.name]
            if others:
                i = others.index(self.contact) + 1 if self.contact in others else 0
                self.contact = others[i % len(others)]
        contact = self.contact
        if contact is not None:
            self.next_query += 1
            self.asking[self.next_query] = ("join_lookup", contact, None)
            self.ctx.send(contact, ("find", self.next_query, self.id, self.ctx.name, 0,
                                    "join", None))
        self.ctx.set_timer("join", self.config["stabilize_us"] * 2)  # again, if need be

    def _joined_through(self, successor: str, succ_list) -> None:
        self.joined = True
        self.pred = None
        self.succ = []
        self._set_succ([successor, *succ_list])
        self.ctx.cancel_timer("join")
        self._start_timers()
        self.ctx.announce("joined", successor=successor)
        self.ctx.send(self.succ[0], ("notify",))

    def _after_join_successor(self, successor: str, answer, _) -> None:
        if self.joined or answer is None or answer == "gone":
            return  # ask again when the join timer fires
        pred = answer[0]
        if pred is not None and between(self.id, self.ids[pred], self.ids[successor]):
            # a lookup during churn may name a successor too far on: look again from its
            # predecessor, which lies between us and it
            self.asking.clear()
            self.contact = pred
            self._join()
            return
        self._joined_through(successor, answer[1])

    # ---- stabilize, notify, rectify -----------------------------------------------------------

    def _stabilize(self) -> None:
        if self.succ:
            self._ask(self.succ[0], "stabilize")

    def _after_stabilize(self, head: str, answer, _) -> None:
        if answer is None:
            return  # slow or cut off: it stays, and is asked again next round
        if answer == "gone":
            if "successor-list-not-repaired" in self.bugs:
                return  # BUG successor-list-not-repaired: the dead head stays, unpadded
            self._drop(head)
            self._stabilize()
            return
        pred, succ_list = answer
        ids, mine = self.ids, self.id
        if pred is not None and between(mine, ids[pred], ids[head]):
            if self.config["mode"] == "original" or "stabilize-no-liveness-check" in self.bugs:
                # BUG stabilize-no-liveness-check (and the 2001 protocol): adopted unasked
                self._set_succ([pred, head, *succ_list])
                self.ctx.send(pred, ("notify",))
                return
            self._ask(pred, "adopt", (head, succ_list))
            return
        self._set_succ([head, *succ_list])
        self.ctx.send(head, ("notify",))

    def _after_adopt(self, pred: str, answer, data) -> None:
        head, succ_list = data
        if answer is None or answer == "gone":  # not adopted: keep the successor it had
            self._set_succ([head, *succ_list])
            self.ctx.send(head, ("notify",))
            return
        self._set_succ([pred, *answer[1]])
        self.ctx.send(pred, ("notify",))

    def _drop(self, node: str) -> None:
        """`node` is gone for good: out of the successor list (the next takes its place)."""
        rest = [n for n in self.succ if n != node]
        if rest:
            self._set_succ(rest)
        self.fingers = [None if f == node else f for f in self.fingers]

    def _notified(self, src: str) -> None:
        """`src` thinks it is our predecessor (notify in 2001, rectify in Zave's words)."""
        ids = self.ids
        if src == self.ctx.name:
            return
        if self.pred is None or self.pred == self.ctx.name \
                or between(ids[self.pred], ids[src], self.id) \
                or "rectify-no-between-check" in self.bugs:  # BUG: any notifier is taken
            self._set_pred(src)
        elif self.config["mode"] == "zave":
            self._ask(self.pred, "rectify", src)  # is the old predecessor still there?

    def _after_rectify(self, old: str, answer, src: str) -> None:
        if answer == "gone" and self.pred == old:
            self._set_pred(src)
            # the range grew by the failed predecessor's: its keys, which we held as a
            # replica, now need r copies again (a graceful leave hands them over itself)
            self._replicate(self._replicas())

    def _after_check_predecessor(self, old: str, answer, _) -> None:
        if answer == "gone" and self.pred == old:
            self.pred = None  # flush (2001): the next notifier becomes predecessor
            self._save_ring()

    # ---- lookups ------------------------------------------------------------------------------

    def _find(self, q: int, key: int, origin: str, hops: int, purpose: str, req) -> None:
        """Route a lookup for `key` one hop: answer it if our successor owns the key,
        otherwise forward it to the closest finger before the key."""
        if not self.joined:
            return
        ids = self.ids
        for s in self.succ:  # the first successor known to be there that covers the key
            if s in self.gone:
                continue
            if "lookup-open-interval" in self.bugs:
                mine = between(self.id, key, ids[s])  # BUG lookup-open-interval: (n, succ)
            else:
                mine = between_right(self.id, key, ids[s])
            if mine:
                self._answer_lookup(q, s, hops, origin, purpose, req)
                return
        if hops >= MAX_HOPS:
            self._answer_lookup(q, None, hops, origin, purpose, req)
            return
        nxt = self._closest_preceding(key)
        if nxt == self.ctx.name:  # no live node known before the key: nowhere to go
            self._answer_lookup(q, None, hops, origin, purpose, req)
            return
        self.ctx.send(nxt, ("find", q, key, origin, hops + 1, purpose, req))

    def _answer_lookup(self, q, owner, hops, origin, purpose, req) -> None:
        if purpose == "lookup":
            if owner is None:
                self.ctx.reply(req, "fail", error="lookup-gave-up")
            else:
                self.ctx.reply(req, "ok", [owner, hops])
            self._count_hops(hops)
        elif purpose in ("get", "put"):
            if owner is not None:
                self.ctx.send(owner, ("at-owner", req, purpose, hops))
        elif owner is not None:
            self.ctx.send(origin, ("found", q, owner, hops))

    def _closest_preceding(self, key: int) -> str:
        ids = self.ids
        for f in reversed(self.fingers):
            if f is not None and between(self.id, ids[f], key):
                return f
        for s in reversed(self.succ):
            if s not in self.gone and between(self.id, ids[s], key):
                return s
        return self.ctx.name

    def _found(self, q: int, owner: str, hops: int) -> None:
        entry = self.asking.pop(q, None)
        if entry is None:
            return
        purpose, _, data = entry
        if purpose == "join_lookup":
            if self.joined:
                return
            if self.config["mode"] == "original" or "join-no-liveness-check" in self.bugs:
                self._joined_through(owner, ())  # BUG join-no-liveness-check (and 2001)
            else:
                self._ask(owner, "join_successor")
        elif purpose == "finger":
            self.fingers[data] = owner

    def _fix_finger(self) -> None:
        i = self.next_finger = (self.next_finger + 1) % self.m
        if i == 0:
            self.fingers[0] = self.succ[0] if self.succ else None
            return
        step = i + 1 if "finger-off-by-one" in self.bugs else i  # BUG: benign, hops only
        target = (self.id + (1 << step)) % (1 << self.m)
        self.next_query += 1
        self.asking[self.next_query] = ("finger", self.ctx.name, i)
        self._find(self.next_query, target, self.ctx.name, 0, "finger", None)

    def _count_hops(self, hops: int) -> None:
        self.ctx.count("lookups answered")
        self.ctx.count("lookup hops", hops)

    # ---- the key-value store ------------------------------------------------------------------

    def _successors(self) -> list[str]:
        return [n for n in self.succ if n != self.ctx.name]

    def on_leave(self) -> None:
        """Hand the keys to the successor (which copies those it now owns to its
        replicas, so each keeps r copies) and tell the neighbours to close the gap; from
        now on it only hands over (no more stabilizing or notifying)."""
        for timer in ("stabilize", "fix-fingers", "check-predecessor"):
            self.ctx.cancel_timer(timer)
        self.leaving = True
        if not self.joined:
            return
        successors = self._successors()
        if successors:
            keys = tuple(self.store.items())
            if "no-key-transfer-on-leave" in self.bugs:
                keys = ()  # BUG no-key-transfer-on-leave: the keys are simply dropped
            self._send_until_acked(successors[0], ("pred-leaving", self.pred, keys))
        if self.pred is not None and self.pred != self.ctx.name:
            self._send_until_acked(self.pred, ("leaving", tuple(self.succ)))
        self.ctx.announce("leaving")


_HANDLERS = {kind: f"_on_{kind.replace('-', '_')}" for kind in (
    "ask", "told", "notify", "find", "found", "at-owner", "replica", "replica-ack", "keys",
    "leaving", "pred-leaving", "handover", "handover-ack", "fetch")}


def slot_names(config: dict) -> tuple[str, ...]:
    """The node slots, n1..n<nodes>."""
    return _slots(config["nodes"])


@functools.cache
def _slots(n: int) -> tuple[str, ...]:
    return tuple(f"n{i}" for i in range(1, n + 1))


def initial_members(config: dict) -> tuple[str, ...]:
    """The members the ring starts with: the first `initial` slots in Zave's mode, n1
    alone in the 2001 protocol's."""
    return slot_names(config)[:1 if config["mode"] == "original" else config["initial"]]
