"""The key-value half of a Chord node (mixed into `ChordNode`): a key's owner is the first
member at or after its point; it serves gets and puts for (predecessor, itself] and keeps r
copies, on itself and its first r-1 successors. Copies move with the ring: a new
predecessor is handed the keys it now owns, a node whose range grew fetches it from its
successors, an owner copies its keys to each new replica, and a leaving node hands its keys
to its successor, which copies them on."""
from __future__ import annotations

from faultlab.protocols.common.ring import between_right, ring_id
from faultlab.sim.node import Request


class KeyValueStore:
    """Gets, puts and the copies of keys; uses the node's ring pointers and messaging."""

    def on_request(self, req: Request) -> None:
        if not self.joined:
            self.ctx.reply(req, "fail", error="not-joined")
            return
        ring_point = req.value if req.f == "lookup" else key_id(req.value[0], self.m)
        self._find(0, ring_point, self.ctx.name, 0, req.f, req)

    def _at_owner(self, req: Request, f: str, hops: int) -> None:
        """A get or put reached the node a lookup named owner: it serves it if the key is in
        (predecessor, itself], and fails it otherwise (the client may try again)."""
        key = req.value[0]
        if not self.joined or self.leaving or not self._owns(key):
            self.ctx.reply(req, "fail", error="not-owner")
            return
        self._count_hops(hops)
        if f == "get":
            item = self.store.get(key)
            self.ctx.reply(req, "ok", [key, item[1] if item else None])
            return
        self._write(req)
        self.ctx.set_timer(f"put:{req.id}", self.config["rpc_timeout_us"] * 2, req.id)

    def _write(self, req: Request) -> None:
        """Store a put one version above ours and copy it to the replicas; it is
        acknowledged once all of them hold it."""
        key, value = req.value
        version = ((self.store[key][0][0] if key in self.store else 0) + 1, self.ctx.name)
        self._keep(key, version, value)
        replicas = self._replicas()
        if not replicas:
            self.ctx.reply(req, "ok", req.value)
            return
        self.pending[req.id] = (req, version, set(replicas))
        for n in replicas:
            self._send_until_acked(n, ("replica", key, version, value, req.id))

    def _replica(self, src: str, key, version, value, put_id) -> None:
        self._receive(((key, (tuple(version), value)),))  # we may own it by now
        held = self.store[key]
        newer = held if held[0] > tuple(version) else None
        self.ctx.send(src, ("replica-ack", put_id, tuple(version), newer))

    def _replica_ack(self, src: str, put_id: int, version, newer) -> None:
        entry = self.pending.get(put_id)
        if entry is None or entry[1] != version:
            return  # about an earlier attempt
        req, _, waiting = entry
        if newer is not None:
            # the replica holds a newer version than ours (our copy of the key had not
            # reached us yet): take it and write the put again above it
            self._keep(req.value[0], *newer)
            self._write(req)
            return
        waiting.discard(src)
        if not waiting:
            del self.pending[put_id]
            self.ctx.cancel_timer(f"put:{put_id}")
            self.ctx.reply(req, "ok", req.value)

    def _keep(self, key, version, value) -> None:
        """Store a version of `key` if it is newer than what we hold (synced)."""
        held = self.store.get(key)
        if held is None or tuple(version) > tuple(held[0]):
            self.store[key] = (tuple(version), value)
            self.ctx.disk.put(f"k:{key}", self.store[key])
            self.ctx.disk.sync()

    def _owns(self, key) -> bool:
        """Whether `key` lies in (predecessor, us]."""
        return self.pred is not None and (
            self.pred == self.ctx.name
            or between_right(self.ids[self.pred], key_id(key, self.m), self.id))

    def _replicas(self) -> list[str]:
        """Where the keys this node owns are copied: its first r-1 successors."""
        return [n for n in self.succ[:self.r - 1] if n != self.ctx.name]

    def _replicate(self, to: list[str]) -> None:
        """Copy the keys this node owns, those in (predecessor, itself], to `to`."""
        if not to or not self.joined:
            return
        mine = tuple((k, v) for k, v in self.store.items() if self._owns(k))
        if mine:
            for n in to:
                self._send_until_acked(n, ("keys", mine, False))

    def _receive(self, items, handed_over: bool = False) -> None:
        """Keep the newer of each copy. The keys we own that a leaving predecessor
        handed over, or whose copy here changed (a concurrent put elsewhere, a lost
        copy), go on to our replicas, so they agree with us."""
        passed_on = []
        for key, item in items:
            held = self.store.get(key)
            self._keep(key, *item)
            if (handed_over or held != self.store[key] or held != tuple(item)) \
                    and self._owns(key):
                passed_on.append((key, self.store[key]))
        if self.leaving:  # arrived while handing over: pass them on to the successor
            successors = self._successors()
            if successors:
                self._send_until_acked(successors[0], ("keys", tuple(items), True))
        elif passed_on:
            for n in self._replicas():
                self._send_until_acked(n, ("keys", tuple(passed_on), False))

    def _hand_over(self, old: str, new: str) -> None:
        """A new predecessor took over part of our range, (old, new]: give it the keys it
        now owns and keep them as its replica."""
        lo, hi = self.ids[old], self.ids[new]
        moving = [(k, v) for k, v in self.store.items()
                  if between_right(lo, key_id(k, self.m), hi)]
        if moving:
            self._send_until_acked(new, ("keys", tuple(moving), False))

    def _take_over(self, lo: str, hi: str) -> None:
        """(lo, hi] became ours (we joined, or the predecessor failed or left): fetch those
        keys from the successors, which hold them as the last owner's replicas, in case a
        hand-over or a copy missed us."""
        for n in self._replicas():
            self._send_until_acked(n, ("fetch", self.ids[lo], self.ids[hi]))

    def _on_at_owner(self, src: str, msg: tuple) -> None:
        self._at_owner(msg[1], msg[2], msg[3])

    def _on_replica(self, src: str, msg: tuple) -> None:
        self._replica(src, *msg[1:])

    def _on_replica_ack(self, src: str, msg: tuple) -> None:
        self._replica_ack(src, *msg[1:])

    def _on_keys(self, src: str, msg: tuple) -> None:
        self._receive(msg[1], handed_over=msg[2])

    def _on_fetch(self, src: str, msg: tuple) -> None:
        _, lo, hi = msg
        items = tuple((k, v) for k, v in self.store.items()
                      if between_right(lo, key_id(k, self.m), hi))
        if items:
            self._send_until_acked(src, ("keys", items, False))


def stored_keys(disk) -> dict:
    """The key-value pairs a node's disk holds (what a restart reads back)."""
    return {int(k[2:]): disk.get(k) for k in disk.keys() if k.startswith("k:")}


def key_id(key, m: int) -> int:
    """Where a key lies on the ring."""
    return ring_id(f"key:{key}", m)
