"""A Dynamo node (DeCandia et al., SOSP 2007): every node is a replica and may coordinate
any request.

- **Requests.** A get is coordinated by the node the client asked: it reads the key's
  targets and answers after R replies, merging their siblings. A put (the cart's add,
  remove or clear) goes to the first target, which reads R replies the same way, makes the
  new version from their merge, stores it and sends its siblings for the key to the other
  targets; it answers after W of them (itself included) have stored them.
- **Targets.** Strict quorum: the key's N owners. Sloppy quorum: the first N members of
  the preference list this node believes healthy; a fallback standing in for an owner keeps
  a hint naming that owner.
- **Hinted handoff.** Hints are delivered until the owner acknowledges them; a node also
  hands every key it no longer owns to its owners (ranges move when members join or
  leave), and drops a key once every owner has acknowledged it.
- **Read repair.** After answering a get, the coordinator waits for the remaining targets
  and sends the merged siblings to each that answered something else.
- **Anti-entropy.** Periodically a node compares, with a peer, a Merkle tree of the keys
  they both own and exchanges the keys under leaves that differ.
- **Membership.** A gossiped view (member -> version, status); a failure detector that
  marks a node down when it does not answer in time and up when it is heard from.
- **Deletes.** A clear writes a tombstone; a key whose siblings are all tombstones is
  dropped once the grace period has passed.

Siblings are ordered by vector clocks (common/vclock.py): `clocks=dotted` (default) or the
paper's `vector`; `resolution=lww` keeps only the version with the latest stamp.
"""
from __future__ import annotations

import functools
from typing import Any

from faultlab.protocols.common import merkle
from faultlab.protocols.common.vclock import Version, advance, context, counter, prune, reconcile
from faultlab.protocols.dynamo.preference import Ring
from faultlab.sim.node import Node, Request, canonical

PUTS = ("add", "remove", "clear", "write")  # a cart's updates, and a register's write


@functools.lru_cache(maxsize=64)
def ring_of(members: tuple[str, ...], tokens: int) -> Ring:
    """The ring of a membership view, built once per view (its walks cached with it)."""
    return Ring(members, tokens)


def initial_view(config: dict) -> dict[str, tuple[int, str]]:
    """The members every initial member knows at the start (also the gossip seeds)."""
    return {f"n{i}": (0, "up") for i in range(1, config["initial"] + 1)}


class DynamoNode(Node):
    # ---- boot -------------------------------------------------------------------------------

    def start(self) -> None:
        self._fields()
        if self.ctx.name in initial_view(self.config):
            self.view = initial_view(self.config)
            self._save_view()
        self._boot()

    def recover(self) -> None:
        self._fields()
        disk = self.ctx.disk
        self.view = {n: tuple(v) for n, v in disk.get("view", {}).items()}
        for key, (siblings, dead_since) in stored_keys(disk).items():
            self.store[key] = siblings
            if dead_since is not None:
                self.dead_since[key] = dead_since
        self.hints = {tuple(h) for h in disk.get("hints", [])}
        self.counter = disk.get("counter", 0)
        self._boot()

    def _fields(self) -> None:
        cfg = self.config
        self.n, self.r, self.w = cfg["n"], cfg["r"], cfg["w"]
        self.sloppy = cfg["quorum"] == "sloppy"
        self.lww = cfg["resolution"] == "lww"
        self.dotted = cfg["clocks"] == "dotted"
        self.view: dict[str, tuple[int, str]] = {}
        self._ring: Ring | None = None  # derived from the view
        self.store: dict[int, tuple[Version, ...]] = {}  # key -> siblings
        self.dead_since: dict[int, int] = {}  # key -> local time all siblings became tombstones
        self.hints: set[tuple[str, int]] = set()  # (owner, key) to hand the key to
        self.counter = 0  # the last dot counter this node issued (never reused)

    def _boot(self) -> None:
        incarnation = self.ctx.disk.get("incarnation", 0) + 1
        self.ctx.disk.put("incarnation", incarnation)
        self.ctx.disk.sync()
        self.next_rid = incarnation << 32
        self.pending: dict[int, dict] = {}  # request id -> the request being coordinated
        # key -> (digest of our copy, owners that acknowledged that copy): what a hand-off
        # of a key we no longer own has achieved
        self.delivered: dict[int, tuple[bytes, frozenset[str]]] = {}
        self.down: set[str] = set()         # nodes the failure detector suspects
        if self.member:
            self._start_timers()

    def _start_timers(self) -> None:
        cfg, rng = self.config, self.ctx.rng
        self.ctx.set_timer("gossip", rng.randint(1, cfg["gossip_us"]))
        self.ctx.set_timer("anti-entropy", rng.randint(1, cfg["anti_entropy_us"]))
        self.ctx.set_timer("handoff", rng.randint(1, cfg["handoff_us"]))

    def state(self):
        return canonical({"view": self.view, "store": self.store,
                          "dead_since": self.dead_since, "hints": self.hints,
                          "counter": self.counter, "next_rid": self.next_rid,
                          "pending": self.pending, "delivered": self.delivered,
                          "down": self.down, "timers": self.ctx.timers()})

    # ---- membership -------------------------------------------------------------------------

    @property
    def member(self) -> bool:
        return self.view.get(self.ctx.name, (0, "gone"))[1] == "up"

    @property
    def ring(self) -> Ring:
        """The ring of the members this node believes up."""
        if self._ring is None:
            members = tuple(sorted(n for n, (_, s) in self.view.items() if s == "up"))
            self._ring = ring_of(members, self.config["tokens"])
        return self._ring

    def on_join(self, contact: str | None) -> None:
        self.view[self.ctx.name] = (1, "up")
        self._save_view()
        self._start_timers()
        if contact is not None:
            self.ctx.send(contact, ("gossip", self._view_data(), True))

    def on_leave(self) -> None:
        version = self.view.get(self.ctx.name, (0, "up"))[0]
        self.view[self.ctx.name] = (version + 1, "gone")
        self._save_view()
        self.ctx.broadcast(("gossip", self._view_data(), False))
        self._hand_off()

    def on_gone(self, node: str, msg: tuple) -> None:
        version, status = self.view.get(node, (0, "up"))
        if status == "up":
            self.view[node] = (version + 1, "gone")
            self._save_view()

    def _view_data(self) -> tuple:
        return tuple(sorted((n, v, s) for n, (v, s) in self.view.items()))

    def _merge_view(self, data) -> bool:
        changed = False
        for n, v, s in data:
            held = self.view.get(n)
            if held is None or (v, s == "gone") > (held[0], held[1] == "gone"):
                self.view[n] = (v, s)
                changed = True
        if changed:
            self._save_view()
        return changed

    def _save_view(self) -> None:
        self._ring = None  # every change of the view passes here
        self.ctx.disk.put("view", dict(self.view))
        self.ctx.disk.sync()

    def _on_gossip(self, src: str, data, answer: bool) -> None:
        self._merge_view(data)
        if answer:
            self.ctx.send(src, ("gossip", self._view_data(), False))

    # ---- dispatch ---------------------------------------------------------------------------

    def on_message(self, src: str, msg: tuple) -> None:
        self.down.discard(src)  # heard from: up again
        kind = msg[0]
        if kind == "gossip":
            self._on_gossip(src, msg[1], msg[2])
        elif kind == "coordinate":
            self._coordinate(msg[1])
        elif kind == "read":
            self.ctx.send(src, ("read-ok", msg[1], self._data(msg[2])))
        elif kind == "read-ok":
            self._on_read_ok(src, msg[1], msg[2])
        elif kind == "store":
            self._on_store(src, *msg[1:])
        elif kind == "store-ok":
            self._on_store_ok(src, msg[1])
        elif kind == "handoff":
            self._merge(msg[1], msg[2])
            self.ctx.send(src, ("handoff-ok", msg[1], msg[3]))
        elif kind == "handoff-ok":
            self._on_handoff_ok(src, msg[1], msg[2])
        elif kind == "ae":
            self._on_ae(src, msg[1], msg[2])
        elif kind == "ae-diff":
            self._on_ae_diff(src, msg[1], msg[2], msg[3])
        elif kind == "ae-items":
            self._merge_items(msg[1])

    def on_timer(self, name: str, data: Any) -> None:
        if name.startswith("req:"):
            self._on_request_timeout(data)
            return
        if not self.member and name != "handoff":  # a leaving node still hands off
            return
        cfg = self.config
        if name == "gossip":
            self._gossip()
            self.ctx.set_timer("gossip", cfg["gossip_us"])
        elif name == "anti-entropy":
            self._anti_entropy()
            self.ctx.set_timer("anti-entropy", cfg["anti_entropy_us"])
        elif name == "handoff":
            self._hand_off()
            self.ctx.set_timer("handoff", cfg["handoff_us"])

    def _gossip(self) -> None:
        """Push-pull with a random member; a node that knows no other member yet asks the
        seeds (the initial members), as the paper's joining nodes do."""
        me = self.ctx.name
        peers = [n for n in self.ring.members if n != me]
        if not peers:
            peers = [n for n in initial_view(self.config)
                     if n != me and self.view.get(n, (0, "up"))[1] == "up"]
        if peers:
            self.ctx.send(self.ctx.rng.choice(peers), ("gossip", self._view_data(), True))

    # ---- the store --------------------------------------------------------------------------

    def _resolve(self, versions) -> tuple[Version, ...]:
        """The siblings that survive a merge of `versions`."""
        versions = list(versions)
        if self.lww:  # last write wins: one version, the latest stamp (ties by dot)
            return (max(versions, key=lambda v: (v.stamp, v.dot)),) if versions else ()
        return reconcile(versions, self.dotted, "concurrent-as-descended" in self.bugs)

    def _data(self, key) -> tuple:
        return tuple(v.to_data() for v in self.store.get(key, ()))

    def _merge(self, key, data) -> bool:
        """Merge siblings received as data into our copy of `key` (synced); whether it
        changed."""
        return self._keep(key, self._resolve([*self.store.get(key, ()),
                                              *(Version.from_data(d) for d in data)]))

    def _keep(self, key, siblings: tuple[Version, ...]) -> bool:
        if siblings == self.store.get(key, ()):
            return False
        self.store[key] = siblings
        if all(v.value is None for v in siblings):
            self.dead_since[key] = self.ctx.now()
        else:
            self.dead_since.pop(key, None)
        if "reap-tombstone-immediately" in self.bugs and key in self.dead_since:
            self._drop(key)  # BUG reap-tombstone-immediately: no grace period
            return True
        self._save_key(key)
        return True

    def _save_key(self, key) -> None:
        self.ctx.disk.put(f"k:{key}", (self._data(key), self.dead_since.get(key)))
        self.ctx.disk.sync()

    def _drop(self, key) -> None:
        self.store.pop(key, None)
        self.delivered.pop(key, None)
        self.dead_since.pop(key, None)
        self.ctx.disk.delete(f"k:{key}")
        self.ctx.disk.sync()

    # ---- coordinating ----------------------------------------------------------------------

    def on_request(self, req: Request) -> None:
        if not self.member:
            self.ctx.reply(req, "fail", error="not-member")
            return
        key = req.value[0]
        targets, _ = self._targets(key)
        if len(self.ring.members) < self.n or not targets:  # (still learning the members)
            self.ctx.reply(req, "fail", error="unavailable")
        elif req.f in PUTS and targets[0] != self.ctx.name:
            self.ctx.send(targets[0], ("coordinate", req))  # the paper's forward
        else:
            self._coordinate(req)

    def _targets(self, key, audit: bool = False) -> tuple[list[str], dict[str, str]]:
        """Where a request for `key` goes, and for each fallback the owner it stands in
        for."""
        walk = self.ring.walk(key)
        owners = list(walk[:self.n])
        if audit or not self.sloppy and "hinted-acks-in-strict" not in self.bugs:
            if not audit:  # strict: the owners, led by one believed up
                up = [n for n in owners if n not in self.down]
                if not up:
                    return [], {}
                owners.remove(up[0])
                owners.insert(0, up[0])
            return owners, {}
        # BUG hinted-acks-in-strict: strict mode also writes to fallbacks and counts them
        healthy = [n for n in walk if n not in self.down][:self.n]
        missing = [n for n in owners if n not in healthy]
        hints = dict(zip([n for n in healthy if n not in owners], missing))
        return healthy, hints

    def _coordinate(self, req: Request) -> None:
        if not self.member:
            self.ctx.reply(req, "fail", error="not-member")
            return
        key = req.value[0]
        audit = req.f == "audit"
        targets, hints = self._targets(key, audit)
        if not targets or len(self.ring.members) < self.n:
            self.ctx.reply(req, "fail", error="unavailable")
            return
        self.next_rid += 1
        rid = self.next_rid
        self.pending[rid] = {"req": req, "key": key, "targets": tuple(targets),
                             "hints": hints, "phase": "read", "replies": {}, "acks": set()}
        for n in targets:
            if n == self.ctx.name:
                self._on_read_ok(n, rid, self._data(key))
            else:
                self.ctx.send(n, ("read", rid, key))
        if rid in self.pending:
            self.ctx.set_timer(f"req:{rid}", self.config["rpc_timeout_us"], rid)

    def _on_read_ok(self, src: str, rid: int, data) -> None:
        p = self.pending.get(rid)
        if p is None or p["phase"] not in ("read", "repair"):
            return
        p["replies"][src] = data
        req = p["req"]
        needed = len(p["targets"]) if req.f == "audit" else self.r
        if p["phase"] == "read" and len(p["replies"]) >= needed:
            siblings = self._resolve(Version.from_data(d) for data in p["replies"].values()
                                     for d in data)
            if req.f in PUTS:
                self._write(rid, p, siblings)
            else:
                self._answer_read(rid, p, siblings)
        if p["phase"] == "repair" and len(p["replies"]) == len(p["targets"]):
            self._read_repair(rid, p)

    def _answer_read(self, rid: int, p: dict, siblings: tuple[Version, ...]) -> None:
        req, key = p["req"], p["key"]
        self.ctx.count("reads")
        if len(siblings) > 1:
            self.ctx.count("reads-with-siblings")
            self.ctx.count("siblings-read", len(siblings))
        if req.f == "audit":  # every owner's copy, merged, nothing written back
            self.ctx.reply(req, "ok", [key, [v.to_data() for v in siblings],
                                       sorted(p["replies"])])
            self._finish(rid)
            return
        self.ctx.reply(req, "ok", [key, sorted(_items(siblings))])
        p["phase"], p["merged"] = "repair", siblings
        if len(p["replies"]) == len(p["targets"]):
            self._read_repair(rid, p)

    def _read_repair(self, rid: int, p: dict) -> None:
        """Send the merged siblings to every target that answered something else."""
        merged = p["merged"]
        if "read-repair-fresh-clock" in self.bugs and len(merged) > 1:
            # BUG read-repair-fresh-clock: the newest sibling written back under a new clock
            # covering every version read, instead of the versions with their own clocks
            newest = max(merged, key=lambda v: (v.stamp, v.dot))
            merged = (self._new_version(p["key"], merged, newest.value),)
        data = tuple(v.to_data() for v in merged)
        for n in sorted(p["replies"]):
            if self._resolve(Version.from_data(d) for d in p["replies"][n]) != merged:
                self.ctx.count("read-repairs")
                if n == self.ctx.name:
                    self._merge(p["key"], data)
                else:
                    self.ctx.send(n, ("store", None, p["key"], data, None))
        self._finish(rid)

    def _new_version(self, key, siblings, value) -> Version:
        """A new write's version over the siblings read: their merged clock with this
        node's entry advanced."""
        me, now = self.ctx.name, self.ctx.now()
        seen = context(siblings)
        if self.dotted:  # a dot never issued before, past every counter of ours seen
            mine = max([counter(v.clock, me) for v in self.store.get(key, ())], default=0)
            n = max(counter(seen, me), mine, self.counter) + 1
        else:  # the paper: our entry in the context, plus one
            n = counter(seen, me) + 1
        self.counter = max(self.counter, n)
        self.ctx.disk.put("counter", self.counter)
        # a dotted version keeps its dot apart from what it has seen: its dot says nothing
        # about other writes of ours, which a vector entry of n would claim to cover
        clock = prune(seen if self.dotted else advance(seen, me, n, now),
                      self.config["prune_threshold"])
        return Version((me, n), clock, value, now)

    def _write(self, rid: int, p: dict, siblings: tuple[Version, ...]) -> None:
        req, key = p["req"], p["key"]
        items = _items(siblings)
        item = req.value[1]
        value = {"clear": None, "add": items | {item}, "remove": items - {item},
                 "write": frozenset((item,))}[req.f]
        version = self._new_version(key, siblings, value)
        merged = self._resolve([*self.store.get(key, ()), *siblings, version])
        self._keep(key, merged)
        me = self.ctx.name
        if me in p["hints"] and (p["hints"][me], key) not in self.hints:
            self.hints.add((p["hints"][me], key))  # we stand in for that owner
        self._save_hints()
        p["phase"], p["version"] = "write", version
        self.ctx.set_timer(f"req:{rid}", self.config["rpc_timeout_us"], rid)
        data = tuple(v.to_data() for v in merged)
        for n in p["targets"]:
            if n == self.ctx.name:
                self._on_store_ok(n, rid)
            else:
                hint = p["hints"].get(n)
                if hint is not None:
                    self.ctx.count("hinted-writes")
                self.ctx.send(n, ("store", rid, key, data, hint))

    def _on_store(self, src: str, rid, key, data, hint) -> None:
        self._merge(key, data)
        if hint is not None and hint != self.ctx.name and (hint, key) not in self.hints:
            self.hints.add((hint, key))
            self._save_hints()
        if rid is not None:
            self.ctx.send(src, ("store-ok", rid))

    def _on_store_ok(self, src: str, rid: int) -> None:
        p = self.pending.get(rid)
        if p is None or p["phase"] != "write":
            return
        p["acks"].add(src)
        if len(p["acks"]) >= self.w:
            req, version = p["req"], p["version"]
            self.ctx.reply(req, "ok", [p["key"], req.value[1], {
                "dot": list(version.dot), "clock": [[a, n] for a, n, _ in version.clock],
                "stored": sorted(p["acks"])}])
            self._finish(rid)

    def _on_request_timeout(self, rid: int) -> None:
        p = self.pending.get(rid)
        if p is None:
            return
        answered = p["acks"] if p["phase"] == "write" else set(p["replies"])
        self.down.update(n for n in p["targets"] if n not in answered)
        if p["phase"] == "read":  # nothing was written: the request certainly failed
            self.ctx.reply(p["req"], "fail", error="unavailable")
        elif p["phase"] == "repair":
            self._read_repair(rid, p)
            return
        # a write short of W acks may still have reached some: the client times out
        self._finish(rid)

    def _finish(self, rid: int) -> None:
        self.pending.pop(rid, None)
        self.ctx.cancel_timer(f"req:{rid}")

    # ---- hinted handoff and moving ranges --------------------------------------------------

    def _save_hints(self) -> None:
        self.ctx.disk.put("hints", sorted(self.hints))
        self.ctx.disk.sync()

    def _sweep(self) -> None:
        """Hand every key we no longer own to its owners; reap tombstones past the grace
        period."""
        ring, me, now = self.ring, self.ctx.name, self.ctx.now()
        added = False
        for key in sorted(self.store):
            owners = ring.owners(key, self.n)  # (a leaving node is in no one's view)
            dead = self.dead_since.get(key)
            if dead is not None and now - dead >= self.config["tombstone_grace_us"]:
                self._drop(key)
                continue
            if me in owners and self.member:
                self.delivered.pop(key, None)
                continue
            for o in self._owed(key):
                if (o, key) not in self.hints:
                    self.hints.add((o, key))
                    added = True
        if added:
            self._save_hints()

    def _hand_off(self) -> None:
        """Send each hinted key to its owner; a hint is deleted when the owner acknowledges
        it (handoff-ok). A key we no longer own is owed to each of its owners first, and
        dropped once every one of them has acknowledged it."""
        self._sweep()
        changed = False
        for owner, key in sorted(self.hints):
            if self.view.get(owner, (0, "up"))[1] == "gone" or key not in self.store:
                self.hints.discard((owner, key))
                changed = True
                continue
            data = self._data(key)
            self.ctx.send(owner, ("handoff", key, data, _digest(data)))
            if "drop-hint-before-ack" in self.bugs:
                self._delivered(owner, key, _digest(data))  # BUG drop-hint-before-ack
        if changed:
            self._save_hints()
        self._drop_unowned()

    def _on_handoff_ok(self, src: str, key, digest: bytes) -> None:
        if digest == _digest(self._data(key)) and (src, key) in self.hints:
            self.ctx.count("handoffs")
            self._delivered(src, key, digest)
            self._drop_unowned()

    def _delivered(self, owner: str, key, digest: bytes) -> None:
        """`owner` holds our copy of `key` (whose digest is `digest`): its hint is done."""
        self.hints.discard((owner, key))
        self._save_hints()
        held, done = self.delivered.get(key, (digest, frozenset()))
        self.delivered[key] = (digest, (done if held == digest else frozenset()) | {owner})

    def _owed(self, key) -> list[str]:
        """The current owners of `key`, us apart, that have not acknowledged our copy."""
        digest, done = self.delivered.get(key, (None, frozenset()))
        if digest != _digest(self._data(key)):
            done = frozenset()
        me = self.ctx.name
        return [o for o in self.ring.owners(key, self.n) if o != me and o not in done]

    def _drop_unowned(self) -> None:
        """Drop the keys we do not own once every current owner has acknowledged our copy
        (asked of the owners now: a joiner may have made a key unowned since the sweep)."""
        me = self.ctx.name
        for key in sorted(self.store):
            if not (self.member and me in self.ring.owners(key, self.n)) \
                    and not self._owed(key):
                self._drop(key)

    # ---- anti-entropy ----------------------------------------------------------------------

    def _shared(self, members: tuple[str, ...], peer: str) -> list:
        """The keys we hold that, in the view of `members`, we and `peer` both own."""
        ring = ring_of(members, self.config["tokens"])
        me = self.ctx.name
        return [k for k in sorted(self.store)
                if me in (owners := ring.owners(k, self.n)) and peer in owners]

    def _tree(self, keys) -> list[list[bytes]]:
        if "merkle-keys-only" in self.bugs:
            return merkle.build((k, None) for k in keys)  # BUG merkle-keys-only
        return merkle.build((k, self._data(k)) for k in keys)

    def _anti_entropy(self) -> None:
        ring = self.ring
        me = self.ctx.name
        peers = sorted({o for k in self.store for o in ring.owners(k, self.n)
                        if me in ring.owners(k, self.n)} - {me} - self.down)
        if not peers:
            return
        peer = self.ctx.rng.choice(peers)
        members = ring.members
        self.ctx.send(peer, ("ae", members, self._tree(self._shared(members, peer))))

    def _on_ae(self, src: str, members, levels) -> None:
        keys = self._shared(members, src)
        differ = merkle.differing_leaves(self._tree(keys), levels)
        if differ:
            self.ctx.count("anti-entropy-exchanges")
            items = self._items_in(keys, differ)
            self.ctx.send(src, ("ae-diff", members, tuple(differ), items))

    def _on_ae_diff(self, src: str, members, leaves, items) -> None:
        keys = self._shared(members, src)
        mine = self._items_in(keys, leaves)  # before merging theirs: what they may lack
        self._merge_items(items)
        self.ctx.send(src, ("ae-items", mine))

    def _items_in(self, keys, leaves) -> tuple:
        leaves = set(leaves)
        return tuple((k, self._data(k)) for k in keys if merkle.bucket(k) in leaves)

    def _merge_items(self, items) -> None:
        for key, data in items:
            if self._merge(key, data):
                self.ctx.count("anti-entropy-repairs")


def stored_keys(disk) -> dict:
    """key -> (siblings, when they all became tombstones or None), as a node's disk holds
    them: what a restart reads back."""
    out = {}
    for name in disk.keys():
        if name.startswith("k:"):
            data, dead_since = disk.get(name)
            out[int(name[2:])] = (tuple(Version.from_data(d) for d in data), dead_since)
    return out


def _items(siblings) -> frozenset:
    """The cart a reader sees: the union of the siblings' items (tombstones hold none)."""
    out: frozenset = frozenset()
    for v in siblings:
        if v.value is not None:
            out |= v.value
    return out


def _digest(data) -> bytes:
    return merkle.digest(repr(data))
